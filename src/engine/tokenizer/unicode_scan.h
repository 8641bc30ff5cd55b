// Hand-written scanners for the two most used pre-tokenizer regexes. llama.cpp matches these two
// expressions with custom code rather than a regex engine, and its token ids depend on that
// code's exact behaviour, so ours follows the same rules (see unicode_scan.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nnb::unicode {

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
inline constexpr const char* kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (llama.cpp spells the case-insensitive group out as '[sS]|... for std::regex; both spellings
// select the scanner.)
inline constexpr const char* kLlama3Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
inline constexpr const char* kLlama3RegexCaseless =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!"
    "\\S)|\\s+";

// Each takes the whole text's code points and the current pieces (lengths in code points, in
// order, summing to cpts.size()) and returns the finer pieces.
std::vector<size_t> scan_gpt2(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces);
std::vector<size_t> scan_llama3(const std::vector<uint32_t>& cpts, const std::vector<size_t>& pieces);

}  // namespace nnb::unicode
