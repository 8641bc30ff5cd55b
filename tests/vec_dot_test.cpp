// Dot-product kernels: the scalar kernel of every pairing against a double-precision dot of the
// dequantized rows, and every SIMD kernel the CPU has against the scalar kernel. Weights come
// from quantize_row (realistic blocks) and from random raw bytes (every code, scale and min
// value, including the extremes); activations are always quantize_row(vec_dot_type).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/quants.h"
#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_packed.h"

namespace nnb {
namespace {

using Bytes = std::vector<uint8_t>;

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,  GgmlType::Q4_0,  GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,  GgmlType::Q2_K,  GgmlType::Q3_K,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,  GgmlType::IQ4_NL, GgmlType::IQ4_XS};

GgmlType expected_vec_dot_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: return t;
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1: return GgmlType::Q8_1;
    default: return GgmlType::Q8_K;
  }
}

int64_t block_size(GgmlType t) { return traits(t).block_size; }

// Row lengths: one block, a few blocks (odd counts reach the single-block tails of kernels that
// take two blocks at a time; 11 = one batch of 8 + a pair + one), and a typical hidden size.
std::vector<int64_t> test_lengths(GgmlType t) {
  const int64_t b = block_size(t);
  if (b == 1) return {1, 7, 16, 33, 100, 4096};
  return {b, 2 * b, 3 * b, 5 * b, 11 * b, 4096};
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = dist(rng);
  return v;
}

// Writes the fp16 scale fields of one block of type t (d, and the min / offset where present).
void set_block_scales(GgmlType t, uint8_t* blk, float d, float m) {
  const ggml_fp16_t hd = fp32_to_fp16(d), hm = fp32_to_fp16(m);
  switch (t) {
    case GgmlType::Q4_0: reinterpret_cast<block_q4_0*>(blk)->d = hd; break;
    case GgmlType::Q4_1: reinterpret_cast<block_q4_1*>(blk)->d = hd; reinterpret_cast<block_q4_1*>(blk)->m = hm; break;
    case GgmlType::Q5_0: reinterpret_cast<block_q5_0*>(blk)->d = hd; break;
    case GgmlType::Q5_1: reinterpret_cast<block_q5_1*>(blk)->d = hd; reinterpret_cast<block_q5_1*>(blk)->m = hm; break;
    case GgmlType::Q8_0: reinterpret_cast<block_q8_0*>(blk)->d = hd; break;
    case GgmlType::Q2_K: reinterpret_cast<block_q2_K*>(blk)->d = hd; reinterpret_cast<block_q2_K*>(blk)->dmin = hm; break;
    case GgmlType::Q3_K: reinterpret_cast<block_q3_K*>(blk)->d = hd; break;
    case GgmlType::Q4_K: reinterpret_cast<block_q4_K*>(blk)->d = hd; reinterpret_cast<block_q4_K*>(blk)->dmin = hm; break;
    case GgmlType::Q5_K: reinterpret_cast<block_q5_K*>(blk)->d = hd; reinterpret_cast<block_q5_K*>(blk)->dmin = hm; break;
    case GgmlType::Q6_K: reinterpret_cast<block_q6_K*>(blk)->d = hd; break;
    case GgmlType::IQ4_NL: reinterpret_cast<block_iq4_nl*>(blk)->d = hd; break;
    case GgmlType::IQ4_XS: reinterpret_cast<block_iq4_xs*>(blk)->d = hd; break;
    default: FAIL() << "no block scales for " << type_name(t);
  }
}

// A weight row of random raw bytes with sane scales. Float types get random values instead
// (random bits would include NaN and inf).
Bytes random_raw_row(GgmlType t, int64_t n, std::mt19937& rng) {
  Bytes row(row_size(t, n));
  if (block_size(t) == 1) {
    const auto f = random_floats(n, rng);
    quantize_row(t, f.data(), row.data(), n);
    return row;
  }
  for (auto& b : row) b = uint8_t(rng());
  std::uniform_real_distribution<float> mag(0.002f, 0.05f);
  std::bernoulli_distribution neg(0.5);
  const size_t bs = traits(t).type_size;
  for (size_t off = 0; off < row.size(); off += bs) {
    const float d = neg(rng) ? -mag(rng) : mag(rng);
    set_block_scales(t, row.data() + off, d, mag(rng));
  }
  return row;
}

Bytes quantized(GgmlType t, const std::vector<float>& f) {
  Bytes row(row_size(t, int64_t(f.size())));
  quantize_row(t, f.data(), row.data(), int64_t(f.size()));
  return row;
}

std::vector<float> dequantized(GgmlType t, const Bytes& row, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));
  dequantize_row(t, row.data(), f.data(), n);
  return f;
}

// The Q4_1 / Q5_1 kernels use Q8_1's s = fp16(d * sum(q)), computed from the unrounded d and
// then rounded to fp16, where the dequantized reference sums fp16(d) * q exactly: allow
// |m| * |s| * (d's rounding + s's rounding, 2^-11 each) per block, plus an fp16 subnormal step.
double q8_1_s_rounding(GgmlType t, const Bytes& x, const Bytes& y, int64_t n) {
  if (t != GgmlType::Q4_1 && t != GgmlType::Q5_1) return 0.0;
  const auto* yb = reinterpret_cast<const block_q8_1*>(y.data());
  double bound = 0.0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const ggml_fp16_t m = t == GgmlType::Q4_1 ? reinterpret_cast<const block_q4_1*>(x.data())[b].m
                                             : reinterpret_cast<const block_q5_1*>(x.data())[b].m;
    const double s = std::fabs(fp16_to_fp32(yb[b].s));
    bound += std::fabs(fp16_to_fp32(m)) * (s * std::ldexp(1.0, -10) + std::ldexp(1.0, -24));
  }
  return bound;
}

// Worst error / sum |x*y| seen per (type, path), printed at the end of the run: the bounds
// below are derived from these.
std::map<std::string, double>& worst_seen() {
  static std::map<std::string, double> m;
  return m;
}
void note(const std::string& key, double rel) {
  double& w = worst_seen()[key];
  w = std::max(w, rel);
}
struct PrintWorst : ::testing::Environment {
  void TearDown() override {
    for (const auto& [k, v] : worst_seen()) std::printf("[ measured ] %-22s worst |err| / sum|xy| = %.3g\n", k.c_str(), v);
  }
};
[[maybe_unused]] auto* const kPrintWorst = ::testing::AddGlobalTestEnvironment(new PrintWorst);

float run(const DotKernel* k, int64_t n, const Bytes& x, const Bytes& y) {
  float s = std::nanf("");
  k->vec_dot(n, &s, x.data(), y.data());
  return s;
}

// Checks one (x, y) pair: scalar vs the dequantized reference, every SIMD path vs scalar.
void check_pair(GgmlType t, int64_t n, const Bytes& x, const Bytes& y, const std::string& what) {
  SCOPED_TRACE(std::string(type_name(t)) + " n=" + std::to_string(n) + " " + what);
  const GgmlType vt = expected_vec_dot_type(t);
  const auto xf = dequantized(t, x, n);
  const auto yf = dequantized(vt, y, n);
  double ref = 0.0, mag = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    ref += double(xf[size_t(i)]) * double(yf[size_t(i)]);
    mag += std::fabs(double(xf[size_t(i)]) * double(yf[size_t(i)]));
  }
  // The kernels differ from the reference only by f32 rounding of per-block scale products and
  // of the float sums (plus Q8_1's fp16 s); bounds are relative to sum |x_i * y_i|: 4x the worst
  // measured over every type, length and case here (1.91e-6 of sum|xy|, both scalar vs f64 and
  // SIMD vs scalar; printed as "[ measured ]" at the end of each run). A kernel off by 1e-3 in
  // its result fails at the short lengths (sum|xy| ~ 1-10).
  const double ref_tol = 8e-6 * mag + q8_1_s_rounding(t, x, y, n) + 1e-30;
  const double simd_tol = 8e-6 * mag + 1e-30;

  const DotKernel* scalar = dot_kernel_for(t, Isa::Scalar);
  ASSERT_NE(scalar, nullptr);
  const float s_scalar = run(scalar, n, x, y);
  EXPECT_NEAR(s_scalar, ref, ref_tol) << "scalar vs dequantized reference (sum|xy| = " << mag << ")";
  if (mag > 0)
    note(std::string(type_name(t)) + " scalar vs f64",
         std::max(0.0, std::fabs(s_scalar - ref) - q8_1_s_rounding(t, x, y, n)) / mag);

  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    const DotKernel* k = dot_kernel_for(t, isa);
    if (!k) continue;  // the CPU lacks this ISA
    const float s_isa = run(k, n, x, y);
    EXPECT_NEAR(s_isa, s_scalar, simd_tol) << isa_name(isa) << " vs scalar";
    if (mag > 0) note(std::string(type_name(t)) + " " + isa_name(isa) + " vs scalar", std::fabs(s_isa - s_scalar) / mag);
  }
}

class VecDot : public ::testing::TestWithParam<GgmlType> {};

TEST_P(VecDot, KernelExistsWithGgmlPairing) {
  const GgmlType t = GetParam();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const DotKernel* k = dot_kernel_for(t, isa);
    if (isa != Isa::Scalar && !k) continue;
    ASSERT_NE(k, nullptr) << isa_name(isa);
    EXPECT_EQ(k->vec_dot_type, expected_vec_dot_type(t)) << isa_name(isa);
    EXPECT_NE(k->vec_dot, nullptr);
  }
  const DotKernel* best = dot_kernel(t);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best, dot_kernel_for(t, active_isa()));
}

TEST_P(VecDot, QuantizedWeights) {
  const GgmlType t = GetParam();
  if (!can_quantize(t)) GTEST_SKIP() << "quantize_row cannot produce " << type_name(t);
  std::mt19937 rng(1234 + uint32_t(t));
  for (int64_t n : test_lengths(t)) {
    const auto w = random_floats(n, rng, 0.05f);
    const auto a = random_floats(n, rng, 2.0f);
    check_pair(t, n, quantized(t, w), quantized(expected_vec_dot_type(t), a), "quantized weights");
  }
}

TEST_P(VecDot, RandomRawBlocks) {
  const GgmlType t = GetParam();
  std::mt19937 rng(99 + uint32_t(t));
  for (int64_t n : test_lengths(t)) {
    for (int rep = 0; rep < 3; ++rep) {
      const Bytes x = random_raw_row(t, n, rng);
      const Bytes y = quantized(expected_vec_dot_type(t), random_floats(n, rng));
      check_pair(t, n, x, y, "raw blocks, rep " + std::to_string(rep));
    }
  }
}

// Activations with a few outliers: most Q8 values are small and a few reach +-127.
TEST_P(VecDot, OutlierActivations) {
  const GgmlType t = GetParam();
  std::mt19937 rng(7 + uint32_t(t));
  const int64_t n = 4096;
  auto a = random_floats(n, rng, 0.1f);
  for (int64_t i = 0; i < n; i += 97) a[size_t(i)] = (i % 2 ? 30.0f : -30.0f);
  check_pair(t, n, random_raw_row(t, n, rng), quantized(expected_vec_dot_type(t), a), "outliers");
}

TEST_P(VecDot, AllZero) {
  const GgmlType t = GetParam();
  for (int64_t n : test_lengths(t)) {
    const Bytes x(row_size(t, n), 0);
    const Bytes y = quantized(expected_vec_dot_type(t), std::vector<float>(size_t(n), 0.0f));
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      const DotKernel* k = dot_kernel_for(t, isa);
      if (!k) continue;
      EXPECT_EQ(run(k, n, x, y), 0.0f) << type_name(t) << " n=" << n << " " << isa_name(isa);
    }
  }
}

// Packed formats (vec_dot_packed.h: Q4_0, Q4_K, Q5_K, Q6_K and Q8_0 in panels of 16 rows):
// each row of a random matrix through dot_rows against the stored one-row kernel of the same
// ISA, within the packed formats' bound, for lengths of 1 to 43 super-blocks (Q4_0 and Q8_0
// also 1, 9 and 100 blocks, which end in a part of a super-block); then dot_panel for 1 to 9
// tokens: every token's 16 results the bits dot_rows gives it alone (so a batched step decodes
// exactly as one sequence), written at s[t * stride + i] and nowhere else.
TEST(VecDotPanels, MatchTheOneRowKernelForEveryTokenCount) {
  int checked = 0;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0}) {
      const PackedFormat* f = packed_format_for(t, isa);
      if (!f) continue;
      ASSERT_TRUE(f->dot_rows && f->dot_panel) << type_name(t);
      EXPECT_TRUE(f->fits(32) && !f->fits(33) && !f->fits(8));
      const DotKernel* one = dot_kernel_for(t, isa);
      ASSERT_NE(one, nullptr);
      const GgmlType vt = expected_vec_dot_type(t);
      std::mt19937 rng(31);
      std::vector<int64_t> lengths = {256, 1024, 2816, 11008};
      if (t == GgmlType::Q4_0 || t == GgmlType::Q8_0)
        lengths.insert(lengths.end(), {32, 288, 3200});  // a last super-block part padding
      for (int64_t K : lengths) {
        const int64_t M = 2 * f->panel;
        const size_t rb = row_size(t, K), prb = f->row_bytes(K);
        ASSERT_EQ(prb * size_t(f->panel) % 64, 0u);  // panels stay aligned
        Bytes w;
        for (int64_t r = 0; r < M; ++r) {
          const Bytes row = random_raw_row(t, K, rng);
          w.insert(w.end(), row.begin(), row.end());
        }
        std::vector<uint8_t> packed(prb * size_t(M), 0xAB);
        f->pack_rows(w.data(), rb, K, 0, M, packed.data());
        constexpr int kTokens = 9;
        const size_t ab = f->act_row_bytes(K);
        std::vector<uint8_t> act(ab * kTokens, 0xCD);
        std::vector<std::vector<float>> alone(kTokens, std::vector<float>(size_t(M), std::nanf("")));
        for (int tok = 0; tok < kTokens; ++tok) {
          const auto a = random_floats(K, rng, 2.0f);
          f->prepare(a.data(), K, act.data() + size_t(tok) * ab);
          f->dot_rows(K, alone[size_t(tok)].data(), packed.data(), prb, M, act.data() + size_t(tok) * ab);
          if (tok > 1) continue;  // against the stored kernel: two tokens
          const Bytes y = quantized(vt, a);
          const auto yf = dequantized(vt, y, K);
          for (int64_t r = 0; r < M; ++r) {
            const Bytes xr(w.begin() + r * int64_t(rb), w.begin() + (r + 1) * int64_t(rb));
            const auto xf = dequantized(t, xr, K);
            double mag = 0.0;
            for (int64_t i = 0; i < K; ++i) mag += std::fabs(double(xf[size_t(i)]) * double(yf[size_t(i)]));
            float want = std::nanf("");
            one->vec_dot(K, &want, xr.data(), y.data());
            const float got = alone[size_t(tok)][size_t(r)];
            EXPECT_NEAR(got, want, 8e-6 * mag + 1e-30) << type_name(t) << " " << isa_name(isa) << " K=" << K << " row " << r;
            if (mag > 0) note(std::string(type_name(t)) + " panels " + isa_name(isa) + " vs one-row", std::fabs(got - want) / mag);
          }
        }
        for (int n = 1; n <= kTokens; ++n) {
          const size_t stride = size_t(f->panel) + 3;
          std::vector<float> got(stride * kTokens, std::nanf(""));
          // panel 1, prefetching past the end on odd n (a prefetch never faults, nor changes a result)
          f->dot_panel(K, got.data(), stride, packed.data() + prb * size_t(f->panel), act.data(), ab, n,
                       n % 2 ? 8192 : 0);
          for (int tok = 0; tok < kTokens; ++tok)
            for (size_t i = 0; i < stride; ++i) {
              const float g = got[size_t(tok) * stride + i];
              if (tok >= n || i >= size_t(f->panel)) {
                EXPECT_TRUE(std::isnan(g)) << "n=" << n << " token " << tok << " slot " << i << " written";
                continue;
              }
              const float want = alone[size_t(tok)][size_t(f->panel) + i];
              EXPECT_EQ(std::memcmp(&want, &g, sizeof g), 0)
                  << type_name(t) << " " << isa_name(isa) << " K=" << K << " n=" << n << " token " << tok << " row " << i
                  << ": " << g << " vs " << want;
            }
        }
        ++checked;
      }
    }
  if (!checked) GTEST_SKIP() << "no panel format on this CPU's paths";
}

// Panels at the extremes: 16 rows of extreme byte patterns (largest / smallest codes, 6-bit
// scales and mins of 63, Q6_K scales of -128 / 127; Q4_0 all codes 15 or 0, Q8_0 -128 or 127),
// each row its own pattern, against activations all +1 (codes of -128), all -1 (127) or
// alternating: the largest integer sums a panel kernel sees, where an int16 run of maddubs
// products too long for its range (AVX2) would saturate. Every row through dot_rows against the
// dequantized f64 product within the one-row kernels' bound, and 3 tokens through dot_panel the
// same bits.
TEST(VecDotPanels, ExtremeValues) {
  int checked = 0;
  const uint8_t patterns[] = {0xFF, 0x00, 0x80, 0x7F, 0x88, 0x77, 0xF0, 0x0F};
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0}) {
      const PackedFormat* f = packed_format_for(t, isa);
      if (!f) continue;
      const int64_t K = 1024, M = f->panel;
      const size_t rb = row_size(t, K), bs = traits(t).type_size, prb = f->row_bytes(K);
      Bytes w(rb * size_t(M));
      for (int64_t r = 0; r < M; ++r) {
        uint8_t* row = w.data() + size_t(r) * rb;
        std::memset(row, patterns[size_t(r) % std::size(patterns)], rb);
        // the first 8 rows with d 0.25 and dmin 1, the other 8 with d 1 and dmin 0.5
        const bool second = r >= int64_t(std::size(patterns));
        for (size_t off = 0; off < rb; off += bs) set_block_scales(t, row + off, second ? 1.0f : 0.25f, second ? 0.5f : 1.0f);
      }
      std::vector<uint8_t> packed(prb * size_t(M));
      f->pack_rows(w.data(), rb, K, 0, M, packed.data());
      const GgmlType vt = expected_vec_dot_type(t);
      for (int sign_mode = 0; sign_mode < 3; ++sign_mode) {
        std::vector<float> a(static_cast<size_t>(K));
        for (int64_t i = 0; i < K; ++i) a[size_t(i)] = sign_mode == 0 ? 1.0f : sign_mode == 1 ? -1.0f : (i % 2 ? 1.0f : -1.0f);
        const size_t ab = f->act_row_bytes(K);
        std::vector<uint8_t> act(ab * 3);
        for (int tok = 0; tok < 3; ++tok) f->prepare(a.data(), K, act.data() + size_t(tok) * ab);
        std::vector<float> got(static_cast<size_t>(M)), batch(static_cast<size_t>(M) * 3);
        f->dot_rows(K, got.data(), packed.data(), prb, M, act.data());
        f->dot_panel(K, batch.data(), size_t(M), packed.data(), act.data(), ab, 3, 0);
        const auto yf = dequantized(vt, quantized(vt, a), K);
        for (int64_t r = 0; r < M; ++r) {
          const Bytes xr(w.begin() + r * int64_t(rb), w.begin() + (r + 1) * int64_t(rb));
          const auto xf = dequantized(t, xr, K);
          double ref = 0, mag = 0;
          for (int64_t i = 0; i < K; ++i) {
            ref += double(xf[size_t(i)]) * double(yf[size_t(i)]);
            mag += std::fabs(double(xf[size_t(i)]) * double(yf[size_t(i)]));
          }
          EXPECT_NEAR(got[size_t(r)], ref, 8e-6 * mag + 1e-30)
              << type_name(t) << " " << isa_name(isa) << " row " << r << " signs " << sign_mode;
          for (int tok = 0; tok < 3; ++tok)
            EXPECT_EQ(std::memcmp(&got[size_t(r)], &batch[size_t(tok) * size_t(M) + size_t(r)], sizeof(float)), 0)
                << type_name(t) << " " << isa_name(isa) << " row " << r << " token " << tok;
        }
      }
      ++checked;
    }
  if (!checked) GTEST_SKIP() << "no panel format on this CPU's paths";
}

// The AVX2 panel kernels give the AVX-512 ones' results bit for bit (the same exact integer
// sums, the same float operations per lane in the same order), so a host's ISA does not change
// a generated text: random panels, 1 to 5 tokens, K = 256 and 2816 (Q4_0 also 3200).
TEST(VecDotPanels, AvxTwoEqualsAvx512BitForBit) {
  int checked = 0;
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    const PackedFormat* f2 = packed_format_for(t, Isa::Avx2);
    const PackedFormat* f5 = packed_format_for(t, Isa::Avx512);
    if (!f2 || !f5) continue;
    ASSERT_EQ(f2->pack_rows, f5->pack_rows);  // one layout
    ASSERT_EQ(f2->prepare, f5->prepare);
    std::mt19937 rng(57);
    for (int64_t K : {int64_t(256), int64_t(2816), int64_t(t == GgmlType::Q4_0 ? 3200 : 1024)}) {
      const int64_t M = f2->panel;
      const size_t rb = row_size(t, K), prb = f2->row_bytes(K), ab = f2->act_row_bytes(K);
      Bytes w;
      for (int64_t r = 0; r < M; ++r) {
        const Bytes row = random_raw_row(t, K, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      std::vector<uint8_t> packed(prb * size_t(M)), act(ab * 5);
      f2->pack_rows(w.data(), rb, K, 0, M, packed.data());
      for (int tok = 0; tok < 5; ++tok) f2->prepare(random_floats(K, rng, 2.0f).data(), K, act.data() + size_t(tok) * ab);
      for (int n = 1; n <= 5; ++n) {
        std::vector<float> a(size_t(M) * 5, 0.0f), b(size_t(M) * 5, 1.0f);
        f2->dot_panel(K, a.data(), size_t(M), packed.data(), act.data(), ab, n, 0);
        f5->dot_panel(K, b.data(), size_t(M), packed.data(), act.data(), ab, n, 0);
        EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * size_t(M * n)), 0)
            << type_name(t) << " K=" << K << " n=" << n << ": " << a[0] << " vs " << b[0];
      }
      ++checked;
    }
  }
  if (!checked) GTEST_SKIP() << "this CPU lacks AVX-512 or AVX2";
}

TEST(VecDotPackedDispatch, OnlyTheTypesWithAFormat) {
  for (GgmlType t : kTypes)
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
      if (t != GgmlType::Q4_0 && t != GgmlType::Q4_K && t != GgmlType::Q5_K && t != GgmlType::Q6_K &&
          t != GgmlType::Q8_0) {
        EXPECT_EQ(packed_format_for(t, isa), nullptr) << type_name(t);
      }
  EXPECT_EQ(packed_format_for(GgmlType::Q4_0, Isa::Scalar), nullptr);
  EXPECT_EQ(packed_format_for(GgmlType::Q8_0, Isa::Avx2), nullptr);  // maddubs would saturate
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (dot_kernel_for(GgmlType::Q4_K, isa))
      for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0}) {
        if (t == GgmlType::Q8_0 && isa == Isa::Avx2) continue;
        ASSERT_NE(packed_format_for(t, isa), nullptr) << type_name(t);
        EXPECT_EQ(packed_format_for(t, isa)->panel, 16) << type_name(t);
      }
}

// Every byte of the weight blocks set to an extreme pattern (largest / smallest codes, K-quant
// scales of 63, Q6_K scales of +-127/-128, Q8_0 values of -128 and 127) against activations of
// +-127 all of one sign or alternating: the largest integer sums the kernels can see, where an
// int16 overflow in a maddubs path would show.
class VecDotBlocks : public ::testing::TestWithParam<GgmlType> {};  // the integer (block) types

TEST_P(VecDotBlocks, ExtremeValues) {
  const GgmlType t = GetParam();
  const int64_t n = 4096;
  const uint8_t patterns[] = {0xFF, 0x00, 0x80, 0x7F, 0x88, 0x77, 0xF0, 0x0F};
  const size_t bs = traits(t).type_size;
  for (uint8_t pattern : patterns) {
    Bytes x(row_size(t, n), pattern);
    for (size_t off = 0; off < x.size(); off += bs) set_block_scales(t, x.data() + off, 1.0f, 0.5f);
    for (int sign_mode = 0; sign_mode < 3; ++sign_mode) {
      std::vector<float> a(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) a[size_t(i)] = sign_mode == 0 ? 1.0f : sign_mode == 1 ? -1.0f : (i % 2 ? 1.0f : -1.0f);
      const Bytes y = quantized(expected_vec_dot_type(t), a);
      check_pair(t, n, x, y, "pattern " + std::to_string(pattern) + " signs " + std::to_string(sign_mode));
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<GgmlType>& info) { return std::string(type_name(info.param)); }
INSTANTIATE_TEST_SUITE_P(AllPairings, VecDot, ::testing::ValuesIn(kTypes), param_name);
// kTypes minus F32, F16, BF16 (no integer path).
INSTANTIATE_TEST_SUITE_P(BlockPairings, VecDotBlocks, ::testing::ValuesIn(kTypes + 3, kTypes + std::size(kTypes)),
                         param_name);

TEST(VecDotDispatch, TypesWithoutKernel) {
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::IQ2_XXS, GgmlType::I32}) {
    EXPECT_EQ(dot_kernel(t), nullptr) << type_name(t);
    EXPECT_EQ(dot_kernel_for(t, Isa::Scalar), nullptr) << type_name(t);
  }
}

TEST(VecDotDispatch, IsaNamesAndActiveIsaIsSupported) {
  EXPECT_STREQ(isa_name(Isa::Scalar), "scalar");
  EXPECT_STREQ(isa_name(Isa::Avx2), "avx2");
  EXPECT_STREQ(isa_name(Isa::Avx512), "avx512");
  // The active ISA has kernels, and so does every lower one.
  EXPECT_NE(dot_kernel_for(GgmlType::Q4_0, active_isa()), nullptr);
  for (int i = 0; i <= int(active_isa()); ++i) EXPECT_NE(dot_kernel_for(GgmlType::Q4_0, Isa(i)), nullptr);
}

// NNB_ISA=scalar|avx2|avx512 lowers the ISA dot_kernel() uses; the ISA is chosen once per
// process, so ctest runs this suite again as VecDotDispatch.*.avx2 / .scalar with the variable
// set (tests/CMakeLists.txt). Without it the best ISA the CPU has is active.
TEST(VecDotDispatch, IsaEnvironmentOverride) {
  Isa best = Isa::Scalar;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (dot_kernel_for(GgmlType::Q4_0, isa)) best = isa;
  const char* env = std::getenv("NNB_ISA");
  if (!env || !*env) {
    EXPECT_EQ(active_isa(), best);
    return;
  }
  bool known = false;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (std::string(env) != isa_name(isa)) continue;
    known = true;
    if (!dot_kernel_for(GgmlType::Q4_0, isa))
      GTEST_SKIP() << "NNB_ISA=" << env << ": this CPU lacks that path (the engine ignores the request)";
    EXPECT_EQ(active_isa(), int(isa) < int(best) ? isa : best);
    EXPECT_EQ(dot_kernel(GgmlType::Q4_0), dot_kernel_for(GgmlType::Q4_0, active_isa()));
  }
  EXPECT_TRUE(known) << "NNB_ISA=" << env << " names no ISA";
}

// A hand-computed case: Q8_0 x Q8_0 with d = 1 on both sides is a plain integer dot product.
TEST(VecDotDispatch, HandComputedQ8_0) {
  block_q8_0 x[2], y[2];
  int64_t expect = 0;
  for (int b = 0; b < 2; ++b) {
    x[b].d = y[b].d = fp32_to_fp16(1.0f);
    for (int j = 0; j < 32; ++j) {
      x[b].qs[j] = int8_t(j - 16 + b);
      y[b].qs[j] = int8_t(3 * j - 50);
      expect += int64_t(x[b].qs[j]) * y[b].qs[j];
    }
  }
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const DotKernel* k = dot_kernel_for(GgmlType::Q8_0, isa);
    if (!k) continue;
    float s = 0;
    k->vec_dot(64, &s, x, y);
    EXPECT_EQ(s, float(expect)) << isa_name(isa);
  }
}

}  // namespace
}  // namespace nnb
