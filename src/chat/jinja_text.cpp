#include "chat/jinja_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace nnb::chat::text {

char32_t decode_one(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  char32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
  bool ok = n >= 0 && i + size_t(n) < s.size();
  for (int k = 1; ok && k <= n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + size_t(k)]);
    if ((cc >> 6) != 2) ok = false;
    else cp = (cp << 6) | (cc & 0x3f);
  }
  if (!ok) {
    ++i;
    return c;
  }
  i += size_t(n) + 1;
  return cp;
}

std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_one(s, i));
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xc0 | (c >> 6));
    out += char(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += char(0xe0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3f));
    out += char(0x80 | (c & 0x3f));
  } else {
    out += char(0xf0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3f));
    out += char(0x80 | ((c >> 6) & 0x3f));
    out += char(0x80 | (c & 0x3f));
  }
}

std::string encode(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  return n;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

namespace {

template <class Pred>
std::string strip_if(std::string_view s, bool left, bool right, Pred drop) {
  const std::vector<char32_t> cps = decode(s);
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && drop(cps[b])) ++b;
  if (right)
    while (e > b && drop(cps[e - 1])) --e;
  return encode(std::vector<char32_t>(cps.begin() + long(b), cps.begin() + long(e)));
}

}  // namespace

std::string strip(std::string_view s, bool left, bool right) { return strip_if(s, left, right, is_space); }

std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  const std::vector<char32_t> set = decode(chars);
  return strip_if(s, left, right, [&](char32_t c) {
    for (char32_t x : set)
      if (x == c) return true;
    return false;
  });
}

std::vector<std::string> split_ws(std::string_view s, int64_t maxsplit) {
  const std::vector<char32_t> cps = decode(s);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < cps.size()) {
    while (i < cps.size() && is_space(cps[i])) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {  // the rest, right-stripped
      size_t e = cps.size();
      while (e > i && is_space(cps[e - 1])) --e;
      out.push_back(encode(std::vector<char32_t>(cps.begin() + long(i), cps.begin() + long(e))));
      break;
    }
    size_t j = i;
    while (j < cps.size() && !is_space(cps[j])) ++j;
    out.push_back(encode(std::vector<char32_t>(cps.begin() + long(i), cps.begin() + long(j))));
    i = j;
  }
  return out;
}

std::vector<std::string> split(std::string_view s, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t start = 0;
  while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
    const size_t k = s.find(sep, start);
    if (k == std::string_view::npos) break;
    out.emplace_back(s.substr(start, k - start));
    start = k + sep.size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::vector<std::string> splitlines(std::string_view s) {
  const std::vector<char32_t> cps = decode(s);
  std::vector<std::string> out;
  std::vector<char32_t> cur;
  size_t i = 0;
  bool pending = false;
  for (; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
                     c == 0x2028 || c == 0x2029;
    if (!brk) {
      cur.push_back(c);
      pending = true;
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    out.push_back(encode(cur));
    cur.clear();
    pending = false;
  }
  if (pending) out.push_back(encode(cur));
  return out;
}

std::optional<std::string> replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t count,
                                   size_t max_bytes) {
  std::string out;
  if (old_s.empty()) {  // Python inserts new_s before every code point and at the end
    const std::vector<char32_t> cps = decode(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += new_s;
        ++done;
      }
      append_utf8(out, c);
      if (out.size() > max_bytes) return std::nullopt;
    }
    if (count < 0 || done < count) out += new_s;
    if (out.size() > max_bytes) return std::nullopt;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t k = s.find(old_s, start);
    if (k == std::string_view::npos) break;
    out.append(s.substr(start, k - start));
    out.append(new_s);
    if (out.size() > max_bytes) return std::nullopt;
    start = k + old_s.size();
    ++done;
  }
  out.append(s.substr(start));
  if (out.size() > max_bytes) return std::nullopt;
  return out;
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'a' && c <= 'z') c = char(c - 32);
  return o;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return o;
}

std::string capitalize(std::string_view s) {
  std::string o = lower(s);
  if (!o.empty() && o[0] >= 'a' && o[0] <= 'z') o[0] = char(o[0] - 32);
  return o;
}

std::string title(std::string_view s) {
  // Python: a letter following a non-letter starts a word ("they're" -> "They'Re").
  std::string o(s);
  bool prev_letter = false;
  for (char& c : o) {
    const bool is_up = c >= 'A' && c <= 'Z', is_lo = c >= 'a' && c <= 'z';
    const bool letter = is_up || is_lo || (static_cast<unsigned char>(c) >= 0x80);
    if (is_up && prev_letter) c = char(c + 32);
    if (is_lo && !prev_letter) c = char(c - 32);
    prev_letter = letter;
  }
  return o;
}

std::string py_repr(std::string_view s) {
  const bool has_sq = s.find('\'') != std::string_view::npos, has_dq = s.find('"') != std::string_view::npos;
  const char q = has_sq && !has_dq ? '"' : '\'';
  std::string out(1, q);
  char buf[16];
  for (char32_t c : decode(s)) {
    if (c == '\\') out += "\\\\";
    else if (c == char32_t(q)) (out += '\\') += q;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad) {
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      out += buf;
    } else if (c == 0x2028 || c == 0x2029 || (c >= 0xd800 && c <= 0xdfff)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
      out += buf;
    } else {
      append_utf8(out, c);
    }
  }
  out += q;
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  char buf[8];
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(u));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // [-]d[.ddd]e[+-]XX, shortest round-trip digits
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp = std::stoi(sci.substr(e + 1));
  std::string sign;
  if (mant[0] == '-') {
    sign = "-";
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  if (exp >= -4 && exp < 16) {
    std::string out;
    if (exp >= 0) {
      if (digits.size() <= size_t(exp) + 1) digits.append(size_t(exp) + 1 - digits.size(), '0');
      out = digits.substr(0, size_t(exp) + 1) + ".";
      const std::string frac = digits.substr(size_t(exp) + 1);
      out += frac.empty() ? "0" : frac;
    } else {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    }
    return sign + out;
  }
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return sign + out + buf;
}

}  // namespace nnb::chat::text
