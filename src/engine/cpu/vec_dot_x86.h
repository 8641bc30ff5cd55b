// SIMD building blocks shared by the *_avx2.cpp and *_avx512.cpp kernel files. Only include
// from files built with at least -mavx2 -mfma -mf16c; the 256-bit helpers use VNNI when the
// file is built with AVX-512 flags.
// All helpers defined here are static (see vec_dot_impl.h for why none may have external linkage).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/cpu/vec_dot_impl.h"

namespace nnb::kern {

// AVX2 K-quant kernels (vec_dot_kquants_avx2.cpp), listed in the AVX2 table; Q2_K and Q3_K
// are also the AVX-512 fallback.
void avx2_dot_q2_K(int64_t n, float* s, const void* vx, const void* vy);
void avx2_dot_q3_K(int64_t n, float* s, const void* vx, const void* vy);
void avx2_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy);
void avx2_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy);
void avx2_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy);

// AVX-512 K-quant kernels (vec_dot_kquants_avx512.cpp), listed in the AVX-512 table.
void avx512_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy);
void avx512_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy);
void avx512_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy);

static inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

#if defined(__AVX512F__)
static inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
// [lo | hi] as one 512-bit register.
static inline __m512i join256(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
#endif

// Exact fp16 -> f32 of a block scale (F16C).
static inline float h2f(ggml_fp16_t h) { return _cvtsh_ss(h); }

static inline float hsum_f32_8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// The fp16 fields of 8 consecutive blocks (at p, p + stride, ...) as 8 f32: inserted word by
// word (vpinsrw from memory) and converted with one vcvtph2ps. Measured faster than per-block
// scalar conversions and broadcasts, than packing them in general-purpose registers, and than a
// dword gather.
static inline __m256 halves8_to_f32(const void* p, int stride) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  auto h = [&](int k) {
    uint16_t v;
    std::memcpy(&v, b + k * stride, 2);
    return int(v);
  };
  __m128i v = _mm_cvtsi32_si128(h(0));
  v = _mm_insert_epi16(v, h(1), 1);
  v = _mm_insert_epi16(v, h(2), 2);
  v = _mm_insert_epi16(v, h(3), 3);
  v = _mm_insert_epi16(v, h(4), 4);
  v = _mm_insert_epi16(v, h(5), 5);
  v = _mm_insert_epi16(v, h(6), 6);
  v = _mm_insert_epi16(v, h(7), 7);
  return _mm256_cvtph_ps(v);
}

// 16 packed bytes -> 32 bytes of nibbles: low nibbles first (elements 0..15 of a Q4 block),
// then high nibbles (elements 16..31).
static inline __m256i nibbles_32(const uint8_t* p) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// nibbles_32 of two blocks' 16 bytes (at p0 and p1) with one shift and two masks: both blocks
// are loaded into one register and the nibble halves regrouped per block.
static inline void nibbles_32x2(const uint8_t* p0, const uint8_t* p1, __m256i& a, __m256i& b) {
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1)), 1);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
  a = _mm256_permute2x128_si256(lo, hi, 0x20);
  b = _mm256_permute2x128_si256(lo, hi, 0x31);
}

// 32 bits -> 32 bytes, 0xFF where the bit is set (byte j <- bit j).
static inline __m256i bytes_from_bits_32(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                         0x0101010101010101, 0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)), shuf);
  // Every bit except bit (j % 8) forced to one, so the byte is all ones iff that bit is set.
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// Sum of u8 x s8 products, four adjacent products per int32 lane. maddubs can saturate int16
// only when two products of 128 * 128 meet, which the value ranges here exclude (Q8 activations
// are in [-127, 127]).
static inline __m256i dot_us8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// Signed x signed: move x's sign onto y so maddubs sees |x| as unsigned.
static inline __m256i dot_ss8(__m256i x, __m256i y) {
  return dot_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// Int16 pair sums of s8 x s8 products (same sign trick), for kernels that apply a per-sub-block
// int16 scale with madd afterwards.
static inline __m256i maddubs_ss8(__m256i x, __m256i y) {
  return _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// The 6-bit scale s and min m of sub-block j (0..7) from a Q4_K / Q5_K block's 12 packed scale
// bytes (ggml's get_scale_min_k4), for the panel packers.
static inline void k4_scale_min(const uint8_t* sc, int j, int& s, int& m) {
  if (j < 4) {
    s = sc[j] & 63;
    m = sc[j + 4] & 63;
  } else {
    s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
    m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
  }
}

// Q4_K / Q5_K scale bytes (12, packed 6-bit) -> 16 bytes: scales[0..7], mins[0..7]; the SIMD
// form of unpack_k4_scales. Building them in general-purpose registers and reloading them as a
// vector stalled on store forwarding. Reads 16 bytes: the 4 after the scales are the block's
// next field (qs or qh), ignored.
static inline __m128i k4_scales_mins(const uint8_t* packed) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  // low bits: scales 0-3 = b0-3 & 63, scales 4-7 = b8-11 & 15, mins 0-3 = b4-7 & 63,
  //           mins 4-7 = b8-11 >> 4
  const __m128i lo = _mm_and_si128(_mm_shuffle_epi8(b, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, -1, -1, -1, -1)),
                                   _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
  const __m128i m_hi = _mm_and_si128(
      _mm_srli_epi16(_mm_shuffle_epi8(b, _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 8, 9, 10, 11)), 4),
      _mm_set1_epi8(15));
  // high two bits of entries 4-7: scales from b0-3 >> 6, mins from b4-7 >> 6, placed at bit 4
  const __m128i top = _mm_and_si128(
      _mm_srli_epi16(_mm_shuffle_epi8(b, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7)), 2),
      _mm_setr_epi8(0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30));
  return _mm_or_si128(_mm_or_si128(lo, m_hi), top);
}

// Q3_K's 16 signed scales (6-bit, stored +32, packed in 12 bytes) as int8, without going
// through memory (see k4_scales_mins). `tail16` is the 16 bytes ending at the block's end: two
// bytes of qs, the 12 scale bytes b[0..11] at 2..13, then d.
//   scale j = (low nibble: j < 8 ? b[j] & 15 : b[j-8] >> 4) | ((b[8 + j%4] >> 2*(j/4)) & 3) << 4
static inline __m128i q3k_scales(const uint8_t* tail16) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tail16));
  const __m128i m4 = _mm_set1_epi8(15);
  const __m128i l = _mm_shuffle_epi8(b, _mm_setr_epi8(2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5, 6, 7, 8, 9));
  const __m128i low = _mm_blend_epi16(_mm_and_si128(l, m4), _mm_and_si128(_mm_srli_epi16(l, 4), m4), 0xF0);
  // dword g holds b[8..11]; shifting it left by 4 - 2g puts bits 2g, 2g+1 of each byte at 4, 5
  const __m128i h = _mm_shuffle_epi8(b, _mm_setr_epi8(10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13, 10, 11, 12, 13));
  const __m128i high = _mm_srlv_epi32(_mm_sllv_epi32(h, _mm_setr_epi32(4, 2, 0, 0)), _mm_setr_epi32(0, 0, 0, 2));
  return _mm_sub_epi8(_mm_or_si128(low, _mm_and_si128(high, _mm_set1_epi8(0x30))), _mm_set1_epi8(32));
}

// Eight vectors of eight int32 (one vector per block) -> one vector of the eight block sums,
// in block order.
static inline __m256i block_sums8(const __m256i p[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// Address of an fp16 field (by byte offset) of block i: the blocks are packed structs.
template <class Block>
static inline const uint8_t* field_ptr(const Block* b, int64_t i, size_t offset) {
  return reinterpret_cast<const uint8_t*>(b + i) + offset;
}

// sum over 32-element blocks of d_x * d_y * (integer dot of block ib). one(ib) returns block
// ib's dot as eight int32 partial sums (exact); pair(ib, a, b) does blocks ib and ib+1 at once
// (kernels that share work between two blocks), or just calls one twice. Eight blocks at a
// time: their sums are reduced to one vector and scaled by the eight d_x * d_y with one
// multiply-add. dx_off / dy_off locate the fp16 scales inside the x and y blocks.
template <class XB, class YB, class One, class Pair>
static inline float sum_blocks32(int64_t nb, const XB* x, size_t dx_off, const YB* y, size_t dy_off, One one,
                                 Pair pair) {
  __m256 acc = _mm256_setzero_ps();
  int64_t ib = 0;
  for (; ib + 8 <= nb; ib += 8) {
    const __m256 d = _mm256_mul_ps(halves8_to_f32(field_ptr(x, ib, dx_off), int(sizeof(XB))),
                                   halves8_to_f32(field_ptr(y, ib, dy_off), int(sizeof(YB))));
    __m256i p[8];
    for (int k = 0; k < 8; k += 2) pair(ib + k, p[k], p[k + 1]);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(block_sums8(p)), acc);
  }
  __m256 tail = _mm256_setzero_ps();
  for (; ib < nb; ++ib) {
    ggml_fp16_t hx, hy;
    std::memcpy(&hx, field_ptr(x, ib, dx_off), 2);
    std::memcpy(&hy, field_ptr(y, ib, dy_off), 2);
    tail = _mm256_fmadd_ps(_mm256_set1_ps(h2f(hx) * h2f(hy)), _mm256_cvtepi32_ps(one(ib)), tail);
  }
  return hsum_f32_8(_mm256_add_ps(acc, tail));
}

template <class XB, class YB, class One>
static inline float sum_blocks32(int64_t nb, const XB* x, size_t dx_off, const YB* y, size_t dy_off, One one) {
  return sum_blocks32(nb, x, dx_off, y, dy_off, one, [&](int64_t ib, __m256i& a, __m256i& b) {
    a = one(ib);
    b = one(ib + 1);
  });
}

}  // namespace nnb::kern
