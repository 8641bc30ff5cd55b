// The speed paths of the engine agree with the plain ones, on generated models (no fixtures):
// batched prompts (GEMM kernels) against token-by-token decoding (per-row kernels) for every
// weight type, across thread counts and with rows outside full GEMM panels; generation
// allocates nothing per token; the thread pool covers every index exactly once, also with
// several pools busy at once on more threads than cores.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "engine/runtime/context.h"
#include "engine/model/model_gen.h"
#include "engine/cpu/matvec_weights.h"
#include "engine/cpu/row_prefetch.h"
#include "engine/cpu/threadpool.h"
#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_gemm.h"
#include "test_util.h"

// Counts C++ allocations (while g_counting is set) to check the per-token path. GCC takes the
// free() in these replacements, once inlined after a `new`, for a mismatched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace nnb {
namespace {

std::filesystem::path make_model(const std::string& name, GgmlType type, int32_t n_embd = 256, int32_t n_ff = 512,
                                 int32_t n_vocab = 512) {
  const auto dir = test::scratch_dir("engine_speed_paths_" + name);
  ModelSpec spec;
  spec.n_embd = n_embd;
  spec.n_ff = n_ff;
  spec.n_head = 8;
  spec.n_vocab = n_vocab;
  spec.n_head_kv = 2;
  spec.n_layer = 2;
  spec.type = type;
  spec.output_type = type;
  spec.seed = 9;
  const auto p = dir / (name + ".gguf");
  write_model(spec, p);
  return p;
}

std::vector<Token> tokens(const Model& m, int n) {
  std::vector<Token> t;
  for (int i = 0; i < n; ++i) t.push_back(Token(1 + (i * 53) % (m.hparams().n_vocab - 1)));
  return t;
}

// Logits of every position: all at once (batched) vs one token at a time, as
// max |d| / (1 + max |logit|); returns the worst.
double batch_vs_incremental(const Model& model, int n, int threads) {
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = threads;
  Context batch(model, cp), inc(model, cp);
  const auto toks = tokens(model, n);
  batch.decode(toks, /*all_logits=*/true);
  const int V = model.hparams().n_vocab;
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    inc.decode(std::span<const Token>(&toks[size_t(i)], 1));
    const float* a = batch.logits_at(i);
    const float* b = inc.logits();
    double scale = 0;
    for (int v = 0; v < V; ++v) scale = std::max(scale, double(std::abs(b[v])));
    for (int v = 0; v < V; ++v) worst = std::max(worst, std::abs(double(a[v]) - b[v]) / (1.0 + scale));
  }
  return worst;
}

// What the batched path is on this process's ISA: GEMM kernels against the per-row kernels
// of token-by-token decoding, or (no GEMM kernel for the type on this ISA) the same per-row
// kernels, where only the batched attention and row loops differ.
const char* batched_path(GgmlType t) {
  return gemm_kernel(t) ? "GEMM vs per-row" : "batched per-row vs per-row";
}

// Bound: 4x the worst measured of the two kinds of path (Xeon dev machine, threads 1 and 3,
// 21 tokens; GEMM measured on AVX-512, per-row on AVX2, scalar and the AVX-512 types without a
// GEMM kernel), at least 1e-6 (a few f32 ulps of the largest logit: room for a changed order
// of additions that moves no rounding of the activations). The paths differ only in the order
// of float additions, but now and then that moves an activation across a rounding boundary of
// the next product's activation format and the flipped value travels on (one Q8 step is ~1/127
// of a block's largest value, one F16 step 2^-11): F16 and Q2_K carry such flips.
// Q5_K on AVX2 (16-row panels on both paths, so its products agree bit for bit) is such a case:
// the batched attention's other order of additions at position 16, the first with two blocks of
// keys, moves one Q8_K rounding of the next activation (positions 0-15 equal, 16 off by 2.9e-3,
// 17 by 3.5e-3, 20 by 3e-5); the same model on AVX-512 agrees exactly.
struct SpeedCase {
  GgmlType type;
  double gemm, per_row;  // measured worst
  double avx2_flip = 0;  // measured worst on AVX2 where a rounding flips there (else 0)
};
const SpeedCase kSpeedCases[] = {
    {GgmlType::F32, 7.0e-7, 2.4e-7},  {GgmlType::F16, 1.4e-4, 8.2e-5}, {GgmlType::BF16, 4.3e-7, 0},
    {GgmlType::Q8_0, 1.6e-7, 0},      {GgmlType::Q4_0, 1.7e-7, 0},     {GgmlType::Q5_0, 1.7e-7, 0},
    {GgmlType::IQ4_NL, 2.3e-7, 0},    {GgmlType::Q4_K, 3.9e-7, 0},     {GgmlType::Q5_K, 4.7e-7, 2.1e-7, 3.6e-3},
    {GgmlType::Q6_K, 1.7e-6, 1.8e-6}, {GgmlType::Q2_K, 0, 2.7e-3},     {GgmlType::Q4_1, 0, 0},
};

double speed_bound(const SpeedCase& c) {
  const double measured = active_isa() == Isa::Avx2 && c.avx2_flip > 0 ? c.avx2_flip
                          : gemm_kernel(c.type)                          ? c.gemm
                                                                         : c.per_row;
  return std::max(4 * measured, 1e-6);
}

TEST(EngineSpeedPaths, BatchedPromptsMatchTokenByToken) {
  NNB_FORCED_ISA_OR_SKIP();
  for (const auto& c : kSpeedCases) {
    auto model = Model::load(make_model(std::string(type_name(c.type)), c.type));
    for (int threads : {1, 3}) {
      const double worst = batch_vs_incremental(*model, 21, threads);
      EXPECT_LE(worst, speed_bound(c)) << type_name(c.type) << " threads " << threads << ": " << batched_path(c.type);
      std::printf("[ %-6s %s ] threads %d, %s: max |d| / (1 + max |logit|) %.3g (bound %.3g)\n",
                  std::string(type_name(c.type)).c_str(), isa_name(active_isa()), threads, batched_path(c.type),
                  worst, speed_bound(c));
    }
  }
}

// Matrices that end with a partial 16-row panel (those rows go through the dot kernels):
// n_ff = 264 (F32), a vocabulary of 520 (the output matrix of a Q8_0 and of a Q4_K model). Measured 6.7e-7
// (F32) and 1.6e-7 (Q8_0) on AVX-512, <= 1.6e-7 elsewhere; bounds as above.
TEST(EngineSpeedPaths, PartialPanels) {
  NNB_FORCED_ISA_OR_SKIP();
  auto f32 = Model::load(make_model("partial_f32", GgmlType::F32, 256, 264));
  const double a = batch_vs_incremental(*f32, 9, 2);
  EXPECT_LE(a, std::max(4 * 6.7e-7, 1e-6));
  auto q8 = Model::load(make_model("partial_q8", GgmlType::Q8_0, 256, 512, 520));
  const double b = batch_vs_incremental(*q8, 9, 2);
  EXPECT_LE(b, std::max(4 * 1.6e-7, 1e-6));
  // Q4_K: on AVX-512 its mat-vec copy interleaves 16 rows a panel (vec_dot_packed.h); the output
  // matrix's 520 rows are not whole panels, so it keeps the stored layout (and kernel) while the
  // layers' matrices take panels; the batch (9 tokens, below the GEMM threshold) goes through the
  // panels' small-batch kernel. Measured 4.2e-7 on AVX-512 (the prompt's attention in blocks of
  // queries: each token's panel products are the bits of its one-token step), 0 elsewhere.
  auto q4k = Model::load(make_model("partial_q4k", GgmlType::Q4_K, 256, 512, 520));
  const double c = batch_vs_incremental(*q4k, 9, 2);
  EXPECT_LE(c, 4 * 4.2e-7);
  std::printf("[ partial panels %s ] F32 %.3g (bound %.3g), Q8_0 %.3g (bound %.3g), Q4_K %.3g (bound %.3g)\n",
              isa_name(active_isa()), a, std::max(4 * 6.7e-7, 1e-6), b, std::max(4 * 1.6e-7, 1e-6), c, 4 * 4.2e-7);
}

// Mat-vec copies (matvec_weights.h): one per model, shared by its contexts; verbatim copies are
// the stored bytes and give the same logits as reading the file in place (NNB_REPACK=0), packed
// ones agree within the kernels' rounding (vec_dot_test bounds them per row).
TEST(EngineSpeedPaths, MatvecCopiesAreSharedAndAgreeWithTheStoredWeights) {
  NNB_FORCED_ISA_OR_SKIP();
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::F16, GgmlType::Q4_K, GgmlType::Q4_0}) {
    SCOPED_TRACE(type_name(t));
    auto model = Model::load(make_model(std::string("copies_") + std::string(type_name(t)), t));
    auto logits_of = [&](const char* repack) {
      ::setenv("NNB_REPACK", repack, 1);
      ContextParams cp;
      cp.n_ctx = 64;
      cp.n_threads = 2;
      Context ctx(*model, cp);
      std::vector<float> all;
      for (Token tok : tokens(*model, 6)) {
        ctx.decode(std::span<const Token>(&tok, 1));
        all.insert(all.end(), ctx.logits(), ctx.logits() + model->hparams().n_vocab);
      }
      ::unsetenv("NNB_REPACK");
      return all;
    };
    const auto in_place = logits_of("0"), copied = logits_of("1");
    auto w = MatvecWeights::for_model(*model);
    ASSERT_NE(w, nullptr) << "a small model's copies fit in memory";
    EXPECT_EQ(w, MatvecWeights::for_model(*model)) << "one copy per model";
    // A CPU device behind a GPU's layers copies only its own (and the output).
    auto tail = MatvecWeights::for_model(*model, 1);
    ASSERT_NE(tail, nullptr);
    EXPECT_NE(tail, w);
    EXPECT_EQ(tail->find(model->layers()[0].wq), nullptr);
    EXPECT_NE(tail->find(model->layers()[1].wq), nullptr);
    EXPECT_NE(tail->find(model->output()), nullptr);
    const Matrix& wq = model->layers()[0].wq;
    const MatvecWeights::View* v = w->find(wq);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->format, packed_format(t));
    if (!v->format) {
      EXPECT_EQ(std::memcmp(v->data, wq.data, wq.row_bytes * size_t(wq.ne1)), 0) << "a verbatim copy";
      EXPECT_EQ(copied, in_place) << "the same kernel over the same bytes";
    } else {
      double scale = 0, worst = 0;
      for (float x : in_place) scale = std::max(scale, double(std::abs(x)));
      for (size_t i = 0; i < in_place.size(); ++i) worst = std::max(worst, std::abs(double(copied[i]) - in_place[i]));
      EXPECT_LE(worst / (1 + scale), 1e-5) << "packed vs stored layout";
    }
  }
}

// Row prefetch (row_prefetch.h) moves no result: with NNB_PREFETCH=8192 every one-token and
// small-batch product gives the same logits, bit for bit, as with it off, through each kind of
// row stream (packed panels, verbatim F16); "auto" measures (the logits are
// the same again, whatever it chose), and an unreadable setting is measured as "auto".
TEST(EngineSpeedPaths, RowPrefetchChangesNoResult) {
  NNB_FORCED_ISA_OR_SKIP();
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16}) {
    SCOPED_TRACE(type_name(t));
    auto model = Model::load(make_model(std::string("prefetch_") + std::string(type_name(t)), t));
    const int V = model->hparams().n_vocab;
    auto run = [&](const char* setting, const char* described) {
      ::setenv("NNB_PREFETCH", setting, 1);
      ContextParams cp;
      cp.n_ctx = 64;
      cp.n_threads = 2;
      Context ctx(*model, cp);
      ::unsetenv("NNB_PREFETCH");
      const auto toks = tokens(*model, 30);
      std::vector<float> all;
      // One token a step (a panel kernel / the one-row kernel), past the tuner's skipped and paired steps.
      const size_t steps = PrefetchTuner::kSkip + 2 * PrefetchTuner::kPairs + 2;
      for (size_t i = 0; i < steps; ++i) {
        ctx.decode(std::span<const Token>(&toks[i], 1));
        all.insert(all.end(), ctx.logits(), ctx.logits() + V);
      }
      ctx.decode(std::span<const Token>(&toks[steps], 4), /*all_logits=*/true);  // a small batch
      for (int i = 0; i < 4; ++i) all.insert(all.end(), ctx.logits_at(i), ctx.logits_at(i) + V);
      const std::string d = ctx.device().describe();
      if (described) {
        EXPECT_NE(d.find(described), std::string::npos) << d;
      }
      EXPECT_EQ(d.find("being measured"), std::string::npos) << "decided after the paired steps: " << d;
      return all;
    };
    const auto off = run("0", nullptr), on = run("8192", "rows prefetched 8192 B ahead");
    EXPECT_EQ(on, off) << "prefetching changes no result";
    EXPECT_EQ(run("auto", nullptr), off);
    EXPECT_EQ(run("8 KiB", nullptr), off);  // not understood: named on stderr, measured
  }
}

// The tuner's choice from given step times: kept when the steps with it are faster or within
// 2 %, dropped when they are slower; a fixed setting is never timed.
TEST(EngineSpeedPaths, PrefetchTunerKeepsTheFasterSetting) {
  auto tune = [](double with, double without) {
    PrefetchTuner t(-1);
    for (int step = 0; !t.decided(); ++step) {
      EXPECT_LT(step, 100) << "decides within its steps";
      if (step >= 100) break;
      t.step_begins();
      if (t.timing()) t.add(t.ahead() ? with : without);
    }
    return t.ahead();
  };
  EXPECT_EQ(tune(1.0, 1.3), kRowPrefetchBytes);
  EXPECT_EQ(tune(1.01, 1.0), kRowPrefetchBytes);  // even: the prefetch stays
  EXPECT_EQ(tune(1.2, 1.0), 0u);
  PrefetchTuner fixed(4096);
  EXPECT_TRUE(fixed.decided());
  fixed.step_begins();
  EXPECT_FALSE(fixed.timing());
  EXPECT_EQ(fixed.ahead(), 4096u);
}

TEST(EngineSpeedPaths, GenerationAllocatesNothingPerToken) {
  NNB_FORCED_ISA_OR_SKIP();
  auto model = Model::load(make_model("alloc", GgmlType::Q4_K));
  for (int threads : {1, 2}) {
    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = threads;
    Context ctx(*model, cp);
    const auto toks = tokens(*model, 24);
    ctx.decode(std::span<const Token>(toks.data(), 8));  // prompt (and first-use buffers)
    ctx.decode(std::span<const Token>(&toks[8], 1));
    g_allocs = 0;
    g_counting = true;
    for (int i = 9; i < 24; ++i) ctx.decode(std::span<const Token>(&toks[size_t(i)], 1));
    g_counting = false;
    EXPECT_EQ(g_allocs.load(), 0) << "threads " << threads;
  }
}

TEST(EngineSpeedPaths, ThreadPoolCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 15, 16, 17, 100, 1000, 4097}) {
      for (int64_t grain : {1, 16, 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> bad_tid{0};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int tid) {
          if (tid < 0 || tid >= threads) bad_tid = 1;
          for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n " << n << " i " << i;
        EXPECT_EQ(bad_tid.load(), 0);
      }
    }
  }
}

// Several pools, more threads than cores, thousands of tiny jobs each: every job completes
// (no lost wake-up, no deadlock) and the sums are right.
TEST(EngineSpeedPaths, ThreadPoolsOversubscribed) {
  const int n_pools = 4;
  std::vector<std::thread> th;
  std::atomic<int64_t> total{0};
  for (int p = 0; p < n_pools; ++p) {
    th.emplace_back([&] {
      ThreadPool pool(3);
      for (int it = 0; it < 2000; ++it) {
        std::atomic<int64_t> s{0};
        pool.parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) s += i;
        });
        total += s.load();
      }
    });
  }
  for (auto& t : th) t.join();
  EXPECT_EQ(total.load(), int64_t(n_pools) * 2000 * (63 * 64 / 2));
}

// Two pools used in turn from one thread: each job starts while the other pool's workers are
// still finishing or going to sleep, and workers often arrive after their job is over (the
// case where a late worker must not claim a chunk of the next job with stale fields).
TEST(EngineSpeedPaths, ThreadPoolLateWorkers) {
  ThreadPool a(3), b(3);
  for (int64_t it = 0; it < 200000; ++it) {
    ThreadPool& p = (it / 7) % 2 ? a : b;
    const int64_t n = 1 + (it * 37) % 200;
    std::atomic<int64_t> s{0};
    p.parallel_for(n, 1 + it % 5, [&](int64_t lo, int64_t hi, int) {
      for (int64_t i = lo; i < hi; ++i) s += i;
    });
    ASSERT_EQ(s.load(), n * (n - 1) / 2) << "job " << it;
  }
}

}  // namespace
}  // namespace nnb
