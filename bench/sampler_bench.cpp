// Cost of one Sampler::sample() call at a real vocabulary size, the new sampler against a copy of
// the previous implementation (full-vocabulary candidate copy + nth_element top-k; the same copy
// that tests/sampler_test.cpp checks the new one against, token for token).
//
// sample/<impl>/<params>/<n_vocab>: impl = new | old; params = greedy (temp 0) or default (temp
// 0.8, top-k 40, top-p 0.95, min-p 0.05); both with repeat penalty 1.1 over the last 64 tokens,
// the window full. Each iteration samples from one of 8 fixed Gaussian logit vectors (sd 3) and
// accepts the token, as generation does. Run: build/bench/sampler_bench (filter with
// --benchmark_filter, e.g. 'default/32000').
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/runtime/sampler.h"
#include "ref_sampler.h"

namespace {

using nnb::SamplerParams;
using nnb::Token;

using nnb::reference::RefSampler;

SamplerParams params(bool greedy) {
  SamplerParams p;  // temp 0.8, top-k 40, top-p 0.95, min-p 0.05
  if (greedy) p.temp = 0.0f;
  p.repeat_penalty = 1.1f;
  p.penalty_last_n = 64;
  p.seed = 42;
  return p;
}

template <class S>
void bm_sample(benchmark::State& state, bool greedy) {
  const auto n = static_cast<int32_t>(state.range(0));
  constexpr int kVectors = 8;
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<std::vector<float>> logits(kVectors, std::vector<float>(static_cast<size_t>(n)));
  for (auto& v : logits)
    for (float& x : v) x = nd(gen);
  S s(params(greedy), n);
  for (int i = 0; i < 64; ++i) s.accept(static_cast<Token>(gen() % static_cast<uint32_t>(n)));
  size_t i = 0;
  for (auto _ : state) {
    const Token t = s.sample(logits[i++ % kVectors].data());
    benchmark::DoNotOptimize(t);
    s.accept(t);
  }
}

void args(benchmark::internal::Benchmark* b) { b->Arg(32000)->Arg(128256)->Unit(benchmark::kMicrosecond); }

void new_greedy(benchmark::State& st) { bm_sample<nnb::Sampler>(st, true); }
void old_greedy(benchmark::State& st) { bm_sample<RefSampler>(st, true); }
void new_default(benchmark::State& st) { bm_sample<nnb::Sampler>(st, false); }
void old_default(benchmark::State& st) { bm_sample<RefSampler>(st, false); }
BENCHMARK(new_greedy)->Name("sample/new/greedy")->Apply(args);
BENCHMARK(old_greedy)->Name("sample/old/greedy")->Apply(args);
BENCHMARK(new_default)->Name("sample/new/default")->Apply(args);
BENCHMARK(old_default)->Name("sample/old/default")->Apply(args);

}  // namespace

BENCHMARK_MAIN();
