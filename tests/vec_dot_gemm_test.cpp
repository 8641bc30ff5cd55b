// GEMM kernels (vec_dot_gemm.h) against the per-row dot kernels of the same ISA: every weight
// type with a GEMM kernel, on AVX-512 and on AVX2 where the CPU has them, two panels each,
// token counts that hit every tile size and remainder, row lengths with odd block counts. The
// integer block sums are exact on both paths, so the only difference is the order of float
// additions: checked against a bound proportional to sum |w_k * a_k|. Also: the prepared activations hold exactly the values of
// quantize_row_activation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/quant/quants.h"
#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_gemm.h"

namespace nnb {
namespace {

// The weight types with an AVX-512 and an AVX2 GEMM kernel; the others always take the per-row
// kernels (GemmDispatch checks both lists). There are no scalar GEMM kernels: under
// NNB_ISA=scalar GemmDispatch checks that the engine has no GEMM kernel at all, i.e. that every
// batch takes the per-row path that vec_dot_test checks. The kernel tests call each ISA's
// kernels directly (gemm_kernel_for), so one run covers both; an ISA the CPU lacks skips.
const GgmlType kGemmTypes[] = {GgmlType::F32,  GgmlType::F16,    GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                               GgmlType::Q5_0, GgmlType::IQ4_NL, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
const GgmlType kPerRowOnly[] = {GgmlType::Q4_1, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::IQ4_XS};

TEST(GemmDispatch, KernelsExactlyWhereDocumented) {
  const bool simd = active_isa() != Isa::Scalar;
  for (GgmlType t : kGemmTypes) {
    EXPECT_EQ(gemm_kernel(t) != nullptr, simd) << type_name(t) << " on " << isa_name(active_isa());
    for (Isa isa : {Isa::Avx512, Isa::Avx2})
      if (dot_kernel_for(t, isa)) {
        EXPECT_NE(gemm_kernel_for(t, isa), nullptr) << type_name(t) << " " << isa_name(isa);
      }
    EXPECT_EQ(gemm_kernel_for(t, Isa::Scalar), nullptr) << type_name(t);
  }
  for (GgmlType t : kPerRowOnly)
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) EXPECT_EQ(gemm_kernel_for(t, isa), nullptr) << type_name(t);
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = dist(rng);
  return v;
}

// GEMM vs per-row bound, relative to sum |w_k * a_k|: 4x the worst measured over every type,
// ISA, length and token count here (1.87e-7, F32 on AVX-512 and AVX2 alike; the AVX2 quantized
// types 5.1e-8 .. 7.8e-8; printed by each run).
constexpr double kGemmTol = 7.5e-7;

// Runs the GEMM kernel g (per-row kernel dk) over M weight rows w (quantized, K elements each)
// and n activation rows x, and checks every output against the per-row kernel on
// quantize_row_activation rows; returns the worst |d| / sum|w*a|.
double check_against_per_row(GgmlType t, const GemmKernel* g, const DotKernel* dk, const std::vector<uint8_t>& w, int M,
                             int64_t K, const std::vector<float>& x, int n) {
  const size_t rb = row_size(t, K);
  std::vector<float> wf(size_t(K) * size_t(M));
  for (int r = 0; r < M; ++r) dequantize_row(t, w.data() + rb * size_t(r), wf.data() + size_t(r) * size_t(K), K);
  // Reference: per-row kernel on quantize_row_activation rows.
  const GgmlType vt = dk->vec_dot_type;
  const size_t vrb = vt == GgmlType::F32 ? size_t(K) * 4 : row_size(vt, K);
  std::vector<uint8_t> va(vrb * size_t(n));
  std::vector<float> vaf(size_t(K) * size_t(n));
  for (int i = 0; i < n; ++i) {
    if (vt == GgmlType::F32) std::memcpy(va.data() + vrb * size_t(i), x.data() + size_t(i) * size_t(K), vrb);
    else quantize_row_activation(vt, x.data() + size_t(i) * size_t(K), va.data() + vrb * size_t(i), K);
    dequantize_row(vt, va.data() + vrb * size_t(i), vaf.data() + size_t(i) * size_t(K), K);
  }
  // GEMM.
  const size_t ab = gemm_act_bytes(g->act, K);
  EXPECT_EQ(ab % 64, 0u);
  std::vector<uint8_t> ga(ab * size_t(n) + 64);
  uint8_t* gap = ga.data() + (64 - reinterpret_cast<uintptr_t>(ga.data()) % 64) % 64;
  for (int i = 0; i < n; ++i) gemm_prepare(g->act, x.data() + size_t(i) * size_t(K), K, gap + ab * size_t(i));
  std::vector<uint8_t> panel(g->panel_bytes(K));
  std::vector<float> out(size_t(M) * size_t(n), NAN);
  for (int p = 0; p < M / g->rows; ++p) {
    g->pack(w.data() + rb * size_t(p * g->rows), rb, K, panel.data());
    g->compute(panel.data(), K, gap, ab, n, out.data() + p * g->rows, M);
  }
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    for (int r = 0; r < M; ++r) {
      float ref;
      dk->vec_dot(K, &ref, w.data() + rb * size_t(r), va.data() + vrb * size_t(i));
      double mag = 0;
      for (int64_t k = 0; k < K; ++k)
        mag += std::abs(double(wf[size_t(r) * size_t(K) + size_t(k)]) * vaf[size_t(i) * size_t(K) + size_t(k)]);
      const float got = out[size_t(i) * size_t(M) + size_t(r)];
      EXPECT_NEAR(got, ref, kGemmTol * mag + 1e-30) << "row " << r << " token " << i;
      if (mag > 0) worst = std::max(worst, std::fabs(double(got) - ref) / mag);
    }
  }
  return worst;
}

class Gemm : public ::testing::TestWithParam<std::tuple<GgmlType, Isa>> {};

TEST_P(Gemm, MatchesPerRowKernels) {
  const auto [t, isa] = GetParam();
  const GemmKernel* g = gemm_kernel_for(t, isa);
  if (!g) GTEST_SKIP() << "this CPU lacks " << isa_name(isa);
  const DotKernel* dk = dot_kernel_for(t, isa);
  ASSERT_NE(dk, nullptr);
  const int64_t bs = traits(t).block_size;
  std::vector<int64_t> lengths = bs == 256 ? std::vector<int64_t>{256, 768, 1024}
                                 : bs == 32 ? std::vector<int64_t>{32, 96, 320, 1024}
                                            : std::vector<int64_t>{16, 37, 256, 1000};
  std::mt19937 rng(42 + int(t));
  double worst = 0;
  struct Print {
    const double& w;
    GgmlType t;
    Isa isa;
    ~Print() {
      std::printf("[ %-6s %-6s ] GEMM vs per-row: worst |d| / sum|w*a| %.3g (bound %.3g)\n",
                  std::string(type_name(t)).c_str(), std::string(isa_name(isa)).c_str(), w, kGemmTol);
    }
  } print{worst, t, isa};
  for (int64_t K : lengths) {
    const int M = 2 * g->rows;
    const size_t rb = row_size(t, K);
    std::vector<uint8_t> w(rb * size_t(M));
    for (int r = 0; r < M; ++r) {
      auto f = random_floats(K, rng, r % 5 == 0 ? 0.01f : 1.0f);
      quantize_row(t, f.data(), w.data() + rb * size_t(r), K);
    }
    for (int n : {1, 3, 8, 13, 21}) {
      SCOPED_TRACE(std::string(type_name(t)) + " K=" + std::to_string(K) + " n=" + std::to_string(n));
      std::vector<float> x(size_t(K) * size_t(n));
      for (int i = 0; i < n; ++i) {
        auto f = random_floats(K, rng, i % 4 == 1 ? 30.0f : 1.0f);
        std::copy(f.begin(), f.end(), x.begin() + size_t(i) * size_t(K));
      }
      worst = std::max(worst, check_against_per_row(t, g, dk, w, M, K, x, n));
    }
  }
}

// The integer sums at the ends of their ranges: every weight byte 0xFF (the largest values,
// scales and mins; Q6_K's scales also at -128) against activations whose quantized values all
// sit at the ends of their range (+-127, Q8_0's -127..127 and Q8_K's), so an int16 step sum or
// an int32 super-block sum that overflowed would show.
TEST_P(Gemm, ExtremeValuesStayExact) {
  const auto [t, isa] = GetParam();
  const GemmKernel* g = gemm_kernel_for(t, isa);
  if (!g) GTEST_SKIP() << "this CPU lacks " << isa_name(isa);
  if (g->act == GemmAct::F32 || g->act == GemmAct::F16R || g->act == GemmAct::BF16R) GTEST_SKIP() << "a float type";
  const DotKernel* dk = dot_kernel_for(t, isa);
  const int64_t K = 512;
  const int M = 2 * g->rows;
  const size_t rb = row_size(t, K), bb = traits(t).type_size;
  std::vector<uint8_t> w(rb * size_t(M), 0xFF);
  const ggml_fp16_t d = fp32_to_fp16(0.01f), dmin = fp32_to_fp16(0.02f);
  for (size_t b = 0; b < w.size() / bb; ++b) {
    uint8_t* blk = w.data() + b * bb;
    const int r = int(b * bb / rb);
    if (t == GgmlType::Q6_K) {
      if (r % 2) std::memset(reinterpret_cast<block_q6_K*>(blk)->scales, 0x80, 16);
      std::memcpy(&reinterpret_cast<block_q6_K*>(blk)->d, &d, 2);
    } else if (t == GgmlType::Q4_K || t == GgmlType::Q5_K) {
      std::memcpy(blk, &d, 2);  // d, dmin lead both layouts
      std::memcpy(blk + 2, &dmin, 2);
    } else {
      std::memcpy(blk, &d, 2);  // the 32-element types: d first
    }
  }
  const int n = 5;
  std::vector<float> x(size_t(K) * n);
  for (int64_t k = 0; k < K; ++k) {
    x[size_t(k)] = -1.0f;                               // all at one end
    x[size_t(K + k)] = 1.0f;                            // the other
    x[size_t(2 * K + k)] = k % 2 ? 1.0f : -1.0f;        // alternating
    x[size_t(3 * K + k)] = k % 7 == 0 ? -1.0f : 0.99f;  // mostly 126, some at the other end
    x[size_t(4 * K + k)] = k % 3 == 0 ? 0.5f : -1.0f;
  }
  SCOPED_TRACE(std::string(type_name(t)) + " " + std::string(isa_name(isa)));
  check_against_per_row(t, g, dk, w, M, K, x, n);
}

std::string type_param_name(const ::testing::TestParamInfo<std::tuple<GgmlType, Isa>>& i) {
  return std::string(type_name(std::get<0>(i.param))) + "_" + std::string(isa_name(std::get<1>(i.param)));
}
INSTANTIATE_TEST_SUITE_P(GemmTypes, Gemm,
                         ::testing::Combine(::testing::ValuesIn(kGemmTypes), ::testing::Values(Isa::Avx512, Isa::Avx2)),
                         type_param_name);

// The prepared activation layouts carry exactly ggml's quantized values.
TEST(GemmPrepare, SameValuesAsActivationQuantization) {
  std::mt19937 rng(7);
  const int64_t K = 512;
  const auto x = random_floats(K, rng, 3.0f);
  {
    std::vector<uint8_t> a(gemm_act_bytes(GemmAct::Q8_0, K));
    gemm_prepare(GemmAct::Q8_0, x.data(), K, a.data());
    std::vector<block_q8_0> ref(size_t(K / 32));
    quantize_row_activation(GgmlType::Q8_0, x.data(), ref.data(), K);
    const float* d = reinterpret_cast<const float*>(a.data() + K);
    const int32_t* ns = reinterpret_cast<const int32_t*>(a.data() + K + (K / 32) * 4);
    for (int64_t b = 0; b < K / 32; ++b) {
      EXPECT_EQ(std::memcmp(a.data() + b * 32, ref[size_t(b)].qs, 32), 0);
      EXPECT_EQ(d[b], fp16_to_fp32(ref[size_t(b)].d));
      int32_t s = 0;
      for (int k = 0; k < 32; ++k) s += ref[size_t(b)].qs[k];
      EXPECT_EQ(ns[b], -s);
    }
  }
  {
    std::vector<uint8_t> a(gemm_act_bytes(GemmAct::Q8_K, K));
    gemm_prepare(GemmAct::Q8_K, x.data(), K, a.data());
    std::vector<block_q8_K> ref(size_t(K / 256));
    quantize_row_activation(GgmlType::Q8_K, x.data(), ref.data(), K);
    const float* d = reinterpret_cast<const float*>(a.data() + K);
    // int16 sums per 16 and per 32 values (the AVX2 kernels' offsets) after the float fields
    const int16_t* s16 = reinterpret_cast<const int16_t*>(a.data() + K + (K / 256) * 4 + (K / 16) * 8 + (K / 32) * 4);
    const int16_t* s32 = s16 + K / 16;
    for (int64_t b = 0; b < K / 256; ++b) {
      EXPECT_EQ(std::memcmp(a.data() + b * 256, ref[size_t(b)].qs, 256), 0);
      EXPECT_EQ(d[b], ref[size_t(b)].d);
      for (int j = 0; j < 16; ++j) EXPECT_EQ(s16[b * 16 + j], ref[size_t(b)].bsums[j]);
      for (int j = 0; j < 8; ++j)
        EXPECT_EQ(s32[b * 8 + j], ref[size_t(b)].bsums[2 * j] + ref[size_t(b)].bsums[2 * j + 1]);
    }
  }
  {
    std::vector<uint8_t> a(gemm_act_bytes(GemmAct::F16R, K));
    gemm_prepare(GemmAct::F16R, x.data(), K, a.data());
    const float* f = reinterpret_cast<const float*>(a.data());
    for (int64_t k = 0; k < K; ++k) EXPECT_EQ(f[k], fp16_to_fp32(fp32_to_fp16(x[size_t(k)])));
  }
}

}  // namespace
}  // namespace nnb
