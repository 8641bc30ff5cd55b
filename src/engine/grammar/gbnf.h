// GBNF grammars (llama.cpp's syntax, docs/grammars/README.md there): the parsed form and its
// parser. A grammar is a list of rules; each rule is a list of alternatives, each a sequence of
// elements ending in Alt (another alternative follows) or End (the rule's last one). Repetitions
// and groups are rewritten at parse time into generated rules (x* -> r ::= x r | ""), so the
// matcher only ever sees terminals (character classes) and rule references.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nnb::grammar {

// A malformed grammar: the message names the position ("expected '::=' at 3:7").
struct GrammarError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

enum class Op : uint8_t {
  End,       // end of a rule's last alternative
  Alt,       // end of an alternative; the next one starts after it
  RuleRef,   // value: rule index
  Char,      // value: code point; starts a character class, CharAlt / CharRngUpper may follow
  CharNot,   // as Char, negated ([^...]); value: first code point of the class
  CharRngUpper,  // value: upper bound of the range begun by the preceding Char / CharAlt
  CharAlt,   // value: one more code point (or range start) of the current class
  CharAny,   // '.': any code point
};

struct Elem {
  Op op;
  uint32_t value;
};

// Bounds that keep a hostile grammar from costing unbounded time or memory.
struct Limits {
  size_t max_text = 1 << 20;        // bytes of grammar text
  size_t max_rules = 20000;         // named and generated rules
  size_t max_elements = 1 << 20;    // all rules' elements together (repetitions expand)
  int max_depth = 64;               // nesting of ( ) groups
  uint32_t max_repeat = 10000;      // m and n of {m,n}
};

struct Grammar {
  // All rules' elements in one array; rule r starts at elems[rule_start[r]]. A position is an
  // index into elems.
  std::vector<Elem> elems;
  std::vector<uint32_t> rule_start;
  std::vector<std::string> rule_names;  // generated rules are named "<parent>_<n>"
  uint32_t root = 0;

  size_t n_rules() const { return rule_start.size(); }
};

// Parses GBNF text. The start rule is `root`. Throws GrammarError naming line:column for syntax
// errors, and naming the rule for an undefined rule, a missing root, left recursion or a
// repetition of something that can match the empty string (which would loop forever).
Grammar parse_gbnf(std::string_view text, const Limits& limits = {});

// Whether a character-class element sequence starting at `pos` matches code point c (pos at a
// Char, CharNot or CharAny element).
bool class_matches(const Grammar& g, uint32_t pos, uint32_t c);
// Whether some code point in [lo, hi] matches the class at pos (for a partial UTF-8 sequence,
// whose code point is known only to lie in a range).
bool class_matches_range(const Grammar& g, uint32_t pos, uint32_t lo, uint32_t hi);
// The position after the character class starting at pos.
uint32_t class_end(const Grammar& g, uint32_t pos);

}  // namespace nnb::grammar
