#include "chat/jinja_lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "chat/jinja_text.h"

namespace nnb::chat::jinja {
namespace {

// \r\n and \r become \n; one trailing newline goes (keep_trailing_newline=False).
std::string normalize(std::string_view src) {
  std::string s;
  s.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      s += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      s += src[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;  // Jinja's \s+ needs at least one character
  for (char32_t c : text::decode(s))
    if (!text::is_space(c)) return false;
  return true;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& o) : s_(std::move(src)), o_(o) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (p_ < s_.size()) {
      const size_t start = find_open(p_);
      std::string data = s_.substr(p_, (start == std::string::npos ? s_.size() : start) - p_);
      if (start == std::string::npos) {
        push_text(std::move(data), pos_at(p_));
        advance_to(s_.size());
        break;
      }
      const char kind = s_[start + 1];  // '{', '%' or '#'
      const char sign = start + 2 < s_.size() && (s_[start + 2] == '-' || s_[start + 2] == '+') ? s_[start + 2] : 0;
      if (sign == '-') {
        data = text::strip(data, false, true);
      } else if (sign != '+' && kind != '{' && o_.lstrip_blocks) {
        const size_t nl = data.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && all_space(std::string_view(data).substr(l_pos))) data.resize(l_pos);
      }
      push_text(std::move(data), pos_at(p_));
      advance_to(start);
      const SourcePos open_pos = pos_at(start);
      advance_to(start + 2 + (sign ? 1 : 0));
      if (kind == '#') {
        line_starting = comment(open_pos);
      } else {
        line_starting = tag(kind == '{', open_pos);
      }
    }
    out_.push_back(Token{Tok::Eof, "", 0, 0, pos_at(s_.size())});
    return std::move(out_);
  }

 private:
  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  void push_text(std::string data, SourcePos pos) {
    if (!data.empty()) out_.push_back(Token{Tok::Text, std::move(data), 0, 0, pos});
  }

  // Line/column bookkeeping: positions only move forward.
  void advance_to(size_t q) {
    for (; p_ < q; ++p_) {
      if (s_[p_] == '\n') {
        ++line_;
        col_ = 1;
      } else if ((static_cast<unsigned char>(s_[p_]) & 0xc0) != 0x80) {
        ++col_;
      }
    }
  }
  SourcePos pos_at(size_t q) {
    // Only called with q >= p_ (or == p_); walk a copy.
    int line = line_, col = col_;
    for (size_t i = p_; i < q; ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else if ((static_cast<unsigned char>(s_[i]) & 0xc0) != 0x80) {
        ++col;
      }
    }
    return {line, col};
  }

  // After a tag's end: the whitespace rules for what follows. Returns whether the consumed
  // end ended with a newline (Jinja's line_starting for the next lstrip decision).
  bool after_end(size_t end_pos, char sign, bool trim) {
    size_t q = end_pos;
    if (sign == '-') {
      // \s*: Unicode whitespace, greedily
      while (q < s_.size()) {
        size_t r = q;
        if (!text::is_space(text::decode_one(s_, r))) break;
        q = r;
      }
    } else if (sign != '+' && trim && q < s_.size() && s_[q] == '\n') {
      ++q;
    }
    advance_to(q);
    return q > 0 && s_[q - 1] == '\n' && q > end_pos;
  }

  bool comment(SourcePos open) {
    const size_t e = s_.find("#}", p_);
    if (e == std::string::npos) throw TemplateError("missing end of comment tag", open);
    const char sign = e > p_ && (s_[e - 1] == '-' || s_[e - 1] == '+') ? s_[e - 1] : 0;
    advance_to(e + 2);
    return after_end(e + 2, sign, o_.trim_blocks);
  }

  bool tag(bool var, SourcePos open) {
    out_.push_back(Token{var ? Tok::VarBegin : Tok::BlockBegin, "", 0, 0, open});
    std::vector<char> brackets;
    for (;;) {
      while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r' ||
                                s_[p_] == '\f' || s_[p_] == '\v'))
        advance_to(p_ + 1);
      if (p_ >= s_.size()) throw TemplateError(var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", open);
      if (brackets.empty()) {
        const char* end = var ? "}}" : "%}";
        const SourcePos here = pos_at(p_);
        for (char sign : {'-', '+', '\0'}) {
          if (sign == '+' && var) continue;
          const size_t q = p_ + (sign ? 1 : 0);
          if ((sign == 0 || s_[p_] == sign) && s_.compare(q, 2, end) == 0) {
            out_.push_back(Token{var ? Tok::VarEnd : Tok::BlockEnd, "", 0, 0, here});
            advance_to(q + 2);
            return after_end(q + 2, sign, !var && o_.trim_blocks);
          }
        }
      }
      expression_token(brackets);
    }
  }

  void expression_token(std::vector<char>& brackets) {
    const SourcePos here = pos_at(p_);
    const char c = s_[p_];
    if (std::isdigit(static_cast<unsigned char>(c))) return number(here);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t q = p_;
      while (q < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[q])) || s_[q] == '_')) ++q;
      out_.push_back(Token{Tok::Name, s_.substr(p_, q - p_), 0, 0, here});
      advance_to(q);
      return;
    }
    if (c == '\'' || c == '"') return string_literal(here);
    static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                                       "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";"};
    for (const char* op : kOps) {
      const size_t n = std::char_traits<char>::length(op);
      if (s_.compare(p_, n, op) != 0) continue;
      if (n == 1 && (c == '(' || c == '[' || c == '{')) brackets.push_back(c);
      if (n == 1 && (c == ')' || c == ']' || c == '}')) {
        const char want = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (brackets.empty()) throw TemplateError(std::string("unexpected '") + c + "'", here);
        if (brackets.back() != want)
          throw TemplateError(std::string("unexpected '") + c + "', expected the closing of '" + brackets.back() + "'", here);
        brackets.pop_back();
      }
      out_.push_back(Token{Tok::Op, op, 0, 0, here});
      advance_to(p_ + n);
      return;
    }
    throw TemplateError(std::string("unexpected character '") + c + "'", here);
  }

  void number(SourcePos here) {
    size_t q = p_;
    const auto digits = [&] {
      const size_t b = q;
      while (q < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[q])) || (s_[q] == '_' && q > b))) ++q;
      return q > b;
    };
    digits();
    bool is_float = false;
    if (q + 1 < s_.size() && s_[q] == '.' && std::isdigit(static_cast<unsigned char>(s_[q + 1]))) {
      is_float = true;
      ++q;
      digits();
    }
    if (q < s_.size() && (s_[q] == 'e' || s_[q] == 'E')) {
      size_t r = q + 1;
      if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
      if (r < s_.size() && std::isdigit(static_cast<unsigned char>(s_[r]))) {
        is_float = true;
        q = r;
        digits();
      }
    }
    std::string t;
    for (size_t k = p_; k < q; ++k)
      if (s_[k] != '_') t += s_[k];
    Token tok{is_float ? Tok::Float : Tok::Int, t, 0, 0, here};
    errno = 0;
    if (is_float) {
      tok.fval = std::strtod(t.c_str(), nullptr);
    } else {
      tok.ival = std::strtoll(t.c_str(), nullptr, 10);
      if (errno == ERANGE) throw TemplateError("integer literal too large (unsupported)", here);
    }
    out_.push_back(std::move(tok));
    advance_to(q);
  }

  // Python string-literal escapes (Jinja decodes literals with unicode-escape).
  void string_literal(SourcePos here) {
    const char quote = s_[p_];
    size_t q = p_ + 1;
    std::string v;
    const auto hex = [&](int n) -> char32_t {
      if (q + size_t(n) > s_.size()) throw TemplateError("truncated escape in string literal", here);
      char32_t cp = 0;
      for (int k = 0; k < n; ++k) {
        const char h = s_[q + size_t(k)];
        if (!std::isxdigit(static_cast<unsigned char>(h))) throw TemplateError("bad escape in string literal", here);
        cp = cp * 16 + char32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      q += size_t(n);
      if (cp > 0x10ffff) throw TemplateError("bad escape in string literal", here);
      return cp;
    };
    for (;;) {
      if (q >= s_.size()) throw TemplateError("unterminated string literal", here);
      const char c = s_[q];
      if (c == quote) break;
      if (c != '\\') {
        v += c;
        ++q;
        continue;
      }
      if (q + 1 >= s_.size()) throw TemplateError("unterminated string literal", here);
      const char e = s_[q + 1];
      q += 2;
      switch (e) {
        case '\n': break;
        case '\\': v += '\\'; break;
        case '\'': v += '\''; break;
        case '"': v += '"'; break;
        case 'a': v += '\a'; break;
        case 'b': v += '\b'; break;
        case 'f': v += '\f'; break;
        case 'n': v += '\n'; break;
        case 'r': v += '\r'; break;
        case 't': v += '\t'; break;
        case 'v': v += '\v'; break;
        case 'x': text::append_utf8(v, hex(2)); break;
        case 'u': text::append_utf8(v, hex(4)); break;
        case 'U': text::append_utf8(v, hex(8)); break;
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = char32_t(e - '0');
            for (int k = 0; k < 2 && q < s_.size() && s_[q] >= '0' && s_[q] <= '7'; ++k) cp = cp * 8 + char32_t(s_[q++] - '0');
            text::append_utf8(v, cp);
          } else {  // unknown escapes stay as written
            v += '\\';
            v += e;
          }
      }
    }
    out_.push_back(Token{Tok::String, std::move(v), 0, 0, here});
    advance_to(q + 1);
  }

  std::string s_;
  LexOptions o_;
  size_t p_ = 0;
  int line_ = 1, col_ = 1;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const LexOptions& opts) { return Lexer(normalize(source), opts).run(); }

}  // namespace nnb::chat::jinja
