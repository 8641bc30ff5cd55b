// AVX-512 (BW, VNNI) kernels over Q4_K panels: 16 rows interleaved (layout: vec_dot_packed.h).
//
// Why panels for Q4_K: a batching server's steps multiply each weight row by several tokens.
// With rows packed one by one, every dpbusd needs a full 64-byte vector of one token's
// activation and every row and token a horizontal sum at the end, so the 4-token kernel ran at
// 28 % of the core's dpbusd peak (vec_dot_bench vnni_peak) and an 8-sequence step spent half its
// time there. In a panel one chunk holds 4 codes of 16 rows: a dpbusd against 4 activation bytes
// broadcast (a memory operand) serves 16 rows, and the lanes end as the 16 rows' sums. Measured
// on a Zen 5 VM before adopting it (a prototype, K = 1024, one thread): from L2, 1 token 147 vs
// 118 M row-products/s, 8 tokens 279 vs 169; streaming 512 MiB from memory with the prefetch,
// 1 token 57-64 vs 46-56, 8 tokens 183-257 vs 140-212 (without any prefetch, 8 tokens 167 vs
// 205: at 8 tokens each chunk is ~20 instructions of work, too many for the out-of-order window
// to cover memory's latency alone — the device's row prefetch covers it).
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_x86.h"

// GCC 12 warns inside its own avx512fintrin.h (see vec_dot_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Helpers have internal linkage (see vec_dot_impl.h); the two kernels are the exports.
namespace nnb::kern {
namespace {

constexpr int64_t kRows = 16;
constexpr size_t kMeta = 320, kSuper = 320 + 2048;  // a panel's bytes per super-block
constexpr size_t kActSuper = 320;                   // a prepared activation's bytes per super-block

inline __m512 u8x16_ps(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Super-block i of a panel for C tokens (act: token 0's row, the others act_stride apart):
// acc[c] += the 16 rows' results of that super-block. Per token: pair p's low- and high-nibble
// sub-blocks summed in int32 over its 8 chunks (the high nibbles in place, 16 x their value:
// their scale is taken / 16, exact), times the 6-bit scales in f32 (exact: every product and
// sum below 2^24), the mins against the activation's sums per 32, then d, dmin and the
// activation's d. A token's operations are the same for every C.
template <int C>
inline __attribute__((always_inline)) void super_block(const uint8_t* sb, const uint8_t* act, size_t act_stride,
                                                      __m512 acc[C]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512 sixteenth = _mm512_set1_ps(1.0f / 16);
  const uint8_t* codes = sb + kMeta;
  __m512 sacc[C], macc[C];
  for (int c = 0; c < C; ++c) sacc[c] = macc[c] = _mm512_setzero_ps();
  for (int p = 0; p < 4; ++p) {
    __m512i lo[C], hi[C];
    for (int c = 0; c < C; ++c) lo[c] = hi[c] = _mm512_setzero_si512();
    for (int t = 0; t < 8; ++t) {
      const __m512i w = load512(codes + (p * 8 + t) * 64);
      const __m512i l = _mm512_and_si512(w, m4), h = _mm512_andnot_si512(m4, w);
      for (int c = 0; c < C; ++c) {
        const uint8_t* q = act + size_t(c) * act_stride + 64 * p + 4 * t;
        int32_t a0, a1;
        std::memcpy(&a0, q, 4);
        std::memcpy(&a1, q + 32, 4);
        lo[c] = _mm512_dpbusd_epi32(lo[c], l, _mm512_set1_epi32(a0));
        hi[c] = _mm512_dpbusd_epi32(hi[c], h, _mm512_set1_epi32(a1));
      }
    }
    const __m512 s0 = u8x16_ps(sb + 32 * p), s1 = _mm512_mul_ps(u8x16_ps(sb + 32 * p + 16), sixteenth);
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

// Up to 4 tokens: the whole panel, results in registers.
// The lines of a super-block's bytes, into L1.
inline void prefetch_super_block(const uint8_t* p) {
  for (size_t x = 0; x < kSuper; x += 64) __builtin_prefetch(p + x, 0, 3);
}

template <int C>
inline __attribute__((always_inline)) void panel_tile(int64_t nsb, const uint8_t* panel, const uint8_t* act,
                                                     size_t act_stride, float* out, size_t out_stride, size_t ahead) {
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i) {
    if (ahead) prefetch_super_block(panel + size_t(i) * kSuper + ahead);
    super_block<C>(panel + size_t(i) * kSuper, act + size_t(i) * kActSuper, act_stride, acc);
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + size_t(c) * out_stride, acc[c]);
}

// Tokens t0 .. t0 + C of super-block i, their running results kept in out between super-blocks.
template <int C>
inline __attribute__((always_inline)) void super_block_tokens(int64_t i, const uint8_t* panel, const uint8_t* act,
                                                             size_t act_stride, float* out, size_t out_stride) {
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = i == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out + size_t(c) * out_stride);
  super_block<C>(panel + size_t(i) * kSuper, act + size_t(i) * kActSuper, act_stride, acc);
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + size_t(c) * out_stride, acc[c]);
}

}  // namespace

// Up to 4 tokens: one pass over the panel. More: super-block by super-block, every tile of 4
// tokens before the next super-block, so each super-block's 2368 bytes are read from memory
// once and the rest of the time from L1 (a panel of a 2816-wide row is 26 KiB: with the tiles
// one after the other over the whole panel, the second tile read it from L2 and 8 tokens ran at
// 48 instead of 226 M row-products/s from memory at K = 1024). A token's operations stay the same.
void avx512_q4_K_panel_dot(int64_t K, float* s, size_t s_stride, const void* vpanel, const void* vact,
                           size_t act_stride, int n, size_t ahead) {
  const int64_t nsb = K / QK_K;
  const uint8_t* panel = static_cast<const uint8_t*>(vpanel);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  switch (n) {
    case 1: return panel_tile<1>(nsb, panel, act, act_stride, s, s_stride, ahead);
    case 2: return panel_tile<2>(nsb, panel, act, act_stride, s, s_stride, ahead);
    case 3: return panel_tile<3>(nsb, panel, act, act_stride, s, s_stride, ahead);
    case 4: return panel_tile<4>(nsb, panel, act, act_stride, s, s_stride, ahead);
    default: break;
  }
  for (int64_t i = 0; i < nsb; ++i) {
    if (ahead) prefetch_super_block(panel + size_t(i) * kSuper + ahead);
    int t = 0;
    for (; t + 4 <= n; t += 4)
      super_block_tokens<4>(i, panel, act + size_t(t) * act_stride, act_stride, s + size_t(t) * s_stride, s_stride);
    const uint8_t* a = act + size_t(t) * act_stride;
    float* o = s + size_t(t) * s_stride;
    switch (n - t) {
      case 3: super_block_tokens<3>(i, panel, a, act_stride, o, s_stride); break;
      case 2: super_block_tokens<2>(i, panel, a, act_stride, o, s_stride); break;
      case 1: super_block_tokens<1>(i, panel, a, act_stride, o, s_stride); break;
      default: break;
    }
  }
}

void avx512_q4_K_panel_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  const int64_t nsb = K / QK_K;
  const uint8_t* base = static_cast<const uint8_t*>(rows);
  for (int64_t r = 0; r < n; r += kRows)
    panel_tile<1>(nsb, base + size_t(r) * row_bytes, static_cast<const uint8_t*>(act), 0, s + r, 0, 0);
}

}  // namespace nnb::kern
