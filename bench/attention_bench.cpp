// Attention of one generated token, single thread: one query per head against n_keys cached
// positions, for every head of every layer of the 220M bench model's shape (12 layers, 16 heads
// of 64), from a KvCache laid out as the engine's (a 4096-position cache, so each head's keys sit
// 1 MiB from the next head's, as in a real context). Reported as GB/s of K and V read — the
// quantity that should approach memory bandwidth once contexts are long — and per-token time.
//
// One benchmark per (ISA, cache type, n_keys); filter with --benchmark_filter, e.g.
// 'avx512/f16/512'. attention_batch/<isa>/<type>/keys:N/seqs:8: one step of 8 sequences
// generating together (a batching server's), their K and V far beyond the caches.
// attention_prompt/<isa>/<type>/512: a 512-token prompt's causal attention for one layer (every
// query of every head, in blocks of 4 as the engine issues them): prompt processing's share,
// reported as query-key pairs per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/cpu/ops.h"
#include "engine/device/kv_cache.h"

namespace {

constexpr int32_t kLayers = 12, kHeads = 16, kHeadDim = 64, kCapacity = 4096;

// One generated token's attention for head h of layer l of the 220M shape: query h of q, output
// h of out; blocks: the sequence's block table (nullptr: blocks in order).
void attend_head(const nnb::OpsTable* ops, const nnb::KvCache& kv, int32_t l, int32_t h, const int32_t* blocks,
                 int32_t n_keys, const std::vector<float>& q, std::vector<float>& out, std::vector<float>& scratch) {
  nnb::AttnArgs a;
  a.q = q.data() + size_t(h) * kHeadDim;
  a.q_stride = kHeads * kHeadDim;
  a.k = kv.k_head(l, h);
  a.v = kv.v_head(l, h);
  a.f16 = kv.type() == nnb::KvType::F16;
  a.k_scales = kv.k_scales(l, h);
  a.v_scales = kv.v_scales(l, h);
  a.blocks = blocks;
  a.out = out.data() + size_t(h) * kHeadDim;
  a.out_stride = kHeads * kHeadDim;
  a.head_dim = kHeadDim;
  a.n_q = 1;
  a.pos0 = n_keys - 1;
  a.scale = 0.125f;
  a.scratch = scratch.data();
  ops->attend(a);
}

// Bytes read per cached value: the element, and for q8_0 its share of a 4-byte scale per 32.
double bytes_per_value(const nnb::KvCache& kv) {
  return double(kv.elem_bytes()) + (kv.type() == nnb::KvType::Q8_0 ? 4.0 / nnb::KvCache::kQ8Chunk : 0.0);
}

void BM_attention(benchmark::State& state, const nnb::OpsTable* ops, nnb::KvType type) {
  const int32_t n_keys = int32_t(state.range(0));
  nnb::KvCache kv(kLayers, kCapacity, kHeads, kHeadDim, type);
  // Touch every used cell with small finite values (pages are materialized as a real cache's are).
  std::vector<float> k(size_t(kHeads) * kHeadDim), v(k.size());
  for (int32_t c = 0; c < n_keys; ++c) {
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = float((c * 31 + int(i) * 7) % 97) / 97.0f - 0.5f;
      v[i] = float((c * 17 + int(i) * 5) % 89) / 89.0f - 0.5f;
    }
    for (int32_t l = 0; l < kLayers; ++l) kv.store(l, c, k.data(), v.data());  // sequence 0, position c
  }
  std::vector<float> q(size_t(kHeads) * kHeadDim, 0.01f), out(q.size());
  std::vector<float> scratch(size_t(nnb::attn_scratch_floats(1, n_keys)));
  for (auto _ : state) {
    for (int32_t l = 0; l < kLayers; ++l)
      for (int32_t h = 0; h < kHeads; ++h) attend_head(ops, kv, l, h, nullptr, n_keys, q, out, scratch);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double bytes = 2.0 * kLayers * kHeads * double(n_keys) * kHeadDim * bytes_per_value(kv);
  state.counters["GB/s"] = benchmark::Counter(bytes * double(state.iterations()), benchmark::Counter::kIsRate,
                                              benchmark::Counter::kIs1000);
}

// Batched generation as a server runs it: `seqs` sequences of n_keys positions each, grown side by
// side in a cache of 2048 positions per sequence (the server's --batch-parallel 8 sizing), one
// query per sequence and head — the attention of one step of 8 clients generating together. The
// K and V read (2 * 12 * 16 * seqs * n_keys * 256 bytes in f32) far exceed the L3 at 8 x 128.
void BM_attention_batch(benchmark::State& state, const nnb::OpsTable* ops, nnb::KvType type, int32_t n_keys,
                        int32_t seqs) {
  nnb::KvCache kv(kLayers, 2048 * seqs, kHeads, kHeadDim, type);
  std::vector<float> k(size_t(kHeads) * kHeadDim), v(k.size());
  std::vector<uint16_t> k16(k.size()), v16(k.size());
  for (int32_t c = 0; c < n_keys; ++c)
    for (int32_t s = 0; s < seqs; ++s) {
      for (size_t i = 0; i < k.size(); ++i) {
        k[i] = float((c * 31 + s * 13 + int(i) * 7) % 97) / 97.0f - 0.5f;
        v[i] = float((c * 17 + s * 11 + int(i) * 5) % 89) / 89.0f - 0.5f;
        k16[i] = nnb::fp32_to_fp16(k[i]), v16[i] = nnb::fp32_to_fp16(v[i]);
      }
      const int32_t cell = kv.reserve_cell(s, c);
      for (int32_t l = 0; l < kLayers; ++l)
        if (type == nnb::KvType::F16) kv.store_cell(l, cell, k16.data(), v16.data());
        else kv.store_cell(l, cell, k.data(), v.data());  // f32 rows (q8_0: quantized there)
      kv.set_n_pos(s, c + 1);
    }
  std::vector<float> q(size_t(kHeads) * kHeadDim, 0.01f), out(q.size());
  std::vector<float> scratch(size_t(nnb::attn_scratch_floats(1, n_keys)));
  for (auto _ : state) {
    for (int32_t l = 0; l < kLayers; ++l)
      for (int32_t s = 0; s < seqs; ++s)
        for (int32_t h = 0; h < kHeads; ++h) attend_head(ops, kv, l, h, kv.block_table(s), n_keys, q, out, scratch);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double bytes = 2.0 * kLayers * kHeads * double(seqs) * double(n_keys) * kHeadDim * bytes_per_value(kv);
  state.counters["GB/s"] = benchmark::Counter(bytes * double(state.iterations()), benchmark::Counter::kIsRate,
                                              benchmark::Counter::kIs1000);
}

void BM_attention_prompt(benchmark::State& state, const nnb::OpsTable* ops, nnb::KvType type) {
  const int32_t n = int32_t(state.range(0));
  nnb::KvCache kv(1, kCapacity, kHeads, kHeadDim, type);
  std::vector<float> k(size_t(kHeads) * kHeadDim), v(k.size());
  for (int32_t c = 0; c < n; ++c) {
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = float((c * 31 + int(i) * 7) % 97) / 97.0f - 0.5f;
      v[i] = float((c * 17 + int(i) * 5) % 89) / 89.0f - 0.5f;
    }
    kv.store(0, c, k.data(), v.data());
  }
  std::vector<float> q(size_t(n) * kHeads * kHeadDim), out(q.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = float(int(i % 53) - 26) / 53.0f;
  std::vector<float> scratch(size_t(nnb::attn_scratch_floats(4, n)));
  for (auto _ : state) {
    for (int32_t h = 0; h < kHeads; ++h)
      for (int32_t t0 = 0; t0 < n; t0 += 4) {
        nnb::AttnArgs a;
        a.q = q.data() + size_t(t0) * kHeads * kHeadDim + size_t(h) * kHeadDim;
        a.q_stride = kHeads * kHeadDim;
        a.k = kv.k_head(0, h);
        a.v = kv.v_head(0, h);
        a.f16 = kv.type() == nnb::KvType::F16;
        a.k_scales = kv.k_scales(0, h);
        a.v_scales = kv.v_scales(0, h);
        a.out = out.data() + size_t(t0) * kHeads * kHeadDim + size_t(h) * kHeadDim;
        a.out_stride = kHeads * kHeadDim;
        a.head_dim = kHeadDim;
        a.n_q = std::min(4, n - t0);
        a.pos0 = t0;
        a.scale = 0.125f;
        a.scratch = scratch.data();
        ops->attend(a);
      }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kHeads * int64_t(n) * (n + 1) / 2);
}

void register_all() {
  struct Isa {
    const char* name;
    const nnb::OpsTable* ops;
  };
  std::vector<Isa> isas = {{"scalar", nnb::ops_detail::scalar_ops()}};
#if defined(__x86_64__) || defined(_M_X64)
  isas.push_back({"avx2", nnb::ops_detail::avx2_ops()});
  isas.push_back({"avx512", nnb::ops_detail::avx512_ops()});
#endif
  for (const Isa& isa : isas) {
    if (isa.ops == nullptr) continue;  // this CPU lacks the ISA
    for (nnb::KvType type : {nnb::KvType::F32, nnb::KvType::F16, nnb::KvType::Q8_0})
      for (int64_t n : {128, 512, 2048})
        benchmark::RegisterBenchmark(
            (std::string("attention/") + isa.name + "/" + nnb::kv_type_name(type) + "/" + std::to_string(n)).c_str(),
            BM_attention, isa.ops, type)
            ->Arg(n)
            ->Unit(benchmark::kMicrosecond);
    for (nnb::KvType type : {nnb::KvType::F32, nnb::KvType::F16, nnb::KvType::Q8_0})
      for (int64_t n : {128, 512})
        benchmark::RegisterBenchmark((std::string("attention_batch/") + isa.name + "/" + nnb::kv_type_name(type) +
                                      "/keys:" + std::to_string(n) + "/seqs:8")
                                         .c_str(),
                                     BM_attention_batch, isa.ops, type, int32_t(n), 8)
            ->Unit(benchmark::kMicrosecond);
    for (nnb::KvType type : {nnb::KvType::F32, nnb::KvType::F16})
      benchmark::RegisterBenchmark(
          (std::string("attention_prompt/") + isa.name + "/" + nnb::kv_type_name(type) + "/512").c_str(),
          BM_attention_prompt, isa.ops, type)
          ->Arg(512)
          ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
