// Token sampler: llama.cpp's default sampler chain (common_sampler) reduced to the stages nnbridge
// exposes, applied in the same order and with the same arithmetic so that a given seed and set
// of logits picks the same token llama.cpp would (up to the order of exactly tied logits):
//   penalties -> top-k -> top-p -> min-p -> temperature -> softmax -> draw (std::mt19937)
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "engine/grammar/token_filter.h"
#include "engine/tokenizer/vocab.h"  // Token

namespace nnb {

struct SamplerParams {
  float temp = 0.8f;            // <= 0 (or NaN): greedy (argmax, ties -> lowest id) after penalties
  int32_t top_k = 40;           // <= 0: disabled; > n_vocab: clamped
  float top_p = 0.95f;          // >= 1 (or NaN): disabled
  float min_p = 0.05f;          // <= 0 (or NaN): disabled
  float repeat_penalty = 1.0f;  // 1: disabled (<= 0 or NaN are treated as 1)
  float presence_penalty = 0.0f;   // NaN: treated as 0
  float frequency_penalty = 0.0f;  // NaN: treated as 0
  int32_t penalty_last_n = 64;  // window of recent tokens the penalties look at
                                // (0: disabled, -1: whole history, < -1: disabled as in llama.cpp)
  uint64_t seed = 0xFFFFFFFF;   // 0xFFFFFFFF (LLAMA_DEFAULT_SEED): a random seed is drawn
};

class Sampler {
 public:
  static constexpr uint64_t kRandomSeed = 0xFFFFFFFF;
  // sample() with a grammar that no token can continue.
  static constexpr Token kNoToken = -1;

  // Throws std::invalid_argument when n_vocab <= 0; every other parameter is sanitised.
  Sampler(const SamplerParams& p, int32_t n_vocab);

  // Picks the next token from n_vocab logits. Does not modify logits and does not record the
  // token (call accept()). NaN logits are never picked. Greedy is one pass over the logits with
  // the penalties applied only to the tokens in the window; with a top-k small next to n_vocab
  // (the default 40) the k best are selected straight from the logits (block maxima bound the
  // k-th best, then one look at the few blocks above it), and the later stages only see those
  // k. Same tokens as a full copy + sort. Works in buffers sized by the constructor: never
  // allocates.
  Token sample(const float* logits);
  // Records a token (prompt or generated) for the penalties. Ids outside [0, n_vocab) are
  // ignored: they have no logit to penalise.
  void accept(Token t);
  // Forgets the history and re-seeds the generator with the same seed (the drawn one if the seed
  // was random), so the same logits give the same tokens again.
  void reset();

  // Constrains sampling to a grammar (nullptr: unconstrained); reset() restarts it. The chain
  // runs as usual and its pick is checked first; only a rejected pick costs a pass over the
  // vocabulary: the tokens the grammar rejects get -inf (end-of-generation tokens are allowed
  // only where the grammar can end) and the chain runs again on that (as llama.cpp's
  // common_sampler does). Either way the token returned is one the grammar allows, or kNoToken
  // when it allows none.
  void set_grammar(std::unique_ptr<grammar::TokenFilter> g);
  grammar::TokenFilter* grammar() const { return grammar_.get(); }
  // A generated token: accept() for the penalties, and the grammar advances over it.
  void accept_generated(Token t);
  // The grammar is complete and nothing more can follow: generation should end.
  bool grammar_done() const { return grammar_ && grammar_->done(); }

  uint64_t seed() const { return seed_; }  // the seed in use (the drawn one if random)
  const SamplerParams& params() const { return params_; }  // as given, not sanitised
  int32_t n_vocab() const { return n_vocab_; }

 private:
  // One candidate token (llama.cpp's llama_token_data).
  struct Cand {
    Token id;
    float logit;
    float p;
  };

  void reseed();
  Token sample_chain(const float* logits);  // the chain without a grammar
  bool penalties_active() const;
  float penalised(const float* logits, Token i) const;  // i in pen_ids_; NaN -> -inf
  void load_candidates(const float* logits);  // every token: copy + penalties
  Token argmax(const float* logits) const;     // greedy, straight from the logits
  bool select_top_k_bounded(const float* logits);  // top-k in two passes (topk_first_), or false
  void select_top_k(const float* logits);      // top-k in one pass (topk_first_)
  void top_k();                                // top-k over load_candidates()' candidates
  void top_p();
  void min_p();
  Token draw();

  SamplerParams params_;  // as given
  // Sanitised copies of params_ used by the chain.
  float temp_, top_p_, min_p_, repeat_, presence_, frequency_;
  int32_t top_k_;
  int64_t last_n_;  // 0: penalties off, < 0: whole history
  bool greedy_;
  // sample() uses select_top_k_bounded() (or, when it gives up, select_top_k()) instead of
  // load_candidates() + top_k().
  bool topk_first_;

  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937 rng_;

  // Penalty state: per-token counts within the window, and the window itself as a ring (only
  // kept for a finite window; it grows up to last_n_ entries, then wraps).
  std::vector<int32_t> counts_;
  std::vector<Token> window_;
  size_t window_head_ = 0;  // index of the oldest entry once the ring is full
  // The ids with counts_ > 0, ascending (capacity reserved up front): the only logits the
  // penalties change, so sample() reads the others as they are.
  std::vector<Token> pen_ids_;

  // Candidates of the current sample() call: cands_[0, n_cand_) are alive. Sized once: empty
  // when greedy, min(2 top_k_ + 64, n_vocab) with topk_first_, else n_vocab.
  std::vector<Cand> cands_;
  int32_t block_ = 64;            // select_top_k_bounded(): tokens per block
  std::vector<float> block_max_;  // select_top_k_bounded(): 2 x n_vocab / block_ block maxima
  size_t n_cand_ = 0;
  bool sorted_ = false;  // alive candidates ordered by (logit desc, id asc)

  std::unique_ptr<grammar::TokenFilter> grammar_;
  std::vector<float> masked_;  // the logits with the grammar's rejected tokens at -inf
};

}  // namespace nnb
