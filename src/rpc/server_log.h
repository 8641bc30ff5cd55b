// Log hygiene for `nnbridge serve`. The server's log is read by people and by tools that
// split it into lines, and much of what it reports comes from clients (model names, configs,
// error details that quote them). So every line is made safe in one place, ServerState::log:
// - escaped: control characters, invalid UTF-8, C1 controls and the Unicode characters that
//   break or reorder lines (U+2028/2029, bidi overrides, zero-width marks) become \n, \xNN or
//   \u{NNNN}; a backslash becomes \\ so that an escape can never be mistaken for client text.
//   A client cannot forge a line, hide text or move the cursor of a terminal showing the log;
// - truncated: a line is cut at kLogLineMax bytes, a client field (log_field) at kLogFieldMax,
//   with "… (N bytes)" saying how long the original was: a 1 MB name costs ~200 bytes of log;
// - rate-limited: failure lines of one kind ("load_by_name failed: errno=103", "set_input
//   refused", see LogLimiter::kind_of) are written at most kLogBurst times per second; the
//   rest are counted and reported as one "… suppressed K similar lines" line once that second
//   is over, so a client hammering the server with bad calls cannot flood the disk, while
//   the number of failures stays exact.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "nn/backend.h"

namespace nnb::rpc {

inline constexpr size_t kLogFieldMax = 200;  // bytes of one client-provided string
inline constexpr size_t kLogLineMax = 512;   // bytes of one whole line (before escaping)
inline constexpr size_t kLogBurst = 5;       // failure lines of one kind per window
inline constexpr std::chrono::milliseconds kLogWindow{1000};

// `s` escaped as described above, one line; at most `max_bytes` of `s` are kept, followed by
// "… (N bytes)" when it was longer.
std::string log_escape(std::string_view s, size_t max_bytes = kLogLineMax);

// `s` cut to `max_bytes` (on a UTF-8 character boundary) + "… (N bytes)" when longer; not
// escaped (ServerState::log escapes the whole line).
std::string log_field(std::string_view s, size_t max_bytes = kLogFieldMax);

// A session id as it may appear in the log: the id is the session's credential (with the
// token), so only its first 8 characters are shown — enough to tell sessions apart.
std::string log_session(std::string_view id);

// One line per finished generation: who, what, how much, how fast.
struct GenerationRecord {
  std::string_view via;      // "generate", "compute", "compute_single"
  std::string_view session;  // full id (shortened by the line) or "@peer" for WasmEdge clients
  std::string_view model;
  uint64_t prompt_tokens = 0, output_tokens = 0;
  double prompt_seconds = -1;  // prompt evaluation (with the first token); < 0: unknown
  double tokens_per_s = -1;    // generation speed as the path measures it; < 0: unknown
  std::string_view stop;       // stop reason, "" when unknown
};
std::string generation_line(const GenerationRecord& r);

// The line for a generation made through WasmEdge's protocol on `ctx` (compute, or a
// compute_single stream that has just ended with `end`, its EndOfSequence / ContextFull
// error): token counts from the GGML backend's metadata (output 1); `seconds` is the
// compute call's time (< 0: unknown, a stream's calls are not timed). "" when the backend
// reports no token counts.
std::string wasi_generation_line(std::string_view via, std::string_view session, std::string_view model,
                                 nn::ExecutionContext& ctx, double seconds, const nn::Error* end);

// Per-kind rate limiter for failure lines; thread-safe. Time is passed in, so it is testable.
class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogLimiter(size_t burst = kLogBurst, Clock::duration window = kLogWindow)
      : burst_(burst), window_(window) {}

  // The kind of a log line: for "<what> failed: errno=N …" the text up to N; for
  // "<what> refused…" the text up to "refused"; "" (never limited) for anything else —
  // start-up, shutdown and one-per-generation lines are always written.
  static std::string kind_of(std::string_view line);

  // Whether a line of `kind` at `now` is written (true) or counted as suppressed (false).
  // Appends to `summaries` what due(now) returns, to be written before the line.
  bool admit(const std::string& kind, Clock::time_point now, std::vector<std::string>& summaries);
  // "… suppressed K similar lines (<kind>) in the last S s" for every kind whose window has
  // ended (every kind when `all`, at shutdown) with lines suppressed; each is reported once.
  std::vector<std::string> due(Clock::time_point now, bool all = false);

 private:
  struct Window {
    Clock::time_point start;
    size_t written = 0, suppressed = 0;
  };
  std::string summary(const std::string& kind, const Window& w, Clock::time_point now) const;
  void collect_due(Clock::time_point now, bool all, std::vector<std::string>& out);  // mu_ held

  const size_t burst_;
  const Clock::duration window_;
  std::mutex mu_;
  std::map<std::string, Window> kinds_;  // kinds are server-side names: a small, bounded set
};

}  // namespace nnb::rpc
