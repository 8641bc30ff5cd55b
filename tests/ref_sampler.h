// The sampler as it was before the top-k-first rewrite, kept as a reference in one place: the
// test checks the current sampler against it token for token (tests/sampler_test.cpp), the
// benchmark measures both (bench/sampler_bench.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/runtime/sampler.h"

namespace nnb::reference {

// Reference: the sampler as it was before the top-k-first rewrite (then src/engine/sampler.cpp, at
// a4fccab), kept verbatim in its arithmetic: every candidate copied and penalised, top-k by
// nth_element + sort over the whole vocabulary, then top-p / min-p / temperature / draw.
// Explicit seeds only (no random-seed drawing).
class RefSampler {
 public:
  RefSampler(const SamplerParams& p, int32_t n_vocab) : n_vocab_(n_vocab) {
    greedy_ = !(p.temp > 0.0f);
    temp_ = std::isinf(p.temp) ? std::numeric_limits<float>::max() : p.temp;
    top_k_ = p.top_k > 0 ? std::min(p.top_k, n_vocab) : 0;
    top_p_ = p.top_p < 1.0f ? p.top_p : 1.0f;
    min_p_ = p.min_p > 0.0f ? p.min_p : 0.0f;
    repeat_ = (std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f) ? p.repeat_penalty : 1.0f;
    presence_ = std::isnan(p.presence_penalty) ? 0.0f : p.presence_penalty;
    frequency_ = std::isnan(p.frequency_penalty) ? 0.0f : p.frequency_penalty;
    last_n_ = p.penalty_last_n == -1 ? -1 : std::max<int64_t>(p.penalty_last_n, 0);
    seed_ = p.seed;
    reseed();
    cands_.resize(static_cast<size_t>(n_vocab));
    if (penalties_active()) counts_.assign(static_cast<size_t>(n_vocab), 0);
  }

  void accept(Token t) {
    if (!penalties_active() || t < 0 || t >= n_vocab_) return;
    if (last_n_ > 0) {
      if (static_cast<int64_t>(window_.size()) < last_n_) {
        window_.push_back(t);
      } else {
        --counts_[static_cast<size_t>(window_[window_head_])];
        window_[window_head_] = t;
        window_head_ = (window_head_ + 1) % window_.size();
      }
    }
    ++counts_[static_cast<size_t>(t)];
  }

  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    window_.clear();
    window_head_ = 0;
    reseed();
  }

  Token sample(const float* logits) {
    load_candidates(logits);
    if (greedy_) return argmax();
    top_k();
    top_p();
    min_p();
    for (size_t i = 0; i < n_cand_; ++i) cands_[i].logit /= temp_;
    return draw();
  }

 private:
  struct Cand {
    Token id;
    float logit;
    float p;
  };
  static constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  static float rel_exp(float l, float max_l) { return l == max_l ? 1.0f : std::exp(l - max_l); }
  static bool better(const Cand& a, const Cand& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }

  void reseed() {
    if (seed_ <= 0xFFFFFFFFull) {
      rng_.seed(static_cast<std::mt19937::result_type>(seed_));
    } else {
      std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)};
      rng_.seed(seq);
    }
  }
  bool penalties_active() const {
    return last_n_ != 0 && (repeat_ != 1.0f || frequency_ != 0.0f || presence_ != 0.0f);
  }

  void load_candidates(const float* logits) {
    const bool pen = penalties_active();
    for (int32_t i = 0; i < n_vocab_; ++i) {
      float l = logits[i];
      if (pen) {
        if (const int32_t c = counts_[static_cast<size_t>(i)]; c > 0) {
          l = l <= 0.0f ? l * repeat_ : l / repeat_;
          l -= static_cast<float>(c) * frequency_ + presence_;
        }
      }
      if (std::isnan(l)) l = kNegInf;
      cands_[static_cast<size_t>(i)] = Cand{i, l, 0.0f};
    }
    n_cand_ = static_cast<size_t>(n_vocab_);
    sorted_ = false;
  }

  Token argmax() const {
    size_t best = 0;
    for (size_t i = 1; i < n_cand_; ++i)
      if (cands_[i].logit > cands_[best].logit) best = i;
    return cands_[best].id;
  }

  void top_k() {
    if (top_k_ <= 0) return;
    const size_t k = std::min(static_cast<size_t>(top_k_), n_cand_);
    const auto b = cands_.begin();
    if (k < n_cand_) std::nth_element(b, b + static_cast<ptrdiff_t>(k - 1), b + static_cast<ptrdiff_t>(n_cand_), better);
    std::sort(b, b + static_cast<ptrdiff_t>(k), better);
    n_cand_ = k;
    sorted_ = true;
  }

  void top_p() {
    if (!(top_p_ < 1.0f)) return;
    const auto b = cands_.begin();
    const auto n = static_cast<ptrdiff_t>(n_cand_);
    float max_l = kNegInf;
    for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cands_[i].logit);
    float sum = 0.0f;
    for (size_t i = 0; i < n_cand_; ++i) {
      cands_[i].p = rel_exp(cands_[i].logit, max_l);
      sum += cands_[i].p;
    }
    for (size_t i = 0; i < n_cand_; ++i) cands_[i].p /= sum;
    ptrdiff_t n_sorted = n;
    if (!sorted_ && n > 1024) {
      n_sorted = 256;
      std::nth_element(b, b + (n_sorted - 1), b + n, better);
      std::sort(b, b + n_sorted, better);
    } else if (!sorted_) {
      std::sort(b, b + n, better);
    }
    float cum = 0.0f;
    size_t keep = n_cand_;
    for (ptrdiff_t i = 0; i < n; ++i) {
      if (i == n_sorted) {
        std::sort(b + n_sorted, b + n, better);
        n_sorted = n;
      }
      cum += cands_[static_cast<size_t>(i)].p;
      if (cum >= top_p_) {
        keep = static_cast<size_t>(i) + 1;
        break;
      }
    }
    n_cand_ = keep;
    sorted_ = true;
  }

  void min_p() {
    if (!(min_p_ > 0.0f)) return;
    const float log_p = std::log(min_p_);
    if (sorted_) {
      const float min_logit = cands_[0].logit + log_p;
      size_t i = 1;
      while (i < n_cand_ && cands_[i].logit >= min_logit) ++i;
      n_cand_ = i;
      return;
    }
    size_t best = 0;
    for (size_t i = 1; i < n_cand_; ++i)
      if (better(cands_[i], cands_[best])) best = i;
    const float min_logit = cands_[best].logit + log_p;
    size_t j = 0;
    for (size_t i = 0; i < n_cand_; ++i)
      if (cands_[i].logit >= min_logit) cands_[j++] = cands_[i];
    if (j == 0) {
      cands_[0] = cands_[best];
      j = 1;
    }
    n_cand_ = j;
  }

  Token draw() {
    if (n_cand_ == 1) return cands_[0].id;
    float max_l = kNegInf;
    for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cands_[i].logit);
    double sum = 0.0;
    for (size_t i = 0; i < n_cand_; ++i) {
      cands_[i].p = rel_exp(cands_[i].logit, max_l);
      sum += cands_[i].p;
    }
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const double target = sum * unit(rng_);
    double run = 0.0;
    for (size_t i = 0; i < n_cand_; ++i) {
      run += cands_[i].p;
      if (cands_[i].p > 0.0f && run >= target) return cands_[i].id;
    }
    for (size_t i = n_cand_; i-- > 0;)
      if (cands_[i].p > 0.0f) return cands_[i].id;
    return cands_[0].id;
  }

  float temp_, top_p_, min_p_, repeat_, presence_, frequency_;
  int32_t top_k_;
  int64_t last_n_;
  bool greedy_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937 rng_;
  std::vector<int32_t> counts_;
  std::vector<Token> window_;
  size_t window_head_ = 0;
  std::vector<Cand> cands_;
  size_t n_cand_ = 0;
  bool sorted_ = false;
};

}  // namespace nnb::reference
