// Mat-vec throughput of the dot-product kernels: one activation row (quantized once to the
// vec_dot type) against every row of a weight matrix, single thread, reported as GB/s of weight
// bytes streamed (the quantity that bounds token generation).
//
// One benchmark per (type, ISA, rows): rows = 4096 (n = 4096, the usual hidden size; 9-64 MB,
// mostly L3 / memory) and rows = 256 (the same row length, L2-resident, showing the kernel's
// own speed). matvec_batch/<type>/avx512/rows:R/tokens:N: the packed small-batch kernels for N
// tokens at once (batched serving). Filter with --benchmark_filter, e.g. 'q4_0/avx512'. Also quantize_act/<type>: the
// activation quantizers (Q8_0, Q8_1, Q8_K) over 1M values.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/quants.h"
#include "engine/cpu/vec_dot.h"
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
    for (int64_t r = 0; r < rows; ++r) f->dot(kN, &out[size_t(r)], packed.data() + size_t(r) * prb, act.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}

// A small batch (batched serving: one token of each of n clients) through a packed format's
// small-batch kernel, called in steps of dot_n_max tokens as the CPU device does. Bytes are the
// weights' (read once per batch); one token goes through dot_rows where the type has it; items are row-token products, so items/s compares batch sizes.
// Rows of 1024 (the bench model's embedding): n tokens' activations stay in L1 as in the engine.
constexpr int64_t kBatchK = 1024;

void mat_vec_packed_batch(benchmark::State& state, GgmlType t, nnb::Isa isa, int64_t rows, int n) {
  const nnb::PackedFormat* f = nnb::packed_format_for(t, isa);
  if (!f || !f->dot_n) {
    state.SkipWithError("no packed small-batch kernel of this type on this ISA");
    return;
  }
  Lcg rng;
  const std::vector<uint8_t> w = make_weights(t, rows, rng, kBatchK);
  const size_t prb = f->row_bytes(kBatchK), arb = f->act_row_bytes(kBatchK);
  std::vector<uint8_t> packed(prb * size_t(rows));
  f->pack_rows(w.data(), nnb::row_size(t, kBatchK), kBatchK, 0, rows, packed.data());
  std::vector<float> a(kBatchK);
  std::vector<uint8_t> act(arb * size_t(n));
  for (int i = 0; i < n; ++i) {
    for (auto& v : a) v = rng.uniform();
    f->prepare(a.data(), kBatchK, act.data() + size_t(i) * arb);
  }
  std::vector<float> out(static_cast<size_t>(rows) * size_t(n));
  for (auto _ : state) {
    if (n == 1 && f->dot_rows) f->dot_rows(kBatchK, out.data(), packed.data(), prb, rows, act.data());
    else
      for (int64_t r = 0; r < rows; ++r)
        for (int i = 0; i < n; i += f->dot_n_max)
          f->dot_n(kBatchK, &out[size_t(i) * size_t(rows) + size_t(r)], size_t(rows), packed.data() + size_t(r) * prb,
                   act.data() + size_t(i) * arb, arb, std::min(f->dot_n_max, n - i));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
  state.SetItemsProcessed(int64_t(state.iterations()) * rows * n);
}

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
    for (int64_t rows : {int64_t(4096), int64_t(256)})
      for (int n : {1, 2, 4, 8})
        benchmark::RegisterBenchmark(("matvec_batch/" + std::string(nnb::type_name(t)) + "/avx512/rows:" +
                                      std::to_string(rows) + "/tokens:" + std::to_string(n))
                                         .c_str(),
                                     mat_vec_packed_batch, t, nnb::Isa::Avx512, rows, n)
            ->Unit(benchmark::kMicrosecond);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K})
    benchmark::RegisterBenchmark((std::string("quantize_act/") + std::string(nnb::type_name(t))).c_str(), quantize_act, t)
        ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
