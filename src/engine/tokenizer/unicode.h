// Unicode helpers for the tokenizers: UTF-8 decoding with llama.cpp's error handling, code
// point classes (the flags llama.cpp's pre-tokenizers test), and GPT-2's byte <-> code point map.
// Classes come from ICU so they follow the Unicode standard rather than a copied table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::unicode {

// Length of a UTF-8 sequence from its first byte's high nibble (1 for stray continuation bytes),
// as SentencePiece and llama.cpp split text into symbols. Never 0.
size_t utf8_len(char lead);

// Decodes UTF-8 the way llama.cpp does: every byte that does not start a complete sequence
// becomes one U+FFFD. Overlong forms and surrogates are accepted as they come; sequences that
// would decode above U+10FFFF count as invalid.
std::vector<uint32_t> decode_utf8(std::string_view s);
void append_utf8(std::string& out, uint32_t cpt);  // cpt must be <= 0x10FFFF
std::string encode_utf8(uint32_t cpt);

// The classes llama.cpp's regex splitting uses: one general category (\p{N}, \p{L}, ...), plus
// White_Space. `any()` is false only for "no code point" (outside the piece being split).
struct CptFlags {
  enum Category : uint8_t { NONE = 0, NUMBER, LETTER, SEPARATOR, MARK, PUNCTUATION, SYMBOL, CONTROL };
  Category category = NONE;
  bool whitespace = false;

  bool any() const { return category != NONE; }
  bool is_letter() const { return category == LETTER; }
  bool is_number() const { return category == NUMBER; }
};
CptFlags flags(uint32_t cpt);

// Simple lower-case mapping (one code point to one).
uint32_t to_lower(uint32_t cpt);

// GPT-2's reversible byte -> printable code point mapping: bytes 0x21-0x7E, 0xA1-0xAC and
// 0xAE-0xFF stand for themselves, the other 68 bytes map to U+0100.. in byte order.
// Returned as the UTF-8 of that code point.
const std::string& byte_to_gpt2(uint8_t byte);
// The byte a code point stands for, or -1 if it is not one of the 256 stand-ins.
int gpt2_to_byte(uint32_t cpt);

}  // namespace nnb::unicode
