// AVX2/FMA GEMM kernels (see vec_dot_gemm.h): the AVX-512 file's algorithm for CPUs without
// AVX-512 (Intel client cores, AMD Zen 2/3), same activation layouts, same exact integer block
// sums, same float steps per block; the K-quants' sub-block scales apply in int32 here (below).
//
// A separate file rather than the AVX-512 one over shared SIMD traits: the integer core is a
// different instruction sequence, not a narrower register. AVX2 has no dpbusd; its u8 x s8 dot
// (maddubs) sums two products into a saturating int16, so the weight bytes must stay small
// (the biased 4/5/6-bit values) or be signed with the sign moved onto the activation (Q8_0,
// IQ4_NL, whose biased values up to 255 would saturate), and int16 pair sums are widened
// with madd after as many steps as the value ranges allow. Without dpbusd's accumulate and
// embedded broadcast every 32 products cost three instructions (broadcast, maddubs, add), so
// the tiles are shaped to share the broadcast and keep the 16 registers out of the stack.
//
// Panels:
//   float types (F32, F16, BF16): [K][16 rows] f32, as on AVX-512 (two registers per k);
//   quantized types: 16 rows, per step of 4 elements two registers [8 rows][4 bytes] (rows
//     0-7, 8-15), then the per-row scales. 4/5/6-bit types hold value + bias (unsigned; the
//     bias comes off through -sum(q), as on AVX-512), Q8_0 and IQ4_NL the signed values.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "engine/cpu/vec_dot_gemm.h"
#include "engine/cpu/vec_dot_x86.h"

namespace nnb::kern {
namespace {

// ---- 8x8 transpose of 32-bit elements: r[c] <- column c ---------------------------------------
inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {
    s[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
    s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
  }
}

// Runs Tile<C> over n tokens: full tiles of Max, then one smaller tile.
template <int Max, template <int> class Tile, class... Args>
void over_tokens(int64_t n, const uint8_t* act, size_t stride, float* out, int64_t ldo, Args... args) {
  int64_t t = 0;
  for (; t + Max <= n; t += Max) Tile<Max>::run(args..., act + t * stride, stride, out + t * ldo, ldo);
  const int64_t rest = n - t;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((rest == I + 1 ? Tile<I + 1>::run(args..., act + t * stride, stride, out + t * ldo, ldo) : void()), ...);
  }(std::make_integer_sequence<int, Max - 1>{});
}

// ================================ float types ==================================================
// Panel: [K][16] f32; tiles of 6 tokens (12 accumulators, two weight registers, a broadcast).
constexpr int RF = 16;

template <GgmlType T>
__m256 load8_f32(const uint8_t* row, int64_t k) {
  if constexpr (T == GgmlType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  else if constexpr (T == GgmlType::F16)
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + k)));
  else
    return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + k))),
        16));
}

template <GgmlType T>
float load1_f32(const uint8_t* row, int64_t k) {
  if constexpr (T == GgmlType::F32) return reinterpret_cast<const float*>(row)[k];
  else if constexpr (T == GgmlType::F16) return h2f(reinterpret_cast<const uint16_t*>(row)[k]);
  else return bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[k]);
}

size_t float_panel_bytes(int64_t K) { return size_t(K) * RF * 4; }

template <GgmlType T>
void pack_float(const uint8_t* w, size_t row_bytes, int64_t K, void* panel) {
  float* p = static_cast<float*>(panel);
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int h = 0; h < 2; ++h) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = load8_f32<T>(w + size_t(8 * h + i) * row_bytes, k);
      transpose8(r);
      for (int c = 0; c < 8; ++c) _mm256_storeu_ps(p + (k + c) * RF + 8 * h, r[c]);
    }
  }
  for (; k < K; ++k)
    for (int i = 0; i < RF; ++i) p[k * RF + i] = load1_f32<T>(w + size_t(i) * row_bytes, k);
}

template <int C>
struct FloatTile {
  static void run(const float* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
    const float* a[C];
    for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const float*>(act + size_t(c) * stride);
    __m256 acc0[C], acc1[C];
    for (int c = 0; c < C; ++c) acc0[c] = acc1[c] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      const __m256 w0 = _mm256_loadu_ps(panel + k * RF), w1 = _mm256_loadu_ps(panel + k * RF + 8);
      for (int c = 0; c < C; ++c) {
        const __m256 x = _mm256_broadcast_ss(a[c] + k);
        acc0[c] = _mm256_fmadd_ps(w0, x, acc0[c]);
        acc1[c] = _mm256_fmadd_ps(w1, x, acc1[c]);
      }
    }
    for (int c = 0; c < C; ++c) {
      _mm256_storeu_ps(out + c * ldo, acc0[c]);
      _mm256_storeu_ps(out + c * ldo + 8, acc1[c]);
    }
  }
};

void compute_float(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out,
                   int64_t ldo) {
  over_tokens<6, FloatTile>(n, act, stride, out, ldo, static_cast<const float*>(panel), K);
}

// ================================ integer core ==================================================
// Quantized panels hold H = 2 registers of 8 rows per 4-element step (rows 8h .. 8h+7 in
// register h): one broadcast of a token's 4 activation bytes feeds two maddubs. (8-row panels,
// one register per step, cost a broadcast per maddubs: the Q4_K kernel 1.3x slower.)
constexpr int RQ = 8;  // rows per register
constexpr int kH = 2;  // registers per step

// p[c][h] = sum over the G steps at w (kH registers each) of the int16 pair sums of weight
// register h times token c's 4 activation bytes at a[c] + 4 s; G is as many steps as the value
// range keeps below 2^15. Signed weights (Sgn: Q8_0, IQ4_NL) lose their sign to the activation
// bytes, maddubs' second operand. Unrolled 2 steps at a time: GCC's full unroll of 8 schedules
// every weight load first and spills (20-25 % slower); 4 at a time, Q4_0 7 % and Q5_K 12 %
// slower, the others the same (gemm/<type>/avx2).
template <int C, int G, bool Sgn>
inline __attribute__((always_inline)) void sum_steps(const uint8_t* w, const int8_t* const a[C], __m256i p[C][kH]) {
  for (int c = 0; c < C; ++c)
    for (int h = 0; h < kH; ++h) p[c][h] = _mm256_setzero_si256();
#pragma GCC unroll 2
  for (int s = 0; s < G; ++s) {
    __m256i wv[kH], ws[kH];
    for (int h = 0; h < kH; ++h) {
      ws[h] = load256(w + (s * kH + h) * 32);
      wv[h] = Sgn ? _mm256_sign_epi8(ws[h], ws[h]) : ws[h];
    }
    for (int c = 0; c < C; ++c) {
      int32_t a4;
      std::memcpy(&a4, a[c] + 4 * s, 4);
      const __m256i av = _mm256_set1_epi32(a4);
      for (int h = 0; h < kH; ++h)
        p[c][h] = _mm256_add_epi16(p[c][h], _mm256_maddubs_epi16(wv[h], Sgn ? _mm256_sign_epi8(av, ws[h]) : av));
    }
  }
}

// Stores 8 registers of 8 rows x 32 bytes, transposed, as register h of 8 consecutive steps.
inline void store_steps(const __m256i v[8], uint8_t* dst, int h) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_castsi256_ps(v[i]);
  transpose8(r);
  for (int k = 0; k < 8; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(dst + (k * kH + h) * 32), r[k]);
}

// ================================ Q8_0-activation types ========================================
// Panel per 32-element block: 8 steps x kH x [8 rows][4 bytes] (512 bytes), then d[16] f32.
// Activations (GemmAct::Q8_0): int8 q[K] | float d[K/32] | int32 -sum(q of block)[K/32].
constexpr size_t kB32 = 8 * kH * 32 + kH * RQ * 4;

size_t b32_panel_bytes(int64_t K) { return size_t(K / 32) * kB32; }

// The 32 weight bytes of block ib of one row, in element order.
template <GgmlType T>
__m256i unpack_b32(const uint8_t* row, int64_t ib) {
  if constexpr (T == GgmlType::Q8_0) {
    return load256(reinterpret_cast<const block_q8_0*>(row)[ib].qs);
  } else if constexpr (T == GgmlType::Q4_0) {
    return nibbles_32(reinterpret_cast<const block_q4_0*>(row)[ib].qs);
  } else if constexpr (T == GgmlType::Q5_0) {
    const block_q5_0& x = reinterpret_cast<const block_q5_0*>(row)[ib];
    return _mm256_or_si256(nibbles_32(x.qs), _mm256_and_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0x10)));
  } else {  // IQ4_NL: signed table values
    const __m128i values = _mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(values),
                               nibbles_32(reinterpret_cast<const block_iq4_nl*>(row)[ib].qs));
  }
}

template <GgmlType T>
float b32_scale(const uint8_t* row, int64_t ib) {
  ggml_fp16_t h;
  if constexpr (T == GgmlType::Q8_0) std::memcpy(&h, row + ib * sizeof(block_q8_0), 2);
  else if constexpr (T == GgmlType::Q4_0) std::memcpy(&h, row + ib * sizeof(block_q4_0), 2);
  else if constexpr (T == GgmlType::Q5_0) std::memcpy(&h, row + ib * sizeof(block_q5_0), 2);
  else std::memcpy(&h, row + ib * sizeof(block_iq4_nl), 2);
  return h2f(h);
}

template <GgmlType T>
void pack_b32(const uint8_t* w, size_t row_bytes, int64_t K, void* panel) {
  uint8_t* p = static_cast<uint8_t*>(panel);
  for (int64_t ib = 0; ib < K / 32; ++ib) {
    for (int h = 0; h < kH; ++h) {
      const uint8_t* wh = w + size_t(RQ * h) * row_bytes;
      __m256i v[RQ];
      for (int i = 0; i < RQ; ++i) v[i] = unpack_b32<T>(wh + size_t(i) * row_bytes, ib);
      store_steps(v, p + ib * kB32, h);
      float* d = reinterpret_cast<float*>(p + ib * kB32 + 8 * kH * 32) + RQ * h;
      for (int i = 0; i < RQ; ++i) d[i] = b32_scale<T>(wh + size_t(i) * row_bytes, ib);
    }
  }
}

// Shift: log2 of the bias (its -sum(q) multiple starts the block sum), or -1 for signed weights.
// G: steps per int16 accumulation (2 products of at most (2^(Shift+1) - 1) * 128 each per step).
template <int Shift, int G>
struct B32 {
  template <int C>
  struct Tile {
    static void run(const uint8_t* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
      const int64_t nb = K / 32;
      const __m256i ones = _mm256_set1_epi16(1);
      const int8_t* aq[C];
      const float* ad[C];
      const int32_t* ans[C];
      for (int c = 0; c < C; ++c) {
        const uint8_t* a = act + size_t(c) * stride;
        aq[c] = reinterpret_cast<const int8_t*>(a);
        ad[c] = reinterpret_cast<const float*>(a + K);
        ans[c] = reinterpret_cast<const int32_t*>(a + K + nb * 4);
      }
      __m256 acc[C][kH];
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < kH; ++h) acc[c][h] = _mm256_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = panel + b * kB32;
        __m256i is[C][kH];
        for (int c = 0; c < C; ++c)
          for (int h = 0; h < kH; ++h) {
            if constexpr (Shift >= 0) is[c][h] = _mm256_slli_epi32(_mm256_set1_epi32(ans[c][b]), Shift);
            else is[c][h] = _mm256_setzero_si256();
          }
        for (int s0 = 0; s0 < 8; s0 += G) {
          const int8_t* a[C];
          for (int c = 0; c < C; ++c) a[c] = aq[c] + 32 * b + 4 * s0;
          __m256i p[C][kH];
          sum_steps<C, G, (Shift < 0)>(pb + s0 * kH * 32, a, p);
          for (int c = 0; c < C; ++c)
            for (int h = 0; h < kH; ++h) is[c][h] = _mm256_add_epi32(is[c][h], _mm256_madd_epi16(p[c][h], ones));
        }
        for (int h = 0; h < kH; ++h) {
          const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(pb + 8 * kH * 32) + RQ * h);
          for (int c = 0; c < C; ++c)
            acc[c][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c][h]), _mm256_mul_ps(d, _mm256_set1_ps(ad[c][b])), acc[c][h]);
        }
      }
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < kH; ++h) _mm256_storeu_ps(out + c * ldo + RQ * h, acc[c][h]);
    }
  };
};

// Tiles of 3 tokens: 6 int16 sums, 6 int32 sums, 2 weights and a broadcast fit the 16
// registers (gemm/<type>/avx2 in bench/vec_dot_bench, steps unrolled 4 at a time: Q4_0 with
// 2 / 3 / 4 tokens 101 / 110 / 91 M products/s; Q8_0 59 / 60 / 62).
template <int Shift, int G>
void compute_b32(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out,
                 int64_t ldo) {
  over_tokens<3, B32<Shift, G>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
}

// ================================ K-quants (Q8_K activations) ===================================
// The sub-block scales apply in int32, unlike on AVX-512 (float per sub-block): here each
// float step per token and sub-block (a conversion, two multiply-adds into a second set of
// accumulators) would cost as much as the maddubs they follow, and their registers would push
// the tile onto the stack. Instead one madd of the int16 pair sums by the sub-block's scale
// (the value twice, one per pair element) adds scale x sum to an int32 sum per token, and the
// offsets come once per super-block as sum_j o_j x (the activation's int16 sum over sub-block
// j): Q4_K / Q5_K's mins (o = min, times dmin; four madd), Q6_K's bias of 32 (o = 32 x scale,
// times d; eight). Then d and dmin multiply once. Exact in int32: per super-block at most
// 256 * 63 * 128 * 63 (Q4_K/Q5_K: 31 * 128 * 32 per sub-block times 63, eight times; Q6_K
// 63 * 128 * 16 times 128, sixteen times), and the offsets' sum <= 16 * 4096 * 2048.
// (Measured on an AVX-512 machine with NNB_ISA=avx2, pp512 of the 220M Q4_K_M model, 2
// threads: the float way on 8-row x 4-token tiles 820-860 tokens/s, ints on the same tiles
// 1,010-1,100, on 16-row x 3-token tiles 1,110-1,170.)
//
// Panel per 256-element super-block, H = 2 registers of 8 rows (rows 8h .. 8h+7 in register h):
//   q[64 steps][H][8 rows][4 bytes] (the unsigned values: value + bias)
//   sc[S sub-blocks][H][8 rows][2 x int16]   scale, twice
//   off[S/2 pairs][H][8 rows][2 x int16]     offsets o_2p, o_2p+1 of sub-blocks 2p, 2p+1
//   d[H][8] f32, dmin[H][8] f32               (Q6_K: dmin = d)
// Activations (GemmAct::Q8_K): int8 q[K] | float d[K/256] | int32 -sum(q)[K/16] |
// float sum(q)[K/16] | float sum(q)[K/32] | int16 sum(q)[K/16] | int16 sum(q)[K/32]. Q8_K values
// lie in [-128, 127].
template <GgmlType T>
struct KLayout {
  static constexpr bool six = T == GgmlType::Q6_K;
  static constexpr int S = six ? 16 : 8;  // sub-blocks
  static constexpr int steps = 64 / S;    // 4-element steps per sub-block
  static constexpr int G = T == GgmlType::Q4_K ? 8 : T == GgmlType::Q5_K ? 4 : 2;  // steps per int16 sum:
  // 2G products of at most 15 (31, 63) * 128 stay below 2^15
  // Tokens per tile: Q4_K's 3 keep 6 int16 sums, 6 int32 sums, 2 weights and a broadcast in
  // registers; with their shorter int16 sums Q5_K and Q6_K spill either way, and ran fastest
  // with 4 (gemm/<type>/avx2 in bench/vec_dot_bench, steps unrolled 4 at a time: Q4_K 3 / 4
  // tokens 120 / 93 M products/s, Q5_K 70 / 82, Q6_K 76 / 87; 2, 5 and 6 slower).
  static constexpr int tile = T == GgmlType::Q4_K ? 3 : 4;
  static constexpr size_t sc = 64 * kH * 32, off = sc + S * kH * 32, d = off + S / 2 * kH * 32, bytes = d + 2 * kH * 32;
};

template <GgmlType T>
size_t k_panel_bytes(int64_t K) {
  return size_t(K / 256) * KLayout<T>::bytes;
}

// 32 unsigned bytes (elements 32c .. 32c+31) of super-block blk.
template <GgmlType T>
__m256i unpack_k32(const uint8_t* blk, int c) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    const uint8_t* qs = T == GgmlType::Q4_K ? reinterpret_cast<const block_q4_K*>(blk)->qs
                                            : reinterpret_cast<const block_q5_K*>(blk)->qs;
    const __m256i bits = load256(qs + 32 * (c / 2));
    __m256i q = _mm256_and_si256((c & 1) ? _mm256_srli_epi16(bits, 4) : bits, m4);
    if constexpr (T == GgmlType::Q5_K) {
      const __m256i bit = _mm256_set1_epi8(char(1 << c));
      const __m256i hb = _mm256_cmpeq_epi8(_mm256_and_si256(load256(reinterpret_cast<const block_q5_K*>(blk)->qh), bit), bit);
      q = _mm256_or_si256(q, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
    }
    return q;
  } else {  // Q6_K: half h (128 elements), quarter q
    const block_q6_K* x = reinterpret_cast<const block_q6_K*>(blk);
    const int h = c / 4, q = c % 4;
    const __m256i ql = load256(x->ql + 64 * h + 32 * (q & 1));
    const __m256i qh = load256(x->qh + 32 * h);
    const __m256i lo = _mm256_and_si256(q < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
    // ((qh >> 2q) & 3) << 4: bits shifted in from the neighbouring byte fall outside 0x30.
    const __m256i hi = q == 3 ? _mm256_srli_epi16(qh, 2) : _mm256_sll_epi16(qh, _mm_cvtsi32_si128(4 - 2 * q));
    return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(0x30)));
  }
}

// Scales and offsets of one row's super-block: sc[S], off[S], d, dmin.
template <GgmlType T>
void k_row_scales(const uint8_t* blk, int16_t* sc, int16_t* off, float& d, float& dmin) {
  if constexpr (T == GgmlType::Q6_K) {
    const block_q6_K* x = reinterpret_cast<const block_q6_K*>(blk);
    d = dmin = h2f(x->d);
    for (int j = 0; j < 16; ++j) {
      sc[j] = x->scales[j];
      off[j] = int16_t(32 * x->scales[j]);
    }
  } else {
    ggml_fp16_t hd, hm;
    std::memcpy(&hd, blk, 2);
    std::memcpy(&hm, blk + 2, 2);
    d = h2f(hd);
    dmin = h2f(hm);
    for (int j = 0; j < 8; ++j) {
      int s, m;
      k4_scale_min(blk + 4, j, s, m);  // scales[12] follow d and dmin in both layouts
      sc[j] = int16_t(s);
      off[j] = int16_t(m);
    }
  }
}

template <GgmlType T>
void pack_k(const uint8_t* w, size_t row_bytes, int64_t K, void* panel) {
  using L = KLayout<T>;
  constexpr size_t bs = T == GgmlType::Q4_K ? sizeof(block_q4_K) : T == GgmlType::Q5_K ? sizeof(block_q5_K) : sizeof(block_q6_K);
  uint8_t* p = static_cast<uint8_t*>(panel);
  for (int64_t i = 0; i < K / 256; ++i) {
    uint8_t* sb = p + i * L::bytes;
    int16_t* sc = reinterpret_cast<int16_t*>(sb + L::sc);
    int16_t* off = reinterpret_cast<int16_t*>(sb + L::off);
    float* d = reinterpret_cast<float*>(sb + L::d);
    for (int h = 0; h < kH; ++h) {
      const uint8_t* wh = w + size_t(RQ * h) * row_bytes + size_t(i) * bs;
      for (int c = 0; c < 8; ++c) {
        __m256i v[RQ];
        for (int r = 0; r < RQ; ++r) v[r] = unpack_k32<T>(wh + size_t(r) * row_bytes, c);
        store_steps(v, sb + 8 * c * kH * 32, h);
      }
      for (int r = 0; r < RQ; ++r) {
        int16_t s[16], o[16];
        k_row_scales<T>(wh + size_t(r) * row_bytes, s, o, d[h * RQ + r], d[(kH + h) * RQ + r]);
        for (int j = 0; j < L::S; ++j) sc[((j * kH + h) * RQ + r) * 2] = sc[((j * kH + h) * RQ + r) * 2 + 1] = s[j];
        for (int j = 0; j < L::S; ++j) off[(((j / 2) * kH + h) * RQ + r) * 2 + j % 2] = o[j];
      }
    }
  }
}

template <GgmlType T>
struct KQ {
  template <int C>
  struct Tile {
    static void run(const uint8_t* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
      using L = KLayout<T>;
      constexpr int H = kH;
      const int64_t nsb = K / 256;
      const int8_t* aq[C];
      const float* ad[C];
      const uint8_t* asum[C];  // int16 sums of the activation's sub-blocks, read two at a time
      for (int c = 0; c < C; ++c) {
        const uint8_t* a = act + size_t(c) * stride;
        aq[c] = reinterpret_cast<const int8_t*>(a);
        ad[c] = reinterpret_cast<const float*>(a + K);
        asum[c] = a + K + nsb * 4 + (K / 16) * 8 + (K / 32) * 4 + (L::six ? 0 : (K / 16) * 2);
      }
      __m256 acc[C][H];
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h) acc[c][h] = _mm256_setzero_ps();
      for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* sb = panel + i * L::bytes;
        __m256i isum[C][H];
        for (int c = 0; c < C; ++c)
          for (int h = 0; h < H; ++h) isum[c][h] = _mm256_setzero_si256();
        for (int j = 0; j < L::S; ++j) {
          for (int g = 0; g < L::steps / L::G; ++g) {
            const int st0 = j * L::steps + g * L::G;
            const int8_t* a[C];
            for (int c = 0; c < C; ++c) a[c] = aq[c] + i * 256 + 4 * st0;
            __m256i p[C][H];
            sum_steps<C, L::G, false>(sb + st0 * H * 32, a, p);
            for (int h = 0; h < H; ++h) {
              const __m256i sc = load256(sb + L::sc + (j * H + h) * 32);
              for (int c = 0; c < C; ++c) isum[c][h] = _mm256_add_epi32(isum[c][h], _mm256_madd_epi16(p[c][h], sc));
            }
          }
        }
        for (int h = 0; h < H; ++h) {
          const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(sb + L::d) + RQ * h);
          for (int c = 0; c < C; ++c)
            acc[c][h] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(ad[c][i])), _mm256_cvtepi32_ps(isum[c][h]), acc[c][h]);
        }
      }
      // The offsets in a second pass over the super-blocks, into their own sums as the per-row
      // kernels keep them: in the loop above their registers made GCC spill the int32 sums
      // (the kernel 10-15 % slower).
      __m256 off[C][H];
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h) off[c][h] = _mm256_setzero_ps();
      for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* sb = panel + i * L::bytes;
        for (int h = 0; h < H; ++h) {
          const __m256 dmin = _mm256_loadu_ps(reinterpret_cast<const float*>(sb + L::d) + RQ * (H + h));
          for (int c = 0; c < C; ++c) {
            __m256i os = _mm256_setzero_si256();
            for (int q = 0; q < L::S / 2; ++q) {
              int32_t pair;
              std::memcpy(&pair, asum[c] + (i * L::S + 2 * q) * 2, 4);
              os = _mm256_add_epi32(os, _mm256_madd_epi16(load256(sb + L::off + (q * H + h) * 32), _mm256_set1_epi32(pair)));
            }
            off[c][h] = _mm256_fmadd_ps(_mm256_mul_ps(dmin, _mm256_set1_ps(ad[c][i])), _mm256_cvtepi32_ps(os), off[c][h]);
          }
        }
      }
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h) _mm256_storeu_ps(out + c * ldo + RQ * h, _mm256_sub_ps(acc[c][h], off[c][h]));
    }
  };
};

template <GgmlType T>
void compute_k(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out, int64_t ldo) {
  over_tokens<KLayout<T>::tile, KQ<T>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
}

// ================================ table =========================================================
constexpr int kNumTypes = 31;

struct Table {
  GemmKernel k[kNumTypes] = {};
  constexpr Table() {
    // min_n: as for AVX-512 (crossover with the per-row kernels on the bench models).
    auto set = [&](GgmlType t, GemmAct a, int rows, size_t (*bytes)(int64_t), decltype(GemmKernel::pack) pack,
                   decltype(GemmKernel::compute) compute) {
      const int min_n = a == GemmAct::Q8_K ? 8 : a == GemmAct::Q8_0 ? 6 : 7;
      k[int(t)] = {a, rows, min_n, bytes, pack, compute};
    };
    set(GgmlType::F32, GemmAct::F32, RF, float_panel_bytes, pack_float<GgmlType::F32>, compute_float);
    set(GgmlType::F16, GemmAct::F16R, RF, float_panel_bytes, pack_float<GgmlType::F16>, compute_float);
    set(GgmlType::BF16, GemmAct::BF16R, RF, float_panel_bytes, pack_float<GgmlType::BF16>, compute_float);
    // Signed Q8_0 / IQ4_NL: one step per int16 (two products of <= 128 * 127).
    set(GgmlType::Q8_0, GemmAct::Q8_0, RQ * kH, b32_panel_bytes, pack_b32<GgmlType::Q8_0>, compute_b32<-1, 1>);
    set(GgmlType::IQ4_NL, GemmAct::Q8_0, RQ * kH, b32_panel_bytes, pack_b32<GgmlType::IQ4_NL>, compute_b32<-1, 1>);
    // Q4_0: 16 products of <= 15 * 127; Q5_0: 8 of <= 31 * 127.
    set(GgmlType::Q4_0, GemmAct::Q8_0, RQ * kH, b32_panel_bytes, pack_b32<GgmlType::Q4_0>, compute_b32<3, 8>);
    set(GgmlType::Q5_0, GemmAct::Q8_0, RQ * kH, b32_panel_bytes, pack_b32<GgmlType::Q5_0>, compute_b32<4, 4>);
    set(GgmlType::Q4_K, GemmAct::Q8_K, RQ * kH, k_panel_bytes<GgmlType::Q4_K>, pack_k<GgmlType::Q4_K>, compute_k<GgmlType::Q4_K>);
    set(GgmlType::Q5_K, GemmAct::Q8_K, RQ * kH, k_panel_bytes<GgmlType::Q5_K>, pack_k<GgmlType::Q5_K>, compute_k<GgmlType::Q5_K>);
    set(GgmlType::Q6_K, GemmAct::Q8_K, RQ * kH, k_panel_bytes<GgmlType::Q6_K>, pack_k<GgmlType::Q6_K>, compute_k<GgmlType::Q6_K>);
  }
};
constexpr Table kTable;

}  // namespace

const GemmKernel* avx2_gemm_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].pack ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
