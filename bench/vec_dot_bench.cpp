// Mat-vec throughput of the dot-product kernels: one activation row (quantized once to the
// vec_dot type) against every row of a weight matrix, single thread, reported as GB/s of weight
// bytes streamed (the quantity that bounds token generation).
//
// One benchmark per (type, ISA, rows): rows = 4096 (n = 4096, the usual hidden size; 9-64 MB,
// mostly L3 / memory) and rows = 256 (the same row length, L2-resident, showing the kernel's
// own speed). matvec_batch/<type>/<isa>/rows:R/tokens:N: the packed (panel) kernels for N
// tokens at once (batched serving; the K-quants: their 16-row panels). Filter with
// --benchmark_filter, e.g. 'q4_0/avx512'. Also quantize_act/<type>: the
// activation quantizers (Q8_0, Q8_1, Q8_K) over 1M values. matvec_dram/<type>/K:<K>: one
// thread streaming 512 MiB of rows from memory on the active ISA, without and with the row
// prefetch (/prefetch; see mat_vec_dram);
// matvec_dram_batch/<type>/K:<K>/tokens:N[/prefetch] the same through the panel kernels
// (the device's stream_rows_batch); vnni_peak
// the core's dpbusd rate, the ceiling of the int8 kernels' arithmetic. gemm/<type>/<isa>: the
// prompt-processing kernels (vec_dot_gemm.h) as the engine runs them: 16 panels of K = 1024
// packed and each run against 512 prepared activation rows (L2-resident); items/s counts
// weight-row x token products, so the AVX2 / AVX-512 ratio of a type reads off directly.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "engine/quant/quants.h"
#include "engine/cpu/row_prefetch.h"
#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_gemm.h"
#include "engine/cpu/vec_dot_packed.h"

namespace {

using nnb::GgmlType;

constexpr int64_t kN = 4096;

// Small deterministic generator: the content only has to avoid NaN / inf / subnormals.
struct Lcg {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(s >> 33);
  }
  float uniform() { return float(next()) / 2147483648.0f - 1.0f; }  // [-1, 1)
};

// rows x K weights of type t: float types from random values, block types from random bytes
// with every block's fp16 scale fields overwritten by a small finite value.
std::vector<uint8_t> make_weights(GgmlType t, int64_t rows, Lcg& rng, int64_t K = kN) {
  const size_t row_bytes = nnb::row_size(t, K);
  std::vector<uint8_t> w(row_bytes * size_t(rows));
  const auto& tr = nnb::traits(t);
  if (tr.block_size == 1) {
    std::vector<float> f(static_cast<size_t>(K));
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : f) v = rng.uniform();
      nnb::quantize_row(t, f.data(), w.data() + size_t(r) * row_bytes, K);
    }
    return w;
  }
  for (auto& b : w) b = uint8_t(rng.next());
  // Every block format here keeps its fp16 scales in the first four bytes (d, m / dmin) or the
  // last four (Q2_K: d, dmin; Q3_K / Q6_K: d); a sane fp16 in all four slots leaves no NaN/inf
  // scale (the other bytes written are quant codes, any value of which is valid).
  const uint16_t half = nnb::fp32_to_fp16(0.01f);
  for (size_t off = 0; off < w.size(); off += tr.type_size) {
    std::memcpy(&w[off], &half, 2);
    std::memcpy(&w[off + 2], &half, 2);
    std::memcpy(&w[off + tr.type_size - 4], &half, 2);
    std::memcpy(&w[off + tr.type_size - 2], &half, 2);
  }
  return w;
}

void mat_vec(benchmark::State& state, GgmlType t, nnb::Isa isa, int64_t rows) {
  const nnb::DotKernel* k = nnb::dot_kernel_for(t, isa);
  if (!k) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  Lcg rng;
  const std::vector<uint8_t> w = make_weights(t, rows, rng);
  std::vector<float> a(kN);
  for (auto& v : a) v = rng.uniform();
  std::vector<uint8_t> y(nnb::row_size(k->vec_dot_type, kN));
  nnb::quantize_row(k->vec_dot_type, a.data(), y.data(), kN);
  std::vector<float> out(static_cast<size_t>(rows));
  const size_t row_bytes = nnb::row_size(t, kN);

  for (auto _ : state) {
    for (int64_t r = 0; r < rows; ++r) k->vec_dot(kN, &out[size_t(r)], w.data() + size_t(r) * row_bytes, y.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}

// A packed format (vec_dot_packed.h) over the same weights, bytes counted as stored.
void mat_vec_packed(benchmark::State& state, GgmlType t, nnb::Isa isa, int64_t rows) {
  const nnb::PackedFormat* f = nnb::packed_format_for(t, isa);
  if (!f) {
    state.SkipWithError("no packed kernel of this type on this ISA");
    return;
  }
  Lcg rng;
  const std::vector<uint8_t> w = make_weights(t, rows, rng);
  const size_t prb = f->row_bytes(kN);
  std::vector<uint8_t> packed(prb * size_t(rows));
  f->pack_rows(w.data(), nnb::row_size(t, kN), kN, 0, rows, packed.data());
  std::vector<float> a(kN);
  for (auto& v : a) v = rng.uniform();
  std::vector<uint8_t> act(f->act_row_bytes(kN));
  f->prepare(a.data(), kN, act.data());
  std::vector<float> out(static_cast<size_t>(rows));
  for (auto _ : state) {
    f->dot_rows(kN, out.data(), packed.data(), prb, rows, act.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}

// A small batch (batched serving: one token of each of n clients) through a packed format's
// panel kernel, as the CPU device runs it. Bytes are the weights' (read once per batch); one
// token goes through dot_rows; items are row-token products, so items/s compares batch sizes.
// Rows of 1024 (the bench model's embedding): n tokens' activations stay in L1 as in the engine.
constexpr int64_t kBatchK = 1024;

// n random activation rows of length K in f's packed activation layout, arb bytes apart.
std::vector<uint8_t> packed_activations(const nnb::PackedFormat* f, int64_t K, int n, Lcg& rng) {
  const size_t arb = f->act_row_bytes(K);
  std::vector<float> a(static_cast<size_t>(K));
  std::vector<uint8_t> act(arb * size_t(n));
  for (int i = 0; i < n; ++i) {
    for (auto& v : a) v = rng.uniform();
    f->prepare(a.data(), K, act.data() + size_t(i) * arb);
  }
  return act;
}

// out[i * rows + r] = row r . activation i for every row and all n tokens, through the CPU
// device's stream_rows_batch (each panel once, all n tokens), 16 rows a call as the device's
// threads take them.
void batch_all(const nnb::PackedFormat* f, int64_t K, const uint8_t* packed, int64_t rows, const uint8_t* act, int n,
               float* out, size_t ahead = 0) {
  const nnb::RowStream s{f, nullptr, K, packed, f->row_bytes(K), rows};
  for (int64_t r = 0; r < rows; r += 16)
    nnb::stream_rows_batch(s, r, std::min<int64_t>(r + 16, rows), out + r, size_t(rows), act, f->act_row_bytes(K), n,
                           ahead);
}

void mat_vec_packed_batch(benchmark::State& state, GgmlType t, nnb::Isa isa, int64_t rows, int n) {
  const nnb::PackedFormat* f = nnb::packed_format_for(t, isa);
  if (!f) {
    state.SkipWithError("no packed kernel of this type on this ISA");
    return;
  }
  Lcg rng;
  const std::vector<uint8_t> w = make_weights(t, rows, rng, kBatchK);
  const size_t prb = f->row_bytes(kBatchK);
  std::vector<uint8_t> packed(prb * size_t(rows));
  f->pack_rows(w.data(), nnb::row_size(t, kBatchK), kBatchK, 0, rows, packed.data());
  const std::vector<uint8_t> act = packed_activations(f, kBatchK, n, rng);
  std::vector<float> out(static_cast<size_t>(rows) * size_t(n));
  for (auto _ : state) {
    if (n == 1) f->dot_rows(kBatchK, out.data(), packed.data(), prb, rows, act.data());
    else batch_all(f, kBatchK, packed.data(), rows, act.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
  state.SetItemsProcessed(int64_t(state.iterations()) * rows * n);
}

// From memory, the way generation reads (matvec_dram/<type>/K:<K>[/prefetch]): 512 MiB of rows
// of length K in transparent huge pages (as MatvecWeights holds them), one thread, through the
// CPU device's stream_rows 16 rows at a time (the panel kernel where the active ISA has a packed
// format, else the one-row kernel), without or with the row prefetch
// (row_prefetch.h, kRowPrefetchBytes ahead); GB/s of stored weight bytes, to set beside
// `nnbridge bench --membw`'s probe. The rows are one quantized row repeated (the content does
// not change the kernels' work).
class HugeBuffer {
 public:
  explicit HugeBuffer(size_t n) : n_(n) {
    p_ = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p_ == MAP_FAILED) throw std::bad_alloc();
    ::madvise(p_, n, MADV_HUGEPAGE);
  }
  ~HugeBuffer() { ::munmap(p_, n_); }
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }

 private:
  void* p_;
  size_t n_;
};

void mat_vec_dram(benchmark::State& state, GgmlType t, int64_t K, size_t ahead) {
  const nnb::DotKernel* k = nnb::dot_kernel(t);
  if (!k) {
    state.SkipWithError("no kernel for this type");
    return;
  }
  Lcg rng;
  const size_t rb = nnb::row_size(t, K);
  int64_t rows = int64_t((size_t(512) << 20) / rb);
  const std::vector<uint8_t> one = make_weights(t, 1, rng, K);
  HugeBuffer w(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) std::memcpy(w.data() + size_t(r) * rb, one.data(), rb);
  std::vector<float> a(static_cast<size_t>(K));
  for (auto& v : a) v = rng.uniform();
  std::vector<float> out(static_cast<size_t>(rows));
  const nnb::PackedFormat* f = nnb::packed_format(t);
  const size_t prb = f ? f->row_bytes(K) : rb;
  rows = rows / 16 * 16;  // whole panels
  HugeBuffer packed(f ? prb * size_t(rows) : 64);
  std::vector<uint8_t> act;
  if (f) {
    f->pack_rows(w.data(), rb, K, 0, rows, packed.data());
    act.resize(f->act_row_bytes(K));
    f->prepare(a.data(), K, act.data());
  } else {
    act.resize(nnb::row_size(k->vec_dot_type, K));
    nnb::quantize_row_activation(k->vec_dot_type, a.data(), act.data(), K);
  }
  const nnb::RowStream s{f, f ? nullptr : k->vec_dot, K, f ? packed.data() : w.data(), prb, rows};
  for (auto _ : state) {
    for (int64_t r = 0; r < rows; r += 16)
      nnb::stream_rows(s, r, std::min<int64_t>(r + 16, rows), out.data() + r, act.data(), ahead);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(f ? "packed" : "stored layout");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rb) * rows);
}

// The same for a small batch (matvec_dram_batch/<type>/K:<K>/tokens:N): N activation rows
// against every row streamed from memory, through the CPU device's stream_rows_batch as it runs a
// batching server's steps (each row or panel once, all N tokens), without and with the row
// prefetch. Besides GB/s: items are row-token products, comparable with matvec_batch's
// L2-resident figures.
void mat_vec_dram_batch(benchmark::State& state, GgmlType t, int64_t K, int n, size_t ahead) {
  const nnb::PackedFormat* f = nnb::packed_format(t);
  if (!f) {
    state.SkipWithError("no packed kernel of this type on this CPU");
    return;
  }
  Lcg rng;
  const size_t rb = nnb::row_size(t, K), prb = f->row_bytes(K);
  const int64_t rows = int64_t((size_t(512) << 20) / prb) / 16 * 16;
  // 16 random rows (a panel), repeated.
  const std::vector<uint8_t> some = make_weights(t, 16, rng, K);
  std::vector<uint8_t> packed_some(prb * 16);
  f->pack_rows(some.data(), rb, K, 0, 16, packed_some.data());
  HugeBuffer packed(prb * size_t(rows));
  for (int64_t r = 0; r < rows; r += 16) std::memcpy(packed.data() + size_t(r) * prb, packed_some.data(), prb * 16);
  const std::vector<uint8_t> act = packed_activations(f, K, n, rng);
  std::vector<float> out(static_cast<size_t>(rows) * size_t(n));
  for (auto _ : state) {
    batch_all(f, K, packed.data(), rows, act.data(), n, out.data(), ahead);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rb) * rows);
  state.SetItemsProcessed(int64_t(state.iterations()) * rows * n);
}

// The ceiling the matvec_dram figures compare with: a streaming sum over the same 512 MiB of
// huge pages, eight accumulators, without or with a prefetch of the line kRowPrefetchBytes
// ahead (as `nnbridge bench --membw`'s probe, which keeps the better of the two; one thread).
void dram_probe(benchmark::State& state, bool prefetch) {
  const size_t bytes = size_t(512) << 20, n = bytes / sizeof(uint64_t);
  HugeBuffer buf(bytes);
  auto* words = reinterpret_cast<uint64_t*>(buf.data());
  for (size_t i = 0; i < n; ++i) words[i] = i;
  constexpr size_t ahead = nnb::kRowPrefetchBytes / sizeof(uint64_t);
  for (auto _ : state) {
    uint64_t a[8] = {};
    for (size_t i = 0; i < n; i += 8) {
      if (prefetch) __builtin_prefetch(words + i + ahead, 0, 3);
      for (int k = 0; k < 8; ++k) a[k] += words[i + size_t(k)];
    }
    for (uint64_t& x : a) benchmark::DoNotOptimize(x);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

#if defined(__x86_64__) && defined(__GNUC__)
// The core's int8 multiply-add peak (vnni_peak): 12 independent chains of AVX-512 VNNI dpbusd
// (64 u8 x s8 products each), items = dpbusd per second. A packed group of 1024 weights costs one
// token 16 of them, so 16 x a matvec_batch / matvec_dram_batch figure's items (x K / 1024) over
// this one is the share of the peak that kernel reaches: what small batches (a batching server's
// steps) can gain from the kernels at all, on this core.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_peak_avx512(benchmark::State& state) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  constexpr int64_t kIters = 1 << 16;
  for (auto _ : state) {
    for (int64_t k = 0; k < kIters; ++k) {
      for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      __asm__ volatile("" : "+v"(a), "+v"(b));  // one iteration's operands are not the next's constants
    }
  }
  __m512i sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(int64_t(state.iterations()) * kIters * 12);
}

void vnni_peak(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) {
    state.SkipWithError("this CPU has no AVX-512 VNNI");
    return;
  }
  vnni_peak_avx512(state);
}
#endif

// Activation quantization (once per matrix product): 1M values per iteration, reported as
// items (values) per second. Moved here from quants_test, which asserted nothing about it.
void quantize_act(benchmark::State& state, GgmlType t) {
  Lcg rng;
  const int64_t n = int64_t(1) << 20;
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = rng.uniform();
  std::vector<uint8_t> q(nnb::row_size(t, n));
  for (auto _ : state) {
    nnb::quantize_row_activation(t, x.data(), q.data(), n);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}

void gemm(benchmark::State& state, GgmlType t, nnb::Isa isa) {
  const nnb::GemmKernel* g = nnb::gemm_kernel_for(t, isa);
  if (!g) {
    state.SkipWithError("no GEMM kernel of this type on this ISA (or the CPU lacks it)");
    return;
  }
  constexpr int64_t K = 1024, n = 512, panels = 16;
  const int64_t rows = panels * g->rows;
  Lcg rng;
  const std::vector<uint8_t> w = make_weights(t, rows, rng, K);
  const size_t rb = nnb::row_size(t, K), ab = nnb::gemm_act_bytes(g->act, K);
  std::vector<uint8_t> act(ab * n + 64);
  uint8_t* a = act.data() + (64 - reinterpret_cast<uintptr_t>(act.data()) % 64) % 64;
  std::vector<float> x(K);
  for (int64_t i = 0; i < n; ++i) {
    for (auto& v : x) v = rng.uniform();
    nnb::gemm_prepare(g->act, x.data(), K, a + size_t(i) * ab);
  }
  std::vector<uint8_t> panel(g->panel_bytes(K));
  std::vector<float> out(size_t(rows) * n);
  for (auto _ : state) {
    for (int64_t p = 0; p < panels; ++p) {
      g->pack(w.data() + size_t(p * g->rows) * rb, rb, K, panel.data());
      g->compute(panel.data(), K, a, ab, n, out.data() + p * g->rows, rows);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * n);
}

}  // namespace

int main(int argc, char** argv) {
  const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,  GgmlType::Q4_1,
                            GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,  GgmlType::Q3_K,
                            GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};
  for (GgmlType t : types) {
    for (nnb::Isa isa : {nnb::Isa::Scalar, nnb::Isa::Avx2, nnb::Isa::Avx512}) {
      for (int64_t rows : {int64_t(4096), int64_t(256)}) {
        const std::string name = std::string("matvec/") + std::string(nnb::type_name(t)) + "/" +
                                 nnb::isa_name(isa) + "/rows:" + std::to_string(rows);
        benchmark::RegisterBenchmark(name.c_str(), mat_vec, t, isa, rows)->Unit(benchmark::kMicrosecond);
      }
    }
  }
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0})
    for (nnb::Isa isa : {nnb::Isa::Avx2, nnb::Isa::Avx512})
      for (int64_t rows : {int64_t(4096), int64_t(256)})
        benchmark::RegisterBenchmark(("matvec/" + std::string(nnb::type_name(t)) + "/" + nnb::isa_name(isa) + "/rows:" +
                                      std::to_string(rows) + "/packed").c_str(),
                                     mat_vec_packed, t, isa, rows)
            ->Unit(benchmark::kMicrosecond);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0})
    for (nnb::Isa isa : {nnb::Isa::Avx2, nnb::Isa::Avx512})
      for (int64_t rows : {int64_t(4096), int64_t(256)})
        for (int n : {1, 2, 4, 8})
          benchmark::RegisterBenchmark(("matvec_batch/" + std::string(nnb::type_name(t)) + "/" + nnb::isa_name(isa) +
                                        "/rows:" + std::to_string(rows) + "/tokens:" + std::to_string(n))
                                           .c_str(),
                                       mat_vec_packed_batch, t, isa, rows, n)
              ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("matvec_dram/probe", dram_probe, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("matvec_dram/probe/prefetch", dram_probe, true)->Unit(benchmark::kMillisecond);
#if defined(__x86_64__) && defined(__GNUC__)
  benchmark::RegisterBenchmark("vnni_peak", vnni_peak)->Unit(benchmark::kMicrosecond);
#endif
  for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    for (int64_t K : {int64_t(1024), int64_t(2816), int64_t(4096)})
      for (size_t ahead : {size_t(0), nnb::kRowPrefetchBytes})
        benchmark::RegisterBenchmark(("matvec_dram/" + std::string(nnb::type_name(t)) + "/K:" + std::to_string(K) +
                                      (ahead ? "/prefetch" : ""))
                                         .c_str(),
                                     mat_vec_dram, t, K, ahead)
            ->Unit(benchmark::kMillisecond);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    for (int64_t K : {int64_t(1024), int64_t(2816), int64_t(4096)})
      for (int n : {4, 8})
        for (size_t ahead : {size_t(0), nnb::kRowPrefetchBytes})
          benchmark::RegisterBenchmark(("matvec_dram_batch/" + std::string(nnb::type_name(t)) + "/K:" +
                                        std::to_string(K) + "/tokens:" + std::to_string(n) + (ahead ? "/prefetch" : ""))
                                           .c_str(),
                                       mat_vec_dram_batch, t, K, n, ahead)
              ->Unit(benchmark::kMillisecond);
  for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
    for (nnb::Isa isa : {nnb::Isa::Avx2, nnb::Isa::Avx512})
      benchmark::RegisterBenchmark(("gemm/" + std::string(nnb::type_name(t)) + "/" + nnb::isa_name(isa)).c_str(), gemm, t,
                                   isa)
          ->Unit(benchmark::kMillisecond);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K})
    benchmark::RegisterBenchmark((std::string("quantize_act/") + std::string(nnb::type_name(t))).c_str(), quantize_act, t)
        ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
