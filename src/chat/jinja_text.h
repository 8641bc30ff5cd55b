// Python's string semantics over UTF-8 text: what Jinja2 templates see as str methods work on
// code points and Unicode whitespace, so length, slicing and strip() must too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::chat::text {

// Code points of s; malformed bytes decode as themselves (U+0080..U+00FF) so no input throws.
std::vector<char32_t> decode(std::string_view s);
// The code point at s[i] (advancing i past it); a stray byte stands for itself.
char32_t decode_one(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t c);
std::string encode(const std::vector<char32_t>& cps);
size_t length(std::string_view s);  // in code points

bool is_space(char32_t c);  // Python str.isspace()
std::string strip(std::string_view s, bool left, bool right);
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);
std::vector<std::string> split_ws(std::string_view s, int64_t maxsplit);
std::vector<std::string> split(std::string_view s, std::string_view sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s);
// nullopt when the result would exceed max_bytes (stops building it there).
std::optional<std::string> replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t count,
                                   size_t max_bytes);

// ASCII-only case mapping (documented limitation: other letters are left as they are).
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);
std::string title(std::string_view s);

std::string py_repr(std::string_view s);     // repr(str): quotes and escapes as CPython does
std::string json_quote(std::string_view s);  // json.dumps(str, ensure_ascii=False)
std::string format_float(double d);          // repr(float): shortest round-trip, Python's layout

}  // namespace nnb::chat::text
