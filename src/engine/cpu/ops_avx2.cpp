// AVX2/FMA instance of the ops table (8 lanes).
#include <immintrin.h>

#include "engine/cpu/ops_impl.h"

namespace nnb::ops_detail {
namespace {

struct Avx2S {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V load_i8(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  // int32 lanes += k[4i..4i+3] . q (see Avx512S): |k| times q with k's sign (maddubs takes an
  // unsigned operand; pairs stay within int16: 2 * 127 * 128), then pairs of int16 summed.
  using VI = __m256i;
  static VI i8_bias(int32_t) { return _mm256_setzero_si256(); }
  static VI dot_i8x4(VI acc, const int8_t* k, int32_t q4) {
    const __m256i kv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k));
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(kv), _mm256_sign_epi8(_mm256_set1_epi32(q4), kv));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  static VI add_i(VI a, VI b) { return _mm256_add_epi32(a, b); }
  static V cvt_i(VI a) { return _mm256_cvtepi32_ps(a); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store_f16(uint16_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static float hmax(V v) {
    __m128 r = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_max_ps(r, _mm_movehl_ps(r, r));
    r = _mm_max_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
  }
  static float hsum(V v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
  }
  static V exp(V x) {
    x = _mm256_min_ps(_mm256_max_ps(x, set1(kExpLo)), set1(kExpHi));
    const V fx = _mm256_round_ps(_mm256_mul_ps(x, set1(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(fx, set1(kC1), x);
    r = _mm256_fnmadd_ps(fx, set1(kC2), r);
    V y = set1(kP0);
    y = fma(y, r, set1(kP1));
    y = fma(y, r, set1(kP2));
    y = fma(y, r, set1(kP3));
    y = fma(y, r, set1(kP4));
    y = fma(y, r, set1(kP5));
    y = fma(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, set1(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  }
  static double sumsq(const float* x, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 p = _mm256_mul_ps(v, v);
      a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
      a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
    }
    alignas(32) double t[4];
    _mm256_store_pd(t, _mm256_add_pd(a0, a1));
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; ++i) s += double(x[i] * x[i]);
    return s;
  }
};

void attend(const AttnArgs& a) {
  if (a.head_dim % Avx2S::W != 0) return Ops<ScalarS>::attend(a);
  Ops<Avx2S>::attend(a);
}

}  // namespace

const OpsTable* avx2_ops() {
  static constexpr OpsTable t = [] {
    OpsTable o = Ops<Avx2S>::table();
    o.attend = attend;
    return o;
  }();
  return &t;
}

}  // namespace nnb::ops_detail
