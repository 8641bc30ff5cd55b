// AVX2 kernels for the K-quants (Q2_K .. Q6_K) against Q8_K.
//
// Common scheme: the weights are expanded to unsigned bytes, maddubs multiplies them with the
// Q8_K bytes into int16 pairs, madd applies the sub-block scale as int16, and the whole
// 256-element super-block is summed exactly in int32 before a single float multiply by
// d_x * d_y. Offsets baked into the stored values (Q3_K's -4, Q6_K's -32) and the Q2_K/Q4_K/Q5_K
// mins are applied once per super-block through Q8_K's per-16 sums (bsums), an exact integer
// identity: sum_j scale_j * offset * bsum_j.
#include "engine/cpu/vec_dot_x86.h"

namespace nnb::kern {
namespace {

// pshufb masks broadcasting one int16 scale over a register.
//   pair[k]: low lane <- int16 element 2k, high lane <- 2k+1 (sub-blocks of 16 elements, where
//            one 32-element register spans two scales);
//   one[j]:  both lanes <- int16 element j (sub-blocks of 32).
struct ShufTables {
  alignas(32) uint8_t pair[4][32];
  alignas(32) uint8_t one[8][32];
};
constexpr ShufTables make_shuf_tables() {
  ShufTables t{};
  for (int k = 0; k < 4; ++k) {
    for (int b = 0; b < 16; ++b) {
      t.pair[k][b] = uint8_t(4 * k + (b & 1));
      t.pair[k][16 + b] = uint8_t(4 * k + 2 + (b & 1));
    }
  }
  for (int j = 0; j < 8; ++j)
    for (int b = 0; b < 32; ++b) t.one[j][b] = uint8_t(2 * j + (b & 1));
  return t;
}
constexpr ShufTables kShuf = make_shuf_tables();

inline __m256i shuf(__m256i v, const uint8_t* mask) { return _mm256_shuffle_epi8(v, load256(mask)); }


// sum over the four 32-element registers of one 128-element chunk: maddubs(q[k], q8[k]) scaled
// by the sixteen-scale vector's pair k (scales8 holds this chunk's 8 scales in both lanes).
inline __m256i chunk_sum16(const __m256i q[4], const int8_t* q8, __m256i scales8) {
  __m256i sum = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256i p = _mm256_maddubs_epi16(q[k], load256(q8 + 32 * k));
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, shuf(scales8, kShuf.pair[k])));
  }
  return sum;
}

}  // namespace

void avx2_dot_q2_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q2_K* x = static_cast<const block_q2_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float dall = y[i].d * h2f(x[i].d);
    const float dmin = y[i].d * h2f(x[i].dmin);
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), m4));
    const __m256i summs = _mm256_madd_epi16(mins, load256(y[i].bsums));
    acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(summs), acc_m);

    const __m256i scales = _mm256_cvtepu8_epi16(_mm_and_si128(sc, m4));
    const __m256i scales_c[2] = {_mm256_permute2x128_si256(scales, scales, 0x00),
                                 _mm256_permute2x128_si256(scales, scales, 0x11)};
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 2; ++c) {
      __m256i bits = load256(x[i].qs + 32 * c);
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        q[k] = _mm256_and_si256(bits, m3);
        bits = _mm256_srli_epi16(bits, 2);
      }
      sumi = _mm256_add_epi32(sumi, chunk_sum16(q, y[i].qs + 128 * c, scales_c[c]));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32_8(acc) - hsum_f32_8(acc_m);
}

// Q3_K: stored value q = low2 | (hbit << 2) is the weight + 4; the -4 goes through bsums.
void avx2_dot_q3_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q3_K* x = static_cast<const block_q3_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * h2f(x[i].d);
    const __m256i scales = _mm256_cvtepi8_epi16(q3k_scales(reinterpret_cast<const uint8_t*>(x + i + 1) - 16));
    const __m256i scales_c[2] = {_mm256_permute2x128_si256(scales, scales, 0x00),
                                 _mm256_permute2x128_si256(scales, scales, 0x11)};
    const __m256i offset = _mm256_madd_epi16(load256(y[i].bsums), scales);
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
    __m256i hbits = load256(x[i].hmask);
    for (int c = 0; c < 2; ++c) {
      __m256i bits = load256(x[i].qs + 32 * c);
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        q[k] = _mm256_or_si256(_mm256_and_si256(bits, m3), _mm256_and_si256(_mm256_slli_epi16(hbits, 2), b2));
        bits = _mm256_srli_epi16(bits, 2);
        hbits = _mm256_srli_epi16(hbits, 1);
      }
      sumi = _mm256_add_epi32(sumi, chunk_sum16(q, y[i].qs + 128 * c, scales_c[c]));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32_8(acc);
}

namespace {

// Q4_K and Q5_K share everything but the fifth bit. Per super-block: the min term
// dmin * sum_j min_j * (bsum_2j + bsum_2j+1) (one madd), and eight 32-element sub-blocks with
// one scale each.
template <bool kFiveBit, class Block>
float dot_k4(int64_t n, const Block* x, const block_q8_K* y) {
  const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_m = _mm256_setzero_ps();
  const __m128i dup_mins = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    // d and dmin are adjacent: one conversion, one multiply by Q8_K's d -> [d, dmin, ...]
    uint32_t d_dmin;
    std::memcpy(&d_dmin, &x[i], 4);
    const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(int(d_dmin))), _mm_set1_ps(y[i].d));
    const __m128i sm = k4_scales_mins(x[i].scales);
    // min term: each min against its two per-16 sums of Q8_K
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm, dup_mins));
    const __m256i msum = _mm256_madd_epi16(load256(y[i].bsums), mins);
    acc_m = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dd)), _mm256_cvtepi32_ps(msum), acc_m);

    const __m256i mins_scales = _mm256_cvtepu8_epi16(sm);
    const __m256i scales = _mm256_permute2x128_si256(mins_scales, mins_scales, 0x00);
    const uint8_t* qs = x[i].qs;
    const int8_t* q8 = y[i].qs;
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFiveBit) hbits = load256(x[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < QK_K / 64; ++j) {
      const __m256i bits = load256(qs + 32 * j);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if constexpr (kFiveBit) {
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hbits, 4), b4));
        hbits = _mm256_srli_epi16(hbits, 1);
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hbits, 4), b4));
        hbits = _mm256_srli_epi16(hbits, 1);
      }
      const __m256i pl = _mm256_maddubs_epi16(lo, load256(q8 + 64 * j));
      const __m256i ph = _mm256_maddubs_epi16(hi, load256(q8 + 64 * j + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pl, shuf(scales, kShuf.one[2 * j])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(ph, shuf(scales, kShuf.one[2 * j + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_f32_8(acc) - hsum_f32_8(acc_m);
}

}  // namespace

void avx2_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy) {
  *s = dot_k4<false>(n, static_cast<const block_q4_K*>(vx), static_cast<const block_q8_K*>(vy));
}

void avx2_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy) {
  *s = dot_k4<true>(n, static_cast<const block_q5_K*>(vx), static_cast<const block_q8_K*>(vy));
}

// Q6_K: q = low4 | (high2 << 4) is the weight + 32; the -32 goes through bsums.
void avx2_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q6_K* x = static_cast<const block_q6_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * h2f(x[i].d);
    const __m256i scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
    const __m256i scales_c[2] = {_mm256_permute2x128_si256(scales, scales, 0x00),
                                 _mm256_permute2x128_si256(scales, scales, 0x11)};
    const __m256i offset = _mm256_madd_epi16(load256(y[i].bsums), scales);
    __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    for (int c = 0; c < 2; ++c) {
      const __m256i ql0 = load256(x[i].ql + 64 * c);
      const __m256i ql1 = load256(x[i].ql + 64 * c + 32);
      const __m256i qh = load256(x[i].qh + 32 * c);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
      sumi = _mm256_add_epi32(sumi, chunk_sum16(q, y[i].qs + 128 * c, scales_c[c]));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32_8(acc);
}

}  // namespace nnb::kern
