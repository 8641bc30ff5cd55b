// AVX-512 (F/BW/VL/DQ + VNNI) GEMM kernels (see vec_dot_gemm.h).
//
// Panels hold 16 weight rows interleaved so that one 512-bit register covers the same elements
// of all 16 rows:
//   float types (F32, F16, BF16): [k][16 rows] f32;
//   quantized types: the weights as unsigned bytes (the stored value plus a bias that makes it
//     non-negative), four consecutive elements of a row per int32 lane: [k/4][16 rows][4 bytes],
//     followed per block by the per-row float scales. VNNI's dpbusd multiplies a register of
//     them by four activation bytes broadcast to every lane, so 16 rows advance together and
//     each lane sums a whole block without horizontal adds. The bias comes off exactly through
//     the activations' block sums (the accumulator starts at -bias * sum(q)).
// The interleaving is a 16x16 transpose of 32-bit words per 64 elements, done in registers.
// Per token, each panel step is a handful of instructions shared by 16 rows; C tokens (8) are
// processed together so that each weight register load serves all of them.
#include <cstddef>

#include "engine/cpu/vec_dot_gemm.h"
#include "engine/cpu/vec_dot_x86.h"

#include "engine/cpu/avx512_gcc_warnings.h"

namespace nnb::kern {
namespace {

constexpr int R = 16;  // rows per panel
constexpr int kTile = 8;  // tokens per tile

// ---- 16x16 transpose of 32-bit elements: r[c] <- column c -------------------------------------
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
    t[4 + k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xdd);
    t[8 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
    t[12 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
    r[4 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0xdd);
  }
}

// 16 rows x 64 bytes -> 16 registers [dword c][row], stored at dst (64 bytes each); only the
// first n_out (<= 16) are stored.
inline void store_transposed(__m512i v[16], uint8_t* dst, int n_out = 16) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(v[i]);
  transpose16(r);
  for (int c = 0; c < n_out; ++c) _mm512_storeu_ps(dst + 64 * c, r[c]);
}

// ================================ float types ==================================================
// Panel: [K][16] f32.

template <GgmlType T>
__m512 load16_f32(const uint8_t* row, int64_t k) {
  if constexpr (T == GgmlType::F32) return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
  else if constexpr (T == GgmlType::F16) return _mm512_cvtph_ps(load256(reinterpret_cast<const uint16_t*>(row) + k));
  else
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(reinterpret_cast<const uint16_t*>(row) + k)), 16));
}

template <GgmlType T>
float load1_f32(const uint8_t* row, int64_t k) {
  if constexpr (T == GgmlType::F32) return reinterpret_cast<const float*>(row)[k];
  else if constexpr (T == GgmlType::F16) return h2f(reinterpret_cast<const uint16_t*>(row)[k]);
  else return bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[k]);
}

size_t float_panel_bytes(int64_t K) { return size_t(K) * R * 4; }

template <GgmlType T>
void pack_float(const uint8_t* w, size_t row_bytes, int64_t K, void* panel) {
  float* p = static_cast<float*>(panel);
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 r[16];
    for (int i = 0; i < R; ++i) r[i] = load16_f32<T>(w + size_t(i) * row_bytes, k);
    transpose16(r);
    for (int c = 0; c < 16; ++c) _mm512_storeu_ps(p + (k + c) * R, r[c]);
  }
  for (; k < K; ++k)
    for (int i = 0; i < R; ++i) p[k * R + i] = load1_f32<T>(w + size_t(i) * row_bytes, k);
}

template <int C>
void float_tile(const float* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
  const float* a[C];
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const float*>(act + size_t(c) * stride);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 w = _mm512_loadu_ps(panel + k * R);
    for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(w, _mm512_set1_ps(a[c][k]), acc[c]);
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + c * ldo, acc[c]);
}

// Runs Tile<C> over n tokens: full tiles of kTile, then one smaller tile.
template <template <int> class Tile, class... Args>
void over_tokens(int64_t n, const uint8_t* act, size_t stride, float* out, int64_t ldo, Args... args) {
  int64_t t = 0;
  for (; t + kTile <= n; t += kTile) Tile<kTile>::run(args..., act + t * stride, stride, out + t * ldo, ldo);
  switch (n - t) {
    case 1: Tile<1>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 2: Tile<2>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 3: Tile<3>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 4: Tile<4>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 5: Tile<5>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 6: Tile<6>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    case 7: Tile<7>::run(args..., act + t * stride, stride, out + t * ldo, ldo); break;
    default: break;
  }
}

template <int C>
struct FloatTile {
  static void run(const float* panel, int64_t K, const uint8_t* act, size_t stride, float* out, int64_t ldo) {
    float_tile<C>(panel, K, act, stride, out, ldo);
  }
};

void compute_float(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out,
                   int64_t ldo) {
  over_tokens<FloatTile>(n, act, stride, out, ldo, static_cast<const float*>(panel), K);
}

// ================================ Q8_0-activation types ========================================
// Panel per 32-element block: 8 x [16 rows][4 bytes] (512 bytes) then d[16] f32 (64 bytes).
// Activations (GemmAct::Q8_0): int8 q[K] | float d[K/32] | int32 -sum(q)[K/32].
constexpr size_t kB32 = 512 + 64;

size_t b32_panel_bytes(int64_t K) { return size_t(K / 32) * kB32; }

// Unsigned bytes (value + bias) of blocks ib and ib+1 of one row, 64 elements in order.
template <GgmlType T>
__m512i unpack_b32_pair(const uint8_t* row, int64_t ib) {
  if constexpr (T == GgmlType::Q8_0) {
    const block_q8_0* x = reinterpret_cast<const block_q8_0*>(row);
    return _mm512_xor_si512(join256(load256(x[ib].qs), load256(x[ib + 1].qs)), _mm512_set1_epi8(char(0x80)));
  } else if constexpr (T == GgmlType::Q4_0) {
    const block_q4_0* x = reinterpret_cast<const block_q4_0*>(row);
    return join256(nibbles_32(x[ib].qs), nibbles_32(x[ib + 1].qs));
  } else if constexpr (T == GgmlType::Q5_0) {
    const block_q5_0* x = reinterpret_cast<const block_q5_0*>(row);
    uint32_t h0, h1;
    std::memcpy(&h0, x[ib].qh, 4);
    std::memcpy(&h1, x[ib + 1].qh, 4);
    const __m512i q = join256(nibbles_32(x[ib].qs), nibbles_32(x[ib + 1].qs));
    return _mm512_mask_add_epi8(q, __mmask64(h0) | (__mmask64(h1) << 32), q, _mm512_set1_epi8(0x10));
  } else {  // IQ4_NL: table value + 128
    const block_iq4_nl* x = reinterpret_cast<const block_iq4_nl*>(row);
    const __m128i values = _mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
    const __m512i biased = _mm512_broadcast_i32x4(_mm_xor_si128(values, _mm_set1_epi8(char(0x80))));
    return _mm512_shuffle_epi8(biased, join256(nibbles_32(x[ib].qs), nibbles_32(x[ib + 1].qs)));
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
  const int64_t nb = K / 32;
  for (int64_t ib = 0; ib < nb; ib += 2) {
    __m512i v[16];
    if (ib + 1 < nb) {
      for (int i = 0; i < R; ++i) v[i] = unpack_b32_pair<T>(w + size_t(i) * row_bytes, ib);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(v[i]);
      transpose16(r);
      for (int c = 0; c < 8; ++c) _mm512_storeu_ps(p + ib * kB32 + 64 * c, r[c]);
      for (int c = 0; c < 8; ++c) _mm512_storeu_ps(p + (ib + 1) * kB32 + 64 * c, r[8 + c]);
    } else {  // odd last block: unpack it twice, keep the first copy
      for (int i = 0; i < R; ++i) {
        alignas(64) uint8_t tmp[2 * 34];
        // a private copy of the one block, duplicated, so the pair reader stays in bounds
        const size_t bs = row_bytes / size_t(nb);
        std::memcpy(tmp, w + size_t(i) * row_bytes + size_t(ib) * bs, bs);
        std::memcpy(tmp + bs, tmp, bs);
        v[i] = unpack_b32_pair<T>(tmp, 0);
      }
      store_transposed(v, p + ib * kB32, 8);
    }
    for (int64_t b = ib; b < std::min(ib + 2, nb); ++b) {
      float* d = reinterpret_cast<float*>(p + b * kB32 + 512);
      for (int i = 0; i < R; ++i) d[i] = b32_scale<T>(w + size_t(i) * row_bytes, b);
    }
  }
}

template <int Shift>
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
      __m512 acc[C];
      for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* pb = panel + b * kB32;
        __m512i is[C];
        for (int c = 0; c < C; ++c) is[c] = _mm512_slli_epi32(_mm512_set1_epi32(ans[c][b]), Shift);
        for (int s = 0; s < 8; ++s) {
          const __m512i w = _mm512_loadu_si512(pb + 64 * s);
          for (int c = 0; c < C; ++c) {
            int32_t a4;
            std::memcpy(&a4, aq[c] + 32 * b + 4 * s, 4);
            is[c] = _mm512_dpbusd_epi32(is[c], w, _mm512_set1_epi32(a4));
          }
        }
        const __m512 d = _mm512_loadu_ps(pb + 512);
        for (int c = 0; c < C; ++c)
          acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[c]), _mm512_mul_ps(d, _mm512_set1_ps(ad[c][b])), acc[c]);
      }
      for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + c * ldo, acc[c]);
    }
  };
};

template <int Shift>
void compute_b32(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out,
                 int64_t ldo) {
  over_tokens<B32<Shift>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
}

// ================================ K-quants (Q8_K activations) ===================================
// Panel per 256-element super-block: 64 x [16 rows][4 bytes] (4096 bytes), then ds[S][16] f32
// (d * sub-block scale) and, for types with mins, dm[S][16] f32 (dmin * sub-block min), S the
// number of sub-blocks (8 of 32 elements or 16 of 16).
// Activations (GemmAct::Q8_K): int8 q[K] | float d[K/256] | int32 -sum(q)[K/16] |
// float sum(q)[K/16] | float sum(q)[K/32].

struct KLayout {
  int sub;       // elements per sub-block (16 or 32)
  bool mins;     // has per-sub-block mins
  int shift;     // bias = 1 << shift taken off through -sum(q) (0: none)
  static constexpr size_t q_bytes = 4096;
};

template <GgmlType T>
constexpr KLayout klayout() {
  if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) return {32, true, -1};
  else return {16, false, 5};  // Q6_K
}

template <GgmlType T>
constexpr size_t ksb_bytes() {
  constexpr KLayout L = klayout<T>();
  return KLayout::q_bytes + size_t(256 / L.sub) * 64 * (L.mins ? 2 : 1);
}

template <GgmlType T>
size_t k_panel_bytes(int64_t K) {
  return size_t(K / 256) * ksb_bytes<T>();
}

// 64 unsigned bytes (elements 64c .. 64c+63) of super-block x.
template <GgmlType T>
__m512i unpack_k64(const uint8_t* blk, int c) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  if constexpr (T == GgmlType::Q4_K) {
    const block_q4_K* x = reinterpret_cast<const block_q4_K*>(blk);
    const __m256i bits = load256(x->qs + 32 * c);
    return _mm512_and_si512(join256(bits, _mm256_srli_epi16(bits, 4)), m4);
  } else if constexpr (T == GgmlType::Q5_K) {
    const block_q5_K* x = reinterpret_cast<const block_q5_K*>(blk);
    const __m256i bits = load256(x->qs + 32 * c);
    __m512i q = _mm512_and_si512(join256(bits, _mm256_srli_epi16(bits, 4)), m4);
    const __m512i hbits = _mm512_broadcast_i64x4(load256(x->qh));
    const __m512i bit = join256(_mm256_set1_epi8(char(1 << (2 * c))), _mm256_set1_epi8(char(1 << (2 * c + 1))));
    return _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hbits, bit), q, _mm512_set1_epi8(0x10));
  } else {  // Q6_K: chunk c = half h (128 elements) lo/hi
    const block_q6_K* x = reinterpret_cast<const block_q6_K*>(blk);
    const int h = c / 2;
    const __m512i m30 = _mm512_set1_epi8(0x30);
    const __m512i ql = _mm512_loadu_si512(x->ql + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(load256(x->qh + 32 * h));
    constexpr int kAndOr = 0xEA;  // (A & B) | C
    if ((c & 1) == 0) {
      const __m512i shl = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
      return _mm512_ternarylogic_epi32(ql, m4, _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30), kAndOr);
    }
    const __m512i shr = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    return _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), m4, _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30),
                                     kAndOr);
  }
}

// Scales of one super-block: ds[j] = d * scale_j, dm[j] = dmin * min_j.
template <GgmlType T>
void k_scales(const uint8_t* blk, float* ds, float* dm) {
  if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    const uint8_t* sc;
    ggml_fp16_t d, dmin;
    std::memcpy(&d, blk, 2);
    std::memcpy(&dmin, blk + 2, 2);
    sc = blk + 4;  // scales[12] follow d, dmin in both layouts
    const float fd = h2f(d), fm = h2f(dmin);
    for (int j = 0; j < 8; ++j) {
      int s, m;
      k4_scale_min(sc, j, s, m);
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
    for (int c = 0; c < 4; ++c) {
      __m512i v[16];
      for (int r = 0; r < R; ++r) v[r] = unpack_k64<T>(w + size_t(r) * row_bytes + size_t(i) * bs, c);
      store_transposed(v, sb + 1024 * c);
    }
    float* ds = reinterpret_cast<float*>(sb + KLayout::q_bytes);
    float* dm = ds + S * 16;
    for (int r = 0; r < R; ++r) {
      float s[16], m[16];
      k_scales<T>(w + size_t(r) * row_bytes + size_t(i) * bs, s, m);
      for (int j = 0; j < S; ++j) ds[j * 16 + r] = s[j];
      if constexpr (L.mins)
        for (int j = 0; j < S; ++j) dm[j * 16 + r] = m[j];
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
      __m512 acc[C];
      for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
      for (int64_t i = 0; i < nsb; ++i) {
        const uint8_t* sb = panel + i * ksb_bytes<T>();
        const float* ds = reinterpret_cast<const float*>(sb + KLayout::q_bytes);
        const float* dm = ds + S * 16;
        __m512 sacc[C];
        for (int c = 0; c < C; ++c) sacc[c] = _mm512_setzero_ps();
        for (int j = 0; j < S; ++j) {
          __m512i is[C];
          for (int c = 0; c < C; ++c) {
            if constexpr (L.shift >= 0) is[c] = _mm512_slli_epi32(_mm512_set1_epi32(ans16[c][i * 16 + j]), L.shift);
            else is[c] = _mm512_setzero_si512();
          }
          for (int s = 0; s < steps; ++s) {
            const __m512i w = _mm512_loadu_si512(sb + 64 * (j * steps + s));
            for (int c = 0; c < C; ++c) {
              int32_t a4;
              std::memcpy(&a4, aq[c] + i * 256 + j * L.sub + 4 * s, 4);
              is[c] = _mm512_dpbusd_epi32(is[c], w, _mm512_set1_epi32(a4));
            }
          }
          const __m512 dsv = _mm512_loadu_ps(ds + j * 16);
          for (int c = 0; c < C; ++c) sacc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[c]), dsv, sacc[c]);
          if constexpr (L.mins) {
            const __m512 dmv = _mm512_loadu_ps(dm + j * 16);
            for (int c = 0; c < C; ++c) sacc[c] = _mm512_fnmadd_ps(dmv, _mm512_set1_ps(afs32[c][i * 8 + j]), sacc[c]);
          }
        }
        for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(sacc[c], _mm512_set1_ps(ad[c][i]), acc[c]);
      }
      for (int c = 0; c < C; ++c) _mm512_storeu_ps(out + c * ldo, acc[c]);
    }
  };
};

template <GgmlType T>
void compute_k(const void* panel, int64_t K, const uint8_t* act, size_t stride, int64_t n, float* out, int64_t ldo) {
  over_tokens<KQ<T>::template Tile>(n, act, stride, out, ldo, static_cast<const uint8_t*>(panel), K);
}

// ================================ table =========================================================
constexpr int kNumTypes = 31;

struct Table {
  GemmKernel k[kNumTypes] = {};
  constexpr Table() {
    // min_n: measured crossover with the per-row kernels on the 220M bench models (1 thread).
    auto set = [&](GgmlType t, GemmAct a, size_t (*bytes)(int64_t), decltype(GemmKernel::pack) pack,
                   decltype(GemmKernel::compute) compute) {
      const int min_n = a == GemmAct::Q8_K ? 8 : a == GemmAct::Q8_0 ? 6 : 7;
      k[int(t)] = {a, R, min_n, bytes, pack, compute};
    };
    set(GgmlType::F32, GemmAct::F32, float_panel_bytes, pack_float<GgmlType::F32>, compute_float);
    set(GgmlType::F16, GemmAct::F16R, float_panel_bytes, pack_float<GgmlType::F16>, compute_float);
    set(GgmlType::BF16, GemmAct::BF16R, float_panel_bytes, pack_float<GgmlType::BF16>, compute_float);
    set(GgmlType::Q8_0, GemmAct::Q8_0, b32_panel_bytes, pack_b32<GgmlType::Q8_0>, compute_b32<7>);
    set(GgmlType::Q4_0, GemmAct::Q8_0, b32_panel_bytes, pack_b32<GgmlType::Q4_0>, compute_b32<3>);
    set(GgmlType::Q5_0, GemmAct::Q8_0, b32_panel_bytes, pack_b32<GgmlType::Q5_0>, compute_b32<4>);
    set(GgmlType::IQ4_NL, GemmAct::Q8_0, b32_panel_bytes, pack_b32<GgmlType::IQ4_NL>, compute_b32<7>);
    set(GgmlType::Q4_K, GemmAct::Q8_K, k_panel_bytes<GgmlType::Q4_K>, pack_k<GgmlType::Q4_K>, compute_k<GgmlType::Q4_K>);
    set(GgmlType::Q5_K, GemmAct::Q8_K, k_panel_bytes<GgmlType::Q5_K>, pack_k<GgmlType::Q5_K>, compute_k<GgmlType::Q5_K>);
    set(GgmlType::Q6_K, GemmAct::Q8_K, k_panel_bytes<GgmlType::Q6_K>, pack_k<GgmlType::Q6_K>, compute_k<GgmlType::Q6_K>);
  }
};
constexpr Table kTable;

}  // namespace

const GemmKernel* avx512_gemm_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].pack ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
