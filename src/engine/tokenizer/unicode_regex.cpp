// RegexSplitter: see unicode_regex.h. The general path reproduces llama.cpp's std::regex
// fallback on ICU: same transformed text, same expression semantics (ECMAScript spelling is
// translated to ICU's, with \s, \d and $ pinned to their ECMAScript meaning).
#include "engine/tokenizer/unicode_regex.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <cstdio>
#include <stdexcept>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/unicode_scan.h"

namespace nnb::unicode {
namespace {

// llama.cpp's \p{..} classes and the byte that stands for each in the collapsed text, with the
// ASCII members spelled out (ASCII code points stay themselves when collapsing). Note the
// quirks kept from there: '~' is in no class, the \p{L*} subclasses all mean \p{L}.
struct CategoryClass {
  const char* name;
  CptFlags::Category cat;
};
constexpr CategoryClass kClasses[] = {
    {"\\p{N}", CptFlags::NUMBER},  {"\\p{L}", CptFlags::LETTER},  {"\\p{P}", CptFlags::PUNCTUATION},
    {"\\p{M}", CptFlags::MARK},    {"\\p{S}", CptFlags::SYMBOL},  {"\\p{Lu}", CptFlags::LETTER},
    {"\\p{Ll}", CptFlags::LETTER}, {"\\p{Lt}", CptFlags::LETTER}, {"\\p{Lm}", CptFlags::LETTER},
    {"\\p{Lo}", CptFlags::LETTER},
};

char collapsed_byte(CptFlags::Category c) {
  switch (c) {
    case CptFlags::NUMBER: return char(0xD1);
    case CptFlags::LETTER: return char(0xD2);
    case CptFlags::PUNCTUATION: return char(0xD3);
    case CptFlags::MARK: return char(0xD4);
    case CptFlags::SYMBOL: return char(0xD5);
    default: return char(0xD0);  // any other class
  }
}

const char* ascii_members(CptFlags::Category c) {
  switch (c) {
    case CptFlags::NUMBER: return "0-9";
    case CptFlags::LETTER: return "A-Za-z";
    case CptFlags::PUNCTUATION: return "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}";
    case CptFlags::SYMBOL: return "\\$\\+<->^`\\|";
    default: return "";
  }
}

bool uses_categories(const std::string& expr) {
  for (const auto& c : kClasses)
    if (expr.find(c.name) != std::string::npos) return true;
  return false;
}

// llama.cpp's rewrite of an expression for the collapsed text: each \p{..} becomes its byte plus
// its ASCII members (wrapped in [] outside a bracket expression).
std::string collapse_expr(const std::string& re) {
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && re[i] == ']' && re[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (re[i] == '\\' && i + 3 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{') {
      const size_t close = re.find('}', i + 3);
      if (close != std::string::npos && close <= i + 10) {
        const std::string name = re.substr(i, close - i + 1);
        const CategoryClass* cls = nullptr;
        for (const auto& c : kClasses)
          if (name == c.name) cls = &c;
        if (cls) {
          if (!inside) out += '[';
          out += collapsed_byte(cls->cat);
          out += ascii_members(cls->cat);
          if (!inside) out += ']';
          i = close;
          continue;
        }
      }
    }
    out += re[i];
  }
  return out;
}

[[noreturn]] void unsupported(const std::string& expr, const std::string& why) {
  throw std::runtime_error("unsupported pre-tokenizer regex '" + expr + "': " + why);
}

void append_literal(icu::UnicodeString& out, uint32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\x{%X}", unsigned(c));
  out += icu::UnicodeString(buf);
}

// The code point an escape "\e" stands for inside or outside a bracket, or -1 when it is not a
// plain literal.
int64_t escaped_literal(uint32_t e) {
  switch (e) {
    case 'r': return '\r';
    case 'n': return '\n';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    default: break;
  }
  const bool alnum = (e >= '0' && e <= '9') || (e >= 'A' && e <= 'Z') || (e >= 'a' && e <= 'z');
  return alnum ? -1 : int64_t(e);
}

// ECMAScript (as llama.cpp's std::regex reads it) -> ICU. Inside brackets every literal is
// written as \x{..} so ICU's set syntax ({..} strings, nested [..], &&) cannot change its
// meaning; \s is the ASCII white space ECMAScript's \s sees in the C locale; $ is the end of
// the piece.
icu::UnicodeString to_icu(const std::string& expr, const std::vector<uint32_t>& re) {
  static const char* kSpaces = "\\x{9}-\\x{D}\\x{20}";
  icu::UnicodeString out;
  bool in_class = false;
  bool range_start_ok = false;  // inside a class: the previous item was a single character
  for (size_t i = 0; i < re.size(); ++i) {
    const uint32_t c = re[i];
    const bool escape = c == '\\' && i + 1 < re.size();
    const uint32_t e = escape ? re[i + 1] : 0;
    if (!in_class) {
      if (escape) {
        ++i;
        if (e == 's') out += icu::UnicodeString("[") + kSpaces + "]";
        else if (e == 'S') out += icu::UnicodeString("[^") + kSpaces + "]";
        else if (e == 'd') out += "[0-9]";
        else if (e == 'D') out += "[^0-9]";
        else if (e == 'w') out += "[A-Za-z0-9_]";
        else if (e == 'W') out += "[^A-Za-z0-9_]";
        else if (int64_t lit = escaped_literal(e); lit >= 0) append_literal(out, uint32_t(lit));
        else unsupported(expr, std::string("escape \\") + char(e));
      } else if (c == '[') {
        in_class = true;
        range_start_ok = false;
        out += '[';
        if (i + 1 < re.size() && re[i + 1] == '^') {
          out += '^';
          ++i;
        }
      } else if (c == '$') {
        out += "\\z";
      } else if (c >= 0x80) {
        append_literal(out, c);
      } else {
        out += UChar(c);  // ASCII literal or operator, same meaning in both dialects
      }
      continue;
    }
    // Inside [...].
    if (c == ']') {
      in_class = false;
      out += ']';
      continue;
    }
    if (c == '-' && range_start_ok && i + 1 < re.size() && re[i + 1] != ']') {
      const bool next_is_class = re[i + 1] == '\\' && i + 2 < re.size() &&
                                 (re[i + 2] == 's' || re[i + 2] == 'd' || re[i + 2] == 'w');
      if (!next_is_class) {
        out += '-';
        range_start_ok = false;
        // The range's end is the next item; it must not start another range.
        ++i;
        uint32_t end = re[i];
        if (end == '\\' && i + 1 < re.size()) {
          const int64_t lit = escaped_literal(re[++i]);
          if (lit < 0) unsupported(expr, "range ending in a class escape");
          end = uint32_t(lit);
        }
        append_literal(out, end);
        continue;
      }
    }
    if (escape) {
      ++i;
      if (e == 's') { out += kSpaces; range_start_ok = false; continue; }
      if (e == 'd') { out += "0-9"; range_start_ok = false; continue; }
      if (e == 'w') { out += "A-Za-z0-9_"; range_start_ok = false; continue; }
      const int64_t lit = escaped_literal(e);
      if (lit < 0) unsupported(expr, std::string("escape \\") + char(e) + " in a bracket expression");
      append_literal(out, uint32_t(lit));
      range_start_ok = true;
      continue;
    }
    append_literal(out, c);
    range_start_ok = true;
  }
  if (in_class) unsupported(expr, "unterminated bracket expression");
  return out;
}

enum class StepKind { Gpt2, Llama3, Regex };

// Maps code point indexes to UTF-16 indexes of the string handed to ICU and back.
struct Utf16Text {
  icu::UnicodeString s;
  std::vector<int32_t> at;       // code point i starts at s[at[i]]; at[n] = s.length()
  std::vector<int32_t> cpt_of;   // inverse of `at` on code point boundaries
};

Utf16Text make_utf16(const std::vector<uint32_t>& units) {
  Utf16Text t;
  t.at.reserve(units.size() + 1);
  for (uint32_t u : units) {
    t.at.push_back(t.s.length());
    t.s.append(UChar32(u));
  }
  t.at.push_back(t.s.length());
  t.cpt_of.assign(size_t(t.s.length()) + 1, 0);
  for (size_t i = 0; i < t.at.size(); ++i) t.cpt_of[size_t(t.at[i])] = int32_t(i);
  return t;
}

}  // namespace

struct RegexSplitter::Step {
  StepKind kind = StepKind::Regex;
  bool collapsed = false;
  std::string expr;
  std::unique_ptr<icu::RegexPattern> pattern;
};

RegexSplitter::RegexSplitter(const std::vector<std::string>& exprs) {
  for (const std::string& expr : exprs) {
    auto step = std::make_unique<Step>();
    step->expr = expr;
    if (expr == kGpt2Regex) {
      step->kind = StepKind::Gpt2;
    } else if (expr == kLlama3Regex || expr == kLlama3RegexCaseless) {
      step->kind = StepKind::Llama3;
    } else {
      step->collapsed = uses_categories(expr);
      std::vector<uint32_t> re;
      if (step->collapsed) {
        for (unsigned char ch : expr)
          if (ch >= 0x80) unsupported(expr, "unicode classes together with non-ASCII characters");
        for (unsigned char ch : collapse_expr(expr)) re.push_back(ch);  // bytes as code points
      } else {
        re = decode_utf8(expr);
      }
      UErrorCode status = U_ZERO_ERROR;
      UParseError perr;
      step->pattern.reset(icu::RegexPattern::compile(to_icu(expr, re), 0, perr, status));
      if (U_FAILURE(status) || !step->pattern)
        unsupported(expr, std::string("ICU: ") + u_errorName(status) + " at offset " + std::to_string(perr.offset));
    }
    steps_.push_back(std::move(step));
  }
}

RegexSplitter::~RegexSplitter() = default;

std::vector<std::string> RegexSplitter::split(std::string_view text) const {
  const std::vector<uint32_t> cpts = decode_utf8(text);
  std::vector<size_t> pieces{cpts.size()};
  if (cpts.empty()) return {};

  // The two transformed texts, built on first use.
  std::unique_ptr<Utf16Text> collapsed, plain;
  auto text_for = [&](bool want_collapsed) -> const Utf16Text& {
    std::unique_ptr<Utf16Text>& slot = want_collapsed ? collapsed : plain;
    if (!slot) {
      std::vector<uint32_t> units(cpts.size());
      for (size_t i = 0; i < cpts.size(); ++i) {
        const uint32_t c = cpts[i];
        if (c < 0x80) { units[i] = c; continue; }
        const CptFlags f = flags(c);
        if (f.whitespace) units[i] = 0x0B;  // the ECMAScript \s stand-in for non-ASCII white space
        else units[i] = want_collapsed ? uint8_t(collapsed_byte(f.category)) : c;
      }
      slot = std::make_unique<Utf16Text>(make_utf16(units));
    }
    return *slot;
  };

  for (const auto& step : steps_) {
    if (step->kind == StepKind::Gpt2) {
      pieces = scan_gpt2(cpts, pieces);
      continue;
    }
    if (step->kind == StepKind::Llama3) {
      pieces = scan_llama3(cpts, pieces);
      continue;
    }
    const Utf16Text& t = text_for(step->collapsed);
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(step->pattern->matcher(t.s, status));
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU matcher: ") + u_errorName(status));
    std::vector<size_t> out;
    out.reserve(pieces.size());
    size_t start = 0;
    for (size_t len : pieces) {
      m->region(t.at[start], t.at[start + len], status);
      size_t done = start;  // code points of this piece already assigned
      while (m->find(status) && U_SUCCESS(status)) {
        const size_t b = size_t(t.cpt_of[size_t(m->start(status))]);
        const size_t e = size_t(t.cpt_of[size_t(m->end(status))]);
        if (e == b) continue;  // an empty match adds no piece
        if (b > done) out.push_back(b - done);
        out.push_back(e - b);
        done = e;
      }
      if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU regex: ") + u_errorName(status));
      if (done < start + len) out.push_back(start + len - done);
      start += len;
    }
    pieces = std::move(out);
  }

  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t start = 0;
  for (size_t len : pieces) {
    std::string w;
    for (size_t i = start; i < start + len; ++i) append_utf8(w, cpts[i]);
    words.push_back(std::move(w));
    start += len;
  }
  return words;
}

}  // namespace nnb::unicode
