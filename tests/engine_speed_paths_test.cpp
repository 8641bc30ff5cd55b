// The speed paths of the engine agree with the plain ones, on generated models (no fixtures):
// batched prompts (GEMM kernels) against token-by-token decoding (per-row kernels) for every
// weight type, across thread counts and with rows outside full GEMM panels; generation
// allocates nothing per token; the thread pool covers every index exactly once, also with
// several pools busy at once on more threads than cores.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>

#include "engine/context.h"
#include "engine/model_gen.h"
#include "engine/threadpool.h"
#include "test_util.h"

// Counts C++ allocations (while g_counting is set) to check the per-token path.
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

// Logits of every position: all at once (batched) vs one token at a time.
void check_batch_vs_incremental(const Model& model, int n, int threads, double tol) {
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
  EXPECT_LE(worst, tol) << type_name(model.layers()[0].wq.type) << " threads " << threads << " n " << n;
  std::printf("[ %-6s ] threads %d: batched vs token by token, max |d| / (1 + max |logit|) %.3g\n",
              std::string(type_name(model.layers()[0].wq.type)).c_str(), threads, worst);
}

// The paths differ only in the order of float additions (GEMM vs dot kernels, blocks of
// queries vs one in the attention), but now and then that moves an activation across a
// rounding boundary of the next product's activation format, and the flipped value travels
// on: one Q8 step is ~1/127 of a block's largest value, one F16 step 2^-11 of the value. The
// bounds leave room for a few such flips; a wrong kernel is off by O(1) (and
// vec_dot_gemm_test checks each kernel tightly).
TEST(EngineSpeedPaths, BatchedPromptsMatchTokenByToken) {
  const double q = 2e-2;
  const std::pair<GgmlType, double> cases[] = {
      {GgmlType::F32, 1e-5}, {GgmlType::F16, 2e-3}, {GgmlType::BF16, 1e-2}, {GgmlType::Q8_0, q},
      {GgmlType::Q4_0, q},   {GgmlType::Q5_0, q},   {GgmlType::IQ4_NL, q},  {GgmlType::Q4_K, q},
      {GgmlType::Q5_K, q},   {GgmlType::Q6_K, q},   {GgmlType::Q2_K, q},    {GgmlType::Q4_1, q}};
  for (auto [type, tol] : cases) {
    auto model = Model::load(make_model(std::string(type_name(type)), type));
    for (int threads : {1, 3}) check_batch_vs_incremental(*model, 21, threads, tol);
  }
}

// Matrices that end with a partial 16-row panel (those rows go through the dot kernels):
// n_ff = 264 (F32), a vocabulary of 520 (the output matrix of a Q8_0 model).
TEST(EngineSpeedPaths, PartialPanels) {
  auto f32 = Model::load(make_model("partial_f32", GgmlType::F32, 256, 264));
  check_batch_vs_incremental(*f32, 9, 2, 1e-5);
  auto q8 = Model::load(make_model("partial_q8", GgmlType::Q8_0, 256, 512, 520));
  check_batch_vs_incremental(*q8, 9, 2, 2e-2);
}

TEST(EngineSpeedPaths, GenerationAllocatesNothingPerToken) {
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
