// Metered execution. wabt's Func::Call runs a function to completion (Thread::Run loops over
// slices of 1,000 steps internally) and offers no hook between slices. So the run is driven
// here: the entry frame is pushed with Thread::PushCall, which is private, and the function
// then runs with the public Thread::Run(num_instructions, trap), one slice at a time. What
// Func::Call would do besides (push the parameters, pop the results) is nothing for the
// [] -> [] functions run here. The private member is named through an explicit template
// instantiation (access checks do not apply to those), as runtime_wabt_depth.cpp does; no wabt
// header is patched.
#include <algorithm>
#include <chrono>

#include "wasm/runtime_wabt_limits.h"

namespace nnb::wasm::wabt_engine {
namespace wi = wabt::interp;

namespace {

using PushCallMember = wi::RunResult (wi::Thread::*)(const wi::DefinedFunc&, wi::Trap::Ptr*);

struct PushCallTag {
  friend PushCallMember push_call_member(PushCallTag);
};

template <PushCallMember M>
struct PushCallAccess {
  friend PushCallMember push_call_member(PushCallTag) { return M; }
};
template struct PushCallAccess<&wi::Thread::PushCall>;

}  // namespace

Meter::Stop Meter::run(wi::Thread& thread, const wi::DefinedFunc& func, wi::Trap::Ptr* trap,
                       const std::function<void()>& between_slices) {
  if ((thread.*push_call_member(PushCallTag{}))(func, trap) == wi::RunResult::Trap) return Stop::Trapped;
  const bool timed = limits_.time_ms > 0;
  for (;;) {
    int steps = kSliceSteps;
    if (limits_.has_gas) {
      if (used_ >= limits_.gas) return Stop::OutOfGas;
      steps = int(std::min<uint64_t>(uint64_t(steps), limits_.gas - used_));
    }
    switch (thread.Run(steps, trap)) {
      case wi::RunResult::Ok: break;
      case wi::RunResult::Return: return Stop::Returned;
      case wi::RunResult::Trap: return Stop::Trapped;
      case wi::RunResult::Exception: return Stop::Exception;
    }
    // Run returns Ok only after executing exactly `steps` steps.
    used_ += uint64_t(steps);
    between_slices();
    if (timed && std::chrono::steady_clock::now() >= limits_.deadline) return Stop::OutOfTime;
  }
}

std::string Meter::message(Stop stop) const {
  if (stop == Stop::OutOfGas) return "gas limit of " + std::to_string(limits_.gas) + " interpreter steps exceeded";
  if (stop == Stop::OutOfTime) return "time limit of " + std::to_string(limits_.time_ms) + " ms exceeded";
  return "";
}

}  // namespace nnb::wasm::wabt_engine
