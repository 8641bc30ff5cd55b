// Server-sent events (the text/event-stream format OpenAI-compatible servers stream
// completions in), parsed incrementally: bytes arrive in whatever pieces the socket gives, an
// event is complete at its blank line. Only `data:` fields matter to completions; comments,
// `event:`, `id:` and `retry:` lines are skipped.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace nnb::openai {

class SseParser {
 public:
  // A line (or one event's data) longer than this is a broken or hostile upstream, not a
  // completion chunk: feed() throws std::length_error rather than buffer without bound.
  explicit SseParser(size_t max_event_bytes = size_t(4) << 20) : max_(max_event_bytes) {}

  // Consumes bytes; every event they complete is appended to events() (its data lines
  // joined by '\n', as the format says).
  void feed(std::string_view bytes);
  std::deque<std::string>& events() { return events_; }
  // True when bytes of an unfinished line or event are buffered.
  bool partial() const { return !line_.empty() || has_data_; }

 private:
  void line(std::string_view l);

  size_t max_;
  std::string line_;   // the current line so far
  std::string data_;   // the current event's data so far
  bool has_data_ = false;
  bool skip_lf_ = false;  // the last byte was '\r': a following '\n' belongs to it
  std::deque<std::string> events_;
};

}  // namespace nnb::openai
