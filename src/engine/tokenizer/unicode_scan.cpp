// The GPT-2 and Llama-3 pre-tokenizer scanners. They implement the regex alternatives in order
// at each position, the way llama.cpp's unicode_regex_split_custom_* do, including where that
// differs from a textbook regex engine:
//  * "\s+(?!\S)" is taken as "all white space but the last character" whenever more white space
//    is followed by anything inside the piece, and as all of it at the piece's end;
//  * a position no alternative matches becomes a one-code-point piece.
#include "engine/tokenizer/unicode_scan.h"

#include "engine/tokenizer/unicode.h"

namespace nnb::unicode {
namespace {

constexpr uint32_t kOutside = 0xFFFFFFFF;  // "code point" beyond either end of the piece

// One piece being scanned: code points / classes that read as empty outside [begin, end).
class Piece {
 public:
  Piece(const std::vector<uint32_t>& cpts, const std::vector<CptFlags>& fl, size_t begin, size_t end,
        std::vector<size_t>& out)
      : cpts_(cpts), fl_(fl), begin_(begin), end_(end), last_(begin), out_(out) {}

  uint32_t cpt(size_t pos) const { return pos >= begin_ && pos < end_ ? cpts_[pos] : kOutside; }
  CptFlags flags(size_t pos) const { return pos >= begin_ && pos < end_ ? fl_[pos] : CptFlags{}; }
  size_t end() const { return end_; }

  // Closes the current word at `pos`; returns its length (empty words are not recorded).
  size_t cut(size_t pos) {
    const size_t len = pos - last_;
    if (len > 0) out_.push_back(len);
    last_ = pos;
    return len;
  }

  // 's 't 'm 'd 're 've 'll (lower-cased first when `caseless`): the length matched at pos, or 0.
  size_t contraction(size_t pos, bool caseless) const {
    if (cpt(pos) != '\'' || pos + 1 >= end_) return 0;
    auto low = [&](size_t p) { return caseless ? to_lower(cpt(p)) : cpt(p); };
    const uint32_t a = low(pos + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= end_) return 0;
    const uint32_t b = low(pos + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // Neither white space, letter nor number, but a code point of the piece.
  bool is_other(size_t pos) const {
    const CptFlags f = flags(pos);
    return f.any() && !f.whitespace && !f.is_letter() && !f.is_number();
  }

 private:
  const std::vector<uint32_t>& cpts_;
  const std::vector<CptFlags>& fl_;
  size_t begin_, end_, last_;
  std::vector<size_t>& out_;
};

std::vector<CptFlags> all_flags(const std::vector<uint32_t>& cpts) {
  std::vector<CptFlags> fl(cpts.size());
  for (size_t i = 0; i < cpts.size(); ++i) fl[i] = flags(cpts[i]);
  return fl;
}

// Scans one GPT-2 piece.
void gpt2_piece(Piece& p, size_t begin) {
  for (size_t pos = begin; pos < p.end();) {
    const uint32_t c = p.cpt(pos);
    if (size_t n = p.contraction(pos, false)) {
      pos += p.cut(pos + n);
      continue;
    }
    // " ?X+" alternatives look at the code point after an optional leading space.
    const size_t first = pos + (c == ' ' ? 1 : 0);
    const CptFlags f2 = p.flags(first);
    if (f2.is_letter() || f2.is_number() || p.is_other(first)) {
      pos = first;
      if (f2.is_letter()) {
        while (p.flags(pos).is_letter()) ++pos;
      } else if (f2.is_number()) {
        while (p.flags(pos).is_number()) ++pos;
      } else {
        while (p.is_other(pos)) ++pos;
      }
      p.cut(pos);
      continue;
    }
    size_t n_ws = 0;
    while (p.flags(pos + n_ws).whitespace) ++n_ws;
    if (n_ws > 1 && p.cpt(pos + n_ws) != kOutside) {  // \s+(?!\S): leave the last one
      pos += n_ws - 1;
      p.cut(pos);
      continue;
    }
    if (n_ws > 0) {
      pos += n_ws;
      p.cut(pos);
      continue;
    }
    p.cut(++pos);  // matches nothing: a piece of its own
  }
}

// Scans one Llama-3 piece.
void llama3_piece(Piece& p, size_t begin) {
  for (size_t pos = begin; pos < p.end();) {
    const uint32_t c = p.cpt(pos);
    const CptFlags f = p.flags(pos);
    if (size_t n = p.contraction(pos, true)) {
      pos += p.cut(pos + n);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || f.is_number()) && (f.is_letter() || p.flags(pos + 1).is_letter())) {
      ++pos;
      while (p.flags(pos).is_letter()) ++pos;
      p.cut(pos);
      continue;
    }
    // \p{N}{1,3}
    if (f.is_number()) {
      size_t start = pos;
      while (p.flags(pos).is_number()) {
        if (++pos - start >= 3) {
          p.cut(pos);
          start = pos;
        }
      }
      p.cut(pos);
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*". llama.cpp tests the class on the code point after the space
    // but "is a code point" on the current one; we keep that (it only matters at a piece's end).
    const size_t first = pos + (c == ' ' ? 1 : 0);
    const CptFlags f2 = p.flags(first);
    if (!(f2.whitespace || f2.is_letter() || f2.is_number()) && f.any()) {
      pos = first;
      while (p.is_other(pos)) ++pos;
      while (p.cpt(pos) == '\r' || p.cpt(pos) == '\n') ++pos;
      p.cut(pos);
      continue;
    }
    size_t n_ws = 0;
    size_t after_last_newline = 0;
    while (p.flags(pos + n_ws).whitespace) {
      const uint32_t w = p.cpt(pos + n_ws);
      if (w == '\r' || w == '\n') after_last_newline = pos + n_ws + 1;
      ++n_ws;
    }
    if (after_last_newline > 0) {  // \s*[\r\n]+
      pos = after_last_newline;
      p.cut(pos);
      continue;
    }
    if (n_ws > 1 && p.cpt(pos + n_ws) != kOutside) {  // \s+(?!\S)
      pos += n_ws - 1;
      p.cut(pos);
      continue;
    }
    if (n_ws > 0) {  // \s+
      pos += n_ws;
      p.cut(pos);
      continue;
    }
    p.cut(++pos);
  }
}

template <class ScanPiece>
std::vector<size_t> scan(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces, ScanPiece scan_piece) {
  const std::vector<CptFlags> fl = all_flags(cpts);
  std::vector<size_t> out;
  out.reserve(pieces.size());
  size_t start = 0;
  for (size_t len : pieces) {
    Piece p(cpts, fl, start, start + len, out);
    scan_piece(p, start);
    start += len;
  }
  return out;
}

}  // namespace

std::vector<size_t> scan_gpt2(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces) {
  return scan(cpts, pieces, gpt2_piece);
}

std::vector<size_t> scan_llama3(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces) {
  return scan(cpts, pieces, llama3_piece);
}

}  // namespace nnb::unicode
