#include "wasm/run_deadline.h"

#include <unistd.h>

#include <algorithm>

namespace nnb::wasm {

namespace {
// Longer limits are this long, so that now() + limit cannot overflow the clock (~292 years).
constexpr uint64_t kLongestMs = 100ull * 365 * 24 * 3600 * 1000;
}  // namespace

RunDeadline::RunDeadline(uint64_t ms)
    : ms_(ms), when_(Clock::now() + std::chrono::milliseconds(int64_t(std::min(ms, kLongestMs)))) {}

RunDeadline::~RunDeadline() {
  // The watchdog has fired and is ending the process: wait for that, not for a thread that
  // never returns.
  if (!finish())
    for (;;) ::pause();
}

std::string RunDeadline::message() const { return "time limit of " + std::to_string(ms_) + " ms exceeded"; }

std::function<bool()> RunDeadline::abort_check() const {
  if (ms_ == 0) return {};
  const Clock::time_point when = when_;
  return [when] { return Clock::now() >= when; };
}

void RunDeadline::arm_watchdog(int exit_code, std::chrono::milliseconds grace) {
  if (ms_ == 0 || watchdog_.joinable()) return;
  watchdog_ = std::thread([this, exit_code, grace, line = "nnbridge: " + message() + " (a host call was still running)\n"] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, when_ + grace, [this] { return done_; })) return;
    fired_ = true;
    lock.unlock();
    // The main thread is blocked in a host call and may hold stdio's locks: a plain write(2)
    // and _exit, nothing that could wait for it.
    (void)!::write(2, line.data(), line.size());
    ::_exit(exit_code);
  });
}

bool RunDeadline::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fired_) return false;
    done_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  return true;
}

}  // namespace nnb::wasm
