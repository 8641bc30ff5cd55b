// AVX-512 (F/BW + VNNI) mat-vec kernel over packed Q4_0 rows (layout: vec_dot_packed.h).
#include "engine/cpu/vec_dot_x86.h"

// GCC 12 warns inside its own avx512fintrin.h (see vec_dot_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace nnb::kern {

// Per group of 16 blocks: eight dpbusd of unsigned codes against the activation bytes, in four
// chains (dpbusd's latency), started from -8 * sum(q) so the int32 lane b ends as block b's
// exact sum; then one f32 conversion and one FMA with d_x * d_y for all 16 blocks.
void avx512_packed_q4_0_dot(int64_t K, float* s, const uint8_t* codes, const uint8_t* scales, const uint8_t* act) {
  const int64_t G = (K / 32 + 15) / 16;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* c = codes + g * 256;
    const uint8_t* a = act + g * 640;
    __m512i s0 = load512(a + 64), s1 = _mm512_setzero_si512(), s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
    for (int ch = 0; ch < 4; ch += 2) {
      const __m512i v0 = load512(c + 64 * ch), v1 = load512(c + 64 * (ch + 1));
      s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v0, m4), load512(a + 128 + 64 * ch));
      s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(v1, m4), load512(a + 128 + 64 * (ch + 1)));
      s2 = _mm512_dpbusd_epi32(s2, _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4), load512(a + 384 + 64 * ch));
      s3 = _mm512_dpbusd_epi32(s3, _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4), load512(a + 384 + 64 * (ch + 1)));
    }
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3));
    const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(load256(scales + g * 32)), _mm512_loadu_ps(a));
    if (g & 1) acc1 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc1);
    else acc0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc0);
  }
  *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace nnb::kern
