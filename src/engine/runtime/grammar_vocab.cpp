#include "engine/runtime/grammar_vocab.h"

#include <map>
#include <mutex>

namespace nnb {

std::shared_ptr<const grammar::TokenIndex> grammar_token_index(const Vocab& vocab) {
  // Keyed by address, holding only weak references: while an index is alive some filter holds
  // it, and that filter's owner holds the model, so the vocabulary at that address is the same
  // one. Once every holder is gone the entry expires and is rebuilt on the next use.
  static std::mutex mu;
  static std::map<const Vocab*, std::weak_ptr<const grammar::TokenIndex>> cache;
  std::lock_guard<std::mutex> lk(mu);
  for (auto it = cache.begin(); it != cache.end();) it = it->second.expired() ? cache.erase(it) : std::next(it);
  if (auto it = cache.find(&vocab); it != cache.end())
    if (auto idx = it->second.lock()) return idx;
  const int32_t n = vocab.n_tokens();
  std::vector<std::string> pieces(static_cast<size_t>(n));
  std::vector<bool> eog(static_cast<size_t>(n));
  for (Token t = 0; t < n; ++t) {
    eog[size_t(t)] = vocab.is_eog(t);
    if (vocab.token_type(t) != Vocab::CONTROL) pieces[size_t(t)] = vocab.token_to_piece(t);
  }
  auto idx = std::make_shared<const grammar::TokenIndex>(std::move(pieces), eog);
  cache[&vocab] = idx;
  return idx;
}

std::unique_ptr<grammar::TokenFilter> make_grammar_filter(std::shared_ptr<const grammar::Grammar> g,
                                                          const Vocab& vocab) {
  return std::make_unique<grammar::TokenFilter>(std::move(g), grammar_token_index(vocab));
}

}  // namespace nnb
