// Vectorized forward-pass operations (ops.h) against plain double-precision references, on
// every ISA the CPU has (scalar, AVX2, AVX-512), and the KV cache layout they read.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/device/kv_cache.h"
#include "engine/cpu/ops.h"
#include "engine/cpu/vec_dot.h"
#include "engine/quant/quants.h"

namespace nnb {
namespace {

std::vector<const OpsTable*> tables() {
  std::vector<const OpsTable*> t = {ops_detail::scalar_ops()};
#if defined(__x86_64__) || defined(_M_X64)
  if (dot_kernel_for(GgmlType::F16, Isa::Avx2)) t.push_back(ops_detail::avx2_ops());
  if (dot_kernel_for(GgmlType::F16, Isa::Avx512)) t.push_back(ops_detail::avx512_ops());
#endif
  return t;
}

std::vector<float> randn(size_t n, std::mt19937& rng, float s = 1.0f) {
  std::normal_distribution<float> d(0.0f, s);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

// Bounds: 4x the worst error measured over scalar, AVX2 and AVX-512 (every table runs in this
// process) on the dev machine; each run prints what it saw.
constexpr double kExpTol = 4 * 1.12e-7;   // relative to exp(x); measured 1.12e-7 (~1 f32 ulp)
constexpr double kNormTol = 4 * 1.11e-7;  // rms_norm, silu_mul: relative to 1 + |y|; measured 1.11e-7
constexpr double kAttnTol = 4 * 1.45e-6;  // absolute (outputs up to ~3, f32 softmax sums); measured 1.45e-6

TEST(EngineOps, ExpIsAccurate) {
  double worst = 0;
  std::vector<float> x;
  for (float v = -100.0f; v <= 88.0f; v += 0.0137f) x.push_back(v);
  for (const OpsTable* o : tables()) {
    std::vector<float> y(x.size());
    o->exp(x.data(), y.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(double(x[i]));
      if (x[i] < -87.33f) {
        EXPECT_LE(y[i], 1.2e-38f) << x[i];  // clamped: tiny, never inf or nan
        continue;
      }
      EXPECT_NEAR(y[i], want, kExpTol * want) << "x=" << x[i];
      worst = std::max(worst, std::abs(y[i] - want) / want);
    }
  }
  std::printf("[ measured ] exp: worst error %.3g (bound %.3g)\n", worst, kExpTol);
}

TEST(EngineOps, RmsNormSiluAdd) {
  double worst = 0;
  std::mt19937 rng(3);
  for (int64_t n : {1, 7, 64, 1000, 1027}) {
    const auto x = randn(size_t(n), rng, 3.0f), w = randn(size_t(n), rng), u = randn(size_t(n), rng);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double scale = 1.0 / std::sqrt(ss / double(n) + 1e-5);
    for (const OpsTable* o : tables()) {
      std::vector<float> y(static_cast<size_t>(n));
      o->rms_norm(x.data(), w.data(), y.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; ++i) {
        const double want = x[size_t(i)] * scale * w[size_t(i)];
        EXPECT_NEAR(y[size_t(i)], want, kNormTol * (1 + std::abs(y[size_t(i)])));
        worst = std::max(worst, std::abs(y[size_t(i)] - want) / (1 + std::abs(y[size_t(i)])));
      }
      std::vector<float> g = x;
      o->silu_mul(g.data(), u.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double xv = x[size_t(i)];
        const double want = xv / (1 + std::exp(-xv)) * u[size_t(i)];
        EXPECT_NEAR(g[size_t(i)], want, kNormTol * (1 + std::abs(g[size_t(i)])));
        worst = std::max(worst, std::abs(g[size_t(i)] - want) / (1 + std::abs(g[size_t(i)])));
      }
      std::vector<float> a = x;
      o->add(a.data(), u.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(a[size_t(i)], x[size_t(i)] + u[size_t(i)]);
    }
  }
  std::printf("[ measured ] rms_norm/silu_mul: worst error %.3g (bound %.3g)\n", worst, kNormTol);
}

// Causal attention of n_q queries (positions pos0..) over a KV cache filled with random rows,
// against a double-precision softmax; for an f16 or q8_0 cache, of the rows as the cache holds
// them (rounded to f16, resp. quantized as llama.cpp's q8_0 cache: int8 times the fp16 scale of
// each 32 values), which every path must read back exactly. For q8_0 each chunk of 32 has its own
// magnitude, so a scale applied to the wrong chunk or position shows.
class EngineOpsAttention : public ::testing::TestWithParam<KvType> {};

// x as a q8_0 cache holds it: blocks of 32 quantized as ggml-cpu's quantize_row_q8_0 and read back.
std::vector<float> q8_0_roundtrip(const std::vector<float>& x) {
  std::vector<block_q8_0> b(x.size() / 32);
  quantize_row_activation(GgmlType::Q8_0, x.data(), b.data(), int64_t(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(GgmlType::Q8_0, b.data(), y.data(), int64_t(y.size()));
  return y;
}

// A q8_0 cache needs a head dimension that is a multiple of 32 (one scale per 32; at most 512), and says so;
// its storage is about a quarter of f32's (64 values: 64 bytes and two 4-byte scales, against 256).
TEST(EngineOps, KvCacheQ8) {
  for (int32_t hd : {40, 544})
    try {
      KvCache kv(1, 16, 2, hd, KvType::Q8_0);
      FAIL() << "head_dim " << hd << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("multiple of 32, at most 512"), std::string::npos) << e.what();
    }
  KvCache f32(2, 64, 2, 64, KvType::F32), q8(2, 64, 2, 64, KvType::Q8_0);
  EXPECT_EQ(q8.bytes() * 256, f32.bytes() * 72);
  EXPECT_EQ(q8.k_scales(0, 0) == nullptr, false);
  EXPECT_EQ(f32.k_scales(0, 0), nullptr);
}

TEST_P(EngineOpsAttention, MatchesReference) {
  const KvType type = GetParam();
  // q8_0's rows are up to 6 times larger (the chunk magnitudes below), so are the f32 roundings.
  const double tol = type == KvType::Q8_0 ? 6 * kAttnTol : kAttnTol;
  double worst = 0;
  std::mt19937 rng(11);
  for (int hd : {8, 16, 64, 128, 40, 96}) {
    if (type == KvType::Q8_0 && hd % 32 != 0) continue;  // refused by the cache (KvCacheQ8 below)
    for (auto [pos0, n_q] : {std::pair{0, 1}, {0, 5}, {13, 1}, {16, 4}, {37, 7}, {100, 3}, {250, 9}}) {
      SCOPED_TRACE("hd " + std::to_string(hd) + " pos0 " + std::to_string(pos0) + " n_q " + std::to_string(n_q));
      const int n_keys = pos0 + n_q, n_kv_heads = 2;
      KvCache kv(1, 300, n_kv_heads, hd, type);
      std::vector<std::vector<float>> K, Vv;
      for (int j = 0; j < n_keys; ++j) {
        auto k = randn(size_t(hd * n_kv_heads), rng), v = randn(size_t(hd * n_kv_heads), rng);
        if (type == KvType::Q8_0)
          for (size_t i = 0; i < k.size(); ++i) {
            const float m[] = {0.3f, 2.5f, 1.0f, 6.0f};
            k[i] *= m[(i / 32 + size_t(j)) % 4];
            v[i] *= m[(i / 32 + 2 * size_t(j)) % 4];
          }
        kv.store(0, j, k.data(), v.data());
        if (type == KvType::F16)
          for (size_t i = 0; i < k.size(); ++i) k[i] = fp16_to_fp32(fp32_to_fp16(k[i])), v[i] = fp16_to_fp32(fp32_to_fp16(v[i]));
        if (type == KvType::Q8_0) {
          k = q8_0_roundtrip(k);
          v = q8_0_roundtrip(v);
        }
        K.push_back(k);
        Vv.push_back(v);
      }
      for (int j = 0; j < n_keys; ++j)
        for (int h = 0; h < n_kv_heads; ++h)
          for (int d = 0; d < hd; ++d) {
            ASSERT_EQ(kv.k_at(0, h, j, d), K[size_t(j)][size_t(h * hd + d)]);
            ASSERT_EQ(kv.v_at(0, h, j, d), Vv[size_t(j)][size_t(h * hd + d)]);
          }
      const int h = 1;
      const auto q = randn(size_t(n_q * hd), rng, 2.0f);
      // q8_0: the queries are quantized as well for the scores (as llama.cpp does over such a cache).
      const auto qr = type == KvType::Q8_0 ? q8_0_roundtrip(q) : q;
      const float scale = 1.0f / std::sqrt(float(hd));
      for (const OpsTable* o : tables()) {
        std::vector<float> out(size_t(n_q * hd), NAN), scratch(size_t(attn_scratch_floats(n_q, n_keys)));
        AttnArgs a;
        a.q = q.data();
        a.q_stride = hd;
        a.k = kv.k_head(0, h);
        a.v = kv.v_head(0, h);
        a.f16 = type == KvType::F16;
        a.k_scales = kv.k_scales(0, h);
        a.v_scales = kv.v_scales(0, h);
        a.out = out.data();
        a.out_stride = hd;
        a.head_dim = hd;
        a.n_q = n_q;
        a.pos0 = pos0;
        a.scale = scale;
        a.scratch = scratch.data();
        o->attend(a);
        for (int t = 0; t < n_q; ++t) {
          const int last = pos0 + t;
          std::vector<double> s(size_t(last + 1));
          double mx = -1e300;
          for (int j = 0; j <= last; ++j) {
            double dot = 0;
            for (int d = 0; d < hd; ++d) dot += double(qr[size_t(t * hd + d)]) * K[size_t(j)][size_t(h * hd + d)];
            s[size_t(j)] = dot * scale;
            mx = std::max(mx, s[size_t(j)]);
          }
          double sum = 0;
          for (auto& v : s) sum += (v = std::exp(v - mx));
          for (int d = 0; d < hd; ++d) {
            double want = 0;
            for (int j = 0; j <= last; ++j) want += s[size_t(j)] / sum * Vv[size_t(j)][size_t(h * hd + d)];
            EXPECT_NEAR(out[size_t(t * hd + d)], want, tol) << "t " << t << " d " << d;
            worst = std::max(worst, std::abs(out[size_t(t * hd + d)] - want));
          }
        }
      }
    }
  }
  std::printf("[ measured ] attention, %s cache: worst error %.3g (bound %.3g)\n", kv_type_name(type), worst, tol);
}

INSTANTIATE_TEST_SUITE_P(CacheTypes, EngineOpsAttention, ::testing::Values(KvType::F32, KvType::F16, KvType::Q8_0),
                         [](const auto& info) { return std::string(kv_type_name(info.param)); });

// f32 -> f16 for an f16 KV cache: every path rounds as ggml's fp32_to_fp16 (to nearest even, as
// F16C), bit for bit, over random values and the edges (halfway cases, the largest half, values
// that round to infinity, subnormals, zeros, infinities).
TEST(EngineOps, ToF16RoundsAsGgml) {
  std::mt19937 rng(3);
  std::vector<float> x = randn(1000, rng, 100.0f);
  for (float e : {0.0f, -0.0f, 1.0f, 65504.0f, 65519.0f, 65520.0f, -70000.0f, 1e-5f, 5.96e-8f, 2.98e-8f, 3e-9f,
                  1.00048828125f, 1.00146484375f, INFINITY, -INFINITY})
    x.push_back(e);
  for (size_t n : {x.size(), size_t(5), size_t(17)})
    for (const OpsTable* o : tables()) {
      std::vector<uint16_t> y(n, 0xABCD);
      o->to_f16(x.data(), y.data(), int64_t(n));
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], fp32_to_fp16(x[i])) << "x " << x[i] << " n " << n;
    }
}

}  // namespace
}  // namespace nnb
