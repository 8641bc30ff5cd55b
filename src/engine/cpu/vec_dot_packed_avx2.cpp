// AVX2 (+FMA, F16C) mat-vec kernels over packed Q4_0 rows (layout: vec_dot_packed.h, the
// AVX-512 one): the AVX-512 algorithm on the two 256-bit halves of each 64-byte vector (lanes
// 0-7, 8-15), maddubs for dpbusd, with the products summed in int16 over as many chunks as their
// range allows before one madd (below). The K-quants' panels: vec_dot_panel_avx2.cpp.
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_x86.h"

namespace nnb::kern {

// Q4_0: lane sums as in the AVX-512 kernel; the low- and high-nibble products of a group's 4
// chunks add up in int16 (8 maddubs lanes of at most 2 * 15 * 127: 30,480 < 2^15) before one
// madd (one per chunk before: 34.6-36.0 -> 39.5-39.9 GB/s from L2; with dot_rows, tg 1 thread
// 169 -> 199 t/s). N activation rows (act + t * act_stride) against one row: out[t] = the
// row's 8 lane sums for token t; each chunk's codes unpacked once for all N (a small batch),
// each token's operations those of N = 1, the one-row kernel (always inlined: as a call, the
// one-row path ran 6 % slower).
template <int N>
static inline __attribute__((always_inline)) void packed_q4_0_rows(int64_t K, const uint8_t* row, const uint8_t* act,
                                                                  size_t act_stride, __m256 out[N]) {
  const int64_t G = (K + 511) / 512;
  const bool half = packed_half_last(K, 512);  // the last group's codes are [4][32] (half_tail)
  const uint8_t* scales = row;  // scales first, padded to 64 bytes, then the codes
  const uint8_t* codes = row + packed_scales_area(G, 32);
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 acc[N][2];
  for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* c = codes + g * 256;
    const bool half_group = half && g == G - 1;
    const int64_t chunk = half_group ? 32 : 64;
    for (int h = 0; h < (half_group ? 1 : 2); ++h) {
      __m256i p[N];
      for (int t = 0; t < N; ++t) p[t] = _mm256_setzero_si256();
      for (int ch = 0; ch < 4; ++ch) {
        const __m256i v = load256(c + chunk * ch + 32 * h);
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int t = 0; t < N; ++t) {
          const uint8_t* a = act + t * act_stride + g * 640;
          p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(lo, load256(a + 128 + 64 * ch + 32 * h)));
          p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(hi, load256(a + 384 + 64 * ch + 32 * h)));
        }
      }
      const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + g * 32 + 16 * h)));
      for (int t = 0; t < N; ++t) {
        const uint8_t* a = act + t * act_stride + g * 640;
        const __m256i sum = _mm256_add_epi32(load256(a + 64 + 32 * h), _mm256_madd_epi16(p[t], ones));
        const __m256 d = _mm256_mul_ps(dx, _mm256_loadu_ps(reinterpret_cast<const float*>(a + 32 * h)));
        acc[t][h] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[t][h]);
      }
    }
  }
  for (int t = 0; t < N; ++t) out[t] = _mm256_add_ps(acc[t][0], acc[t][1]);
}

static __m256 packed_q4_0_row(int64_t K, const uint8_t* row, const uint8_t* act) {
  __m256 v[1];
  packed_q4_0_rows<1>(K, row, act, 0, v);
  return v[0];
}

void avx2_packed_q4_0_dot_n(int64_t K, float* s, size_t s_stride, const void* vrow, const void* vact, size_t act_stride,
                            int n) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  __m256 v[4];
  switch (n) {
    case 1: packed_q4_0_rows<1>(K, row, act, act_stride, v); break;
    case 2: packed_q4_0_rows<2>(K, row, act, act_stride, v); break;
    case 3: packed_q4_0_rows<3>(K, row, act, act_stride, v); break;
    default: n = 4, packed_q4_0_rows<4>(K, row, act, act_stride, v); break;
  }
  for (int t = 0; t < n; ++t) s[t * s_stride] = hsum_f32_8(v[t]);
}

void avx2_packed_q4_0_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = hsum_f32_8(packed_q4_0_row(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}

void avx2_packed_q4_0_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  for (int64_t r = 0; r < n; ++r)
    s[r] = hsum_f32_8(packed_q4_0_row(K, static_cast<const uint8_t*>(rows) + size_t(r) * row_bytes,
                                      static_cast<const uint8_t*>(act)));
}

}  // namespace nnb::kern
