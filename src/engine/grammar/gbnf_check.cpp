// Whole-grammar checks after parsing. The matcher expands rule references until a terminal is on
// top of every stack; a rule that can reach itself without consuming a character (left
// recursion, or a repetition of something that may match nothing) would make that expansion
// endless, so such grammars are refused here, once, instead.
#include <algorithm>

#include "engine/grammar/gbnf_internal.h"

namespace nnb::grammar {
namespace {

bool is_sequence_end(Op op) { return op == Op::End || op == Op::Alt; }

// Which rules can match the empty string (a least fixpoint: an alternative is nullable when all
// its elements are references to nullable rules).
std::vector<bool> nullable_rules(const Grammar& g) {
  std::vector<bool> nullable(g.n_rules(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < g.n_rules(); ++r) {
      if (nullable[r]) continue;
      uint32_t pos = g.rule_start[r];
      bool alt_ok = true;
      for (;; ++pos) {
        const Elem e = g.elems[pos];
        if (is_sequence_end(e.op)) {
          if (alt_ok) {
            nullable[r] = true;
            changed = true;
            break;
          }
          if (e.op == Op::End) break;
          alt_ok = true;
        } else if (e.op != Op::RuleRef || !nullable[e.value]) {
          alt_ok = false;
        }
      }
    }
  }
  return nullable;
}

}  // namespace

void check_grammar(const Grammar& g, const std::vector<RepeatInfo>& repeats, std::string_view text) {
  const std::vector<bool> nullable = nullable_rules(g);
  for (const RepeatInfo& rep : repeats) {
    // r ::= x r | "": when x can match nothing, r reaches itself without consuming.
    const uint32_t first = g.elems[g.rule_start[rep.rule]].op == Op::RuleRef ? g.rule_start[rep.rule] : UINT32_MAX;
    bool x_nullable = first != UINT32_MAX;
    for (uint32_t pos = g.rule_start[rep.rule]; x_nullable; ++pos) {
      const Elem e = g.elems[pos];
      if (e.op == Op::RuleRef && e.value == rep.rule) break;  // x ends at the recursive reference
      if (e.op != Op::RuleRef || !nullable[e.value]) x_nullable = false;
    }
    if (x_nullable)
      throw GrammarError("repetition of an expression that can match the empty string (it would loop forever) at " +
                         position(text, rep.offset));
  }

  // Left edges: rule -> each rule it can start with (references preceded only by nullable
  // ones). A cycle in this graph is left recursion.
  const size_t n = g.n_rules();
  std::vector<std::vector<uint32_t>> edges(n);
  for (size_t r = 0; r < n; ++r) {
    bool prefix_nullable = true;
    for (uint32_t pos = g.rule_start[r];; ++pos) {
      const Elem e = g.elems[pos];
      if (is_sequence_end(e.op)) {
        if (e.op == Op::End) break;
        prefix_nullable = true;
        continue;
      }
      if (!prefix_nullable) continue;
      if (e.op == Op::RuleRef) {
        edges[r].push_back(e.value);
        prefix_nullable = nullable[e.value];
      } else {
        prefix_nullable = false;
      }
    }
  }
  // Iterative DFS (a long chain of rules must not overflow the call stack).
  enum : uint8_t { White, Grey, Black };
  std::vector<uint8_t> color(n, White);
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (uint32_t s = 0; s < n; ++s) {
    if (color[s] != White) continue;
    stack.push_back({s, 0});
    color[s] = Grey;
    while (!stack.empty()) {
      auto& [r, k] = stack.back();
      if (k == edges[r].size()) {
        color[r] = Black;
        stack.pop_back();
        continue;
      }
      const uint32_t next = edges[r][k++];
      if (color[next] == Grey) {
        // Name a rule the user wrote when the cycle has one (generated names end in _<n>).
        std::string name = g.rule_names[next];
        for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
          const std::string& nm = g.rule_names[it->first];
          if (nm.find('_') == std::string::npos) name = nm;
          if (it->first == next) break;
        }
        throw GrammarError("left recursion in rule '" + name + "' (it can reach itself without consuming input)");
      }
      if (color[next] == White) {
        color[next] = Grey;
        stack.push_back({next, 0});
      }
    }
  }
}

}  // namespace nnb::grammar
