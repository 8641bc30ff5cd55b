// AVX-512 (BW, VNNI) kernels over Q4_0, Q4_K, Q5_K, Q6_K and Q8_0 panels: 16 rows interleaved
// (layouts: vec_dot_packed.h).
//
// Why panels: a batching server's steps multiply each weight row by several tokens. With rows
// packed one by one, every dpbusd needs a full 64-byte vector of one token's activation and
// every row and token a horizontal sum at the end, so the 4-token Q4_K kernel ran at 28 % of
// the core's dpbusd peak (vec_dot_bench vnni_peak) and an 8-sequence step spent half its time
// there. In a panel one chunk holds 4 codes of 16 rows: a dpbusd against 4 activation bytes
// broadcast (a memory operand) serves 16 rows, and the lanes end as the 16 rows' sums. Measured
// on a Zen 5 VM (vec_dot_bench matvec_batch / matvec_dram_batch, one thread, M row-products/s,
// per-row layout vs panels): Q4_K 1 token from L2 97-102 vs 138-140, 8 tokens 191-197 vs
// 274-282, 8 tokens from memory 123-125 vs 203; Q5_K 4 / 8 tokens from L2 87-149 / 92-161 vs
// 131-152 / 205-208; Q6_K 4 / 8 tokens 73 / 83 vs 169 / 170. With several tokens a chunk is ~20
// instructions of work, too many for the out-of-order window to cover memory's latency, so the
// kernels prefetch each super-block `ahead` bytes on (the device's tuned distance).
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_panel_impl.h"
#include "engine/cpu/vec_dot_x86.h"

#include "engine/cpu/avx512_gcc_warnings.h"

// Helpers have internal linkage (see vec_dot_impl.h); the kernels are the exports.
namespace nnb::kern {
namespace {

inline __m512 u8x16_ps(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Chunk ci's low and high codes (Q5_K: with their fifth bits), as super_block() uses them.
template <bool kFive>
inline __attribute__((always_inline)) void k4_codes(const uint8_t* sb, int ci, __m512i& l, __m512i& h) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const uint8_t* planes = sb + kMeta;
  const __m512i w = load512(planes + (kFive ? 512 : 0) + ci * 64);
  l = _mm512_and_si512(w, m4);
  if constexpr (kFive) {
    const __m512i pl = load512(planes + 64 * (ci / 4)), b16 = _mm512_set1_epi8(0x10);
    h = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    l = _mm512_mask_add_epi8(l, _mm512_test_epi8_mask(pl, _mm512_set1_epi8(char(1 << (2 * (ci % 4))))), l, b16);
    h = _mm512_mask_add_epi8(h, _mm512_test_epi8_mask(pl, _mm512_set1_epi8(char(2 << (2 * (ci % 4))))), h, b16);
  } else {
    h = _mm512_andnot_si512(m4, w);
  }
}

// Super-block i of a panel for C tokens (act: token 0's row, the others act_stride apart):
// acc[c] += the 16 rows' results of that super-block. Per token: pair p's low- and high-nibble
// sub-blocks summed in int32 over its 8 chunks (Q4_K: the high nibbles in place, 16 x their
// value, their scale taken / 16, exact; Q5_K: shifted down, and 16 added where a code's fifth
// bit is set, from the bit planes: plane v, bits 2u and 2u + 1 for the low and high codes of
// chunk 4v + u), times the 6-bit scales in f32 (exact: every product and sum below 2^24), the
// mins against the activation's sums per 32, then d, dmin and the activation's d. A token's
// operations are the same for every C.
// pre: nullptr, or the super-block's codes already unpacked by k4_codes ([32][2][64], for more
// than 4 tokens: unpacked once, not once per tile of 4).
template <bool kFive, int C>
inline __attribute__((always_inline)) void super_block(const uint8_t* sb, const uint8_t* act, size_t act_stride,
                                                      __m512 acc[C], const uint8_t* pre = nullptr) {
  const __m512 hi_scale = _mm512_set1_ps(kFive ? 1.0f : 1.0f / 16);
  __m512 sacc[C], macc[C];
  for (int c = 0; c < C; ++c) sacc[c] = macc[c] = _mm512_setzero_ps();
  for (int p = 0; p < 4; ++p) {
    __m512i lo[C], hi[C];
    for (int c = 0; c < C; ++c) lo[c] = hi[c] = _mm512_setzero_si512();
    for (int t = 0; t < 8; ++t) {
      __m512i l, h;
      if (pre) {
        l = load512(pre + (p * 8 + t) * 128);
        h = load512(pre + (p * 8 + t) * 128 + 64);
      } else {
        k4_codes<kFive>(sb, p * 8 + t, l, h);
      }
      for (int c = 0; c < C; ++c) {
        const uint8_t* q = act + size_t(c) * act_stride + 64 * p + 4 * t;
        int32_t a0, a1;
        std::memcpy(&a0, q, 4);
        std::memcpy(&a1, q + 32, 4);
        lo[c] = _mm512_dpbusd_epi32(lo[c], l, _mm512_set1_epi32(a0));
        hi[c] = _mm512_dpbusd_epi32(hi[c], h, _mm512_set1_epi32(a1));
      }
    }
    const __m512 s0 = u8x16_ps(sb + 32 * p), s1 = _mm512_mul_ps(u8x16_ps(sb + 32 * p + 16), hi_scale);
    const __m512 m0 = u8x16_ps(sb + 128 + 32 * p), m1 = u8x16_ps(sb + 128 + 32 * p + 16);
    for (int c = 0; c < C; ++c) {
      const float* sums = reinterpret_cast<const float*>(act + size_t(c) * act_stride + 260);
      sacc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo[c]), s0, sacc[c]);
      sacc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi[c]), s1, sacc[c]);
      macc[c] = _mm512_fmadd_ps(m0, _mm512_set1_ps(sums[2 * p]), macc[c]);
      macc[c] = _mm512_fmadd_ps(m1, _mm512_set1_ps(sums[2 * p + 1]), macc[c]);
    }
  }
  const __m512 d = _mm512_cvtph_ps(load256(sb + 256));
  const __m512 dmin = _mm512_cvtph_ps(load256(sb + 288));
  for (int c = 0; c < C; ++c) {
    float dy;
    std::memcpy(&dy, act + size_t(c) * act_stride + 256, 4);
    const __m512 f = _mm512_fmsub_ps(d, sacc[c], _mm512_mul_ps(dmin, macc[c]));
    acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(dy), f, acc[c]);
  }
}

// ---- Q6_K -----------------------------------------------------------------------------------
// Super-block of a Q6_K panel for C tokens: acc[c] += its 16 rows' results. Codes (value + 32,
// 0..63) of steps m, m + 16, m + 32, m + 48 (4 elements each) are rebuilt from two nibble
// registers and one register of 2-bit tops; sub-block j (steps 4j .. 4j+3) sums in int32 from
// -32 x the activation's sum over it (the +32 of the codes), then times its int8 scale in f32
// (exact: |sum| <= 16 * 32 * 127, times 127, below 2^24), and d x d_y at the end.
template <int C>
inline __attribute__((always_inline)) void q6_super_block(const uint8_t* sb, const uint8_t* act, size_t act_stride,
                                                         __m512 acc[C]) {
  const __m512i m0f = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  constexpr int kOr = 0xEA;  // (A & B) | C
  const uint8_t* lo = sb + kQ6Meta;
  const uint8_t* top = lo + 2048;
  __m512 sacc[C];
  for (int c = 0; c < C; ++c) sacc[c] = _mm512_setzero_ps();
  for (int a = 0; a < 4; ++a) {  // sub-blocks a, a + 4, a + 8, a + 12
    __m512i is[C][4];
    for (int c = 0; c < C; ++c) {
      const int32_t* bias = reinterpret_cast<const int32_t*>(act + size_t(c) * act_stride + 256);
      for (int k = 0; k < 4; ++k) is[c][k] = _mm512_set1_epi32(bias[a + 4 * k]);
    }
    for (int u = 0; u < 4; ++u) {
      const int m = 4 * a + u;
      const __m512i t = load512(top + 64 * m), l0 = load512(lo + 64 * m), l1 = load512(lo + 64 * (m + 16));
      __m512i q[4];
      q[0] = _mm512_ternarylogic_epi32(l0, m0f, _mm512_and_si512(_mm512_slli_epi16(t, 4), m30), kOr);
      q[1] = _mm512_ternarylogic_epi32(l1, m0f, _mm512_and_si512(_mm512_slli_epi16(t, 2), m30), kOr);
      q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l0, 4), m0f, _mm512_and_si512(t, m30), kOr);
      q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l1, 4), m0f, _mm512_and_si512(_mm512_srli_epi16(t, 2), m30),
                                       kOr);
      for (int c = 0; c < C; ++c) {
        const uint8_t* x = act + size_t(c) * act_stride;
        for (int k = 0; k < 4; ++k) {  // step m + 16k: elements 4(m + 16k) ..
          int32_t a4;
          std::memcpy(&a4, x + 4 * (m + 16 * k), 4);
          is[c][k] = _mm512_dpbusd_epi32(is[c][k], q[k], _mm512_set1_epi32(a4));
        }
      }
    }
    for (int k = 0; k < 4; ++k) {
      const __m512 sc = _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + 16 * (a + 4 * k)))));
      for (int c = 0; c < C; ++c) sacc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[c][k]), sc, sacc[c]);
    }
  }
  const __m512 d = _mm512_cvtph_ps(load256(sb + 256));
  for (int c = 0; c < C; ++c) {
    float dy;
    std::memcpy(&dy, act + size_t(c) * act_stride + 320, 4);
    acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(d, _mm512_set1_ps(dy)), sacc[c], acc[c]);
  }
}

// ---- Q4_0, Q8_0 -----------------------------------------------------------------------------
// Super-block of a Q4_0 (kQ4) or Q8_0 panel (8 blocks of 32) for C tokens: acc[c] += its 16
// rows' results. Per block an int32 sum, from the codes' offset times the activation's sum over
// it (-8 x, resp. -128 x for Q8_0's codes stored + 128, unsigned as dpbusd takes them), of 8
// dpbusd (Q4_0: 4 chunks' low and high nibbles), then d_w x d_a in f32: block by block, the order
// ggml adds them.
template <bool kQ4, int C>
inline __attribute__((always_inline)) void q8_blocks_super_block(const uint8_t* sb, const uint8_t* act,
                                                                size_t act_stride, __m512 acc[C]) {
  constexpr int kChunks = kQ4 ? 4 : 8;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int j = 0; j < 8; ++j) {
    __m512i is[C];
    for (int c = 0; c < C; ++c) {
      int32_t bias;
      std::memcpy(&bias, act + size_t(c) * act_stride + 288 + 4 * j, 4);
      is[c] = _mm512_set1_epi32(bias);
    }
    for (int t = 0; t < kChunks; ++t) {
      const __m512i w = load512(sb + 256 + (kChunks * j + t) * 64);
      const __m512i l = kQ4 ? _mm512_and_si512(w, m4) : w;
      const __m512i h = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
      for (int c = 0; c < C; ++c) {
        const uint8_t* x = act + size_t(c) * act_stride + 32 * j + 4 * t;
        int32_t a0, a1;
        std::memcpy(&a0, x, 4);
        is[c] = _mm512_dpbusd_epi32(is[c], l, _mm512_set1_epi32(a0));
        if constexpr (kQ4) {
          std::memcpy(&a1, x + 16, 4);
          is[c] = _mm512_dpbusd_epi32(is[c], h, _mm512_set1_epi32(a1));
        }
      }
    }
    const __m512 dw = _mm512_cvtph_ps(load256(sb + 32 * j));
    for (int c = 0; c < C; ++c) {
      float da;
      std::memcpy(&da, act + size_t(c) * act_stride + 256 + 4 * j, 4);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[c]), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[c]);
    }
  }
}

// ---- the formats, for the shared loops (vec_dot_panel_impl.h) -------------------------------
// One token's 16 results: one register; tiles of up to 4 tokens.
struct Acc512 : PanelDefaults {
  using Acc = __m512;
  static Acc zero() { return _mm512_setzero_ps(); }
  static Acc load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Acc a) { _mm512_storeu_ps(p, a); }
  static constexpr int kTile = 4;
};
// Q5_K unpacks its codes once per super-block when a batch has more than 4 tokens (8
// operations a chunk, Q4_K's 2: 8 tokens from L2 150 -> 187-196 M row-products/s; for Q4_K and
// Q6_K the stores and loads cost more than they save).
template <bool kFive>
struct K4 : Acc512 {
  static constexpr size_t kBytes = kSuper<kFive>, kAct = kActSuper, kPre = 32 * 128;
  static constexpr bool kUnpackOnce = kFive;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, __m512 acc[C], const uint8_t* pre) {
    super_block<kFive, C>(sb, act, stride, acc, pre);
  }
  static void unpack(const uint8_t* sb, uint8_t* pre) {
    for (int ci = 0; ci < 32; ++ci) {
      __m512i l, h;
      k4_codes<kFive>(sb, ci, l, h);
      _mm512_store_si512(pre + ci * 128, l);
      _mm512_store_si512(pre + ci * 128 + 64, h);
    }
  }
};
struct Q6 : Acc512 {
  static constexpr size_t kBytes = kQ6Super, kAct = kQ6ActSuper;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, __m512 acc[C], const uint8_t*) {
    q6_super_block<C>(sb, act, stride, acc);
  }
};
template <bool kQ4>
struct Q8Blocks : Acc512 {  // Q4_0, Q8_0
  static constexpr size_t kBytes = kQ4 ? kQ40Super : kQ80Super, kAct = kQ8ActSuper;
  template <int C>
  static void block(const uint8_t* sb, const uint8_t* act, size_t stride, __m512 acc[C], const uint8_t*) {
    q8_blocks_super_block<kQ4, C>(sb, act, stride, acc);
  }
};

}  // namespace

extern const PanelKernels avx512_panel_kernels = panel_kernels<Q8Blocks<true>, K4<false>, K4<true>, Q6, Q8Blocks<false>>();

}  // namespace nnb::kern
