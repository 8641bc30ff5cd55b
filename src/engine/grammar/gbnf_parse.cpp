// The GBNF parser: recursive descent over the text, one pass. Rules are numbered as their names
// are first seen (a reference may come before the definition); groups and repetitions become
// generated rules. Checks that need the whole grammar are in gbnf_check.cpp.
#include <optional>
#include <string>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/gbnf_internal.h"
#include "engine/grammar/utf8.h"

namespace nnb::grammar {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  Parser(std::string_view text, const Limits& limits) : s_(text), lim_(limits) {}

  Grammar run(std::vector<RepeatInfo>& repeats) {
    if (s_.size() > lim_.max_text)
      throw GrammarError("grammar of " + std::to_string(s_.size()) + " bytes is larger than the limit of " +
                         std::to_string(lim_.max_text));
    skip_space(true);
    while (i_ < s_.size()) {
      parse_rule();
      skip_space(true);
    }
    for (size_t r = 0; r < rules_.size(); ++r)
      if (!defined_[r])
        throw GrammarError("undefined rule '" + names_[r] + "' (first used at " + where(first_use_[r]) + ")");
    Grammar g;
    const auto root = ids_.find("root");
    if (root == ids_.end()) throw GrammarError("the grammar has no 'root' rule");
    g.root = root->second;
    g.rule_names = names_;
    g.elems.reserve(n_elems_);
    for (auto& body : rules_) {
      g.rule_start.push_back(uint32_t(g.elems.size()));
      g.elems.insert(g.elems.end(), body.begin(), body.end());
    }
    repeats = std::move(repeats_);
    return g;
  }

  std::string where(size_t off) const { return position(s_, off); }

 private:
  [[noreturn]] void fail(const std::string& what, size_t off) const {
    throw GrammarError(what + " at " + where(off));
  }
  [[noreturn]] void fail(const std::string& what) const { fail(what, i_); }

  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  bool at_end() const { return i_ >= s_.size(); }

  // Spaces, tabs and comments; newlines too when `newlines` (inside groups, between rules).
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t') {
        ++i_;
      } else if (c == '#') {
        while (!at_end() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
      } else if (newlines && (c == '\n' || c == '\r')) {
        ++i_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    const size_t start = i_;
    while (!at_end() && is_word_char(s_[i_])) ++i_;
    if (i_ == start) fail("expected a rule name");
    return std::string(s_.substr(start, i_ - start));
  }

  uint32_t rule_id(const std::string& name, size_t off) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    return new_rule(name, off);
  }

  uint32_t new_rule(const std::string& name, size_t off) {
    if (rules_.size() >= lim_.max_rules)
      fail("more than " + std::to_string(lim_.max_rules) + " rules (groups and repetitions count)", off);
    const uint32_t id = uint32_t(rules_.size());
    ids_.emplace(name, id);
    names_.push_back(name);
    rules_.emplace_back();
    defined_.push_back(false);
    first_use_.push_back(off);
    return id;
  }

  uint32_t generated_rule(const std::string& parent, size_t off) {
    std::string name;
    do name = parent + "_" + std::to_string(++n_generated_);
    while (ids_.count(name));
    const uint32_t id = new_rule(name, off);
    defined_[id] = true;
    return id;
  }

  void grow(size_t n) {
    n_elems_ += n;
    if (n_elems_ > lim_.max_elements)
      fail("grammar expands to more than " + std::to_string(lim_.max_elements) + " elements");
  }

  void set_body(uint32_t rule, std::vector<Elem> body) {
    grow(body.size());
    rules_[rule] = std::move(body);
  }

  void parse_rule() {
    const size_t start = i_;
    const std::string name = parse_name();
    skip_space(false);
    if (!(peek() == ':' && peek(1) == ':' && peek(2) == '=')) fail("expected '::='");
    i_ += 3;
    skip_space(true);
    const uint32_t id = rule_id(name, start);
    if (defined_[id]) fail("rule '" + name + "' is defined twice", start);
    defined_[id] = true;
    std::vector<Elem> body;
    parse_alternates(name, body, 0);
    set_body(id, std::move(body));
    skip_space(false);
    if (!at_end()) {
      if (peek() == '\r' && peek(1) == '\n') i_ += 2;
      else if (peek() == '\n' || peek() == '\r') ++i_;
      else fail(std::string("expected newline or end after rule, got '") + peek() + "'");
    }
  }

  // Appends alternatives (each ended by Alt, the last by End) to out.
  void parse_alternates(const std::string& rule, std::vector<Elem>& out, int depth) {
    parse_sequence(rule, out, depth);
    while (peek() == '|') {
      out.push_back({Op::Alt, 0});
      ++i_;
      skip_space(true);
      parse_sequence(rule, out, depth);
    }
    out.push_back({Op::End, 0});
  }

  uint32_t parse_char() {
    if (at_end()) fail("unexpected end of grammar");
    if (s_[i_] == '\\') {
      const size_t at = i_;
      ++i_;
      if (at_end()) fail("unexpected end of grammar in an escape", at);
      const char e = s_[i_++];
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '[': case ']': case '-': case '/': case '\'': case '^': return uint32_t(e);
        case 'x': return parse_hex(2, at);
        case 'u': return parse_hex(4, at);
        case 'U': return parse_hex(8, at);
        default: fail(std::string("unknown escape '\\") + e + "'", at);
      }
    }
    PartialUtf8 p;
    std::vector<uint32_t> cp;
    const size_t at = i_;
    while (cp.empty()) {
      if (at_end() || !decode_utf8(s_.substr(i_, 1), p, cp)) fail("invalid UTF-8", at);
      ++i_;
    }
    return cp[0];
  }

  uint32_t parse_hex(int n, size_t at) {
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      const char c = peek();
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("expected " + std::to_string(n) + " hex digits in escape", at);
      v = v * 16 + uint32_t(d);
      ++i_;
    }
    if (v > 0x10FFFF) fail("code point beyond U+10FFFF", at);
    return v;
  }

  uint32_t parse_count() {
    const size_t at = i_;
    uint64_t v = 0;
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a number");
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + uint64_t(peek() - '0');
      if (v > lim_.max_repeat) fail("repetition count above the limit of " + std::to_string(lim_.max_repeat), at);
      ++i_;
    }
    return uint32_t(v);
  }

  void parse_sequence(const std::string& rule, std::vector<Elem>& out, int depth) {
    size_t last_sym = out.size();
    bool have_sym = false;
    while (!at_end()) {
      const size_t at = i_;
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        last_sym = out.size();
        have_sym = true;
        while (peek() != '"') {
          if (at_end()) fail("unterminated string literal", at);
          out.push_back({Op::Char, parse_char()});
        }
        ++i_;
        if (out.size() == last_sym) have_sym = false;  // "" matches nothing: nothing to repeat
      } else if (c == '[') {
        ++i_;
        last_sym = out.size();
        have_sym = true;
        Op first = Op::Char;
        if (peek() == '^') {
          ++i_;
          first = Op::CharNot;
        }
        bool any = false;
        while (peek() != ']') {
          if (at_end()) fail("unterminated character class", at);
          const size_t c_at = i_;
          const uint32_t lo = parse_char();
          out.push_back({any ? Op::CharAlt : first, lo});
          any = true;
          if (peek() == '-' && peek(1) != ']') {
            ++i_;
            if (at_end()) fail("unterminated character class", at);
            const uint32_t hi = parse_char();
            if (hi < lo) fail("character range with its end before its start", c_at);
            out.push_back({Op::CharRngUpper, hi});
          }
        }
        if (!any) fail("empty character class", at);
        ++i_;
      } else if (is_word_char(c)) {
        const std::string name = parse_name();
        last_sym = out.size();
        have_sym = true;
        out.push_back({Op::RuleRef, rule_id(name, at)});
      } else if (c == '(') {
        if (depth + 1 > lim_.max_depth)
          fail("groups nested deeper than " + std::to_string(lim_.max_depth));
        ++i_;
        skip_space(true);
        const uint32_t sub = generated_rule(rule, at);
        std::vector<Elem> body;
        parse_alternates(rule, body, depth + 1);
        set_body(sub, std::move(body));
        if (peek() != ')') fail("expected ')'");
        ++i_;
        last_sym = out.size();
        have_sym = true;
        out.push_back({Op::RuleRef, sub});
      } else if (c == '.') {
        ++i_;
        last_sym = out.size();
        have_sym = true;
        out.push_back({Op::CharAny, 0});
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_sym) fail(std::string("'") + c + "' with nothing before it to repeat");
        ++i_;
        uint32_t lo = 0;
        std::optional<uint32_t> hi;
        if (c == '+') lo = 1;
        if (c == '?') hi = 1;
        if (c == '{') {
          skip_space(false);
          lo = parse_count();
          skip_space(false);
          if (peek() == ',') {
            ++i_;
            skip_space(false);
            if (peek() != '}') hi = parse_count();
          } else {
            hi = lo;
          }
          skip_space(false);
          if (peek() != '}') fail("expected '}'");
          ++i_;
          if (hi && *hi < lo) fail("repetition {m,n} with n < m", at);
        }
        repeat(rule, out, last_sym, lo, hi, at);
        have_sym = false;  // x** is an error, as in llama.cpp
      } else {
        break;
      }
      skip_space(depth > 0);
    }
  }

  // Replaces the symbol at out[sym, end) by `lo` copies of it followed by the optional part: a
  // right-recursive rule for an unbounded repetition, nested optional rules for up to hi - lo
  // more copies.
  void repeat(const std::string& rule, std::vector<Elem>& out, size_t sym, uint32_t lo, std::optional<uint32_t> hi,
              size_t at) {
    const std::vector<Elem> x(out.begin() + ptrdiff_t(sym), out.end());
    out.resize(sym);
    const uint64_t extra = hi ? *hi - lo : 1;
    grow(size_t(std::min<uint64_t>((uint64_t(lo) + extra) * (x.size() + 3), uint64_t(lim_.max_elements) + 1)));
    for (uint32_t k = 0; k < lo; ++k) out.insert(out.end(), x.begin(), x.end());
    if (!hi) {
      const uint32_t r = generated_rule(rule, at);
      std::vector<Elem> body(x);
      body.push_back({Op::RuleRef, r});
      body.push_back({Op::Alt, 0});
      body.push_back({Op::End, 0});
      rules_[r] = std::move(body);
      repeats_.push_back({r, at});
      out.push_back({Op::RuleRef, r});
    } else if (*hi > lo) {
      std::optional<uint32_t> inner;
      for (uint32_t k = lo; k < *hi; ++k) {
        const uint32_t r = generated_rule(rule, at);
        std::vector<Elem> body(x);
        if (inner) body.push_back({Op::RuleRef, *inner});
        body.push_back({Op::Alt, 0});
        body.push_back({Op::End, 0});
        rules_[r] = std::move(body);
        inner = r;
      }
      out.push_back({Op::RuleRef, *inner});
    }
  }

  std::string_view s_;
  const Limits& lim_;
  size_t i_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::vector<std::vector<Elem>> rules_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;
  std::vector<RepeatInfo> repeats_;
  size_t n_elems_ = 0;
  uint32_t n_generated_ = 0;
};

}  // namespace

std::string position(std::string_view text, size_t off) {
  size_t line = 1, col = 1;
  for (size_t k = 0; k < off && k < text.size(); ++k) {
    if (text[k] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

Grammar parse_gbnf(std::string_view text, const Limits& limits) {
  Parser p(text, limits);
  std::vector<RepeatInfo> repeats;
  Grammar g = p.run(repeats);
  check_grammar(g, repeats, text);
  return g;
}

}  // namespace nnb::grammar
