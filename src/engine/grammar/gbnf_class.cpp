// Character classes as the parser lays them out: Char/CharNot (first code point), then
// CharAlt (another code point) or CharRngUpper (the end of a range begun by the one before).
#include "engine/grammar/gbnf.h"

namespace nnb::grammar {

uint32_t class_end(const Grammar& g, uint32_t pos) {
  if (g.elems[pos].op == Op::CharAny) return pos + 1;
  ++pos;
  while (g.elems[pos].op == Op::CharAlt || g.elems[pos].op == Op::CharRngUpper) ++pos;
  return pos;
}

bool class_matches_range(const Grammar& g, uint32_t pos, uint32_t lo, uint32_t hi) {
  const Elem* e = &g.elems[pos];
  if (e->op == Op::CharAny) return true;
  const bool negated = e->op == Op::CharNot;
  // Negated: some code point of [lo, hi] lies outside every range. Plain: some lies inside one.
  // For the negated case, collect coverage cheaply: [lo, hi] is fully covered only if one range
  // covers it, or several do together; partial characters give wide ranges, so a single-range
  // test is what matters in practice and is exact when the class's ranges do not touch.
  bool hit = false, covered = false;
  do {
    const uint32_t a = e->value;
    uint32_t b = a;
    if (e[1].op == Op::CharRngUpper) {
      b = e[1].value;
      ++e;
    }
    if (a <= hi && lo <= b) hit = true;
    if (a <= lo && hi <= b) covered = true;
    ++e;
  } while (e->op == Op::CharAlt);
  return negated ? !covered : hit;
}

bool class_matches(const Grammar& g, uint32_t pos, uint32_t c) { return class_matches_range(g, pos, c, c); }

}  // namespace nnb::grammar
