// The wall-clock limit of one guest run (`nnbridge run --time-limit MS`), in the three places
// that honour it: the engine stops guest code at the first slice boundary past when()
// (RuntimeOptions::deadline); wasi-nn contexts stop a long local computation between prompt
// batches and tokens (abort_check()); and a watchdog ends the process when a host call blocks
// past the deadline (a WASI sleep, a read from stdin, a remote call), since no guest-side
// check can run then.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace nnb::wasm {

class RunDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts counting now. ms == 0: no limit; passed() is then always false and the watchdog
  // never starts.
  explicit RunDeadline(uint64_t ms);
  ~RunDeadline();
  RunDeadline(const RunDeadline&) = delete;
  RunDeadline& operator=(const RunDeadline&) = delete;

  uint64_t ms() const { return ms_; }
  Clock::time_point when() const { return when_; }
  bool passed() const { return ms_ > 0 && Clock::now() >= when_; }
  // "time limit of N ms exceeded"
  std::string message() const;
  // For nn::ExecutionContext::set_abort_check; empty when there is no limit.
  std::function<bool()> abort_check() const;

  // If the run is still going `grace` after the deadline, writes "nnbridge: <message> (a host
  // call was still running)" to stderr and ends the process with `exit_code`, from its own
  // thread. Guest code and local wasi-nn calls stop well within the grace, so this is only
  // for host calls that block.
  void arm_watchdog(int exit_code, std::chrono::milliseconds grace);
  // The run is over: the watchdog stands down. False when it has already fired (the process
  // is ending; print nothing more).
  bool finish();

 private:
  uint64_t ms_;
  Clock::time_point when_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, fired_ = false;
  std::thread watchdog_;
};

}  // namespace nnb::wasm
