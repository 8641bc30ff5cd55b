// What the graphs and contexts of one OpenAIBackend share: its settings (timeouts, sizes, the
// base options), where log lines go, and how to tell the health checker that an upstream just
// failed. Kept apart from the backend so that contexts depend on it, not on the backend.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace nnb::openai {

struct OpenAIBackendOptions {
  double connect_timeout_s = 5;
  // The longest wait for the next byte of an answer: the upstream's prompt evaluation and
  // each token must come within it (a stream sends an event per token).
  double idle_timeout_s = 60;
  // Seconds between two health checks (GET {base}/models) of an upstream that is up; one that
  // is down is checked every second until it answers.
  double health_interval_s = 10;
  size_t max_event_bytes = size_t(4) << 20;  // one SSE event (a completion chunk)
  // Options (COMPAT §4 metadata JSON) every graph starts from: `--nn-options`.
  std::string default_options_json;
  // Receives log lines. Empty: "[nnbridge openai] line" on stderr.
  std::function<void(const std::string&)> log;
};

class Runtime {
 public:
  explicit Runtime(OpenAIBackendOptions o);
  const OpenAIBackendOptions& options() const { return o_; }
  void log(const std::string& line) const { o_.log(line); }
  // Logs `line` the first time only: notes about ignored options would otherwise repeat on
  // every request of the HTTP API, which sends the same keys each time.
  void note_once(const std::string& line) const;
  // Set by the backend: wakes its health checker (an upstream was just marked down).
  std::function<void()> wake_health_check;

 private:
  OpenAIBackendOptions o_;
  mutable std::mutex mu_;
  mutable std::set<std::string> noted_;
};

}  // namespace nnb::openai
