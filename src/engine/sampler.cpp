#include "engine/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace nnb {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Draws a seed the way llama.cpp's get_rng_seed() does: std::random_device, or the clock where
// random_device is a PRNG (entropy() == 0) or unavailable. Never returns kRandomSeed, so the
// reported seed can be passed back to reproduce a run.
uint64_t draw_seed() {
  uint32_t s = 0;
  bool have = false;
  try {
    std::random_device rd;
    if (rd.entropy() != 0) {
      s = rd();
      have = true;
    }
  } catch (const std::exception&) {
    // No entropy source: fall back to the clock below.
  }
  if (!have) s = static_cast<uint32_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (s == Sampler::kRandomSeed) s = 0;
  return s;
}

// exp(l - max_l), defined also when both are the same infinity (then the candidate is among the
// largest and gets weight 1 instead of NaN).
inline float rel_exp(float l, float max_l) { return l == max_l ? 1.0f : std::exp(l - max_l); }

// Order used whenever candidates are sorted: higher logit first, lower id first among equal
// logits, so every result is deterministic (llama.cpp leaves the order of ties unspecified).
template <class C>
bool better(const C& a, const C& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

Sampler::Sampler(const SamplerParams& p, int32_t n_vocab) : params_(p), n_vocab_(n_vocab) {
  if (n_vocab <= 0) throw std::invalid_argument("Sampler: n_vocab must be positive, got " + std::to_string(n_vocab));

  // NaN compares false with everything, so each test below is written so NaN takes the
  // "disabled"/"greedy" branch.
  greedy_ = !(p.temp > 0.0f);
  temp_ = std::isinf(p.temp) ? std::numeric_limits<float>::max() : p.temp;
  top_k_ = p.top_k > 0 ? std::min(p.top_k, n_vocab) : 0;
  top_p_ = p.top_p < 1.0f ? p.top_p : 1.0f;
  min_p_ = p.min_p > 0.0f ? p.min_p : 0.0f;
  repeat_ = (std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f) ? p.repeat_penalty : 1.0f;
  presence_ = std::isnan(p.presence_penalty) ? 0.0f : p.presence_penalty;
  frequency_ = std::isnan(p.frequency_penalty) ? 0.0f : p.frequency_penalty;
  // llama.cpp: -1 means the whole context; any other negative is clamped to 0 (disabled).
  last_n_ = p.penalty_last_n == -1 ? -1 : std::max<int64_t>(p.penalty_last_n, 0);

  seed_ = p.seed == kRandomSeed ? draw_seed() : p.seed;
  reseed();

  cands_.resize(static_cast<size_t>(n_vocab));
  if (penalties_active()) {
    counts_.assign(static_cast<size_t>(n_vocab), 0);
    if (last_n_ > 0) window_.reserve(static_cast<size_t>(std::min<int64_t>(last_n_, 4096)));
  }
}

void Sampler::reseed() {
  // Seeds that fit in 32 bits seed mt19937 directly, as llama.cpp's uint32_t seed does, so the
  // same seed gives the same draws as llama.cpp. Wider seeds would otherwise be truncated
  // (mt19937 reduces its seed mod 2^32); feed both halves through a seed_seq instead.
  if (seed_ <= 0xFFFFFFFFull) {
    rng_.seed(static_cast<std::mt19937::result_type>(seed_));
  } else {
    std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)};
    rng_.seed(seq);
  }
}

bool Sampler::penalties_active() const {
  return last_n_ != 0 && (repeat_ != 1.0f || frequency_ != 0.0f || presence_ != 0.0f);
}

void Sampler::accept(Token t) {
  if (!penalties_active() || t < 0 || t >= n_vocab_) return;
  if (last_n_ > 0) {
    if (static_cast<int64_t>(window_.size()) < last_n_) {
      window_.push_back(t);
    } else {
      // Full ring: the oldest token leaves the window as t enters.
      --counts_[static_cast<size_t>(window_[window_head_])];
      window_[window_head_] = t;
      window_head_ = (window_head_ + 1) % window_.size();
    }
  }
  ++counts_[static_cast<size_t>(t)];
}

void Sampler::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  window_.clear();
  window_head_ = 0;
  reseed();
}

void Sampler::load_candidates(const float* logits) {
  const bool pen = penalties_active();
  for (int32_t i = 0; i < n_vocab_; ++i) {
    float l = logits[i];
    if (pen) {
      if (const int32_t c = counts_[static_cast<size_t>(i)]; c > 0) {
        // Dividing a negative logit would raise it; multiplying lowers it (llama.cpp's fix to
        // the CTRL paper's rule).
        l = l <= 0.0f ? l * repeat_ : l / repeat_;
        l -= static_cast<float>(c) * frequency_ + presence_;
      }
    }
    if (std::isnan(l)) l = kNegInf;  // never pick a NaN logit (or a NaN-producing penalty)
    cands_[static_cast<size_t>(i)] = Cand{i, l, 0.0f};
  }
  n_cand_ = static_cast<size_t>(n_vocab_);
  sorted_ = false;
}

Token Sampler::argmax() const {
  size_t best = 0;
  for (size_t i = 1; i < n_cand_; ++i)
    if (cands_[i].logit > cands_[best].logit) best = i;  // strict: the first (lowest id) tie wins
  return cands_[best].id;
}

void Sampler::top_k() {
  if (top_k_ <= 0) return;
  const size_t k = std::min(static_cast<size_t>(top_k_), n_cand_);
  const auto b = cands_.begin();
  // O(n) selection then a sort of the k survivors. llama.cpp sorts even when k == n, and the
  // draw below walks candidates in order, so do the same to draw the same token.
  if (k < n_cand_) {
    std::nth_element(b, b + static_cast<ptrdiff_t>(k - 1), b + static_cast<ptrdiff_t>(n_cand_), better<Cand>);
  }
  std::sort(b, b + static_cast<ptrdiff_t>(k), better<Cand>);
  n_cand_ = k;
  sorted_ = true;
}

void Sampler::top_p() {
  if (!(top_p_ < 1.0f)) return;
  const auto b = cands_.begin();
  const auto n = static_cast<ptrdiff_t>(n_cand_);

  // Softmax over the live candidates, in float like llama.cpp's softmax_impl.
  float max_l = kNegInf;
  for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cands_[i].logit);
  float sum = 0.0f;
  for (size_t i = 0; i < n_cand_; ++i) {
    cands_[i].p = rel_exp(cands_[i].logit, max_l);
    sum += cands_[i].p;
  }
  for (size_t i = 0; i < n_cand_; ++i) cands_[i].p /= sum;

  // The nucleus is usually small: with a large unsorted vocabulary sort only the best 256 first
  // and sort the rest only if the running sum has not reached p by then.
  ptrdiff_t n_sorted = n;
  if (!sorted_ && n > 1024) {
    n_sorted = 256;
    std::nth_element(b, b + (n_sorted - 1), b + n, better<Cand>);
    std::sort(b, b + n_sorted, better<Cand>);
  } else if (!sorted_) {
    std::sort(b, b + n, better<Cand>);
  }

  float cum = 0.0f;
  size_t keep = n_cand_;
  for (ptrdiff_t i = 0; i < n; ++i) {
    if (i == n_sorted) {
      // nth_element left every element past n_sorted no better than those before it.
      std::sort(b + n_sorted, b + n, better<Cand>);
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

void Sampler::min_p() {
  if (!(min_p_ > 0.0f)) return;
  const float log_p = std::log(min_p_);  // keep p_i >= min_p * p_max, i.e. l_i >= l_max + log(min_p)
  if (sorted_) {
    const float min_logit = cands_[0].logit + log_p;
    size_t i = 1;  // the best candidate always stays
    while (i < n_cand_ && cands_[i].logit >= min_logit) ++i;
    n_cand_ = i;
    return;
  }
  // Unsorted: filter in place, keeping id order (as llama.cpp's unsorted path does).
  size_t best = 0;
  for (size_t i = 1; i < n_cand_; ++i)
    if (better(cands_[i], cands_[best])) best = i;
  const float min_logit = cands_[best].logit + log_p;
  size_t j = 0;
  for (size_t i = 0; i < n_cand_; ++i)
    if (cands_[i].logit >= min_logit) cands_[j++] = cands_[i];
  if (j == 0) {
    // Only when min_p > 1: llama.cpp then falls back to its sorted path, which keeps the best.
    cands_[0] = cands_[best];
    j = 1;
  }
  n_cand_ = j;
}

Token Sampler::draw() {
  // Like llama.cpp's dist sampler: a single candidate consumes no random number.
  if (n_cand_ == 1) return cands_[0].id;

  float max_l = kNegInf;
  for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cands_[i].logit);
  double sum = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) {
    cands_[i].p = rel_exp(cands_[i].logit, max_l);
    sum += cands_[i].p;
  }

  // One uniform double, then a walk over the unnormalised weights: the same draw as llama.cpp's
  // current dist sampler, and equivalent in distribution to std::discrete_distribution without
  // building one (which would allocate) per token.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double target = sum * unit(rng_);
  double run = 0.0;
  for (size_t i = 0; i < n_cand_; ++i) {
    run += cands_[i].p;
    // p > 0: a zero-weight candidate is not picked even when the draw is exactly 0.
    if (cands_[i].p > 0.0f && run >= target) return cands_[i].id;
  }
  // Rounding left the target just above the total: take the last candidate with weight.
  for (size_t i = n_cand_; i-- > 0;)
    if (cands_[i].p > 0.0f) return cands_[i].id;
  return cands_[0].id;
}

Token Sampler::sample(const float* logits) {
  load_candidates(logits);
  // Top-k / top-p / min-p always keep the best candidate and temperature <= 0 keeps only it, so
  // greedy is the argmax of the penalised logits.
  if (greedy_) return argmax();
  top_k();
  top_p();
  min_p();
  for (size_t i = 0; i < n_cand_; ++i) cands_[i].logit /= temp_;
  return draw();
}

}  // namespace nnb
