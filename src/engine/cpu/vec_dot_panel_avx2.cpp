// AVX2 (+FMA, F16C) kernels over Q4_0, Q4_K, Q5_K and Q6_K panels: 16 rows interleaved (layouts:
// vec_dot_packed.h), the AVX-512 panel kernels' algorithm on the two 256-bit halves of each
// 64-byte chunk (rows 0-7, 8-15), one half after the other.
//
// Why: AVX2 has no dpbusd, so the per-row kernels spend most of their instructions on unpacking
// and on spreading scales over lanes (Q5_K and Q6_K read their stored blocks at 16-25 GB/s on
// one core, below its memory bandwidth). In a panel a chunk holds 4 codes of 8 rows per half:
// one maddubs against 4 activation bytes broadcast serves 8 rows, the scales are already one
// byte per row, and a small batch unpacks each chunk once for all its tokens.
//
// Each token's result is the AVX-512 panel kernel's, bit for bit: its int32 sums become int16
// sums over as many chunks as their range allows (below) and one madd by ones (exact), and the
// float operations, lane by lane, are the same in the same order.
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_panel_impl.h"
#include "engine/cpu/vec_dot_x86.h"

// Helpers have internal linkage (see vec_dot_impl.h); the kernels are the exports.
namespace nnb::kern {
namespace {

// 8 bytes as 8 floats.
inline __m256 u8x8_ps(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 i8x8_ps(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 f16x8_ps(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Bit B of every byte of x moved to bit 4 (0x10), the rest cleared. 16-bit shifts carry bits
// across bytes only below bit 4 - (left) resp. above bit 4 + (right) the shift, never into it.
template <int B>
inline __m256i bit_to_16(__m256i x) {
  const __m256i b16 = _mm256_set1_epi8(0x10);
  if constexpr (B < 4) return _mm256_and_si256(_mm256_slli_epi16(x, 4 - B), b16);
  else if constexpr (B > 4) return _mm256_and_si256(_mm256_srli_epi16(x, B - 4), b16);
  else return _mm256_and_si256(x, b16);
}

// Half h of chunk ci's low and high codes (0..15; Q5_K 0..31, the fifth bits from the bit
// planes: plane ci / 4, bits 2u and 2u + 1 for u = ci % 4).
template <bool kFive, int U>
inline __attribute__((always_inline)) void k4_codes(const uint8_t* sb, int ci, int h, __m256i& l, __m256i& hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const uint8_t* planes = sb + kMeta;
  const __m256i w = load256(planes + (kFive ? 512 : 0) + ci * 64 + 32 * h);
  l = _mm256_and_si256(w, m4);
  hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
  if constexpr (kFive) {
    const __m256i pl = load256(planes + 64 * (ci / 4) + 32 * h);
    l = _mm256_or_si256(l, bit_to_16<2 * U>(pl));
    hi = _mm256_or_si256(hi, bit_to_16<2 * U + 1>(pl));
  }
}

// Half h (rows 8h .. 8h + 7) of a Q4_K / Q5_K super-block for C tokens: acc[c] += those rows'
// results, exactly as the AVX-512 kernel's lanes. The maddubs products add up in int16 over a
// run of chunks: 8 for Q4_K (each int16 2 x 8 products of at most 15 x 128: 30,720 < 2^15), 4
// for Q5_K (31 x 128 x 2 x 4 = 31,744), then one madd by ones into int32; the AVX-512 kernel's
// float steps follow (there the high nibbles stay in place, x16, with the scale / 16: the same
// products). One half after the other over the super-block, not both halves of each pair of
// sub-blocks in turn: with those, small batches spilled (4 tokens 72-74 vs 47-54 M
// row-products/s from L2).
template <bool kFive, int C>
inline __attribute__((always_inline)) void k4_half(const uint8_t* sb, const uint8_t* act, size_t act_stride, int h,
                                                  __m256 acc[C], const uint8_t* pre) {
  constexpr int kRun = kFive ? 4 : 8;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 sacc[C], macc[C];
  for (int c = 0; c < C; ++c) sacc[c] = macc[c] = _mm256_setzero_ps();
  for (int p = 0; p < 4; ++p) {
    __m256i lo[C], hi[C];
    for (int c = 0; c < C; ++c) lo[c] = hi[c] = _mm256_setzero_si256();
    for (int r = 0; r < 8; r += kRun) {
      __m256i lo16[C], hi16[C];
      for (int c = 0; c < C; ++c) lo16[c] = hi16[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int t = r; t < r + kRun; ++t) {
        const int ci = p * 8 + t;
        __m256i l, hc;
        if (pre) {
          l = load256(pre + ci * 128 + 32 * h);
          hc = load256(pre + ci * 128 + 64 + 32 * h);
        } else {
          switch (ci % 4) {
            case 0: k4_codes<kFive, 0>(sb, ci, h, l, hc); break;
            case 1: k4_codes<kFive, 1>(sb, ci, h, l, hc); break;
            case 2: k4_codes<kFive, 2>(sb, ci, h, l, hc); break;
            default: k4_codes<kFive, 3>(sb, ci, h, l, hc); break;
          }
        }
        for (int c = 0; c < C; ++c) {
          const uint8_t* q = act + size_t(c) * act_stride + 64 * p + 4 * t;
          lo16[c] = _mm256_add_epi16(lo16[c], _mm256_maddubs_epi16(l, bcast4(q)));
          hi16[c] = _mm256_add_epi16(hi16[c], _mm256_maddubs_epi16(hc, bcast4(q + 32)));
        }
      }
      for (int c = 0; c < C; ++c) {
        lo[c] = _mm256_add_epi32(lo[c], _mm256_madd_epi16(lo16[c], ones));
        hi[c] = _mm256_add_epi32(hi[c], _mm256_madd_epi16(hi16[c], ones));
      }
    }
    const __m256 s0 = u8x8_ps(sb + 32 * p + 8 * h), s1 = u8x8_ps(sb + 32 * p + 16 + 8 * h);
    const __m256 m0 = u8x8_ps(sb + 128 + 32 * p + 8 * h), m1 = u8x8_ps(sb + 128 + 32 * p + 16 + 8 * h);
    for (int c = 0; c < C; ++c) {
      const float* sums = reinterpret_cast<const float*>(act + size_t(c) * act_stride + 260);
      sacc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo[c]), s0, sacc[c]);
      sacc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi[c]), s1, sacc[c]);
      macc[c] = _mm256_fmadd_ps(m0, _mm256_set1_ps(sums[2 * p]), macc[c]);
      macc[c] = _mm256_fmadd_ps(m1, _mm256_set1_ps(sums[2 * p + 1]), macc[c]);
    }
  }
  const __m256 d = f16x8_ps(sb + 256 + 16 * h), dmin = f16x8_ps(sb + 288 + 16 * h);
  for (int c = 0; c < C; ++c) {
    float dy;
    std::memcpy(&dy, act + size_t(c) * act_stride + 256, 4);
    const __m256 f = _mm256_fmsub_ps(d, sacc[c], _mm256_mul_ps(dmin, macc[c]));
    acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dy), f, acc[c]);
  }
}

// ---- Q6_K -----------------------------------------------------------------------------------
// Half h of a Q6_K super-block for C tokens, as the AVX-512 kernel: codes (value + 32, 0..63) of
// steps m, m + 16, m + 32, m + 48 rebuilt from two nibble registers and one of 2-bit tops; each
// sub-block's int32 sum starts at -32 x the activation's sum over it. The maddubs products add
// up in int16 over 2 steps (2 x 2 x 63 x 128 = 32,256 < 2^15), then one madd by ones. One half
// after the other, as Q4_K's.
template <int C>
inline __attribute__((always_inline)) void q6_half(const uint8_t* sb, const uint8_t* act, size_t act_stride, int h,
                                                  __m256 acc[C]) {
  const __m256i m0f = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
  const uint8_t* lo = sb + kQ6Meta + 32 * h;
  const uint8_t* top = sb + kQ6Meta + 2048 + 32 * h;
  __m256 sacc[C];
  for (int c = 0; c < C; ++c) sacc[c] = _mm256_setzero_ps();
  for (int a = 0; a < 4; ++a) {  // sub-blocks a, a + 4, a + 8, a + 12
    __m256i is[C][4];
    for (int c = 0; c < C; ++c) {
      const int32_t* bias = reinterpret_cast<const int32_t*>(act + size_t(c) * act_stride + 256);
      for (int k = 0; k < 4; ++k) is[c][k] = _mm256_set1_epi32(bias[a + 4 * k]);
    }
    for (int u = 0; u < 4; u += 2) {
      const int m = 4 * a + u;  // steps m and m + 1
      const __m256i t0 = load256(top + 64 * m), t1 = load256(top + 64 * (m + 1));
      const __m256i l00 = load256(lo + 64 * m), l01 = load256(lo + 64 * (m + 1));
      const __m256i l10 = load256(lo + 64 * (m + 16)), l11 = load256(lo + 64 * (m + 17));
      for (int k = 0; k < 4; ++k) {  // step m + 16k (and m + 1 + 16k)
        __m256i q0, q1;
        switch (k) {
          case 0:
            q0 = _mm256_or_si256(_mm256_and_si256(l00, m0f), _mm256_and_si256(_mm256_slli_epi16(t0, 4), m30));
            q1 = _mm256_or_si256(_mm256_and_si256(l01, m0f), _mm256_and_si256(_mm256_slli_epi16(t1, 4), m30));
            break;
          case 1:
            q0 = _mm256_or_si256(_mm256_and_si256(l10, m0f), _mm256_and_si256(_mm256_slli_epi16(t0, 2), m30));
            q1 = _mm256_or_si256(_mm256_and_si256(l11, m0f), _mm256_and_si256(_mm256_slli_epi16(t1, 2), m30));
            break;
          case 2:
            q0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l00, 4), m0f), _mm256_and_si256(t0, m30));
            q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l01, 4), m0f), _mm256_and_si256(t1, m30));
            break;
          default:
            q0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l10, 4), m0f),
                                 _mm256_and_si256(_mm256_srli_epi16(t0, 2), m30));
            q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l11, 4), m0f),
                                 _mm256_and_si256(_mm256_srli_epi16(t1, 2), m30));
            break;
        }
        for (int c = 0; c < C; ++c) {
          const uint8_t* x = act + size_t(c) * act_stride + 4 * (m + 16 * k);
          const __m256i s16 =
              _mm256_add_epi16(_mm256_maddubs_epi16(q0, bcast4(x)), _mm256_maddubs_epi16(q1, bcast4(x + 4)));
          is[c][k] = _mm256_add_epi32(is[c][k], _mm256_madd_epi16(s16, ones));
        }
      }
    }
    for (int k = 0; k < 4; ++k) {
      const __m256 sc = i8x8_ps(sb + 16 * (a + 4 * k) + 8 * h);
      for (int c = 0; c < C; ++c) sacc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c][k]), sc, sacc[c]);
    }
  }
  const __m256 d = f16x8_ps(sb + 256 + 16 * h);
  for (int c = 0; c < C; ++c) {
    float dy;
    std::memcpy(&dy, act + size_t(c) * act_stride + 320, 4);
    acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(dy)), sacc[c], acc[c]);
  }
}

// ---- Q4_0 -----------------------------------------------------------------------------------
// Half h of a Q4_0 super-block (8 blocks of 32) for C tokens, as the AVX-512 kernel: a block's
// 8 maddubs (4 chunks' low and high nibbles) add up in int16 (each 2 products of at most 15 x
// 128: 8 x 3,840 = 30,720 < 2^15), then one madd by ones and the offset's -8 x sum(a).
template <int C>
inline __attribute__((always_inline)) void q4_0_half(const uint8_t* sb, const uint8_t* act, size_t act_stride, int h,
                                                    __m256 acc[C]) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int j = 0; j < 8; ++j) {
    __m256i p16[C];
    for (int c = 0; c < C; ++c) p16[c] = _mm256_setzero_si256();
    for (int t = 0; t < 4; ++t) {
      const __m256i w = load256(sb + 256 + (4 * j + t) * 64 + 32 * h);
      const __m256i l = _mm256_and_si256(w, m4), hc = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
      for (int c = 0; c < C; ++c) {
        const uint8_t* x = act + size_t(c) * act_stride + 32 * j + 4 * t;
        p16[c] = _mm256_add_epi16(p16[c], _mm256_maddubs_epi16(l, bcast4(x)));
        p16[c] = _mm256_add_epi16(p16[c], _mm256_maddubs_epi16(hc, bcast4(x + 16)));
      }
    }
    const __m256 dw = f16x8_ps(sb + 32 * j + 16 * h);
    for (int c = 0; c < C; ++c) {
      const uint8_t* a = act + size_t(c) * act_stride;
      int32_t bias;
      float da;
      std::memcpy(&bias, a + 288 + 4 * j, 4);
      std::memcpy(&da, a + 256 + 4 * j, 4);
      const __m256i is = _mm256_add_epi32(_mm256_set1_epi32(bias), _mm256_madd_epi16(p16[c], ones));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[c]);
    }
  }
}

// ---- the formats, for the shared loops (vec_dot_panel_impl.h) -------------------------------
// One token's 16 results: two registers, rows 0-7 and 8-15.
struct Acc256 : PanelDefaults {
  struct Acc {
    __m256 h[2];
  };
  static Acc zero() { return {{_mm256_setzero_ps(), _mm256_setzero_ps()}}; }
  static Acc load(const float* p) { return {{_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}}; }
  static void store(float* p, Acc a) {
    _mm256_storeu_ps(p, a.h[0]);
    _mm256_storeu_ps(p + 8, a.h[1]);
  }
};

// Runs half(h, that half of each token's Acc) for h = 0, 1.
template <int C, class Half>
inline __attribute__((always_inline)) void both_halves(Acc256::Acc acc[C], Half half) {
  for (int h = 0; h < 2; ++h) {
    __m256 a[C];
    for (int c = 0; c < C; ++c) a[c] = acc[c].h[h];
    half(h, a);
    for (int c = 0; c < C; ++c) acc[c].h[h] = a[c];
  }
}

template <bool kFive>
struct K4 : Acc256 {
  static constexpr size_t kBytes = kSuper<kFive>, kAct = kActSuper, kPre = 32 * 128;
  static constexpr int kTile = 3;
  static constexpr bool kUnpackOnce = kFive;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, Acc acc[C], const uint8_t* pre) {
    both_halves<C>(acc, [&](int h, __m256* a) { k4_half<kFive, C>(sb, act, stride, h, a, pre); });
  }
  static void unpack(const uint8_t* sb, uint8_t* pre) {  // [32][2][64], as the AVX-512 kernel's
    for (int ci = 0; ci < 32; ci += 4)
      for (int h = 0; h < 2; ++h) {
        __m256i l[4], hc[4];
        k4_codes<kFive, 0>(sb, ci, h, l[0], hc[0]);
        k4_codes<kFive, 1>(sb, ci + 1, h, l[1], hc[1]);
        k4_codes<kFive, 2>(sb, ci + 2, h, l[2], hc[2]);
        k4_codes<kFive, 3>(sb, ci + 3, h, l[3], hc[3]);
        for (int u = 0; u < 4; ++u) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(pre + (ci + u) * 128 + 32 * h), l[u]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(pre + (ci + u) * 128 + 64 + 32 * h), hc[u]);
        }
      }
  }
};
struct Q6 : Acc256 {
  static constexpr size_t kBytes = kQ6Super, kAct = kQ6ActSuper;
  static constexpr int kTile = 2;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, Acc acc[C], const uint8_t*) {
    both_halves<C>(acc, [&](int h, __m256* a) { q6_half<C>(sb, act, stride, h, a); });
  }
};
struct Q40 : Acc256 {
  static constexpr size_t kBytes = kQ40Super, kAct = kQ8ActSuper;
  static constexpr int kTile = 3;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, Acc acc[C], const uint8_t*) {
    both_halves<C>(acc, [&](int h, __m256* a) { q4_0_half<C>(sb, act, stride, h, a); });
  }
};

}  // namespace

extern const PanelKernels avx2_panel_kernels = panel_kernels<Q40, K4<false>, K4<true>, Q6>();

}  // namespace nnb::kern
