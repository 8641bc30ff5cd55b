#include "backends/openai/sse_parser.h"

#include <stdexcept>

namespace nnb::openai {

void SseParser::feed(std::string_view bytes) {
  for (const char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      line(line_);
      line_.clear();
      continue;
    }
    if (line_.size() >= max_) throw std::length_error("an event-stream line exceeds " + std::to_string(max_) + " bytes");
    line_.push_back(c);
  }
}

void SseParser::line(std::string_view l) {
  if (l.empty()) {  // the blank line: the event is complete
    if (has_data_) events_.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;  // a comment (keep-alive)
  const size_t colon = l.find(':');
  const std::string_view field = l.substr(0, colon);
  if (field != "data") return;
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_.push_back('\n');
  if (data_.size() + value.size() > max_)
    throw std::length_error("an event-stream event exceeds " + std::to_string(max_) + " bytes");
  data_.append(value);
  has_data_ = true;
}

}  // namespace nnb::openai
