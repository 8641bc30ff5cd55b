// AVX2 + FMA + F16C kernels for the float types and the 32-element block formats (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, IQ4_NL), plus the AVX2 kernel table. The K-quants are in
// vec_dot_kquants_avx2.cpp. Integer block sums are exact; only the float accumulation order
// differs from the scalar kernels. Called only when the CPU reports AVX2, FMA and F16C.
#include <cstddef>

#include "engine/cpu/vec_dot_x86.h"

namespace nnb::kern {
namespace {

// ---- plain floats ------------------------------------------------------------------------------

void dot_f32(int64_t n, float* s, const void* vx, const void* vy) {
  const float* x = static_cast<const float*>(vx);
  const float* y = static_cast<const float*>(vy);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float sum = hsum_f32_8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += x[i] * y[i];
  *s = sum;
}

void dot_f16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_fp16_t* x = static_cast<const ggml_fp16_t*>(vx);
  const ggml_fp16_t* y = static_cast<const ggml_fp16_t*>(vy);
  auto load = [](const ggml_fp16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(load(x + i + 8 * k), load(y + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load(x + i), load(y + i), acc[0]);
  float sum = hsum_f32_8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += h2f(x[i]) * h2f(y[i]);
  *s = sum;
}

void dot_bf16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_bf16_t* x = static_cast<const ggml_bf16_t*>(vx);
  const ggml_bf16_t* y = static_cast<const ggml_bf16_t*>(vy);
  // bf16 is the top half of an f32: widen to 32 bits and shift into place.
  auto load = [](const ggml_bf16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  };
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(load(x + i + 8 * k), load(y + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load(x + i), load(y + i), acc[0]);
  float sum = hsum_f32_8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) {
    uint32_t a = uint32_t(x[i]) << 16, b = uint32_t(y[i]) << 16;
    float fa, fb;
    std::memcpy(&fa, &a, 4);
    std::memcpy(&fb, &b, 4);
    sum += fa * fb;
  }
  *s = sum;
}

// ---- 32-element blocks -------------------------------------------------------------------------
// Each block gives eight int32 partial sums (exact); sum_blocks32 (vec_dot_x86.h) reduces them
// per block and scales them by d_x * d_y, eight blocks at a time.

// sum over blocks of m_x * s_y: the min term of Q4_1 / Q5_1 against Q8_1's s = d * sum(q).
template <class XB>
inline float sum_min_terms(int64_t nb, const XB* x, const block_q8_1* y) {
  __m256 acc = _mm256_setzero_ps();
  int64_t ib = 0;
  for (; ib + 8 <= nb; ib += 8) {
    acc = _mm256_fmadd_ps(halves8_to_f32(field_ptr(x, ib, offsetof(XB, m)), int(sizeof(XB))),
                          halves8_to_f32(field_ptr(y, ib, offsetof(block_q8_1, s)), int(sizeof(block_q8_1))), acc);
  }
  float sum = hsum_f32_8(acc);
  for (; ib < nb; ++ib) sum += h2f(x[ib].m) * h2f(y[ib].s);
  return sum;
}

// Q4_0: the nibbles are used unsigned, and the -8 comes off as 8 * y in int16 before the pair
// sums are widened: maddubs(q, y) - maddubs(8, y) is within +-2032 per int16.
inline __m256i q4_0_dot(__m256i q, __m256i qy) {
  const __m256i d16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q, qy), _mm256_maddubs_epi16(_mm256_set1_epi8(8), qy));
  return _mm256_madd_epi16(d16, _mm256_set1_epi16(1));
}

void dot_q4_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_0* x = static_cast<const block_q4_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  *s = sum_blocks32(
      n / QK8_0, x, offsetof(block_q4_0, d), y, offsetof(block_q8_0, d),
      [&](int64_t ib) { return q4_0_dot(nibbles_32(x[ib].qs), load256(y[ib].qs)); },
      [&](int64_t ib, __m256i& a, __m256i& b) {
        __m256i q0, q1;
        nibbles_32x2(x[ib].qs, x[ib + 1].qs, q0, q1);
        a = q4_0_dot(q0, load256(y[ib].qs));
        b = q4_0_dot(q1, load256(y[ib + 1].qs));
      });
}

void dot_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q8_0* x = static_cast<const block_q8_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  *s = sum_blocks32(n / QK8_0, x, offsetof(block_q8_0, d), y, offsetof(block_q8_0, d), [&](int64_t ib) {
    return dot_ss8(load256(x[ib].qs), load256(y[ib].qs));
  });
}

void dot_q5_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_0* x = static_cast<const block_q5_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const __m256i f0 = _mm256_set1_epi8(char(0xF0));
  *s = sum_blocks32(n / QK8_0, x, offsetof(block_q5_0, d), y, offsetof(block_q8_0, d), [&](int64_t ib) {
    // value - 16: where the fifth bit is clear, OR-ing 0xF0 onto the nibble gives nibble - 16.
    const __m256i qx = _mm256_or_si256(nibbles_32(x[ib].qs), _mm256_andnot_si256(bytes_from_bits_32(x[ib].qh), f0));
    return dot_ss8(qx, load256(y[ib].qs));
  });
}

// Q4_1 / Q5_1: unsigned quants times Q8_1, plus m * s from Q8_1's precomputed d * sum(qs).
void dot_q4_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_1* x = static_cast<const block_q4_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const float sum = sum_blocks32(
      n / QK8_1, x, offsetof(block_q4_1, d), y, offsetof(block_q8_1, d),
      [&](int64_t ib) { return dot_us8(nibbles_32(x[ib].qs), load256(y[ib].qs)); },
      [&](int64_t ib, __m256i& a, __m256i& b) {
        __m256i q0, q1;
        nibbles_32x2(x[ib].qs, x[ib + 1].qs, q0, q1);
        a = dot_us8(q0, load256(y[ib].qs));
        b = dot_us8(q1, load256(y[ib + 1].qs));
      });
  *s = sum + sum_min_terms(n / QK8_1, x, y);
}

void dot_q5_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_1* x = static_cast<const block_q5_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const __m256i b4 = _mm256_set1_epi8(0x10);
  const float sum = sum_blocks32(n / QK8_1, x, offsetof(block_q5_1, d), y, offsetof(block_q8_1, d), [&](int64_t ib) {
    const __m256i qx = _mm256_or_si256(nibbles_32(x[ib].qs), _mm256_and_si256(bytes_from_bits_32(x[ib].qh), b4));
    return dot_us8(qx, load256(y[ib].qs));
  });
  *s = sum + sum_min_terms(n / QK8_1, x, y);
}

// IQ4_NL: a byte shuffle maps each nibble to its non-linear value.
void dot_iq4_nl(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_nl* x = static_cast<const block_iq4_nl*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const __m256i values = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
  *s = sum_blocks32(
      n / QK4_NL, x, offsetof(block_iq4_nl, d), y, offsetof(block_q8_0, d),
      [&](int64_t ib) { return dot_ss8(_mm256_shuffle_epi8(values, nibbles_32(x[ib].qs)), load256(y[ib].qs)); },
      [&](int64_t ib, __m256i& a, __m256i& b) {
        __m256i q0, q1;
        nibbles_32x2(x[ib].qs, x[ib + 1].qs, q0, q1);
        a = dot_ss8(_mm256_shuffle_epi8(values, q0), load256(y[ib].qs));
        b = dot_ss8(_mm256_shuffle_epi8(values, q1), load256(y[ib + 1].qs));
      });
}

// IQ4_XS: IQ4_NL values in sub-blocks of 32 with a signed 6-bit scale each; the scales are
// applied in int16 (madd) so a whole super-block is summed exactly before one float multiply.
void dot_iq4_xs(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_xs* x = static_cast<const block_iq4_xs*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const __m256i values = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    const uint8_t* qs = x[ibl].qs;
    const int8_t* q8 = y[ibl].qs;
    uint32_t h = x[ibl].scales_h;
    __m256i sumi = _mm256_setzero_si256();
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      const int ls1 = ((x[ibl].scales_l[ib / 2] & 0xf) | ((h << 4) & 0x30)) - 32;
      const int ls2 = ((x[ibl].scales_l[ib / 2] >> 4) | ((h << 2) & 0x30)) - 32;
      h >>= 4;
      const __m256i p1 = maddubs_ss8(_mm256_shuffle_epi8(values, nibbles_32(qs)), load256(q8));
      const __m256i p2 = maddubs_ss8(_mm256_shuffle_epi8(values, nibbles_32(qs + 16)), load256(q8 + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(int16_t(ls1))));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p2, _mm256_set1_epi16(int16_t(ls2))));
      qs += 32;
      q8 += 64;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[ibl].d) * y[ibl].d), _mm256_cvtepi32_ps(sumi), acc);
  }
  *s = hsum_f32_8(acc);
}

constexpr int kNumTypes = 31;

struct Table {
  DotKernel k[kNumTypes] = {};
  constexpr Table() {
    auto set = [&](GgmlType t, GgmlType vt, VecDotFn f) { k[int(t)] = {vt, f}; };
    set(GgmlType::F32, GgmlType::F32, dot_f32);
    set(GgmlType::F16, GgmlType::F16, dot_f16);
    set(GgmlType::BF16, GgmlType::BF16, dot_bf16);
    set(GgmlType::Q4_0, GgmlType::Q8_0, dot_q4_0);
    set(GgmlType::Q4_1, GgmlType::Q8_1, dot_q4_1);
    set(GgmlType::Q5_0, GgmlType::Q8_0, dot_q5_0);
    set(GgmlType::Q5_1, GgmlType::Q8_1, dot_q5_1);
    set(GgmlType::Q8_0, GgmlType::Q8_0, dot_q8_0);
    set(GgmlType::Q2_K, GgmlType::Q8_K, avx2_dot_q2_K);
    set(GgmlType::Q3_K, GgmlType::Q8_K, avx2_dot_q3_K);
    set(GgmlType::Q4_K, GgmlType::Q8_K, avx2_dot_q4_K);
    set(GgmlType::Q5_K, GgmlType::Q8_K, avx2_dot_q5_K);
    set(GgmlType::Q6_K, GgmlType::Q8_K, avx2_dot_q6_K);
    set(GgmlType::IQ4_NL, GgmlType::Q8_0, dot_iq4_nl);
    set(GgmlType::IQ4_XS, GgmlType::Q8_K, dot_iq4_xs);
  }
};
constexpr Table kTable;

}  // namespace

const DotKernel* avx2_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].vec_dot ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
