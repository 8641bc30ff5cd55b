// A grammar over a vocabulary: which tokens may come next, and advancing by a chosen token. The
// sampler asks allows() about its pick first (usually enough with a real model) and falls back
// to mask() over the whole vocabulary only when the pick is rejected, as llama.cpp does. A mask
// depends only on the matcher's state, and states recur (every position inside a JSON string
// is the same state), so masks are cached per state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/matcher.h"
#include "engine/grammar/token_index.h"

namespace nnb::grammar {

class TokenFilter {
 public:
  TokenFilter(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenIndex> vocab);

  void reset();
  // Whether token t may come next: its text keeps the grammar alive (an end-of-generation token:
  // the grammar is complete).
  bool allows(int32_t t);
  // Bit t (word t / 64, bit t % 64) set for every token allows() would accept. Valid until the
  // next call that changes the state.
  const std::vector<uint64_t>& mask();
  // Advances over token t. Returns false, leaving the state unchanged, when t is not allowed.
  bool accept(int32_t t);
  bool can_end() const { return m_.can_end(); }
  // Only ending is left: generation should stop.
  bool done() const { return m_.done(); }

  int32_t n_vocab() const { return vocab_->n_vocab(); }
  size_t cached_masks() const { return cache_.size(); }
  const Matcher& matcher() const { return m_; }

 private:
  struct KeyHash {
    size_t operator()(const StackSet& s) const;
  };
  void compute_mask(std::vector<uint64_t>& bits);

  std::shared_ptr<const Grammar> g_;
  std::shared_ptr<const TokenIndex> vocab_;
  Matcher m_;
  std::vector<uint64_t> scratch_;  // the mask of a state that is not cached (mid-character)
  std::unordered_map<StackSet, std::vector<uint64_t>, KeyHash> cache_;
  std::vector<StackSet> levels_;  // compute_mask(): the stacks per trie depth
  StackSet one_;
};

}  // namespace nnb::grammar
