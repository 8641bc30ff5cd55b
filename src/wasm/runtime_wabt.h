// The wabt engine's own interface, in C++17. wabt 1.0.32's interp-inl.h does not compile as
// C++20 under g++ 12, and runtime.h needs C++20 (std::span), so the engine (runtime_wabt*.cpp,
// library nnb_wasm_engine) speaks only this header, and runtime.cpp (C++20) adapts it to
// runtime.h. No C++ exception ever crosses the interpreter: host calls report their outcome
// as a value, which the engine turns into a wabt trap.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wabt {
class Features;
namespace interp {
class Thread;
}
}  // namespace wabt

namespace nnb::wasm::wabt_engine {

// Call depth when the caller asks for 0. Frames live on the heap (40 bytes each, committed
// only when used), so a deep limit is cheap; a runaway recursion still ends in a clean
// "call stack exhausted" trap after at most ~40 MB of frames plus its locals.
inline constexpr uint32_t kDefaultCallDepth = 1'000'000;
// Largest accepted depth (~640 MB of frames at the limit).
inline constexpr uint32_t kMaxCallDepth = 16'000'000;
// wasm32's whole address space in 64 KiB pages (4 GiB): the page limit when none is given,
// and the most any limit can mean.
inline constexpr uint32_t kMaxMemoryPages = 65536;

// What one instance may use. Every run of guest code (the start function, `_start`) is metered
// against the same gas and deadline.
struct EngineLimits {
  uint32_t call_depth = 0;                 // 0: kDefaultCallDepth
  uint32_t memory_pages = kMaxMemoryPages; // per memory; above kMaxMemoryPages means kMaxMemoryPages
  bool has_gas = false;                    // gas: interpreter steps (about one per wasm instruction)
  uint64_t gas = 0;
  uint64_t time_ms = 0;                    // 0: no deadline; otherwise reported in the message
  std::chrono::steady_clock::time_point deadline{};
};

// Value types in runtime.h's ValType order. Values travel as raw bits in a uint64_t (i32 and
// f32 in the low 32 bits).
enum class Kind : uint8_t { I32, I64, F32, F64 };

// The guest's exported "memory", re-read on every call (memory.grow moves the buffer).
class MemoryAccess {
 public:
  virtual ~MemoryAccess() = default;
  virtual uint8_t* data() = 0;  // null when the module has no exported memory
  virtual uint64_t size() = 0;
};

struct HostOutcome {
  enum class Status { Ok, Trap, Exit };
  Status status = Status::Ok;
  int exit_code = 0;    // Exit
  std::string message;  // Trap
};

struct HostImport {
  std::string module, name;
  std::vector<Kind> params, results;
};

// Receives every call of an imported function; `index` is its position in the import list
// given to load(). Must not throw.
class HostDispatch {
 public:
  virtual ~HostDispatch() = default;
  virtual HostOutcome call(size_t index, MemoryAccess& memory, const uint64_t* args, uint64_t* results) = 0;
};

// A module that cannot be decoded, validated, linked or instantiated.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The start function ran past the gas or the deadline while the module was instantiated.
struct LimitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunOutcome {
  // LimitExceeded: stopped at the gas limit or the deadline; `message` says which.
  enum class Status { Returned, Exited, Trapped, LimitExceeded };
  Status status = Status::Returned;
  int exit_code = 0;
  std::string message;
};

class EngineInstance {
 public:
  virtual ~EngineInstance() = default;
  // Runs the exported `_start` (LoadError when there is none or it has a wrong type).
  virtual RunOutcome run_start() = 0;
  virtual MemoryAccess& memory() = 0;
};

// Decodes and validates `wasm` (bulk memory, sign extension, reference types, saturating
// float-to-int, mutable globals, multi-value, SIMD), links every import against `imports`
// (by module, name and exact type) and instantiates it. `dispatch` must outlive the result.
// `limits.call_depth` 0 means kDefaultCallDepth; larger than kMaxCallDepth is a LoadError, and
// so is a memory whose initial size is over `limits.memory_pages`. A start function that
// passes the gas or the deadline throws LimitError.
std::unique_ptr<EngineInstance> load(const uint8_t* wasm, size_t size, const std::vector<HostImport>& imports,
                                     HostDispatch& dispatch, const EngineLimits& limits, const std::string& name);

// Inserts a stack-neutral `call $probe` before every call_indirect so that a full call stack
// traps instead of hitting wabt's silent-skip bug (runtime_wabt_guard.cpp). Returns false
// (leaving `out` alone) when the module has no call_indirect. Expects a validated module.
bool guard_indirect_calls(const uint8_t* wasm, size_t size, const wabt::Features& features,
                          std::vector<uint8_t>* out);

// Gives a fresh thread room for exactly `depth` nested calls (wabt's own default is ~1,638).
void set_call_depth(wabt::interp::Thread& thread, uint32_t depth);

}  // namespace nnb::wasm::wabt_engine
