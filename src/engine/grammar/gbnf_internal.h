// What the parser hands to the whole-grammar checks (gbnf_check.cpp); not part of the API.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/grammar/gbnf.h"

namespace nnb::grammar {

// An unbounded repetition's generated rule (r ::= x r | "") and where its operator was.
struct RepeatInfo {
  uint32_t rule;
  size_t offset;
};

// "line:column" (1-based) of a byte offset in text.
std::string position(std::string_view text, size_t off);

// Throws GrammarError for left recursion, naming the rule, or for an unbounded repetition of
// something that can match the empty string, naming its position.
void check_grammar(const Grammar& g, const std::vector<RepeatInfo>& repeats, std::string_view text);

}  // namespace nnb::grammar
