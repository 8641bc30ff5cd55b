// The grammar's matcher: where a text can be in the grammar, as a set of stacks (llama.cpp's
// llama_grammar). A stack is the list of grammar positions still to match, its top a terminal
// (a character class); the empty stack means the text so far is a complete match. Each code
// point replaces every stack whose top matches it by the stacks that follow, rule references
// expanded until terminals are on top again.
//
// Stacks are interned: a stack is a node (top position, rest) in an arena, identical stacks
// share one id, and a set of stacks is a sorted vector of ids. Expanding a stack depends only
// on it, so its result is computed once and remembered; comparing and hashing states is cheap,
// which is what lets the token filter cache a token mask per state.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/utf8.h"

namespace nnb::grammar {

using StackSet = std::vector<uint32_t>;  // sorted interned stack ids; id 0 is the empty stack

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> g);

  // Back to the start of the root rule.
  void reset();
  // Advances over bytes (UTF-8, possibly ending or starting mid-character). Returns false and
  // leaves the state unchanged when the grammar rejects them.
  bool accept(std::string_view bytes);
  // Whether accept(bytes) would succeed (does not change the state).
  bool accepts(std::string_view bytes);
  // The text so far is a complete match (EOS may come now).
  bool can_end() const;
  // Nothing more can be matched: the only way on is to end.
  bool done() const { return partial_.n_remain == 0 && stacks_.size() == 1 && stacks_[0] == 0; }

  const StackSet& stacks() const { return stacks_; }
  const PartialUtf8& partial() const { return partial_; }
  const Grammar& grammar() const { return *g_; }

  // The stacks after code point c from `from` (empty: c is rejected by every stack).
  void step(const StackSet& from, uint32_t c, StackSet& out);
  // Whether some stack of `from` can take a character that begins as `p` does.
  bool partial_fits(const StackSet& from, const PartialUtf8& p) const;
  // Bytes after (stacks, partial): the resulting state, or false when rejected.
  bool run(std::string_view bytes, StackSet& stacks, PartialUtf8& partial);

 private:
  static constexpr uint32_t kNoPos = UINT32_MAX;
  struct Node {
    uint32_t pos;     // top of the stack (kNoPos for the empty stack)
    uint32_t parent;  // the rest of the stack
  };
  uint32_t intern(uint32_t pos, uint32_t parent);
  // The stack `parent` with `pos` pushed, or `parent` itself when pos ends a sequence.
  uint32_t push(uint32_t pos, uint32_t parent);
  // The terminal-topped stacks a stack expands to (memoized).
  std::pair<const uint32_t*, size_t> expand(uint32_t id);

  std::shared_ptr<const Grammar> g_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, uint32_t> ids_;
  std::vector<uint32_t> memo_off_, memo_len_;  // per node, into memo_; kNoPos: not yet expanded
  std::vector<uint32_t> memo_;
  StackSet initial_;
  StackSet stacks_;
  PartialUtf8 partial_;
  // Scratch for expand() and run(); reused so a step does not allocate once warm.
  std::vector<uint32_t> work_, found_, seen_list_;
  std::vector<uint8_t> seen_;
  std::vector<uint32_t> cps_;
  StackSet tmp_;
};

}  // namespace nnb::grammar
