// Pre-tokenizer text splitting for byte-level BPE, reproducing llama.cpp's unicode_regex_split:
// a list of regexes is applied in order, each one splitting every piece the previous one left
// (text between matches is kept as a piece of its own), and the pieces come back as words.
//
// Like llama.cpp, the two common expressions (GPT-2's and Llama-3's) are matched by hand-written
// scanners (their exact quirks included, e.g. "\s+(?!\S)"), and every other expression runs on a
// regex engine (ICU here, std::regex there) over a transformed text: with \p{..} classes, each
// non-ASCII code point is first replaced by one byte standing for its class, and \s only ever
// sees ASCII white space (other white space is mapped to U+000B).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::unicode {

class RegexSplitter {
 public:
  // Compiles the expressions (llama.cpp's ECMAScript-style spelling). Throws std::runtime_error
  // naming the expression when it cannot be supported.
  explicit RegexSplitter(const std::vector<std::string>& exprs);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // The words of `text`, as UTF-8 (invalid input bytes become U+FFFD, as in llama.cpp).
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct Step;
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace nnb::unicode
