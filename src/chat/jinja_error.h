// The one error type of the chat-template renderer: parse errors, runtime errors (undefined
// values, type errors), sandbox limits and raise_exception() all surface as TemplateError, so a
// caller handles a bad template in one place.
#pragma once

#include <stdexcept>
#include <string>

namespace nnb::chat {

// Where in the template source (1-based; 0 when unknown).
struct SourcePos {
  int line = 0, col = 0;
};

class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& what) : std::runtime_error(what) {}
  TemplateError(const std::string& what, SourcePos pos)
      : std::runtime_error(pos.line > 0 ? what + " at " + std::to_string(pos.line) + ":" + std::to_string(pos.col) : what),
        pos_(pos) {}
  SourcePos pos() const { return pos_; }

 private:
  SourcePos pos_;
};

}  // namespace nnb::chat
