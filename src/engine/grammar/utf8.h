// UTF-8 decoding that can stop and resume at any byte, for text that arrives in token pieces: a
// character may start in one token and end in the next.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::grammar {

// The bits of a started character and how many continuation bytes it still needs.
struct PartialUtf8 {
  uint32_t value = 0;
  int n_remain = 0;  // 0: between characters
  int len = 0;       // bytes of the started character (2..4)

  bool operator==(const PartialUtf8&) const = default;
};

// The smallest code point a character of `len` bytes may encode (smaller ones are overlong:
// E0 81 BB would be a second spelling of '{', which JSON parsers and the grammar must not see).
inline uint32_t utf8_min(int len) { return len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000; }

// Decodes bytes after `partial`, appending complete code points to `out`. Returns false when the
// bytes are not well-formed UTF-8 (a stray continuation byte, a lead byte where a continuation
// byte is due, an overlong form, a surrogate, beyond U+10FFFF, 0xF8..0xFF); then `out` and
// `partial` are unspecified. On success `partial` is the unfinished character at the end.
inline bool decode_utf8(std::string_view bytes, PartialUtf8& partial, std::vector<uint32_t>& out) {
  for (unsigned char b : bytes) {
    if (partial.n_remain > 0) {
      if ((b & 0xC0) != 0x80) return false;
      partial.value = (partial.value << 6) | (b & 0x3F);
      if (--partial.n_remain == 0) {
        const uint32_t c = partial.value;
        if (c < utf8_min(partial.len) || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        out.push_back(c);
        partial = {};
      }
      continue;
    }
    if (b < 0x80) {
      out.push_back(b);
    } else if ((b & 0xE0) == 0xC0) {
      partial = {uint32_t(b & 0x1F), 1, 2};
    } else if ((b & 0xF0) == 0xE0) {
      partial = {uint32_t(b & 0x0F), 2, 3};
    } else if ((b & 0xF8) == 0xF0) {
      partial = {uint32_t(b & 0x07), 3, 4};
    } else {
      return false;  // a continuation byte with nothing to continue, or 0xF8..0xFF
    }
  }
  return true;
}

// The well-formed code points a partial character can still become, as [lo, hi]; false when
// there are none (the bytes so far can only end overlong, as a surrogate or past U+10FFFF).
inline bool partial_range(const PartialUtf8& p, uint32_t& lo, uint32_t& hi) {
  const int shift = 6 * p.n_remain;
  lo = p.value << shift;
  hi = lo | ((uint32_t(1) << shift) - 1);
  if (lo < utf8_min(p.len)) lo = utf8_min(p.len);
  if (hi > 0x10FFFF) hi = 0x10FFFF;
  if (lo >= 0xD800 && hi <= 0xDFFF) return false;
  return lo <= hi;
}

// Appends code point c as UTF-8.
inline void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

}  // namespace nnb::grammar
