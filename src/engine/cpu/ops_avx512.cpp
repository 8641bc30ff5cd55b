// AVX-512 instance of the ops table (16 lanes).
#include <immintrin.h>

#include "engine/cpu/ops_impl.h"

#include "engine/cpu/avx512_gcc_warnings.h"

namespace nnb::ops_detail {
namespace {

struct Avx512S {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static V load_i8(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  // int32 lanes (one per key) for the q8_0 cache's scores: lane i += k[4i..4i+3] . q (4 int8 in
  // q4). VNNI's dpbusd takes unsigned k: k + 128 (a sign flip), so the lanes start from
  // i8_bias(sum of q) = -128 * sum.
  using VI = __m512i;
  static VI i8_bias(int32_t qsum) { return _mm512_set1_epi32(-128 * qsum); }
  static VI dot_i8x4(VI acc, const int8_t* k, int32_t q4) {
    const __m512i ku = _mm512_xor_si512(_mm512_loadu_si512(k), _mm512_set1_epi8(char(0x80)));
    return _mm512_dpbusd_epi32(acc, ku, _mm512_set1_epi32(q4));
  }
  static VI add_i(VI a, VI b) { return _mm512_add_epi32(a, b); }
  static V cvt_i(VI a) { return _mm512_cvtepi32_ps(a); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_f16(uint16_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
  static float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static V exp(V x) {
    x = _mm512_min_ps(_mm512_max_ps(x, set1(kExpLo)), set1(kExpHi));
    const V fx = _mm512_roundscale_ps(_mm512_mul_ps(x, set1(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(fx, set1(kC1), x);
    r = _mm512_fnmadd_ps(fx, set1(kC2), r);
    V y = set1(kP0);
    y = fma(y, r, set1(kP1));
    y = fma(y, r, set1(kP2));
    y = fma(y, r, set1(kP3));
    y = fma(y, r, set1(kP4));
    y = fma(y, r, set1(kP5));
    y = fma(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, set1(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
  }
  static double sumsq(const float* x, int64_t n) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 v = _mm512_loadu_ps(x + i);
      const __m512 p = _mm512_mul_ps(v, v);
      a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
      a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(p, 1)));
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    for (; i < n; ++i) s += double(x[i] * x[i]);
    return s;
  }
};

void attend(const AttnArgs& a) {
  if (a.head_dim % Avx512S::W != 0) return Ops<ScalarS>::attend(a);
  Ops<Avx512S>::attend(a);
}

}  // namespace

const OpsTable* avx512_ops() {
  static constexpr OpsTable t = [] {
    OpsTable o = Ops<Avx512S>::table();
    o.attend = attend;
    return o;
  }();
  return &t;
}

}  // namespace nnb::ops_detail
