// AVX-512 kernels (BW + VNNI) for Q4_K, Q5_K and Q6_K against Q8_K.
//
// The weights are expanded to unsigned bytes 64 at a time, maddubs multiplies them with the
// Q8_K bytes into int16 pairs, and VNNI dpwssd applies the int16 sub-block scales while adding
// into int32, so a whole 256-element super-block is summed exactly before one float multiply.
// Offsets and mins go through Q8_K's per-16 sums (bsums) once per super-block, as in
// vec_dot_kquants_avx2.cpp.
#include "engine/cpu/vec_dot_x86.h"

#include "engine/cpu/avx512_gcc_warnings.h"

namespace nnb::kern {
namespace {

// vpermw indices spreading int16 scales over the 32 int16 lanes of a maddubs result.
//   k4[L]:   lanes 0..15 <- scale 2L, lanes 16..31 <- scale 2L+1 (Q4_K: sub-blocks of 32)
//   q6[c][h]: 128-bit lane i <- scale 8c + 4h + i            (Q6_K: sub-blocks of 16)
struct PermTables {
  alignas(64) uint16_t k4[4][32];
  alignas(64) uint16_t q6[2][2][32];
};
constexpr PermTables make_perm_tables() {
  PermTables t{};
  for (int L = 0; L < 4; ++L)
    for (int i = 0; i < 32; ++i) t.k4[L][i] = uint16_t(2 * L + i / 16);
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 32; ++i) t.q6[c][h][i] = uint16_t(8 * c + 4 * h + i / 8);
  return t;
}
constexpr PermTables kPerm = make_perm_tables();

inline __m512i spread(const uint16_t* idx, __m512i scales) { return _mm512_permutexvar_epi16(load512(idx), scales); }

// Q4_K and Q5_K (kFiveBit): eight sub-blocks of 32 with a 6-bit scale and a 6-bit min each.
// The min term dmin * sum_j min_j * (bsum_2j + bsum_2j+1) is one madd per super-block.
template <bool kFiveBit, class Block>
float dot_k4(int64_t n, const Block* x, const block_q8_K* y) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
  const __m128i dup_mins = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m512 acc = _mm512_setzero_ps();
  __m256 acc_m = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    // d and dmin are adjacent: one conversion, one multiply by Q8_K's d -> [d, dmin, ...]
    uint32_t d_dmin;
    std::memcpy(&d_dmin, &x[i], 4);
    const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(int(d_dmin))), _mm_set1_ps(y[i].d));
    const __m128i sm = k4_scales_mins(x[i].scales);
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm, dup_mins));  // each min twice
    const __m256i msum = _mm256_madd_epi16(load256(y[i].bsums), mins);
    acc_m = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(msum), acc_m);

    const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(sm));
    __m512i hbits = _mm512_setzero_si512();
    if constexpr (kFiveBit) hbits = _mm512_broadcast_i64x4(load256(x[i].qh));
    __m512i sumi0 = _mm512_setzero_si512(), sumi1 = _mm512_setzero_si512();  // two chains
    for (int L = 0; L < 4; ++L) {
      // 32 bytes -> [low nibbles: sub-block 2L | high nibbles: sub-block 2L+1]
      const __m256i bits = load256(x[i].qs + 32 * L);
      __m512i q = _mm512_and_si512(join256(bits, _mm256_srli_epi16(bits, 4)), m4);
      if constexpr (kFiveBit) {
        // fifth bit of sub-block 2L is bit 2L of qh, of sub-block 2L+1 bit 2L+1
        const __m512i bit = join256(_mm256_set1_epi8(char(1 << (2 * L))), _mm256_set1_epi8(char(1 << (2 * L + 1))));
        q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hbits, bit), q, b4);
      }
      const __m512i p = _mm512_maddubs_epi16(q, load512(y[i].qs + 64 * L));
      if (L & 1) sumi1 = _mm512_dpwssd_epi32(sumi1, p, spread(kPerm.k4[L], scales));
      else sumi0 = _mm512_dpwssd_epi32(sumi0, p, spread(kPerm.k4[L], scales));
    }
    acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(_mm512_add_epi32(sumi0, sumi1)), acc);
  }
  return _mm512_reduce_add_ps(acc) - hsum_f32_8(acc_m);
}

}  // namespace

void avx512_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy) {
  *s = dot_k4<false>(n, static_cast<const block_q4_K*>(vx), static_cast<const block_q8_K*>(vy));
}

void avx512_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy) {
  *s = dot_k4<true>(n, static_cast<const block_q5_K*>(vx), static_cast<const block_q8_K*>(vy));
}

// Q6_K: q = low4 | (high2 << 4) is the weight + 32; the -32 goes through bsums once per block.
void avx512_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q6_K* x = static_cast<const block_q6_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  // Per-256-bit-half shift counts: the low half of each 64-element group takes qh bits 0-1
  // (or 4-5), the high half bits 2-3 (or 6-7).
  const __m512i shl_lo = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
  const __m512i shr_hi = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
  constexpr int kAndOr = 0xEA;  // ternary logic (A & B) | C
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * h2f(x[i].d);
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(y[i].bsums), scales16), 5);
    __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), offset));
    sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
    const __m512i scales = _mm512_castsi256_si512(scales16);
    for (int c = 0; c < 2; ++c) {
      const __m512i ql = load512(x[i].ql + 64 * c);
      const __m512i qh = _mm512_broadcast_i64x4(load256(x[i].qh + 32 * c));
      const __m512i lo = _mm512_ternarylogic_epi32(ql, m4, _mm512_and_si512(_mm512_sllv_epi16(qh, shl_lo), m30), kAndOr);
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), m4,
                                                   _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), m30), kAndOr);
      const __m512i plo = _mm512_maddubs_epi16(lo, load512(y[i].qs + 128 * c));
      const __m512i phi = _mm512_maddubs_epi16(hi, load512(y[i].qs + 128 * c + 64));
      sumi = _mm512_dpwssd_epi32(sumi, plo, spread(kPerm.q6[c][0], scales));
      sumi = _mm512_dpwssd_epi32(sumi, phi, spread(kPerm.q6[c][1], scales));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  *s = _mm512_reduce_add_ps(acc);
}

}  // namespace nnb::kern
