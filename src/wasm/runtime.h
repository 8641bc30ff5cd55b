// nnbridge's WebAssembly runtime interface. The engine behind it today is Debian's wabt
// interpreter (runtime_wabt*.cpp, compiled as C++17); another engine or an ahead-of-time
// path can replace it without touching WASI or the wasi-nn bindings, which only see this file.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::wasm {

enum class ValType { I32, I64, F32, F64 };

struct Value {
  ValType type = ValType::I32;
  union {
    uint32_t i32;
    uint64_t i64;
    float f32;
    double f64;
  };
  Value() : i64(0) {}
  static Value from_i32(uint32_t v) { Value x; x.type = ValType::I32; x.i32 = v; return x; }
  static Value from_i64(uint64_t v) { Value x; x.type = ValType::I64; x.i64 = v; return x; }
};

// A module that cannot be loaded, validated or instantiated (message says why and where).
struct WasmError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown by a host function to trap the guest (the runtime reports it and exits non-zero).
struct Trap : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Execution stopped at the gas limit or the deadline (message: "time limit of N ms exceeded",
// "gas limit of N interpreter steps exceeded"). Thrown by run_start, and by instantiate when a
// start function gets that far.
struct LimitExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown by WASI proc_exit: unwinds the guest and ends the run with this code.
struct ProcExit {
  int code;
};

// The guest's linear memory as host functions see it. Never keep a pointer across a call
// that may run guest code or grow memory: the buffer can move. Every accessor is bounds-
// checked and fails (nullopt / false) rather than touching memory outside the guest's.
class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  virtual uint8_t* data() = 0;
  virtual uint64_t size() const = 0;

  // [ptr, ptr+len) if it lies inside memory.
  std::optional<std::span<uint8_t>> range(uint32_t ptr, uint32_t len) {
    if (uint64_t(ptr) + uint64_t(len) > size()) return std::nullopt;
    return std::span<uint8_t>(data() + ptr, len);
  }
  bool read_u32(uint32_t ptr, uint32_t* out) {
    auto r = range(ptr, 4);
    if (!r) return false;
    *out = uint32_t((*r)[0]) | uint32_t((*r)[1]) << 8 | uint32_t((*r)[2]) << 16 | uint32_t((*r)[3]) << 24;
    return true;
  }
  bool write_u32(uint32_t ptr, uint32_t v) {
    auto r = range(ptr, 4);
    if (!r) return false;
    for (int i = 0; i < 4; ++i) (*r)[size_t(i)] = uint8_t(v >> (8 * i));
    return true;
  }
  bool write_u64(uint32_t ptr, uint64_t v) {
    auto r = range(ptr, 8);
    if (!r) return false;
    for (int i = 0; i < 8; ++i) (*r)[size_t(i)] = uint8_t(v >> (8 * i));
    return true;
  }
  bool write_bytes(uint32_t ptr, std::span<const uint8_t> bytes) {
    auto r = range(ptr, uint32_t(bytes.size()));
    if (!r || bytes.size() > UINT32_MAX) return false;
    std::copy(bytes.begin(), bytes.end(), r->begin());
    return true;
  }
};

// A function the host provides under (module, name). `fn` reads args, writes results, and may
// throw Trap or ProcExit.
struct HostFunction {
  std::string module, name;
  std::vector<ValType> params, results;
  std::function<void(GuestMemory& memory, std::span<const Value> args, std::span<Value> results)> fn;
};

// wasm32's whole address space, 65536 pages of 64 KiB (4 GiB): WasmEdge's default page limit.
inline constexpr uint32_t kDefaultMemoryPageLimit = 65536;

struct RuntimeOptions {
  uint32_t max_call_depth = 0;  // 0: the engine's largest safe default
  // Most 64 KiB pages any memory may have: a larger initial size fails instantiation, and
  // memory.grow past it returns -1. Values above 65536 mean 65536.
  uint32_t memory_page_limit = kDefaultMemoryPageLimit;
  // Interpreter steps (about one per wasm instruction) all guest code may run; unset: no limit.
  std::optional<uint64_t> gas_limit;
  // Wall-clock limit: guest code stops at the first slice boundary past `deadline` (a slice is
  // ~1,000 steps; a host call in progress finishes first). 0: none; the ms are for the message.
  uint64_t time_limit_ms = 0;
  std::chrono::steady_clock::time_point deadline{};
};

class Instance {
 public:
  virtual ~Instance() = default;
  // Runs the exported `_start` (WASI command). Returns its exit code: 0 when it returns,
  // proc_exit's code when it exits. A trap throws Trap with the engine's message; the gas
  // limit or the deadline throws LimitExceeded.
  virtual int run_start() = 0;
  virtual GuestMemory& memory() = 0;
};

// Decodes, validates (bulk memory, sign extension, reference types, saturating float-to-int
// enabled) and instantiates a module, resolving every import against `host` (an unresolved
// import → WasmError naming module.name and its type). `name` is used in messages.
std::unique_ptr<Instance> instantiate(std::span<const uint8_t> wasm, const std::vector<HostFunction>& host,
                                      const RuntimeOptions& options, std::string_view name);

}  // namespace nnb::wasm
