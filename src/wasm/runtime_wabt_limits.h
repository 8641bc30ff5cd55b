// Resource limits of the wabt engine (C++17, included only by runtime_wabt*.cpp): the memory
// page limit, guest memory that costs nothing until touched, and execution metered in slices
// (gas and a wall-clock deadline).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "wabt/interp/interp.h"
#include "wasm/runtime_wabt.h"

namespace nnb::wasm::wabt_engine {

// Applies the page limit to every memory the module defines (imported memories are refused at
// link time): an initial size above it is a LoadError naming the memory and both sizes; a
// larger or absent maximum is lowered to it, so memory.grow past the limit returns -1 to the
// guest, as the spec allows and as WasmEdge does.
void limit_memories(wabt::interp::ModuleDesc& desc, uint32_t page_limit, const std::string& name);

// Keeps a guest memory's untouched pages out of resident memory. wabt stores a memory in a
// std::vector<u8>, and every growth value-initialises (memsets) the new part, which commits
// it; a reallocation also copies everything. So:
//  - the vector's capacity is reserved up front for the memory's maximum (virtual address
//    space only): growth never reallocates, never copies, and the buffer never moves;
//  - after each slice of execution, release() hands the newly grown range's all-zero pages
//    back to the kernel (MADV_DONTNEED). That is invisible to the guest: a private anonymous
//    page that was released reads as zeros again, which is what it held. It is only done when
//    /proc/self/maps shows the buffer is such a mapping, and only while no guest code runs.
// Between a memory.grow and the end of its slice the grown range is committed (wabt's memset);
// a single large memory.grow therefore costs its size in resident memory for that moment.
// When the full reservation is refused (address space or overcommit limits), the largest
// power-of-two fraction that is granted is reserved and becomes the memory's maximum:
// memory.grow past it returns -1, where wabt would reallocate and, out of memory, throw.
class GuestPages {
 public:
  GuestPages(wabt::interp::Store& store, wabt::interp::Ref memory);
  void release();


 private:
  wabt::interp::Memory::Ptr memory_;
  bool releasable_ = false;
  const uint8_t* seen_data_ = nullptr;  // where the buffer was at the last release()
  uint64_t scanned_ = 0;                // bytes [0, scanned_) of that buffer were scanned
};

// Gas and deadline of one instance, shared by every run of its guest code.
class Meter {
 public:
  explicit Meter(const EngineLimits& limits) : limits_(limits) {}

  enum class Stop { Returned, Trapped, Exception, OutOfGas, OutOfTime };
  // Runs `func` (a wasm function of type [] -> []) on `thread` to completion, in slices of
  // kSliceSteps interpreter steps; after each slice it calls `between_slices`, then stops the
  // run when the gas is spent or the deadline has passed. Host calls run within a slice.
  Stop run(wabt::interp::Thread& thread, const wabt::interp::DefinedFunc& func, wabt::interp::Trap::Ptr* trap,
           const std::function<void()>& between_slices);

  // "gas limit of N interpreter steps exceeded" / "time limit of N ms exceeded".
  std::string message(Stop stop) const;
  bool past_deadline() const {
    return limits_.time_ms > 0 && std::chrono::steady_clock::now() >= limits_.deadline;
  }
  uint64_t gas_used() const { return used_; }

  // wabt's own Thread::Run runs slices of 1,000 steps, so this costs what wabt already pays
  // per slice, plus one clock read.
  static constexpr int kSliceSteps = 1000;

 private:
  EngineLimits limits_;
  uint64_t used_ = 0;
};

}  // namespace nnb::wasm::wabt_engine
