#include "engine/runtime/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Whether any of p[0, 16) is > thr (false for NaN, like the scalar compare). The scans below
// test a block at a time and only look closer at the rare block that has one.
inline bool any_greater16(const float* p, float thr) {
#if defined(__SSE2__)
  const __m128 t = _mm_set1_ps(thr);
  const __m128 a = _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(p), t), _mm_cmpgt_ps(_mm_loadu_ps(p + 4), t));
  const __m128 b = _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(p + 8), t), _mm_cmpgt_ps(_mm_loadu_ps(p + 12), t));
  return _mm_movemask_ps(_mm_or_ps(a, b)) != 0;
#else
  bool any = false;
  for (int j = 0; j < 16; ++j) any |= p[j] > thr;
  return any;
#endif
}

// Largest non-NaN value of p[0, len), len a multiple of 16; -inf if none. Always one of the
// values (or -inf).
inline float max_of(const float* p, int32_t len) {
#if defined(__SSE2__)
  // maxps(x, acc) is x > acc ? x : acc, so a NaN x leaves acc as it was.
  // Four accumulators, so the maxima do not wait on each other; none of them is ever NaN.
  __m128 a0 = _mm_set1_ps(kNegInf), a1 = a0, a2 = a0, a3 = a0;
  for (int32_t j = 0; j < len; j += 16) {
    a0 = _mm_max_ps(_mm_loadu_ps(p + j), a0);
    a1 = _mm_max_ps(_mm_loadu_ps(p + j + 4), a1);
    a2 = _mm_max_ps(_mm_loadu_ps(p + j + 8), a2);
    a3 = _mm_max_ps(_mm_loadu_ps(p + j + 12), a3);
  }
  alignas(16) float v[4];
  _mm_store_ps(v, _mm_max_ps(_mm_max_ps(a0, a1), _mm_max_ps(a2, a3)));
  float m = v[0];
  for (int j = 1; j < 4; ++j) m = v[j] > m ? v[j] : m;
  return m;
#else
  float m = kNegInf;
  for (int32_t j = 0; j < len; ++j) m = p[j] > m ? p[j] : m;
  return m;
#endif
}

// Whether any of p[0, 16) is >= thr (false for NaN).
inline bool any_greater_equal16(const float* p, float thr) {
#if defined(__SSE2__)
  const __m128 t = _mm_set1_ps(thr);
  const __m128 a = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p), t), _mm_cmpge_ps(_mm_loadu_ps(p + 4), t));
  const __m128 b = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 8), t), _mm_cmpge_ps(_mm_loadu_ps(p + 12), t));
  return _mm_movemask_ps(_mm_or_ps(a, b)) != 0;
#else
  bool any = false;
  for (int j = 0; j < 16; ++j) any |= p[j] >= thr;
  return any;
#endif
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

  // Every buffer is sized here once. Greedy needs no candidates; a top-k small next to the
  // vocabulary is selected straight from the logits into a buffer of 2 k + 64 candidates;
  // otherwise (top-k off or large) every token is a candidate, as in llama.cpp.
  topk_first_ = !greedy_ && top_k_ > 0 && static_cast<int64_t>(top_k_) * 4 <= n_vocab;
  if (!greedy_) {
    const int64_t k = top_k_;
    cands_.resize(static_cast<size_t>(topk_first_ ? std::min<int64_t>(2 * k + 64, n_vocab) : n_vocab));
    if (topk_first_) {
      // About max(16 k, 512) blocks, of at least 64 tokens (a multiple of 16): enough maxima
      // that the k-th largest sits close to the k-th best logit, few enough to select it fast.
      const int64_t want = std::max<int64_t>(16 * k, 512);
      block_ = static_cast<int32_t>(std::max<int64_t>(64, (n_vocab / want + 15) / 16 * 16));
      block_max_.resize(static_cast<size_t>(n_vocab / block_) * 2);
    }
  }
  if (penalties_active()) {
    counts_.assign(static_cast<size_t>(n_vocab), 0);
    if (last_n_ > 0) window_.reserve(static_cast<size_t>(std::min<int64_t>(last_n_, 4096)));
    // At most one entry per token in the window.
    pen_ids_.reserve(static_cast<size_t>(last_n_ > 0 ? std::min<int64_t>(last_n_, n_vocab) : n_vocab));
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
      const Token old = window_[window_head_];
      if (--counts_[static_cast<size_t>(old)] == 0) {
        pen_ids_.erase(std::lower_bound(pen_ids_.begin(), pen_ids_.end(), old));
      }
      window_[window_head_] = t;
      window_head_ = (window_head_ + 1) % window_.size();
    }
  }
  if (counts_[static_cast<size_t>(t)]++ == 0) {
    // Within the capacity reserved in the constructor: no allocation.
    pen_ids_.insert(std::lower_bound(pen_ids_.begin(), pen_ids_.end(), t), t);
  }
}

void Sampler::reset() {
  if (grammar_) grammar_->reset();
  std::fill(counts_.begin(), counts_.end(), 0);
  window_.clear();
  window_head_ = 0;
  pen_ids_.clear();
  reseed();
}

float Sampler::penalised(const float* logits, Token i) const {
  // Only called for ids in pen_ids_, whose count is > 0. Dividing a negative logit would raise
  // it; multiplying lowers it (llama.cpp's fix to the CTRL paper's rule).
  float l = logits[i];
  const int32_t c = counts_[static_cast<size_t>(i)];
  l = l <= 0.0f ? l * repeat_ : l / repeat_;
  l -= static_cast<float>(c) * frequency_ + presence_;
  return std::isnan(l) ? kNegInf : l;  // never pick a NaN logit (or a NaN-producing penalty)
}

void Sampler::load_candidates(const float* logits) {
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const float l = logits[i];
    cands_[static_cast<size_t>(i)] = Cand{i, std::isnan(l) ? kNegInf : l, 0.0f};
  }
  for (const Token i : pen_ids_) cands_[static_cast<size_t>(i)].logit = penalised(logits, i);
  n_cand_ = static_cast<size_t>(n_vocab_);
  sorted_ = false;
}

Token Sampler::argmax(const float* logits) const {
  // In id order, strict >: the lowest id among the largest penalised logits wins, and token 0
  // when every logit is NaN or -inf. Raw NaN never compares greater, like NaN turned into -inf.
  float best_l = kNegInf;
  Token best = 0;
  int32_t i = 0;
  auto scan = [&](int32_t end) {
    constexpr int32_t kBlock = 16;
    for (; i + kBlock <= end; i += kBlock) {
      if (!any_greater16(logits + i, best_l)) continue;
      for (int32_t j = i; j < i + kBlock; ++j)
        if (logits[j] > best_l) best_l = logits[best = j];
    }
    for (; i < end; ++i)
      if (logits[i] > best_l) best_l = logits[best = i];
  };
  for (const Token p : pen_ids_) {  // ascending: raw stretches between the penalised ids
    scan(p);
    if (const float l = penalised(logits, p); l > best_l) {
      best_l = l;
      best = p;
    }
    i = p + 1;
  }
  scan(n_vocab_);
  return best;
}

bool Sampler::select_top_k_bounded(const float* logits) {
  // Pass 1: the maximum of every block (block_ tokens) that holds no penalised token. Each maximum is
  // the (final) logit of a distinct token, so with t the k-th largest of them at least k tokens
  // have a logit >= t, and a token below t is worse than k others: it cannot be among the k
  // best. Pass 2 collects every token >= t (usually little more than k) in cands_, looking only
  // at the blocks whose maximum is >= t, those with a penalised token and the tail; the k best
  // of those, sorted, are the k best overall. Gives up (false) when there are fewer than k
  // penalty-free blocks, when t is -inf, or when more tokens tie at >= t than cands_ holds.
  const int32_t kB = block_;
  const float inf = std::numeric_limits<float>::infinity();
  const size_t k = static_cast<size_t>(top_k_);
  const int32_t n_blocks = n_vocab_ / kB;
  float* const bmax = block_max_.data();        // per block; +inf: has a penalised token
  float* const pool = bmax + n_blocks;          // the penalty-free maxima, for nth_element
  size_t nb = 0;
  auto pen = pen_ids_.begin();
  for (int32_t b = 0; b < n_blocks; ++b) {
    const int32_t lo = b * kB;
    while (pen != pen_ids_.end() && *pen < lo) ++pen;
    if (pen != pen_ids_.end() && *pen < lo + kB) {
      bmax[b] = inf;
    } else {
      bmax[b] = pool[nb++] = max_of(logits + lo, kB);
    }
  }
  if (nb < k) return false;
  std::nth_element(pool, pool + (k - 1), pool + nb, std::greater<float>());
  const float t = pool[k - 1];
  if (t == kNegInf) return false;

  const size_t cap = cands_.size();
  Cand* const c = cands_.data();
  size_t n = 0;
  auto add = [&](Token id, float l) {
    if (n == cap) return false;
    c[n++] = Cand{id, l, 0.0f};
    return true;
  };
  auto raw = [&](int32_t i, int32_t end) {  // raw logits [i, end)
    constexpr int32_t kBlock = 16;
    for (; i + kBlock <= end; i += kBlock) {
      if (!any_greater_equal16(logits + i, t)) continue;
      for (int32_t j = i; j < i + kBlock; ++j)
        if (logits[j] >= t && !add(j, logits[j])) return false;
    }
    for (; i < end; ++i)
      if (logits[i] >= t && !add(i, logits[i])) return false;
    return true;
  };
  pen = pen_ids_.begin();
  auto collect = [&](int32_t lo, int32_t hi) {  // [lo, hi), in id order, penalties applied
    while (pen != pen_ids_.end() && *pen < lo) ++pen;
    for (; pen != pen_ids_.end() && *pen < hi; ++pen) {
      if (!raw(lo, *pen)) return false;
      if (const float l = penalised(logits, *pen); l >= t && !add(*pen, l)) return false;
      lo = *pen + 1;
    }
    return raw(lo, hi);
  };
  for (int32_t b = 0; b < n_blocks; ++b)
    if (bmax[b] >= t && !collect(b * kB, b * kB + kB)) return false;
  if (!collect(n_blocks * kB, n_vocab_)) return false;
  // n >= k: the k tokens behind the largest block maxima are all >= t.
  if (n > k) std::nth_element(c, c + (k - 1), c + n, better<Cand>);
  std::sort(c, c + k, better<Cand>);
  n_cand_ = k;
  sorted_ = true;
  return true;
}

void Sampler::select_top_k(const float* logits) {
  // Tokens are taken in id order into cands_ (capacity > k); thr is the logit of the k-th best
  // by better() among the tokens seen when it was last set. A token that comes later has a
  // larger id than all of those, so it can be among the k best only if its logit is > thr:
  // the others are skipped (16 at a time), the rest appended, and a full buffer is cut back to
  // its k best. The result, the k best sorted, is the same k candidates in the same order as
  // nth_element + sort over every token, since better() is a strict total order.
  const size_t k = static_cast<size_t>(top_k_);
  const size_t cap = cands_.size();
  Cand* const c = cands_.data();
  // Cuts a full buffer back to its k best; returns the new thr.
  const auto cut = [c, k](size_t n) {
    std::nth_element(c, c + (k - 1), c + n, better<Cand>);
    return c[k - 1].logit;
  };
  size_t n = 0;
  float thr = kNegInf;
  int32_t i = 0;
  // A token whose logit l (penalised, NaN-free) is > thr.
  const auto append = [&](Token id, float l) {
    if (n == cap) {
      thr = cut(n);
      n = k;
      if (!(l > thr)) return;
    }
    c[n++] = Cand{id, l, 0.0f};
  };
  const auto take = [&](Token id, float l) {  // any token: primes the buffer with the first k
    if (n < k) {  // n never drops below k once it got there
      c[n++] = Cand{id, l, 0.0f};
      if (n == k) {
        float worst = c[0].logit;
        for (size_t j = 1; j < k; ++j) worst = std::min(worst, c[j].logit);
        thr = worst;  // the k-th best of the k tokens seen
      }
    } else if (l > thr) {
      append(id, l);
    }
  };
  auto scan = [&](int32_t end) {  // raw logits [i, end)
    for (; i < end && n < k; ++i) take(i, std::isnan(logits[i]) ? kNegInf : logits[i]);
    constexpr int32_t kBlock = 16;
    for (; i + kBlock <= end; i += kBlock) {
      if (!any_greater16(logits + i, thr)) continue;
      for (int32_t j = i; j < i + kBlock; ++j)
        if (const float l = logits[j]; l > thr) append(j, l);
    }
    for (; i < end; ++i)
      if (const float l = logits[i]; l > thr) append(i, l);
  };
  for (const Token p : pen_ids_) {  // ascending: raw stretches between the penalised ids
    scan(p);
    take(p, penalised(logits, p));
    i = p + 1;
  }
  scan(n_vocab_);
  if (n > k) std::nth_element(c, c + (k - 1), c + n, better<Cand>);
  std::sort(c, c + k, better<Cand>);
  n_cand_ = k;
  sorted_ = true;
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

void Sampler::set_grammar(std::unique_ptr<grammar::TokenFilter> g) {
  if (g && g->n_vocab() != n_vocab_)
    throw std::invalid_argument("Sampler: grammar built for " + std::to_string(g->n_vocab()) + " tokens, sampler has " +
                                std::to_string(n_vocab_));
  grammar_ = std::move(g);
  masked_.assign(grammar_ ? static_cast<size_t>(n_vocab_) : 0, 0.0f);
}

void Sampler::accept_generated(Token t) {
  accept(t);
  if (grammar_) grammar_->accept(t);
}

Token Sampler::sample(const float* logits) {
  if (!grammar_) return sample_chain(logits);
  const Token first = sample_chain(logits);
  if (grammar_->allows(first)) return first;
  // Rejected: mask the whole vocabulary, 64 tokens per mask word, and sample again.
  const std::vector<uint64_t>& mask = grammar_->mask();
  bool any = false;
  for (size_t w = 0; w < mask.size(); ++w) {
    const size_t lo = w * 64, hi = std::min(lo + 64, static_cast<size_t>(n_vocab_));
    const uint64_t bits = mask[w];
    if (bits == 0) {
      std::fill(masked_.begin() + static_cast<ptrdiff_t>(lo), masked_.begin() + static_cast<ptrdiff_t>(hi), kNegInf);
      continue;
    }
    any = true;
    for (size_t i = lo; i < hi; ++i) masked_[i] = (bits >> (i - lo)) & 1 ? logits[i] : kNegInf;
  }
  if (!any) return kNoToken;
  const Token t = sample_chain(masked_.data());
  if (grammar_->allows(t)) return t;
  // Every allowed logit was NaN or -inf, and the chain fell on a masked token: take the first
  // allowed one.
  for (size_t w = 0; w < mask.size(); ++w)
    if (mask[w]) return static_cast<Token>(w * 64 + static_cast<size_t>(__builtin_ctzll(mask[w])));
  return kNoToken;
}

Token Sampler::sample_chain(const float* logits) {
  // Top-k / top-p / min-p always keep the best candidate and temperature <= 0 keeps only it, so
  // greedy is the argmax of the penalised logits.
  if (greedy_) return argmax(logits);
  if (topk_first_) {
    if (!select_top_k_bounded(logits)) select_top_k(logits);
  } else {
    load_candidates(logits);
    top_k();
  }
  top_p();
  min_p();
  for (size_t i = 0; i < n_cand_; ++i) cands_[i].logit /= temp_;
  return draw();
}

}  // namespace nnb
