// Raising wabt's call-depth limit. wabt 1.0.32's Thread reserves room for 64 KiB of frames
// (~1,638 with 40-byte frames) in its constructor and traps with "call stack exhausted" when
// that vector is full (PushCall compares size() with capacity()). Thread::Options declares a
// call_stack_size, but no constructor takes it. wasm-to-wasm calls never recurse on the native
// stack (frames live in that vector), so a larger capacity is safe: it costs 40 bytes of heap
// per frame, reserved lazily by the allocator. The vector is private; the explicit template
// instantiation below is the standard-sanctioned way to name a private member (access checks
// do not apply to explicit instantiations), so no wabt header is patched.
#include <vector>

#include "wabt/interp/interp.h"
#include "wasm/runtime_wabt.h"

namespace nnb::wasm::wabt_engine {
namespace {

using FramesMember = std::vector<wabt::interp::Frame> wabt::interp::Thread::*;

struct FramesTag {
  friend FramesMember frames_member(FramesTag);
};

template <FramesMember M>
struct FramesAccess {
  friend FramesMember frames_member(FramesTag) { return M; }
};
template struct FramesAccess<&wabt::interp::Thread::frames_>;

}  // namespace

void set_call_depth(wabt::interp::Thread& thread, uint32_t depth) {
  auto& frames = thread.*frames_member(FramesTag{});
  // Only before the first call: the interpreter relies on capacity() as the limit and on the
  // vector never reallocating while frames are live. A fresh vector gets exactly `depth`, so
  // limits below wabt's default work too.
  if (!frames.empty() || depth == 0) return;
  std::vector<wabt::interp::Frame> sized;
  sized.reserve(depth);
  frames.swap(sized);
}

}  // namespace nnb::wasm::wabt_engine
