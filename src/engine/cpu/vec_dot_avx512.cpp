// AVX-512 kernels (F/BW/VL/DQ + VNNI + BF16) for F16, BF16 and the 32-element block formats
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL), plus the AVX-512 kernel table. The K-quants are in
// vec_dot_kquants_avx512.cpp; F32, Q2_K, Q3_K and IQ4_XS fall back to the AVX2 table (see
// vec_dot.cpp). Called only when the CPU reports all of these extensions.
//
// The block formats put two 32-element blocks in one 512-bit register and use VNNI dpbusd
// (u8 x s8, four products into each int32 lane); each block keeps its own eight int32 lanes so
// they can be scaled by that block's d_x * d_y. BF16 uses AVX512-BF16's dpbf16 (pairs of bf16
// products accumulated in f32), as ggml does.
#include <cstddef>

#include "engine/cpu/vec_dot_x86.h"

#include "engine/cpu/avx512_gcc_warnings.h"

namespace nnb::kern {
namespace {

inline __m512 join_d(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

// ---- plain floats ------------------------------------------------------------------------------

void dot_f16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_fp16_t* x = static_cast<const ggml_fp16_t*>(vx);
  const ggml_fp16_t* y = static_cast<const ggml_fp16_t*>(vy);
  auto load = [](const ggml_fp16_t* p) { return _mm512_cvtph_ps(load256(p)); };
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) acc[k] = _mm512_fmadd_ps(load(x + i + 16 * k), load(y + i + 16 * k), acc[k]);
  }
  for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(load(x + i), load(y + i), acc[0]);
  if (i < n) {  // masked tail: lanes past n load as +0.0
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    acc[1] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)),
                             _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, y + i)), acc[1]);
  }
  *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

void dot_bf16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_bf16_t* x = static_cast<const ggml_bf16_t*>(vx);
  const ggml_bf16_t* y = static_cast<const ggml_bf16_t*>(vy);
  auto dp = [](__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); };
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    for (int k = 0; k < 4; ++k) acc[k] = dp(acc[k], load512(x + i + 32 * k), load512(y + i + 32 * k));
  }
  for (; i + 32 <= n; i += 32) acc[0] = dp(acc[0], load512(x + i), load512(y + i));
  if (i < n) {
    const __mmask32 m = __mmask32((uint64_t(1) << (n - i)) - 1);
    acc[1] = dp(acc[1], _mm512_maskz_loadu_epi16(m, x + i), _mm512_maskz_loadu_epi16(m, y + i));
  }
  *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

// ---- Q8_0 / Q4_0: two blocks per register -------------------------------------------------------

// The fp16 field at byte Offset of 8 consecutive Stride-byte blocks (starting at `blocks`) as
// 8 f32, from full-width loads and word permutes (vpermt2w) instead of 8 scalar loads: the
// scalar version was the largest cost of the Q4_0 / Q8_0 kernels. Every load stays inside the
// 8 blocks.
template <int Stride, int Offset>
struct Halves8 {
  static_assert(Stride % 2 == 0 && Offset % 2 == 0 && Stride >= 16 && 3 * Stride + Offset + 2 <= 128);
  static constexpr bool kOneWindow = 7 * Stride + Offset + 2 <= 128;  // all 8 fields in [0, 128)
  // Second window for fields 4..7: [kBase1, kBase1 + 128), ending inside the 8 blocks.
  static constexpr int kBase1 = 4 * Stride < 8 * Stride - 128 ? 4 * Stride : 8 * Stride - 128;
  struct Idx {
    alignas(64) uint16_t w[2][32];
  };
  static constexpr Idx make() {
    Idx t{};
    for (int k = 0; k < 8; ++k) {
      if (kOneWindow) t.w[0][k] = uint16_t((k * Stride + Offset) / 2);
      else if (k < 4) t.w[0][k] = uint16_t((k * Stride + Offset) / 2);
      else t.w[1][k - 4] = uint16_t((k * Stride + Offset - kBase1) / 2);
    }
    return t;
  }
  static constexpr Idx kIdx = make();

  static __m256 load(const void* blocks) {
    const uint8_t* p = static_cast<const uint8_t*>(blocks);
    const __m512i lo = _mm512_permutex2var_epi16(load512(p), load512(kIdx.w[0]), load512(p + 64));
    if constexpr (kOneWindow) return _mm256_cvtph_ps(_mm512_castsi512_si128(lo));
    const __m512i hi = _mm512_permutex2var_epi16(load512(p + kBase1), load512(kIdx.w[1]), load512(p + kBase1 + 64));
    return _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_unpacklo_epi64(lo, hi)));
  }
};

// sum over 32-element blocks of d_x * d_y * dot(block). pair_dot(ib) gives blocks ib and ib+1 as
// 16 int32 partial sums (eight each, exact); one_dot(ib) gives block ib as 8 (odd tail).
// Eight blocks share one conversion of their fp16 scales d (Halves8); vpermps spreads
// each pair's two products over the halves of a register.
template <class XB, class YB, class PairDot, class OneDot>
inline float sum_block_pairs(int64_t nb, const XB* x, const YB* y, PairDot pair_dot, OneDot one_dot) {
  auto scale = [&](int64_t ib) {
    ggml_fp16_t hx, hy;
    std::memcpy(&hx, field_ptr(x, ib, offsetof(XB, d)), 2);
    std::memcpy(&hy, field_ptr(y, ib, offsetof(YB, d)), 2);
    return h2f(hx) * h2f(hy);
  };
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t ib = 0;
  for (; ib + 8 <= nb; ib += 8) {
    const __m512 d = _mm512_castps256_ps512(_mm256_mul_ps(Halves8<sizeof(XB), offsetof(XB, d)>::load(x + ib),
                                                          Halves8<sizeof(YB), offsetof(YB, d)>::load(y + ib)));
    for (int k = 0; k < 8; k += 4) {  // blocks k, k+1 -> acc0; k+2, k+3 -> acc1
      const __m512 d0 = _mm512_permutexvar_ps(join256(_mm256_set1_epi32(k), _mm256_set1_epi32(k + 1)), d);
      const __m512 d1 = _mm512_permutexvar_ps(join256(_mm256_set1_epi32(k + 2), _mm256_set1_epi32(k + 3)), d);
      acc0 = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(pair_dot(ib + k)), acc0);
      acc1 = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(pair_dot(ib + k + 2)), acc1);
    }
  }
  for (; ib + 2 <= nb; ib += 2) acc0 = _mm512_fmadd_ps(join_d(scale(ib), scale(ib + 1)), _mm512_cvtepi32_ps(pair_dot(ib)), acc0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if (ib < nb) sum += hsum_f32_8(_mm256_mul_ps(_mm256_set1_ps(scale(ib)), _mm256_cvtepi32_ps(one_dot(ib))));
  return sum;
}

// s8 x s8 with VNNI's u8 x s8: |x| as unsigned, y negated where x is negative.
inline __m512i dot_ss8_512(__m512i x, __m512i y) {
  const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(x), sy);
}

void dot_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q8_0* x = static_cast<const block_q8_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  *s = sum_block_pairs(
      n / QK8_0, x, y,
      [&](int64_t ib) {
        return dot_ss8_512(join256(load256(x[ib].qs), load256(x[ib + 1].qs)),
                           join256(load256(y[ib].qs), load256(y[ib + 1].qs)));
      },
      [&](int64_t ib) { return dot_ss8(load256(x[ib].qs), load256(y[ib].qs)); });
}

// Two blocks' 16 nibble bytes -> 64 unsigned values, block ib's 32 then block ib+1's: the
// 128-bit lanes [qs0, qs0, qs1, qs1] with lanes 1 and 3 shifted right by 4 (high nibbles).
inline __m512i nibbles_64(const uint8_t* qs0, const uint8_t* qs1) {
  const __m512i v = join256(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0))),
                            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1))));
  return _mm512_and_si512(_mm512_mask_srli_epi16(v, __mmask32(0xFF00FF00u), v, 4), _mm512_set1_epi8(0x0F));
}

// u8 x s8 dot with the unsigned side offset by `bias` (the stored form of a signed value):
// dpbusd(u, y) - dpbusd(bias, y), exact in int32.
inline __m512i dot_biased(__m512i u, __m512i qy, __m512i bias) {
  return _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, qy),
                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, qy));
}

template <class YB>
inline __m512i load_y_pair(const YB* y, int64_t ib) {
  return join256(load256(y[ib].qs), load256(y[ib + 1].qs));
}

// The 32 fifth bits of two Q5 blocks as a byte mask over the 64 values (bit j = element j).
template <class XB>
inline __mmask64 fifth_bits(const XB* x, int64_t ib) {
  uint32_t h0, h1;
  std::memcpy(&h0, x[ib].qh, 4);
  std::memcpy(&h1, x[ib + 1].qh, 4);
  return __mmask64(h0) | (__mmask64(h1) << 32);
}

// Q4_0: nibbles are used unsigned (0..15) in dpbusd, and the -8 is taken off as 8 * sum(y).
void dot_q4_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_0* x = static_cast<const block_q4_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const __m512i eights = _mm512_set1_epi8(8);
  *s = sum_block_pairs(
      n / QK8_0, x, y,
      [&](int64_t ib) { return dot_biased(nibbles_64(x[ib].qs, x[ib + 1].qs), load_y_pair(y, ib), eights); },
      [&](int64_t ib) { return dot_ss8(_mm256_sub_epi8(nibbles_32(x[ib].qs), _mm256_set1_epi8(8)), load256(y[ib].qs)); });
}

// Q5_0: value + 16 = nibble | fifth bit << 4, unsigned; the 16 comes off as 16 * sum(y).
void dot_q5_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_0* x = static_cast<const block_q5_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const __m512i b4 = _mm512_set1_epi8(0x10);
  *s = sum_block_pairs(
      n / QK8_0, x, y,
      [&](int64_t ib) {
        const __m512i q = nibbles_64(x[ib].qs, x[ib + 1].qs);
        return dot_biased(_mm512_mask_add_epi8(q, fifth_bits(x, ib), q, b4), load_y_pair(y, ib), b4);
      },
      [&](int64_t ib) {
        // where the fifth bit is clear, OR-ing 0xF0 onto the nibble gives nibble - 16
        const __m256i q = _mm256_or_si256(nibbles_32(x[ib].qs),
                                          _mm256_andnot_si256(bytes_from_bits_32(x[ib].qh), _mm256_set1_epi8(char(0xF0))));
        return dot_ss8(q, load256(y[ib].qs));
      });
}

// IQ4_NL: the table holds value + 128 (unsigned), the 128 comes off as 128 * sum(y).
void dot_iq4_nl(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_nl* x = static_cast<const block_iq4_nl*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const __m128i values = _mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
  const __m512i biased = _mm512_broadcast_i32x4(_mm_xor_si128(values, _mm_set1_epi8(char(0x80))));
  const __m512i b7 = _mm512_set1_epi8(char(0x80));
  *s = sum_block_pairs(
      n / QK4_NL, x, y,
      [&](int64_t ib) {
        return dot_biased(_mm512_shuffle_epi8(biased, nibbles_64(x[ib].qs, x[ib + 1].qs)), load_y_pair(y, ib), b7);
      },
      [&](int64_t ib) {
        const __m256i q = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(values), nibbles_32(x[ib].qs));
        return dot_ss8(q, load256(y[ib].qs));
      });
}

// sum over blocks of m_x * s_y: the min term of Q4_1 / Q5_1 against Q8_1's s = d * sum(q).
template <class XB>
float sum_min_terms(int64_t nb, const XB* x, const block_q8_1* y) {
  __m256 acc = _mm256_setzero_ps();
  int64_t ib = 0;
  for (; ib + 8 <= nb; ib += 8) {
    acc = _mm256_fmadd_ps(Halves8<sizeof(XB), offsetof(XB, m)>::load(x + ib),
                          Halves8<sizeof(block_q8_1), offsetof(block_q8_1, s)>::load(y + ib), acc);
  }
  float sum = hsum_f32_8(acc);
  for (; ib < nb; ++ib) sum += h2f(x[ib].m) * h2f(y[ib].s);
  return sum;
}

// Q4_1 / Q5_1: unsigned quants times Q8_1, plus the min term.
void dot_q4_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_1* x = static_cast<const block_q4_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const float sum = sum_block_pairs(
      n / QK8_1, x, y,
      [&](int64_t ib) {
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), nibbles_64(x[ib].qs, x[ib + 1].qs), load_y_pair(y, ib));
      },
      [&](int64_t ib) { return dot_us8(nibbles_32(x[ib].qs), load256(y[ib].qs)); });
  *s = sum + sum_min_terms(n / QK8_1, x, y);
}

void dot_q5_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_1* x = static_cast<const block_q5_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const __m512i b4 = _mm512_set1_epi8(0x10);
  const float sum = sum_block_pairs(
      n / QK8_1, x, y,
      [&](int64_t ib) {
        const __m512i q = nibbles_64(x[ib].qs, x[ib + 1].qs);
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_mask_add_epi8(q, fifth_bits(x, ib), q, b4),
                                   load_y_pair(y, ib));
      },
      [&](int64_t ib) {
        const __m256i q = _mm256_or_si256(nibbles_32(x[ib].qs),
                                          _mm256_and_si256(bytes_from_bits_32(x[ib].qh), _mm256_set1_epi8(0x10)));
        return dot_us8(q, load256(y[ib].qs));
      });
  *s = sum + sum_min_terms(n / QK8_1, x, y);
}

constexpr int kNumTypes = 31;

struct Table {
  DotKernel k[kNumTypes] = {};
  constexpr Table() {
    auto set = [&](GgmlType t, GgmlType vt, VecDotFn f) { k[int(t)] = {vt, f}; };
    set(GgmlType::F16, GgmlType::F16, dot_f16);
    set(GgmlType::BF16, GgmlType::BF16, dot_bf16);
    set(GgmlType::Q4_0, GgmlType::Q8_0, dot_q4_0);
    set(GgmlType::Q4_1, GgmlType::Q8_1, dot_q4_1);
    set(GgmlType::Q5_0, GgmlType::Q8_0, dot_q5_0);
    set(GgmlType::Q5_1, GgmlType::Q8_1, dot_q5_1);
    set(GgmlType::IQ4_NL, GgmlType::Q8_0, dot_iq4_nl);
    set(GgmlType::Q8_0, GgmlType::Q8_0, dot_q8_0);
    set(GgmlType::Q4_K, GgmlType::Q8_K, avx512_dot_q4_K);
    set(GgmlType::Q5_K, GgmlType::Q8_K, avx512_dot_q5_K);
    set(GgmlType::Q6_K, GgmlType::Q8_K, avx512_dot_q6_K);
  }
};
constexpr Table kTable;

}  // namespace

const DotKernel* avx512_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].vec_dot ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
