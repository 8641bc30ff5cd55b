// AVX2/FMA GEMM kernels (see vec_dot_gemm.h): the AVX-512 file's algorithm for CPUs without
// AVX-512 (Intel client cores, AMD Zen 2/3), same activation layouts, same exact integer block
// sums, same float steps per block / sub-block.
//
// A separate file rather than the AVX-512 one over shared SIMD traits: the integer core is a
// different instruction sequence, not a narrower register. AVX2 has no dpbusd; its u8 x s8 dot
// (maddubs) sums two products into a saturating int16, so the weight bytes must stay small
// (the biased 4/5/6-bit values) or be signed with the sign moved onto the activation (Q8_0,
// IQ4_NL, whose biased values up to 255 would saturate), and int16 pair sums are widened
// with madd after as many steps as the value ranges allow. With 16 registers instead of 32 the
// panels and tiles are smaller too.
//
// Panels:
//   float types (F32, F16, BF16): [K][16 rows] f32, as on AVX-512 (two registers per k);
//   quantized types: 8 rows, [k/4][8 rows][4 bytes] per block (one 256-bit register per step
//     of 4 elements), then the per-row float scales. 4/5/6-bit types hold value + bias
//     (unsigned; the bias comes off through -sum(q), as on AVX-512), Q8_0 and IQ4_NL the signed
//     values.
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

// 8 rows x 32 bytes -> 8 registers [dword c][row], stored at dst (32 bytes each).
inline void store_transposed(const __m256i v[8], uint8_t* dst) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_castsi256_ps(v[i]);
  transpose8(r);
  for (int c = 0; c < 8; ++c) _mm256_storeu_ps(reinterpret_cast<float*>(dst + 32 * c), r[c]);
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
constexpr int RQ = 8;     // rows per quantized panel
constexpr int kTileQ = 4;  // tokens per quantized tile

// Adds sum over `steps` steps of (weight bytes . activation bytes) per row to is[c]: int16 pair
// sums from maddubs accumulate for G steps (as many as the value range keeps below 2^15), then
// widen with madd. Signed weights (Sgn) put their sign on the activation bytes.
template <int C, int G, bool Sgn>
inline void dot_steps(const uint8_t* w, int steps, const int8_t* const aq[C], int64_t off, __m256i is[C]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int s0 = 0; s0 < steps; s0 += G) {
    __m256i p[C];
    for (int s = s0; s < s0 + G; ++s) {
      __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * s));
      const __m256i ws = wv;
      if constexpr (Sgn) wv = _mm256_sign_epi8(wv, wv);
      for (int c = 0; c < C; ++c) {
        int32_t a4;
        std::memcpy(&a4, aq[c] + off + 4 * s, 4);
        __m256i av = _mm256_set1_epi32(a4);
        if constexpr (Sgn) av = _mm256_sign_epi8(av, ws);
        const __m256i m = _mm256_maddubs_epi16(wv, av);
        p[c] = s == s0 ? m : _mm256_add_epi16(p[c], m);
      }
    }
    for (int c = 0; c < C; ++c) is[c] = _mm256_add_epi32(is[c], _mm256_madd_epi16(p[c], ones));
  }
}

// ================================ Q8_0-activation types ========================================
// Panel per 32-element block: 8 x [8 rows][4 bytes] (256 bytes) then d[8] f32 (32 bytes).
// Activations (GemmAct::Q8_0): int8 q[K] | float d[K/32] | int32 -sum(q)[K/32].
constexpr size_t kB32 = 256 + 32;

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
    __m256i v[RQ];
    for (int i = 0; i < RQ; ++i) v[i] = unpack_b32<T>(w + size_t(i) * row_bytes, ib);
    store_transposed(v, p + ib * kB32);
    float* d = reinterpret_cast<float*>(p + ib * kB32 + 256);
    for (int i = 0; i < RQ; ++i) d[i] = b32_scale<T>(w + size_t(i) * row_bytes, ib);
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
      const int8_t* aq[C];
      const float* ad[C];
      const int32_t* ans[C];
      for (int c = 0; c < C; ++c) {
        const uint8_t* a = act + size_t(c) * stride;
        aq[c] = reinterpret_cast<const int8_t*>(a);
        ad[c] = reinterpret_cast<const float*>(a + K);
        ans[c] = reinterpret_cast<const int32_t*>(a + K + nb * 4);
      }
      __m256 acc[C];
      for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = panel + b * kB32;
        __m256i is[C];
        for (int c = 0; c < C; ++c) {
          if constexpr (Shift >= 0) is[c] = _mm256_slli_epi32(_mm256_set1_epi32(ans[c][b]), Shift);
          else is[c] = _mm256_setzero_si256();
        }
        dot_steps<C, G, (Shift < 0)>(pb, 8, aq, 32 * b, is);
        const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(pb + 256));
        for (int c = 0; c < C; ++c)
          acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c]), _mm256_mul_ps(d, _mm256_set1_ps(ad[c][b])), acc[c]);
      }
      for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + c * ldo, acc[c]);
    }
  };
};

template <int Shift, int G>
void compute_b32(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out,
                 int64_t ldo) {
  over_tokens<kTileQ, B32<Shift, G>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
}

// ================================ K-quants (Q8_K activations) ===================================
// Panel per 256-element super-block: 64 x [8 rows][4 bytes] (2048 bytes), then ds[S][8] f32
// (d * sub-block scale) and, for types with mins, dm[S][8] f32 (dmin * sub-block min).
// Activations (GemmAct::Q8_K): int8 q[K] | float d[K/256] | int32 -sum(q)[K/16] |
// float sum(q)[K/16] | float sum(q)[K/32]. Q8_K values lie in [-128, 127].

struct KLayout {
  int sub;    // elements per sub-block (16 or 32)
  bool mins;  // has per-sub-block mins
  int shift;  // bias = 1 << shift taken off through -sum(q) (-1: none)
  int g;      // steps per int16 accumulation
  static constexpr size_t q_bytes = 2048;
};

template <GgmlType T>
constexpr KLayout klayout() {
  if constexpr (T == GgmlType::Q4_K) return {32, true, -1, 8};  // 16 products of <= 15 * 128
  else if constexpr (T == GgmlType::Q5_K) return {32, true, -1, 4};  // 8 of <= 31 * 128
  else return {16, false, 5, 2};  // Q6_K: 4 of <= 63 * 128
}

template <GgmlType T>
constexpr size_t ksb_bytes() {
  constexpr KLayout L = klayout<T>();
  return KLayout::q_bytes + size_t(256 / L.sub) * RQ * 4 * (L.mins ? 2 : 1);
}

template <GgmlType T>
size_t k_panel_bytes(int64_t K) {
  return size_t(K / 256) * ksb_bytes<T>();
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

// Scales of one super-block: ds[j] = d * scale_j, dm[j] = dmin * min_j.
template <GgmlType T>
void k_scales(const uint8_t* blk, float* ds, float* dm) {
  if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    ggml_fp16_t d, dmin;
    std::memcpy(&d, blk, 2);
    std::memcpy(&dmin, blk + 2, 2);
    const uint8_t* sc = blk + 4;  // scales[12] follow d, dmin in both layouts
    const float fd = h2f(d), fm = h2f(dmin);
    for (int j = 0; j < 8; ++j) {
      int s, m;
      if (j < 4) {
        s = sc[j] & 63;
        m = sc[j + 4] & 63;
      } else {
        s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
        m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
      }
      ds[j] = fd * float(s);
      dm[j] = fm * float(m);
    }
  } else {
    const block_q6_K* x = reinterpret_cast<const block_q6_K*>(blk);
    const float fd = h2f(x->d);
    for (int j = 0; j < 16; ++j) ds[j] = fd * float(x->scales[j]);
    (void)dm;
  }
}

template <GgmlType T>
void pack_k(const uint8_t* w, size_t row_bytes, int64_t K, void* panel) {
  constexpr KLayout L = klayout<T>();
  constexpr int S = 256 / L.sub;
  constexpr size_t bs = T == GgmlType::Q4_K ? sizeof(block_q4_K) : T == GgmlType::Q5_K ? sizeof(block_q5_K) : sizeof(block_q6_K);
  uint8_t* p = static_cast<uint8_t*>(panel);
  for (int64_t i = 0; i < K / 256; ++i) {
    uint8_t* sb = p + i * ksb_bytes<T>();
    for (int c = 0; c < 8; ++c) {
      __m256i v[RQ];
      for (int r = 0; r < RQ; ++r) v[r] = unpack_k32<T>(w + size_t(r) * row_bytes + size_t(i) * bs, c);
      store_transposed(v, sb + 256 * c);
    }
    float* ds = reinterpret_cast<float*>(sb + KLayout::q_bytes);
    float* dm = ds + S * RQ;
    for (int r = 0; r < RQ; ++r) {
      float s[16], m[16];
      k_scales<T>(w + size_t(r) * row_bytes + size_t(i) * bs, s, m);
      for (int j = 0; j < S; ++j) ds[j * RQ + r] = s[j];
      if constexpr (L.mins)
        for (int j = 0; j < S; ++j) dm[j * RQ + r] = m[j];
    }
  }
}

template <GgmlType T>
struct KQ {
  template <int C>
  struct Tile {
    static void run(const uint8_t* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
      constexpr KLayout L = klayout<T>();
      constexpr int S = 256 / L.sub, steps = L.sub / 4;
      const int64_t nsb = K / 256;
      const int8_t* aq[C];
      const float* ad[C];
      const int32_t* ans16[C];
      const float* afs32[C];
      for (int c = 0; c < C; ++c) {
        const uint8_t* a = act + size_t(c) * stride;
        aq[c] = reinterpret_cast<const int8_t*>(a);
        ad[c] = reinterpret_cast<const float*>(a + K);
        ans16[c] = reinterpret_cast<const int32_t*>(a + K + nsb * 4);
        afs32[c] = reinterpret_cast<const float*>(a + K + nsb * 4 + (K / 16) * 8);
      }
      __m256 acc[C];
      for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
      for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* sb = panel + i * ksb_bytes<T>();
        const float* ds = reinterpret_cast<const float*>(sb + KLayout::q_bytes);
        const float* dm = ds + S * RQ;
        __m256 sacc[C];
        for (int c = 0; c < C; ++c) sacc[c] = _mm256_setzero_ps();
        for (int j = 0; j < S; ++j) {
          __m256i is[C];
          for (int c = 0; c < C; ++c) {
            if constexpr (L.shift >= 0) is[c] = _mm256_slli_epi32(_mm256_set1_epi32(ans16[c][i * 16 + j]), L.shift);
            else is[c] = _mm256_setzero_si256();
          }
          dot_steps<C, L.g, false>(sb + 32 * (j * steps), steps, aq, i * 256 + j * L.sub, is);
          const __m256 dsv = _mm256_loadu_ps(ds + j * RQ);
          for (int c = 0; c < C; ++c) sacc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c]), dsv, sacc[c]);
          if constexpr (L.mins) {
            const __m256 dmv = _mm256_loadu_ps(dm + j * RQ);
            for (int c = 0; c < C; ++c) sacc[c] = _mm256_fnmadd_ps(dmv, _mm256_set1_ps(afs32[c][i * 8 + j]), sacc[c]);
          }
        }
        for (int c = 0; c < C; ++c) acc[c] = _mm256_fmadd_ps(sacc[c], _mm256_set1_ps(ad[c][i]), acc[c]);
      }
      for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + c * ldo, acc[c]);
    }
  };
};

template <GgmlType T>
void compute_k(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out, int64_t ldo) {
  over_tokens<kTileQ, KQ<T>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
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
    set(GgmlType::Q8_0, GemmAct::Q8_0, RQ, b32_panel_bytes, pack_b32<GgmlType::Q8_0>, compute_b32<-1, 1>);
    set(GgmlType::IQ4_NL, GemmAct::Q8_0, RQ, b32_panel_bytes, pack_b32<GgmlType::IQ4_NL>, compute_b32<-1, 1>);
    // Q4_0: 16 products of <= 15 * 127; Q5_0: 8 of <= 31 * 127.
    set(GgmlType::Q4_0, GemmAct::Q8_0, RQ, b32_panel_bytes, pack_b32<GgmlType::Q4_0>, compute_b32<3, 8>);
    set(GgmlType::Q5_0, GemmAct::Q8_0, RQ, b32_panel_bytes, pack_b32<GgmlType::Q5_0>, compute_b32<4, 4>);
    set(GgmlType::Q4_K, GemmAct::Q8_K, RQ, k_panel_bytes<GgmlType::Q4_K>, pack_k<GgmlType::Q4_K>, compute_k<GgmlType::Q4_K>);
    set(GgmlType::Q5_K, GemmAct::Q8_K, RQ, k_panel_bytes<GgmlType::Q5_K>, pack_k<GgmlType::Q5_K>, compute_k<GgmlType::Q5_K>);
    set(GgmlType::Q6_K, GemmAct::Q8_K, RQ, k_panel_bytes<GgmlType::Q6_K>, pack_k<GgmlType::Q6_K>, compute_k<GgmlType::Q6_K>);
  }
};
constexpr Table kTable;

}  // namespace

const GemmKernel* avx2_gemm_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].pack ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
