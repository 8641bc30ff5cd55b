// Unicode helpers: see unicode.h.
#include "engine/tokenizer/unicode.h"

#include <unicode/uchar.h>

#include <array>
#include <stdexcept>

namespace nnb::unicode {

size_t utf8_len(char lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

std::vector<uint32_t> decode_utf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    uint32_t cpt = 0xFFFD;
    size_t len = 1;
    if (b < 0x80) {
      cpt = b;
    } else if ((b & 0xE0) == 0xC0) {
      if (cont(i + 1)) { cpt = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu); len = 2; }
    } else if ((b & 0xF0) == 0xE0) {
      if (cont(i + 1) && cont(i + 2)) {
        cpt = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
        len = 3;
      }
    } else if ((b & 0xF8) == 0xF0) {
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        const uint32_t c = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
                           (p[i + 3] & 0x3Fu);
        // llama.cpp would throw later when re-encoding these; treat them as invalid bytes.
        if (c <= 0x10FFFF) { cpt = c; len = 4; }
      }
    }
    out.push_back(cpt);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt <= 0x7F) {
    out.push_back(char(cpt));
  } else if (cpt <= 0x7FF) {
    out.push_back(char(0xC0 | (cpt >> 6)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out.push_back(char(0xE0 | (cpt >> 12)));
    out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0x10FFFF) {
    out.push_back(char(0xF0 | (cpt >> 18)));
    out.push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cpt & 0x3F)));
  } else {
    throw std::invalid_argument("code point out of range: " + std::to_string(cpt));
  }
}

std::string encode_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

namespace {

CptFlags compute_flags(uint32_t cpt) {
  CptFlags f;
  const uint32_t gc = U_GET_GC_MASK(UChar32(cpt));
  if (gc & U_GC_N_MASK) f.category = CptFlags::NUMBER;
  else if (gc & U_GC_L_MASK) f.category = CptFlags::LETTER;
  else if (gc & U_GC_Z_MASK) f.category = CptFlags::SEPARATOR;
  else if (gc & U_GC_M_MASK) f.category = CptFlags::MARK;
  else if (gc & U_GC_P_MASK) f.category = CptFlags::PUNCTUATION;
  else if (gc & U_GC_S_MASK) f.category = CptFlags::SYMBOL;
  else f.category = CptFlags::CONTROL;  // Cc, Cf, Cs, Co and unassigned (\p{C})
  f.whitespace = u_isUWhiteSpace(UChar32(cpt));
  return f;
}

}  // namespace

CptFlags flags(uint32_t cpt) {
  // Latin-1 is by far the most frequent input: answer it from a table.
  static const std::array<CptFlags, 256> latin1 = [] {
    std::array<CptFlags, 256> t{};
    for (uint32_t c = 0; c < 256; ++c) t[c] = compute_flags(c);
    return t;
  }();
  if (cpt < 256) return latin1[cpt];
  if (cpt > 0x10FFFF) return CptFlags{CptFlags::CONTROL, false};
  return compute_flags(cpt);
}

uint32_t to_lower(uint32_t cpt) { return cpt > 0x10FFFF ? cpt : uint32_t(u_tolower(UChar32(cpt))); }

namespace {

struct Gpt2Tables {
  std::array<std::string, 256> byte_to_str;
  std::array<int16_t, 512> cpt_to_byte;  // every stand-in code point is < 0x144
};

const Gpt2Tables& gpt2_tables() {
  static const Gpt2Tables t = [] {
    Gpt2Tables g;
    g.cpt_to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cpt = printable ? uint32_t(b) : uint32_t(256 + next++);
      g.byte_to_str[b] = encode_utf8(cpt);
      g.cpt_to_byte[cpt] = int16_t(b);
    }
    return g;
  }();
  return t;
}

}  // namespace

const std::string& byte_to_gpt2(uint8_t byte) { return gpt2_tables().byte_to_str[byte]; }

int gpt2_to_byte(uint32_t cpt) { return cpt < 512 ? gpt2_tables().cpt_to_byte[cpt] : -1; }

}  // namespace nnb::unicode
