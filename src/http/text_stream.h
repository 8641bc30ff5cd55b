// Turns a generation's raw pieces into the text an HTTP client may be sent: whole UTF-8
// characters only (a token can end inside one, and JSON strings must be valid UTF-8), and
// nothing of a stop sequence. OpenAI's `stop` takes up to 4 strings that end the answer and are
// not part of it; text that could still become one is held back until it is decided.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nnb::http {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops = {});

  // Adds a piece; returns the text now safe to send (maybe empty). Once a stop sequence has
  // appeared, returns what came before it and stopped() is true; later pieces are ignored.
  std::string push(std::string_view piece);
  // At the end of the generation: what is still held back (a partial stop sequence is text
  // after all; an incomplete UTF-8 sequence becomes U+FFFD).
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

// Bytes of `s` up to the last whole UTF-8 character: a trailing lead byte with fewer
// continuation bytes than it announces is cut. Invalid bytes elsewhere are left for the JSON
// writer to replace.
size_t utf8_complete_prefix(std::string_view s);

// `s` with every invalid UTF-8 sequence replaced by U+FFFD (what JSON output needs).
std::string utf8_sanitize(std::string_view s);

}  // namespace nnb::http
