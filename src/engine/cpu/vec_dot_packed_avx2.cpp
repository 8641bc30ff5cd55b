// AVX2 (+FMA, F16C) mat-vec kernel over packed Q4_0 rows (layout: vec_dot_packed.h): the
// AVX-512 algorithm on the two 256-bit halves of each 64-byte vector (lanes 0-7, 8-15), maddubs
// + madd for dpbusd. Q4_0 only: packed Q4_K / Q5_K kernels written the same way ran at 1.06 /
// 1.1x the one-row AVX2 kernels (L2-resident, vec_dot_bench), too little for a second copy of
// the weights.
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_x86.h"

namespace nnb::kern {

// Q4_0: lane sums as in the AVX-512 kernel; the low- and high-nibble products are added in
// int16 first (each maddubs lane <= 2 * 15 * 127, the two together < 2^15).
void avx2_packed_q4_0_dot(int64_t K, float* s, const void* vrow, const void* vact) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  const int64_t G = (K + 511) / 512;
  const bool half = packed_half_last(K, 512);  // the last group's codes are [4][32] (half_tail)
  const uint8_t* scales = row;  // scales first, padded to 64 bytes, then the codes
  const uint8_t* codes = row + packed_scales_area(G, 32);
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* c = codes + g * 256;
    const uint8_t* a = act + g * 640;
    const bool half_group = half && g == G - 1;
    const int64_t chunk = half_group ? 32 : 64;
    for (int h = 0; h < (half_group ? 1 : 2); ++h) {
      __m256i sum = load256(a + 64 + 32 * h);
      for (int ch = 0; ch < 4; ++ch) {
        const __m256i v = load256(c + chunk * ch + 32 * h);
        const __m256i p = _mm256_add_epi16(
            _mm256_maddubs_epi16(_mm256_and_si256(v, m4), load256(a + 128 + 64 * ch + 32 * h)),
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), load256(a + 384 + 64 * ch + 32 * h)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, ones));
      }
      const __m128i dx = _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + g * 32 + 16 * h));
      const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(dx), _mm256_loadu_ps(reinterpret_cast<const float*>(a + 32 * h)));
      acc[h] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[h]);
    }
  }
  *s = hsum_f32_8(_mm256_add_ps(acc[0], acc[1]));
}

}  // namespace nnb::kern
