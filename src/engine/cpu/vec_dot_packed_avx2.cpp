// AVX2 (+FMA, F16C) mat-vec kernels over packed Q4_0 and Q4_K rows (layouts: vec_dot_packed.h,
// the AVX-512 ones): the AVX-512 algorithms on the two 256-bit halves of each 64-byte vector
// (lanes 0-7, 8-15), maddubs for dpbusd, with the products summed in int16 over as many chunks
// as their range allows before one madd (below).
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

// Q4_K, on the AVX-512 packed layout (vec_dot_packed.h: per group of 4 super-blocks, lane l of
// a 64-byte chunk holds 4 code bytes of sub-block pair l % 4 of super-block l / 4), each half
// (lanes 0-7, 8-15) on its own: the low and high nibbles' products accumulate in int16 over the
// group's 8 chunks (each int16 2 x 8 products of at most 15 x 128, <= 30,720), then one madd by
// the sub-block's scale, doubled to an int16 pair, gives scale x sum per lane, exactly the
// AVX-512 kernel's value; mins, d and dmin as there. (The earlier AVX2 form of that kernel, madd
// by ones at every chunk and the scales in float, ran only 1.06x the one-row kernel. Q5_K the
// same way, its fifth bits by a byte test of the bit planes and int16 sums over 4 chunks: 19 ->
// 23 GB/s from L2 but tg 1 thread 125 -> 128 t/s, too little for a copy of the weights.)

// Shuffles taking byte i of 16 scale bytes (in both 128-bit halves) to the int16 pair (s, s)
// in lane i - 8h, for the lanes of half h.
struct DoubledScales {
  __m256i dup[2];
  DoubledScales()
      : dup{_mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1, 4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6,
                             -1, 7, -1, 7, -1),
            _mm256_setr_epi8(8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1, 12, -1, 12, -1, 13, -1, 13, -1,
                             14, -1, 14, -1, 15, -1, 15, -1)} {}
  __m256i operator()(__m256i bytes16x2, int h) const { return _mm256_shuffle_epi8(bytes16x2, dup[h]); }
};

// acc += d_y * (d * q - dmin * m) for half h of a group: q the lanes' scaled sums, m the mins
// against the activation's sub-block sums; d, dmin of super-blocks 2h, 2h+1 spread over lanes
// 0-3 and 4-7.
static inline void k4_apply(__m256i q, const uint8_t* mt, const uint8_t* a, int h, __m256& acc) {
  const __m256i mins = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + 32 + 16 * h)));
  const __m256i m = _mm256_madd_epi16(mins, load256(a + 1024 + 32 * h));
  const __m256 dd = _mm256_castps128_ps256(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mt + 64 + 8 * h))));
  const __m256 d = _mm256_permutevar8x32_ps(dd, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
  const __m256 dmin = _mm256_permutevar8x32_ps(dd, _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3));
  const __m256 f = _mm256_fmsub_ps(d, _mm256_cvtepi32_ps(q), _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(m)));
  acc = _mm256_fmadd_ps(_mm256_loadu_ps(reinterpret_cast<const float*>(a + 1088 + 32 * h)), f, acc);
}

// The Q4_K kernel: a row's 8 lane sums (the two halves added).
static __m256 packed_q4_K_row(int64_t K, const uint8_t* row, const uint8_t* act) {
  const int64_t G = (K + 1023) / 1024;
  const uint8_t* meta = row;  // 80 bytes per group, then the codes
  const uint8_t* codes = row + packed_scales_area(G, 80);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const DoubledScales doubled_scales;
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* mt = meta + g * 80;
    const uint8_t* c = codes + g * 512;
    const uint8_t* a = act + g * 1152;
    const __m256i sc_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt)));
    const __m256i sc_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + 16)));
    for (int h = 0; h < 2; ++h) {
      __m256i p_lo = _mm256_setzero_si256(), p_hi = p_lo;
      for (int ch = 0; ch < 8; ++ch) {
        const __m256i v = load256(c + 64 * ch + 32 * h);
        p_lo = _mm256_add_epi16(p_lo, _mm256_maddubs_epi16(_mm256_and_si256(v, m4), load256(a + 64 * ch + 32 * h)));
        p_hi = _mm256_add_epi16(p_hi, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                                                           load256(a + 512 + 64 * ch + 32 * h)));
      }
      const __m256i q = _mm256_add_epi32(_mm256_madd_epi16(p_lo, doubled_scales(sc_lo, h)),
                                         _mm256_madd_epi16(p_hi, doubled_scales(sc_hi, h)));
      k4_apply(q, mt, a, h, acc[h]);
    }
  }
  return _mm256_add_ps(acc[0], acc[1]);
}

// The same for N = 2..4 tokens of a small batch: each chunk's codes unpacked once for all;
// every token's operations and their order are the one-row kernel's, so its result is too.
template <int N>
static void packed_q4_K_rows(int64_t K, float* s, size_t s_stride, const uint8_t* row, const uint8_t* act,
                             size_t act_stride) {
  const int64_t G = (K + 1023) / 1024;
  const uint8_t* meta = row;
  const uint8_t* codes = row + packed_scales_area(G, 80);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const DoubledScales doubled_scales;
  __m256 acc[N][2];
  for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* mt = meta + g * 80;
    const uint8_t* c = codes + g * 512;
    const __m256i sc_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt)));
    const __m256i sc_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt + 16)));
    for (int h = 0; h < 2; ++h) {
      __m256i p_lo[N], p_hi[N];
      for (int t = 0; t < N; ++t) p_lo[t] = p_hi[t] = _mm256_setzero_si256();
      for (int ch = 0; ch < 8; ++ch) {
        const __m256i v = load256(c + 64 * ch + 32 * h);
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int t = 0; t < N; ++t) {
          const uint8_t* a = act + t * act_stride + g * 1152;
          p_lo[t] = _mm256_add_epi16(p_lo[t], _mm256_maddubs_epi16(lo, load256(a + 64 * ch + 32 * h)));
          p_hi[t] = _mm256_add_epi16(p_hi[t], _mm256_maddubs_epi16(hi, load256(a + 512 + 64 * ch + 32 * h)));
        }
      }
      const __m256i s_lo = doubled_scales(sc_lo, h), s_hi = doubled_scales(sc_hi, h);
      for (int t = 0; t < N; ++t)
        k4_apply(_mm256_add_epi32(_mm256_madd_epi16(p_lo[t], s_lo), _mm256_madd_epi16(p_hi[t], s_hi)), mt,
                 act + t * act_stride + g * 1152, h, acc[t][h]);
    }
  }
  for (int t = 0; t < N; ++t) s[t * s_stride] = hsum_f32_8(_mm256_add_ps(acc[t][0], acc[t][1]));
}

void avx2_packed_q4_K_dot_n(int64_t K, float* s, size_t s_stride, const void* vrow, const void* vact, size_t act_stride,
                            int n) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  switch (n) {
    case 1: *s = hsum_f32_8(packed_q4_K_row(K, row, act)); return;
    case 2: return packed_q4_K_rows<2>(K, s, s_stride, row, act, act_stride);
    case 3: return packed_q4_K_rows<3>(K, s, s_stride, row, act, act_stride);
    default: return packed_q4_K_rows<4>(K, s, s_stride, row, act, act_stride);
  }
}

void avx2_packed_q4_K_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = hsum_f32_8(packed_q4_K_row(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}

void avx2_packed_q4_K_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  for (int64_t r = 0; r < n; ++r)
    s[r] = hsum_f32_8(packed_q4_K_row(K, static_cast<const uint8_t*>(rows) + size_t(r) * row_bytes,
                                      static_cast<const uint8_t*>(act)));
}

}  // namespace nnb::kern
