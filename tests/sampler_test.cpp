// Sampler: each stage of the chain (penalties, top-k, top-p, min-p, temperature, draw) checked on
// small hand-made distributions. Statistical checks use fixed seeds, so they are deterministic;
// their tolerances are still wide enough to hold for any reasonable seed.
#include "engine/runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "ref_sampler.h"

namespace nnb {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Parameters with every filter and penalty off: plain softmax sampling at temperature 1.
SamplerParams plain(uint64_t seed = 1234) {
  SamplerParams p;
  p.temp = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

SamplerParams greedy() {
  SamplerParams p = plain();
  p.temp = 0.0f;
  return p;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    const Token t = s.sample(logits.data());
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<Token>(logits.size()));
    if (t >= 0 && t < static_cast<Token>(logits.size())) ++h[static_cast<size_t>(t)];
  }
  return h;
}

double chi_square(const std::vector<int>& h, const std::vector<double>& expected_p) {
  double n = 0;
  for (int c : h) n += c;
  double chi = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    const double e = n * expected_p[i];
    chi += (h[i] - e) * (h[i] - e) / e;
  }
  return chi;
}

std::vector<Token> sequence(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<Token> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(logits.data()));
  return out;
}

using reference::RefSampler;

TEST(Sampler, GreedyPicksArgmax) {
  const std::vector<float> l = {0.1f, 3.0f, -2.0f, 2.9f, -7.0f};
  for (float temp : {0.0f, -1.0f, kNaN}) {
    SamplerParams p = greedy();
    p.temp = temp;
    Sampler s(p, 5);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(l.data()), 1) << "temp " << temp;
  }
}

TEST(Sampler, GreedyTiesGoToLowestId) {
  const std::vector<float> l = {1.0f, 5.0f, -3.0f, 5.0f, 5.0f};
  Sampler s(greedy(), 5);
  EXPECT_EQ(s.sample(l.data()), 1);
  // Greedy ignores the filters: top-k / top-p / min-p set tightly give the same answer.
  SamplerParams p = greedy();
  p.top_k = 2;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  Sampler s2(p, 5);
  EXPECT_EQ(s2.sample(l.data()), 1);
}

TEST(Sampler, DoesNotModifyLogits) {
  std::vector<float> l = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 3.0f};
  const std::vector<float> copy = l;
  SamplerParams p;  // defaults: every stage active
  p.seed = 7;
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.2f;
  p.presence_penalty = 0.1f;
  Sampler s(p, 6);
  s.accept(5);
  s.accept(1);
  for (int i = 0; i < 20; ++i) s.sample(l.data());
  EXPECT_EQ(l, copy);
}

TEST(Sampler, TopK1EqualsGreedy) {
  std::mt19937 gen(99);
  std::uniform_int_distribution<int> level(0, 40);  // coarse levels: many exact ties
  const int n = 1000;
  SamplerParams p = plain(5);
  p.top_k = 1;
  Sampler topk1(p, n);
  Sampler arg(greedy(), n);
  std::vector<float> l(n);
  for (int trial = 0; trial < 200; ++trial) {
    for (float& x : l) x = static_cast<float>(level(gen)) * 0.25f - 5.0f;
    EXPECT_EQ(topk1.sample(l.data()), arg.sample(l.data())) << "trial " << trial;
  }
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  // Near-uniform so every survivor is drawn often.
  const std::vector<float> l = {0.0f, 0.3f, 0.1f, 0.25f, 0.05f, 0.2f};
  SamplerParams p = plain(11);
  p.top_k = 3;  // keeps ids 1, 3, 5
  Sampler s(p, 6);
  const auto h = histogram(s, l, 6000);
  EXPECT_EQ(h[0], 0);
  EXPECT_EQ(h[2], 0);
  EXPECT_EQ(h[4], 0);
  EXPECT_GT(h[1], 1000);
  EXPECT_GT(h[3], 1000);
  EXPECT_GT(h[5], 1000);
}

TEST(Sampler, TopKLargerThanVocabIsClamped) {
  const auto l = logits_of({0.1, 0.2, 0.3, 0.4});
  SamplerParams p = plain(3);
  p.top_k = 1000000;
  Sampler s(p, 4);
  const auto h = histogram(s, l, 20000);
  EXPECT_LT(chi_square(h, {0.1, 0.2, 0.3, 0.4}), 16.27);  // df 3, p = 0.001
}

// Probabilities 0.5 / 0.3 / 0.15 / 0.05 placed at shuffled ids, so the sort inside the chain
// matters.
const std::vector<double> kProbs = {0.3, 0.05, 0.5, 0.15};  // ids 2 > 0 > 3 > 1

TEST(Sampler, TopPCutsTheTail) {
  const auto l = logits_of(kProbs);
  for (int32_t top_k : {0, 4}) {  // unsorted and already-sorted paths
    SamplerParams p = plain(21);
    p.top_k = top_k;
    p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: keeps ids 2 and 0
    Sampler s(p, 4);
    const auto h = histogram(s, l, 20000);
    EXPECT_EQ(h[1], 0) << "top_k " << top_k;
    EXPECT_EQ(h[3], 0) << "top_k " << top_k;
    // Survivors are renormalised: 0.5 / 0.8 = 0.625.
    EXPECT_NEAR(h[2] / 20000.0, 0.625, 0.02) << "top_k " << top_k;

    p.top_p = 0.9f;  // 0.8 < 0.9 <= 0.95: also id 3
    Sampler s2(p, 4);
    const auto h2 = histogram(s2, l, 20000);
    EXPECT_EQ(h2[1], 0) << "top_k " << top_k;
    EXPECT_GT(h2[3], 1000) << "top_k " << top_k;
  }
}

TEST(Sampler, TopPOnLargeUnsortedVocab) {
  // Above 1024 candidates top-p first sorts only the best 256; a nucleus wider than that must
  // still be cut correctly. 3000 equal logits: the nucleus for p = 0.5 is the 1500 lowest ids
  // (ties sort by id), give or take float rounding of the running sum.
  const int n = 3000;
  std::vector<float> l(n, 1.0f);
  SamplerParams p = plain(8);
  p.top_p = 0.5f;
  Sampler s(p, n);
  Token max_seen = 0;
  for (int i = 0; i < 3000; ++i) max_seen = std::max(max_seen, s.sample(l.data()));
  EXPECT_LT(max_seen, 1510);
  EXPECT_GT(max_seen, 1400);

  // A small nucleus in a large vocabulary: only the three strong tokens survive.
  std::vector<float> l2(n, -10.0f);
  l2[2500] = 5.0f;
  l2[17] = 4.8f;
  l2[1800] = 4.6f;
  SamplerParams p2 = plain(9);
  p2.top_p = 0.9f;
  Sampler s3(p2, n);
  std::set<Token> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(s3.sample(l2.data()));
  EXPECT_EQ(seen, (std::set<Token>{17, 1800, 2500}));
}

TEST(Sampler, MinPCutsRelativeToTheBest) {
  const auto l = logits_of(kProbs);
  for (int32_t top_k : {0, 4}) {  // unsorted and sorted paths
    SamplerParams p = plain(31);
    p.top_k = top_k;
    p.min_p = 0.2f;  // threshold 0.1: drops only id 1 (0.05)
    Sampler s(p, 4);
    const auto h = histogram(s, l, 20000);
    EXPECT_EQ(h[1], 0) << "top_k " << top_k;
    EXPECT_GT(h[3], 1500) << "top_k " << top_k;  // 0.15 / 0.95 of the draws

    p.min_p = 0.35f;  // threshold 0.175: keeps ids 2 and 0
    Sampler s2(p, 4);
    const auto h2 = histogram(s2, l, 20000);
    EXPECT_EQ(h2[1], 0) << "top_k " << top_k;
    EXPECT_EQ(h2[3], 0) << "top_k " << top_k;
    EXPECT_NEAR(h2[2] / 20000.0, 0.625, 0.02) << "top_k " << top_k;

    p.min_p = 1.5f;  // nothing reaches the threshold: the best token alone stays
    Sampler s3(p, 4);
    const auto h3 = histogram(s3, l, 1000);
    EXPECT_EQ(h3[2], 1000) << "top_k " << top_k;
  }
}

TEST(Sampler, TemperatureShapesTheDistribution) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const auto l = logits_of(probs);
  for (float temp : {1.0f, 0.5f, 2.0f}) {
    // Temperature T turns p into p^(1/T), renormalised.
    std::vector<double> expected;
    double z = 0;
    for (double q : probs) z += std::pow(q, 1.0 / temp);
    for (double q : probs) expected.push_back(std::pow(q, 1.0 / temp) / z);

    SamplerParams p = plain(42);
    p.temp = temp;
    Sampler s(p, 4);
    const auto h = histogram(s, l, 40000);
    EXPECT_LT(chi_square(h, expected), 16.27) << "temp " << temp;  // df 3, p = 0.001
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(h[i] / 40000.0, expected[i], 0.015) << "temp " << temp << " id " << i;
  }
}

TEST(Sampler, DrawIsOneUniformDoubleWalkedOverTheWeights) {
  // Pins the random-number contract llama.cpp's dist sampler uses: std::mt19937 seeded with the
  // seed, one std::uniform_real_distribution<double> draw per token, walked over the softmax
  // weights in candidate order (id order when nothing sorted them).
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const auto l = logits_of(probs);
  Sampler s(plain(1234), 4);
  std::mt19937 ref(1234);
  float max_l = *std::max_element(l.begin(), l.end());
  for (int i = 0; i < 500; ++i) {
    double w[4], sum = 0;
    for (int j = 0; j < 4; ++j) sum += (w[j] = std::exp(l[static_cast<size_t>(j)] - max_l));
    const double target = sum * std::uniform_real_distribution<double>(0.0, 1.0)(ref);
    double run = 0;
    Token want = 3;
    for (int j = 0; j < 4; ++j) {
      run += w[j];
      if (run >= target) {
        want = j;
        break;
      }
    }
    ASSERT_EQ(s.sample(l.data()), want) << "draw " << i;
  }
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplerParams p = greedy();
  p.repeat_penalty = 1.2f;
  {
    const std::vector<float> l = {2.0f, 1.9f, -1.0f};
    Sampler s(p, 3);
    EXPECT_EQ(s.sample(l.data()), 0);
    s.accept(0);  // 2.0 / 1.2 = 1.67 < 1.9
    EXPECT_EQ(s.sample(l.data()), 1);
  }
  {
    const std::vector<float> l = {-1.0f, -1.1f, -5.0f};
    Sampler s(p, 3);
    s.accept(0);  // -1.0 * 1.2 = -1.2 < -1.1 (dividing would have raised it to -0.83)
    EXPECT_EQ(s.sample(l.data()), 1);
  }
  {
    // A penalty below 1 rewards repeats.
    const std::vector<float> l = {1.9f, 2.0f};
    p.repeat_penalty = 0.9f;
    Sampler s(p, 2);
    s.accept(0);  // 1.9 / 0.9 = 2.11
    EXPECT_EQ(s.sample(l.data()), 0);
  }
}

TEST(Sampler, FrequencyPenaltyScalesWithCountPresenceDoesNot) {
  const std::vector<float> l = {2.0f, 1.9f, 0.0f};
  SamplerParams pf = greedy();
  pf.frequency_penalty = 0.06f;
  Sampler f(pf, 3);
  f.accept(0);  // 2.0 - 0.06 = 1.94
  EXPECT_EQ(f.sample(l.data()), 0);
  f.accept(0);  // 2.0 - 0.12 = 1.88
  EXPECT_EQ(f.sample(l.data()), 1);

  SamplerParams pp = greedy();
  pp.presence_penalty = 0.06f;
  Sampler pr(pp, 3);
  for (int i = 0; i < 5; ++i) pr.accept(0);  // 2.0 - 0.06 whatever the count
  EXPECT_EQ(pr.sample(l.data()), 0);
  pp.presence_penalty = 0.15f;
  Sampler pr2(pp, 3);
  pr2.accept(0);  // 2.0 - 0.15 = 1.85
  EXPECT_EQ(pr2.sample(l.data()), 1);
}

TEST(Sampler, PenaltyWindowRespectsLastN) {
  const std::vector<float> l = {2.0f, 1.9f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  auto run = [&](int32_t last_n) {
    SamplerParams p = greedy();
    p.repeat_penalty = 1.2f;
    p.penalty_last_n = last_n;
    Sampler s(p, 7);
    for (Token t : {0, 5, 6}) s.accept(t);  // token 0 is 3 tokens back
    return s.sample(l.data());
  };
  EXPECT_EQ(run(2), 0);   // 0 has left the window
  EXPECT_EQ(run(3), 1);   // still inside
  EXPECT_EQ(run(64), 1);
  EXPECT_EQ(run(-1), 1);  // whole history
  EXPECT_EQ(run(0), 0);   // penalties disabled

  // The window slides: a token counts again once re-accepted, and counts only its occurrences
  // inside the window.
  SamplerParams p = greedy();
  p.frequency_penalty = 0.06f;
  p.penalty_last_n = 3;
  Sampler s(p, 7);
  for (Token t : {0, 0, 5, 6}) s.accept(t);  // window {0, 5, 6}: one 0 -> 1.94
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);  // window {5, 6, 0}
  s.accept(0);  // window {6, 0, 0}: 1.88
  EXPECT_EQ(s.sample(l.data()), 1);
  for (Token t : {4, 4, 4}) s.accept(t);  // window {4, 4, 4}
  EXPECT_EQ(s.sample(l.data()), 0);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedsDiffer) {
  const std::vector<float> l = {0.0f, 0.1f, 0.2f, 0.3f, 0.1f, 0.0f, 0.2f, 0.3f};
  SamplerParams p;  // default chain: top-k 40, top-p 0.95, min-p 0.05, temp 0.8
  p.seed = 777;
  Sampler a(p, 8), b(p, 8);
  const auto sa = sequence(a, l, 500);
  EXPECT_EQ(sa, sequence(b, l, 500));
  EXPECT_EQ(a.seed(), 777u);

  p.seed = 778;
  Sampler c(p, 8);
  EXPECT_NE(sa, sequence(c, l, 500));

  // Seeds wider than 32 bits are not truncated.
  p.seed = 777 + (1ull << 32);
  Sampler d(p, 8);
  EXPECT_NE(sa, sequence(d, l, 500));
}

TEST(Sampler, RandomSeedIsDrawnAndReportedForReproduction) {
  const std::vector<float> l = {0.0f, 0.1f, 0.2f, 0.3f, 0.1f, 0.0f, 0.2f, 0.3f};
  SamplerParams p;
  ASSERT_EQ(p.seed, Sampler::kRandomSeed);
  Sampler r(p, 8);
  EXPECT_NE(r.seed(), Sampler::kRandomSeed);
  EXPECT_EQ(r.params().seed, Sampler::kRandomSeed);
  const auto sr = sequence(r, l, 300);

  p.seed = r.seed();
  Sampler again(p, 8);
  EXPECT_EQ(sr, sequence(again, l, 300));
}

TEST(Sampler, ResetRestoresTheSequenceAndForgetsHistory) {
  const std::vector<float> l = {0.0f, 0.1f, 0.2f, 0.3f, 0.1f, 0.0f, 0.2f, 0.3f};
  SamplerParams p = plain(55);
  Sampler s(p, 8);
  const auto first = sequence(s, l, 300);
  s.reset();
  EXPECT_EQ(first, sequence(s, l, 300));

  // A randomly seeded sampler keeps its drawn seed across reset().
  SamplerParams pr = plain(Sampler::kRandomSeed);
  Sampler r(pr, 8);
  const uint64_t seed = r.seed();
  const auto rfirst = sequence(r, l, 300);
  r.reset();
  EXPECT_EQ(r.seed(), seed);
  EXPECT_EQ(rfirst, sequence(r, l, 300));

  SamplerParams pg = greedy();
  pg.repeat_penalty = 2.0f;
  Sampler g(pg, 3);
  const std::vector<float> l3 = {2.0f, 1.9f, 0.0f};
  g.accept(0);
  EXPECT_EQ(g.sample(l3.data()), 1);
  g.reset();
  EXPECT_EQ(g.sample(l3.data()), 0);
}

TEST(Sampler, NaNLogitsAreNeverPicked) {
  const std::vector<float> l = {0.0f, kNaN, 0.5f, kNaN, 0.2f};
  Sampler g(greedy(), 5);
  EXPECT_EQ(g.sample(l.data()), 2);
  for (int32_t top_k : {0, 2}) {
    SamplerParams p = plain(4);
    p.top_k = top_k;
    p.top_p = 0.99f;
    Sampler s(p, 5);
    const auto h = histogram(s, l, 3000);
    EXPECT_EQ(h[1], 0);
    EXPECT_EQ(h[3], 0);
  }
  // Nothing usable at all: still a valid token, no crash.
  const std::vector<float> all_nan(5, kNaN);
  SamplerParams p;
  p.seed = 1;
  Sampler s(p, 5);
  const Token t = s.sample(all_nan.data());
  EXPECT_GE(t, 0);
  EXPECT_LT(t, 5);
}

TEST(Sampler, InfiniteLogitsDominate) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> l = {0.0f, inf, 3.0f, -inf};
  Sampler s(plain(6), 4);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(l.data()), 1);
}

TEST(Sampler, InvalidParamsAreSanitised) {
  const auto l = logits_of({0.1, 0.2, 0.3, 0.4});
  SamplerParams p = plain(12);
  p.top_p = kNaN;
  p.min_p = kNaN;
  p.repeat_penalty = kNaN;
  p.presence_penalty = kNaN;
  p.frequency_penalty = kNaN;
  p.penalty_last_n = -5;
  Sampler s(p, 4);
  s.accept(3);
  s.accept(-1);  // ignored: out of range
  s.accept(99);
  const auto h = histogram(s, l, 20000);  // behaves as plain sampling
  EXPECT_LT(chi_square(h, {0.1, 0.2, 0.3, 0.4}), 16.27);

  p = plain(12);
  p.repeat_penalty = 0.0f;  // would divide by zero: treated as disabled
  Sampler z(p, 4);
  z.accept(3);
  EXPECT_LT(chi_square(histogram(z, l, 20000), {0.1, 0.2, 0.3, 0.4}), 16.27);

  p = plain(12);
  p.temp = std::numeric_limits<float>::infinity();  // flat distribution
  Sampler flat(p, 4);
  EXPECT_LT(chi_square(histogram(flat, l, 20000), {0.25, 0.25, 0.25, 0.25}), 16.27);

  EXPECT_THROW(Sampler(plain(), 0), std::invalid_argument);
  EXPECT_THROW(Sampler(plain(), -3), std::invalid_argument);
}

TEST(Sampler, DefaultChainOnAFullSizeVocabulary) {
  // The default chain on a Qwen-sized vocabulary only ever picks one of the 40 best logits.
  const int n = 152064;
  std::mt19937 gen(3);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> l(n);
  for (float& x : l) x = nd(gen);
  std::vector<float> sorted = l;
  std::nth_element(sorted.begin(), sorted.begin() + 39, sorted.end(), std::greater<float>());
  const float kth = sorted[39];
  SamplerParams p;
  p.seed = 10;
  Sampler s(p, n);
  for (int i = 0; i < 50; ++i) {
    const Token t = s.sample(l.data());
    ASSERT_GE(t, 0);
    ASSERT_LT(t, n);
    EXPECT_GE(l[static_cast<size_t>(t)], kth);
    s.accept(t);
  }
}


// The sampler against the reference copy of the previous implementation (ref_sampler.h): on
// many random 32k-vocabulary logit vectors (Gaussian, peaked, with ties, NaN and infinities) and parameter
// sets, with penalties fed by the picked tokens, every draw must pick the same token.
TEST(Sampler, MatchesTheReferenceImplementationOnRandomLogits) {
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    float temp;
    int32_t top_k;
    float top_p, min_p, repeat, presence, frequency;
    int32_t last_n;
  };
  const std::vector<Case> cases = {
      {0.8f, 40, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 64},   // the defaults used by generate
      {0.8f, 40, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 64},   // no penalties
      {0.0f, 40, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 64},   // greedy with penalties
      {0.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 64},      // plain greedy
      {-1.0f, 0, 1.0f, 0.0f, 1.3f, 0.5f, 0.25f, -1},    // greedy, whole-history penalties
      {1.0f, 1, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 64},      // top-k 1
      {1.0f, 5, 0.5f, 0.0f, 0.9f, 0.0f, 0.0f, 8},       // penalty < 1 raises repeated logits
      {1.5f, 100, 0.99f, 0.01f, 1.1f, 0.2f, 0.1f, 64},
      {0.7f, 2000, 0.9f, 0.0f, 1.2f, 0.0f, 0.0f, 32},   // large k
      {1.0f, 40000, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 64},  // k > n_vocab: clamped
      {1.0f, 0, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 64},    // top-k off: softmax over everything
      {1.0f, 0, 1.0f, 0.1f, 1.1f, 0.0f, 0.0f, 64},      // top-k, top-p off: unsorted min-p
      {1.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 64},      // nothing but the draw
      {0.3f, 40, 1.0f, 0.3f, 1.1f, -0.5f, 0.3f, 3},     // negative presence, tiny window
      {inf, 40, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 64},    // infinite temperature
      {1.0f, 40, 0.95f, 1.5f, 1.1f, 0.0f, 0.0f, 64},    // min-p > 1
      {1.0f, 40, kNaN, kNaN, kNaN, kNaN, kNaN, -7},     // sanitised parameters
      {0.8f, 40, 0.95f, 0.05f, 1.1f, 0.0f, 0.0f, 0},    // penalties with a zero window
  };
  int n = 32000;
  std::mt19937 gen(20261206);
  std::vector<float> l;
  // Logit vector number `v`: the shape cycles through Gaussian, peaked, tied, and non-finite.
  auto make = [&](int v) {
    std::normal_distribution<float> nd(0.0f, v % 2 ? 1.0f : 4.0f);
    for (float& x : l) x = nd(gen);
    switch (v % 5) {
      case 1:  // peaked: a few dominant tokens
        for (int j = 0; j < 5; ++j) l[gen() % n] += 20.0f;
        break;
      case 2:  // many exact ties
        for (float& x : l) x = std::round(x * 2.0f) / 2.0f;
        break;
      case 3:  // NaN, +-inf sprinkled in
        for (int j = 0; j < 50; ++j) l[gen() % n] = kNaN;
        for (int j = 0; j < 50; ++j) l[gen() % n] = -inf;
        if (v % 10 == 3) l[gen() % n] = inf;
        break;
      case 4:  // mostly NaN / -inf, fewer usable logits than top-k
        for (int j = 0; j < n; ++j)
          if (j % 1000 != 7) l[static_cast<size_t>(j)] = j % 2 ? kNaN : -inf;
        break;
      default:
        break;
    }
  };
  int draws = 0;
  // 32000 tokens for every case; an odd size (a partial last block) for the first ten.
  for (size_t run = 0; run < cases.size() + 10; ++run) {
    const size_t ci = run % cases.size();
    n = run < cases.size() ? 32000 : 50021;
    l.resize(static_cast<size_t>(n));
    const Case& c = cases[ci];
    SamplerParams p;
    p.temp = c.temp;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    p.repeat_penalty = c.repeat;
    p.presence_penalty = c.presence;
    p.frequency_penalty = c.frequency;
    p.penalty_last_n = c.last_n;
    p.seed = 1000 + ci * 77;
    Sampler s(p, n);
    RefSampler r(p, n);
    // A prompt: the penalties see repeated and out-of-range ids too.
    for (int j = 0; j < 80; ++j) {
      const Token t = j % 17 == 0 ? -1 : static_cast<Token>(gen() % 300);
      s.accept(t);
      r.accept(t);
    }
    for (int v = 0; v < 40; ++v) {
      make(v);
      // Make some penalised tokens the best ones so the penalties decide.
      if (v % 3 == 0) l[static_cast<size_t>(gen() % 300)] = 30.0f;
      for (int rep = 0; rep < 2; ++rep) {
        const Token got = s.sample(l.data());
        const Token want = r.sample(l.data());
        ASSERT_EQ(got, want) << "case " << ci << ", n_vocab " << n << ", logits " << v << ", draw " << rep;
        ++draws;
        s.accept(got);
        r.accept(want);
      }
      if (v == 25) {
        s.reset();
        r.reset();
      }
    }
  }
  // Small vocabularies: k clamped to n, fewer candidates than the heap, a single token.
  for (int nv : {1, 2, 7, 64}) {
    for (int32_t k : {0, 1, 3, 40}) {
      SamplerParams p;
      p.top_k = k;
      p.repeat_penalty = 1.1f;
      p.seed = 5 + static_cast<uint64_t>(nv * 100 + k);
      Sampler s(p, nv);
      RefSampler r(p, nv);
      std::vector<float> sl(static_cast<size_t>(nv));
      std::normal_distribution<float> nd(0.0f, 2.0f);
      for (int v = 0; v < 30; ++v) {
        for (float& x : sl) x = v % 4 == 0 ? std::round(nd(gen)) : nd(gen);
        const Token got = s.sample(sl.data());
        ASSERT_EQ(got, r.sample(sl.data())) << "n_vocab " << nv << ", k " << k << ", logits " << v;
        ++draws;
        s.accept(got);
        r.accept(got);
      }
    }
  }
  std::printf("[   INFO   ] %d draws identical to the reference\n", draws);
}

}  // namespace
}  // namespace nnb
