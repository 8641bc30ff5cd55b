// Quantization and dequantization checked without fixtures, on generated data:
//  * dequantize_row of random blocks against an independent element-by-element decoder (double);
//  * properties of the activation formats (Q8_0 / Q8_1 / Q8_K) that the dot products rely on;
//  * round-trip error bounds for every quantizable type, all-zero and extreme inputs;
//  * argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "engine/quant/quants.h"

namespace nnb {
namespace {

constexpr int8_t kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

std::vector<float> gaussian(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(t, int64_t(x.size())));
  quantize_row(t, x.data(), q.data(), int64_t(x.size()));
  return q;
}

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  dequantize_row(t, q.data(), y.data(), int64_t(n));
  return y;
}

const GgmlType kQuantizable[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,   GgmlType::Q4_0,  GgmlType::Q4_1,
                                 GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,   GgmlType::Q8_1,  GgmlType::Q8_K,
                                 GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,   GgmlType::Q5_K,  GgmlType::Q6_K,
                                 GgmlType::IQ4_NL, GgmlType::IQ4_XS};

// ---- independent reference decoder ---------------------------------------------------------
// Decodes element e of one block straight from the layout description (ggml-common.h), in
// double, returning the value and a magnitude for the f32 rounding tolerance.
struct Ref {
  double v, mag;
};

double h(const uint8_t* p) { return fp16_to_fp32(uint16_t(p[0] | p[1] << 8)); }

// 6-bit scale and min j of the 12 packed bytes of Q4_K / Q5_K.
void k4_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

Ref decode(GgmlType t, const uint8_t* b, int e) {
  auto nib32 = [&](const uint8_t* qs) { return e < 16 ? qs[e] & 15 : qs[e - 16] >> 4; };
  switch (t) {
    case GgmlType::Q4_0: {
      const double d = h(b);
      return {d * (nib32(b + 2) - 8), std::fabs(d) * 8};
    }
    case GgmlType::Q4_1: {
      const double d = h(b), m = h(b + 2);
      return {d * nib32(b + 4) + m, std::fabs(d) * 15 + std::fabs(m)};
    }
    case GgmlType::Q5_0: {
      const double d = h(b);
      const uint32_t qh = b[2] | b[3] << 8 | b[4] << 16 | uint32_t(b[5]) << 24;
      return {d * ((nib32(b + 6) | int((qh >> e) & 1) << 4) - 16), std::fabs(d) * 16};
    }
    case GgmlType::Q5_1: {
      const double d = h(b), m = h(b + 2);
      const uint32_t qh = b[4] | b[5] << 8 | b[6] << 16 | uint32_t(b[7]) << 24;
      return {d * (nib32(b + 8) | int((qh >> e) & 1) << 4) + m, std::fabs(d) * 31 + std::fabs(m)};
    }
    case GgmlType::Q8_0: {
      const double d = h(b);
      return {d * int8_t(b[2 + e]), std::fabs(d) * 128};
    }
    case GgmlType::IQ4_NL: {
      const double d = h(b);
      return {d * kIq4[nib32(b + 2)], std::fabs(d) * 127};
    }
    case GgmlType::Q2_K: {  // scales[16] qs[64] d dmin
      const double d = h(b + 80), dmin = h(b + 82);
      const int q = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int sc = b[e / 16] & 15, m = b[e / 16] >> 4;
      return {d * sc * q - dmin * m, std::fabs(d) * sc * 3 + std::fabs(dmin) * m};
    }
    case GgmlType::Q3_K: {  // hmask[32] qs[64] scales[12] d
      const double d = h(b + 108);
      const uint8_t* s = b + 96;
      const int j = e / 16;
      const int sc = ((j < 8 ? s[j] & 15 : s[j - 8] >> 4) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
      const int lo = (b[32 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int hi = (b[e % 32] >> (e / 32)) & 1;
      return {d * sc * (lo - (hi ? 0 : 4)), std::fabs(d) * 32 * 4};
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {  // d dmin scales[12] (qh[32]) qs[128]
      const bool five = t == GgmlType::Q5_K;
      const double d = h(b), dmin = h(b + 2);
      int sc, m;
      k4_scale_min(b + 4, e / 32, &sc, &m);
      const uint8_t* qs = b + (five ? 48 : 16);
      const uint8_t byte = qs[32 * (e / 64) + e % 32];
      int q = (e % 64) < 32 ? byte & 15 : byte >> 4;
      if (five) q |= ((b[16 + e % 32] >> (e / 32)) & 1) << 4;
      return {d * sc * q - dmin * m, std::fabs(d) * sc * q + std::fabs(dmin) * m};
    }
    case GgmlType::Q6_K: {  // ql[128] qh[64] scales[16] d
      const double d = h(b + 208);
      const int c = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t lob = b[64 * c + 32 * (quarter & 1) + l];
      const int lo = quarter < 2 ? lob & 15 : lob >> 4;
      const int hi = (b[128 + 32 * c + l] >> (2 * quarter)) & 3;
      const int sc = int8_t(b[192 + e / 16]);
      return {d * sc * ((lo | hi << 4) - 32), std::fabs(d) * 128 * 32};
    }
    case GgmlType::IQ4_XS: {  // d scales_h scales_l[4] qs[128]
      const double d = h(b);
      const int ib = e / 32, p = e % 32;
      const int sh = b[2] | b[3] << 8;
      const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
      const uint8_t* qs = b + 8 + 16 * ib;
      const int q = p < 16 ? qs[p] & 15 : qs[p - 16] >> 4;
      return {d * (ls - 32) * kIq4[q], std::fabs(d) * 32 * 127};
    }
    default:
      throw std::logic_error("no reference decoder");
  }
}

// Byte offsets of the f16 scale fields of each type (kept finite in the random blocks).
std::vector<int> f16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

TEST(Quants, DequantizeRandomBlocksMatchesIndependentDecoder) {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                            GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                            GgmlType::Q6_K, GgmlType::IQ4_XS};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (GgmlType t : types) {
    SCOPED_TRACE(std::string(type_name(t)));
    const auto& tt = traits(t);
    const int nblocks = 64;
    std::vector<uint8_t> raw = random_bytes(tt.type_size * nblocks, 100 + uint32_t(t));
    for (int bi = 0; bi < nblocks; ++bi) {
      for (int off : f16_fields(t)) {
        const uint16_t hv = fp32_to_fp16(scale(rng));
        raw[bi * tt.type_size + off] = uint8_t(hv);
        raw[bi * tt.type_size + off + 1] = uint8_t(hv >> 8);
      }
    }
    const std::vector<float> y = dequantize(t, raw, size_t(tt.block_size) * nblocks);
    int bad = 0;
    for (int bi = 0; bi < nblocks; ++bi) {
      for (int e = 0; e < tt.block_size; ++e) {
        const Ref r = decode(t, raw.data() + bi * tt.type_size, e);
        const double got = y[size_t(bi) * tt.block_size + e];
        if (std::fabs(got - r.v) > 1e-6 * r.mag + 1e-30 && bad++ < 5) {
          ADD_FAILURE() << "block " << bi << " element " << e << ": got " << got << ", expected " << r.v;
        }
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(Quants, DequantizeExactSmallValues) {
  // Q4_0 with d = 0.5: element j is (nibble - 8) / 2, exactly.
  block_q4_0 b{};
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | (15 - j) << 4);
  float y[32];
  dequantize_row(GgmlType::Q4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.5f);
  }
  // Q8_K keeps an f32 scale.
  block_q8_K k{};
  k.d = 0.25f;
  for (int j = 0; j < QK_K; ++j) k.qs[j] = int8_t(j - 128);
  std::vector<float> yk(QK_K);
  dequantize_row(GgmlType::Q8_K, &k, yk.data(), QK_K);
  for (int j = 0; j < QK_K; ++j) EXPECT_EQ(yk[j], (j - 128) * 0.25f);
}

// ---- activation formats --------------------------------------------------------------------

TEST(Quants, Q8_0ReferenceErrorWithinHalfStep) {
  const auto x = gaussian(32 * 512, 1, 3.0f);
  const auto q = quantize(GgmlType::Q8_0, x);
  const auto* b = reinterpret_cast<const block_q8_0*>(q.data());
  for (int i = 0; i < 512; ++i) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[i * 32 + j]));
    const float d = amax / 127;
    ASSERT_EQ(b[i].d, fp32_to_fp16(d));
    const float d16 = fp16_to_fp32(b[i].d);
    int max_q = 0;
    for (int j = 0; j < 32; ++j) {
      const float v = x[i * 32 + j];
      // Rounding error of q plus the f16 rounding of d, which scales with |q| <= 127.
      EXPECT_LE(std::fabs(v - b[i].qs[j] * d16), 0.5f * d * 1.0001f + 127 * std::fabs(d16 - d)) << i << " " << j;
      EXPECT_EQ(b[i].qs[j], int8_t(std::round(v * (1.0f / d))));  // roundf(x * id), id = 1/d
      max_q = std::max(max_q, std::abs(int(b[i].qs[j])));
    }
    EXPECT_EQ(max_q, 127);
  }
}

TEST(Quants, Q8ActivationRoundingFollowsGgmlCpuX86) {
  // amax = 127 gives id = 1 in both variants, so x = k + 0.5 shows the rounding rule: the
  // reference rounds half away from zero (roundf), ggml-cpu's x86 path half to even.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = 0.5f;
  block_q8_0 ref, act;
  quantize_row(GgmlType::Q8_0, x.data(), &ref, 32);
  quantize_row_activation(GgmlType::Q8_0, x.data(), &act, 32);
  EXPECT_EQ(ref.d, act.d);
  EXPECT_EQ(ref.qs[1], 3);
  EXPECT_EQ(act.qs[1], 2);
  EXPECT_EQ(ref.qs[2], -3);
  EXPECT_EQ(act.qs[2], -2);
  EXPECT_EQ(ref.qs[3], 4);
  EXPECT_EQ(act.qs[3], 4);
  EXPECT_EQ(ref.qs[4], 1);
  EXPECT_EQ(act.qs[4], 0);

  // On random data both variants share d and differ by at most one level, rarely.
  const auto g = gaussian(32 * 4096, 2);
  std::vector<block_q8_0> a(4096), r(4096);
  quantize_row(GgmlType::Q8_0, g.data(), r.data(), int64_t(g.size()));
  quantize_row_activation(GgmlType::Q8_0, g.data(), a.data(), int64_t(g.size()));
  int differ = 0;
  for (int i = 0; i < 4096; ++i) {
    ASSERT_EQ(a[i].d, r[i].d);
    for (int j = 0; j < 32; ++j) {
      ASSERT_LE(std::abs(a[i].qs[j] - r[i].qs[j]), 1);
      differ += a[i].qs[j] != r[i].qs[j];
    }
  }
  std::printf("Q8_0 reference vs x86 activation quantization: %d of %zu values differ\n", differ, g.size());
  EXPECT_LT(differ, int(g.size() / 100));
}

TEST(Quants, Q8_1SumTermIsDTimesSumRoundedToF16) {
  const auto x = gaussian(32 * 256, 3, 0.7f);
  for (bool activation : {false, true}) {
    std::vector<block_q8_1> b(256);
    if (activation) quantize_row_activation(GgmlType::Q8_1, x.data(), b.data(), int64_t(x.size()));
    else quantize_row(GgmlType::Q8_1, x.data(), b.data(), int64_t(x.size()));
    std::vector<block_q8_0> b0(256);
    if (activation) quantize_row_activation(GgmlType::Q8_0, x.data(), b0.data(), int64_t(x.size()));
    else quantize_row(GgmlType::Q8_0, x.data(), b0.data(), int64_t(x.size()));
    for (int i = 0; i < 256; ++i) {
      float amax = 0;
      int sum = 0;
      for (int j = 0; j < 32; ++j) {
        amax = std::max(amax, std::fabs(x[i * 32 + j]));
        sum += b[i].qs[j];
        ASSERT_EQ(b[i].qs[j], b0[i].qs[j]) << "Q8_1 quants are Q8_0's";
      }
      const float d = amax / 127;  // s uses the f32 d, not the stored f16 one
      EXPECT_EQ(b[i].d, fp32_to_fp16(d));
      EXPECT_EQ(b[i].s, fp32_to_fp16(float(sum) * d)) << "block " << i;
    }
  }
}

TEST(Quants, Q8_KScaleQuantsAndBsums) {
  auto x = gaussian(QK_K * 64, 4, 2.0f);
  x[5] = 40.0f;    // block 0: positive max -> d negative
  x[QK_K + 9] = -40.0f;  // block 1: negative max -> d positive
  std::vector<block_q8_K> b(64);
  quantize_row(GgmlType::Q8_K, x.data(), b.data(), int64_t(x.size()));
  EXPECT_LT(b[0].d, 0.0f);
  EXPECT_GT(b[1].d, 0.0f);
  EXPECT_EQ(b[0].qs[5], -127);
  EXPECT_EQ(b[1].qs[9], -127);
  for (int i = 0; i < 64; ++i) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      if (std::fabs(x[i * QK_K + j]) > amax) {
        amax = std::fabs(x[i * QK_K + j]);
        max = x[i * QK_K + j];
      }
    }
    const float iscale = -127.f / max;
    EXPECT_EQ(b[i].d, 1 / iscale);
    for (int g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[g * 16 + l];
      EXPECT_EQ(b[i].bsums[g], sum) << "block " << i << " group " << g;
    }
    for (int j = 0; j < QK_K; ++j) {
      const float v = x[i * QK_K + j];
      EXPECT_EQ(b[i].qs[j], int(std::nearbyint(iscale * v)));  // default mode: ties to even
      EXPECT_LE(std::fabs(v - b[i].d * b[i].qs[j]), std::fabs(b[i].d) * 0.5001f);
    }
  }
}

TEST(Quants, HalfPrecisionRowsMatchScalarConversions) {
  std::vector<float> x = gaussian(1024, 5, 100.0f);
  const float specials[] = {0.0f, -0.0f, 1e-8f, -6e-5f, 65504.0f, 65520.0f, 1e30f, -1e30f,
                            std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
                            3.0e38f, 1.0009765625f, 1.00048828125f, 1.001464843f};
  std::copy(std::begin(specials), std::end(specials), x.begin());
  const auto f16 = quantize(GgmlType::F16, x);
  const auto bf16 = quantize(GgmlType::BF16, x);
  const auto y16 = dequantize(GgmlType::F16, f16, x.size());
  const auto yb = dequantize(GgmlType::BF16, bf16, x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    uint16_t h16, hb;
    std::memcpy(&h16, f16.data() + 2 * i, 2);
    std::memcpy(&hb, bf16.data() + 2 * i, 2);
    EXPECT_EQ(h16, fp32_to_fp16(x[i])) << x[i];
    EXPECT_EQ(hb, fp32_to_bf16(x[i])) << x[i];
    EXPECT_EQ(y16[i], fp16_to_fp32(h16));
    EXPECT_EQ(yb[i], bf16_to_fp32(hb));
  }
  // Round to nearest even at the f16 half-way point 1 + 2^-11.
  EXPECT_EQ(fp16_to_fp32(fp32_to_fp16(1.00048828125f)), 1.0f);
  const auto f32 = quantize(GgmlType::F32, x);
  EXPECT_EQ(std::memcmp(f32.data(), x.data(), x.size() * 4), 0);
}

// ---- every quantizable type ----------------------------------------------------------------

double rel_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += double(x[i] - y[i]) * (x[i] - y[i]);
    s += double(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

TEST(Quants, RoundTripErrorBoundsOnGaussianData) {
  struct Bound {
    GgmlType t;
    double max_rel_rms;
  };
  // About 1.25x the errors measured on this data (N(0,1), 64 super-blocks); the ordering by
  // bits per weight is itself a check (Q2_K > Q3_K > 4-bit > 5-bit > Q6_K > 8-bit > 16-bit).
  const Bound bounds[] = {
      {GgmlType::F32, 0.0},      {GgmlType::F16, 3e-4},     {GgmlType::BF16, 2.2e-3}, {GgmlType::Q8_0, 7e-3},
      {GgmlType::Q8_1, 7e-3},    {GgmlType::Q8_K, 9e-3},    {GgmlType::Q6_K, 0.023},  {GgmlType::Q5_0, 0.054},
      {GgmlType::Q5_1, 0.048},   {GgmlType::Q5_K, 0.045},   {GgmlType::Q4_0, 0.108},  {GgmlType::Q4_1, 0.099},
      {GgmlType::Q4_K, 0.09},    {GgmlType::IQ4_NL, 0.096}, {GgmlType::IQ4_XS, 0.097}, {GgmlType::Q3_K, 0.19},
      {GgmlType::Q2_K, 0.37},
  };
  const auto x = gaussian(QK_K * 64, 6);
  for (const Bound& b : bounds) {
    const double err = rel_rms_error(x, dequantize(b.t, quantize(b.t, x), x.size()));
    std::printf("round trip %-7s relative rms error %.5f (bound %.4f)\n", std::string(type_name(b.t)).c_str(), err,
                b.max_rel_rms);
    EXPECT_LE(err, b.max_rel_rms) << type_name(b.t);
  }
}

TEST(Quants, LegacyFormatsPerElementBounds) {
  const auto x = gaussian(32 * 256, 8, 0.3f);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q5_1}) {
    const auto q = quantize(t, x);
    const auto y = dequantize(t, q, x.size());
    const size_t bs = traits(t).type_size;
    for (size_t i = 0; i < x.size() / 32; ++i) {
      const float d = std::fabs(fp16_to_fp32(uint16_t(q[i * bs] | q[i * bs + 1] << 8)));
      float lo = x[i * 32], hi = x[i * 32];
      for (int j = 0; j < 32; ++j) lo = std::min(lo, x[i * 32 + j]), hi = std::max(hi, x[i * 32 + j]);
      for (int j = 0; j < 32; ++j) {
        // Symmetric formats clamp the level opposite the largest magnitude one step short; the
        // f16 rounding of d and m adds a little more.
        const bool symmetric = t == GgmlType::Q4_0 || t == GgmlType::Q5_0;
        const float bound = (symmetric ? 1.0f : 0.5f) * d + 1e-3f * (hi - lo) + 1e-3f * std::fabs(lo);
        EXPECT_LE(std::fabs(x[i * 32 + j] - y[i * 32 + j]), bound) << type_name(t) << " block " << i;
      }
    }
  }
}

TEST(Quants, AllZeroBlocksGiveZeros) {
  const std::vector<float> x(QK_K * 2, 0.0f);
  for (GgmlType t : kQuantizable) {
    const auto y = dequantize(t, quantize(t, x), x.size());
    for (float v : y) {
      ASSERT_TRUE(std::isfinite(v)) << type_name(t);
      ASSERT_EQ(v, 0.0f) << type_name(t);
    }
  }
}

TEST(Quants, ConstantAndSparseBlocksStayFinite) {
  std::vector<float> x(QK_K * 4, 0.0f);
  for (int i = 0; i < QK_K; ++i) x[i] = 1.5f;             // constant super-block
  x[QK_K + 17] = -3.0f;                                   // a single non-zero element
  for (int i = 2 * QK_K; i < 3 * QK_K; ++i) x[i] = 1e-20f;  // tiny values
  for (int i = 3 * QK_K; i < 4 * QK_K; ++i) x[i] = (i % 2 ? 1.0f : -1.0f) * 60000.0f;
  for (GgmlType t : kQuantizable) {
    const auto y = dequantize(t, quantize(t, x), x.size());
    for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i])) << type_name(t) << " element " << i;
    if (t == GgmlType::Q2_K) continue;  // 2 bits cannot hold the isolated value exactly
    EXPECT_NEAR(y[QK_K + 17], -3.0f, 0.2f) << type_name(t);
    EXPECT_NEAR(y[0], 1.5f, 0.1f) << type_name(t);
  }
}

TEST(Quants, NonFiniteInputDoesNotCrash) {
  std::vector<float> x = gaussian(QK_K * 2, 9);
  x[3] = std::numeric_limits<float>::infinity();
  x[QK_K + 7] = std::numeric_limits<float>::quiet_NaN();
  x[40] = -std::numeric_limits<float>::infinity();
  for (GgmlType t : kQuantizable) {
    const auto q = quantize(t, x);
    std::vector<uint8_t> q2(q.size());
    quantize_row_activation(t, x.data(), q2.data(), int64_t(x.size()));
    (void)dequantize(t, q, x.size());  // garbage in, garbage out, but no crash
  }
}

TEST(Quants, QuantizeIsDeterministicAndRowIndependent) {
  // Quantizing two rows at once equals quantizing them one by one (no state across blocks).
  const auto x = gaussian(QK_K * 4, 10);
  for (GgmlType t : kQuantizable) {
    const auto all = quantize(t, x);
    const std::vector<float> first(x.begin(), x.begin() + QK_K * 2), second(x.begin() + QK_K * 2, x.end());
    auto a = quantize(t, first), b = quantize(t, second);
    a.insert(a.end(), b.begin(), b.end());
    EXPECT_EQ(a, all) << type_name(t);
  }
}

// ---- argument checks -----------------------------------------------------------------------

TEST(Quants, SupportedTypeLists) {
  for (GgmlType t : kQuantizable) {
    EXPECT_TRUE(can_quantize(t)) << type_name(t);
    EXPECT_TRUE(can_dequantize(t)) << type_name(t);
  }
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ3_XXS, GgmlType::IQ1_S, GgmlType::IQ3_S,
                     GgmlType::IQ2_S, GgmlType::IQ1_M, GgmlType::I8, GgmlType::I16, GgmlType::I32, GgmlType::I64,
                     GgmlType::F64, GgmlType(4), GgmlType(5), GgmlType(31), GgmlType(1000)}) {
    EXPECT_FALSE(can_quantize(t));
    EXPECT_FALSE(can_dequantize(t));
  }
}

TEST(Quants, BadArgumentsThrow) {
  std::vector<float> x(QK_K * 2, 1.0f), y(QK_K * 2);
  std::vector<uint8_t> q(QK_K * 8);
  EXPECT_THROW(quantize_row(GgmlType::Q4_0, x.data(), q.data(), 33), std::invalid_argument);
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, x.data(), q.data(), 128), std::invalid_argument);
  EXPECT_THROW(quantize_row(GgmlType::Q8_0, x.data(), q.data(), -32), std::invalid_argument);
  EXPECT_THROW(dequantize_row(GgmlType::Q6_K, q.data(), y.data(), 100), std::invalid_argument);
  EXPECT_THROW(quantize_row(GgmlType::IQ2_XXS, x.data(), q.data(), QK_K), std::invalid_argument);
  EXPECT_THROW(dequantize_row(GgmlType::IQ1_S, q.data(), y.data(), QK_K), std::invalid_argument);
  EXPECT_THROW(dequantize_row(GgmlType(4), q.data(), y.data(), 32), std::invalid_argument);
  EXPECT_THROW(dequantize_row(GgmlType(77), q.data(), y.data(), 32), std::invalid_argument);
  EXPECT_THROW(quantize_row(GgmlType::Q8_0, nullptr, q.data(), 32), std::invalid_argument);
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, q.data(), nullptr, 32), std::invalid_argument);
  try {
    dequantize_row(GgmlType::Q4_K, q.data(), y.data(), 300);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  // Zero elements is a valid empty row, even with null buffers.
  EXPECT_NO_THROW(quantize_row(GgmlType::Q4_K, nullptr, nullptr, 0));
  EXPECT_NO_THROW(dequantize_row(GgmlType::Q4_K, nullptr, nullptr, 0));
}

// ---- long rows ---------------------------------------------------------------------------------
// A 1M-value row quantized in one call equals the same row quantized in chunks of a few blocks
// (the activation quantizers are block-local: no state carried across blocks, no vector tail
// handled differently). Their speed is measured by bench/vec_dot_bench
// (--benchmark_filter=quantize_act), not here.
TEST(Quants, ActivationQuantizationOfLongRowsIsBlockLocal) {
  const auto x = gaussian(1 << 20, 11);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
    const int64_t n = int64_t(x.size());
    std::vector<uint8_t> whole(row_size(t, n)), chunked(row_size(t, n));
    quantize_row_activation(t, x.data(), whole.data(), n);
    const int64_t bs = traits(t).block_size, chunk = 3 * bs;
    for (int64_t off = 0; off < n; off += chunk) {
      const int64_t m = std::min(chunk, n - off);
      quantize_row_activation(t, x.data() + off, chunked.data() + row_size(t, off), m);
    }
    EXPECT_EQ(whole, chunked) << type_name(t);
  }
}

}  // namespace
}  // namespace nnb
