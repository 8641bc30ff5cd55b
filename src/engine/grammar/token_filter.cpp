#include "engine/grammar/token_filter.h"

#include <algorithm>

namespace nnb::grammar {
namespace {

// Masks kept per filter: 4 KiB each at a 32k vocabulary. Past this the cache starts over (a
// grammar that keeps reaching new states gains little from keeping old ones).
constexpr size_t kMaxCachedMasks = 512;

inline void set_bit(std::vector<uint64_t>& bits, int32_t t) { bits[size_t(t) >> 6] |= uint64_t(1) << (t & 63); }

}  // namespace

size_t TokenFilter::KeyHash::operator()(const StackSet& s) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  for (uint32_t v : s) h = (h ^ v) * 0x100000001B3ull + (h >> 29);
  return size_t(h);
}

TokenFilter::TokenFilter(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenIndex> vocab)
    : g_(std::move(grammar)), vocab_(std::move(vocab)), m_(g_) {}

void TokenFilter::reset() { m_.reset(); }

bool TokenFilter::allows(int32_t t) {
  if (t < 0 || t >= vocab_->n_vocab()) return false;
  switch (vocab_->kind(t)) {
    case TokenIndex::Kind::Eog: return m_.can_end();
    case TokenIndex::Kind::Never: return false;
    case TokenIndex::Kind::Text: break;
  }
  // A cached mask answers at once; otherwise run the token's text (cheap: a few code points).
  if (m_.partial().n_remain == 0) {
    auto it = cache_.find(m_.stacks());
    if (it != cache_.end()) return (it->second[size_t(t) >> 6] >> (t & 63)) & 1;
  }
  return m_.accepts(vocab_->piece(t));
}

bool TokenFilter::accept(int32_t t) {
  if (!allows(t)) return false;
  if (vocab_->kind(t) == TokenIndex::Kind::Eog) return true;  // ending changes nothing
  return m_.accept(vocab_->piece(t));
}

const std::vector<uint64_t>& TokenFilter::mask() {
  if (m_.partial().n_remain != 0) {
    compute_mask(scratch_);
    return scratch_;
  }
  auto it = cache_.find(m_.stacks());
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCachedMasks) cache_.clear();
  std::vector<uint64_t> bits;
  compute_mask(bits);
  return cache_.emplace(m_.stacks(), std::move(bits)).first->second;
}

void TokenFilter::compute_mask(std::vector<uint64_t>& bits) {
  bits.assign((size_t(vocab_->n_vocab()) + 63) / 64, 0);
  const StackSet& start = m_.stacks();
  if (m_.partial().n_remain != 0) {
    // Mid-character: only tokens that continue it can follow. Few, and the state is rare.
    for (int32_t t : vocab_->continuation_tokens()) {
      StackSet s = start;
      PartialUtf8 p = m_.partial();
      if (m_.run(vocab_->piece(t), s, p)) set_bit(bits, t);
    }
    return;
  }
  if (m_.can_end())
    for (int32_t t : vocab_->eog_tokens()) set_bit(bits, t);

  // Depth-first over the trie; levels_[d] holds the stacks after the d code points of the
  // current prefix. A prefix with no stack left prunes its whole subtree.
  const auto& nodes = vocab_->nodes();
  const auto& ecp = vocab_->edge_cp();
  const auto& enode = vocab_->edge_node();
  const auto& toks = vocab_->node_tokens();
  const auto& tails = vocab_->node_partials();
  if (levels_.size() < vocab_->max_depth() + 2) levels_.resize(vocab_->max_depth() + 2);
  levels_[0] = start;
  struct Frame {
    uint32_t node, next_edge;
  };
  std::vector<Frame> stack;
  stack.reserve(vocab_->max_depth() + 1);
  auto enter = [&](uint32_t node, size_t depth) {
    const auto& nd = nodes[node];
    const StackSet& s = levels_[depth];
    for (uint32_t k = nd.first_token; k < nd.first_token + nd.n_tokens; ++k)
      if (tails[k].n_remain == 0 || m_.partial_fits(s, tails[k])) set_bit(bits, toks[k]);
    stack.push_back({node, nd.first_edge});
  };
  enter(0, 0);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const auto& nd = nodes[f.node];
    if (f.next_edge == nd.first_edge + nd.n_edges) {
      stack.pop_back();
      continue;
    }
    const uint32_t e = f.next_edge++;
    const size_t depth = stack.size();
    m_.step(levels_[depth - 1], ecp[e], levels_[depth]);
    if (!levels_[depth].empty()) enter(enode[e], depth);
  }
}

}  // namespace nnb::grammar
