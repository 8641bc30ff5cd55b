// AVX-512 (F/BW + VNNI) mat-vec kernels over packed rows (layouts: vec_dot_packed.h).
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_x86.h"

// GCC 12 warns inside its own avx512fintrin.h (see vec_dot_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Everything but the exported kernels has internal linkage (see vec_dot_impl.h: an out-of-line
// copy of an AVX-512 function must not be the one another file links to).
namespace nnb::kern {
namespace {

__m512i u8x16_to_i32(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
__m256 f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// The lane sums of four vectors, [sum a, sum b, sum c, sum d]. Each sum takes the same additions in
// the same order whatever the other three vectors are, so a row's result does not depend on which
// rows or tokens share a call: dot, dot_n and dot_rows agree bit for bit. Four at once cost about
// a third of four _mm512_reduce_add_ps; with rows of one or two groups (the 220M model's K = 1024)
// the reduction was a fifth of a row's instructions.
__m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const auto half = [](__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  };
  const __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(half(a), half(b)), _mm256_hadd_ps(half(c), half(d)));
  return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

float sum1(__m512 a) {
  const __m512 z = _mm512_setzero_ps();
  return _mm_cvtss_f32(sum4(a, z, z, z));
}

// s[t * stride] = the lane sum of v[t], t < N.
template <int N>
void store_sums(float* s, size_t stride, const __m512 (&v)[N]) {
  const __m512 z = _mm512_setzero_ps();
  for (int t = 0; t < N; t += 4) {
    alignas(16) float r[4];
    _mm_store_ps(r, sum4(v[t], t + 1 < N ? v[t + 1] : z, t + 2 < N ? v[t + 2] : z, t + 3 < N ? v[t + 3] : z));
    for (int k = 0; k < 4 && t + k < N; ++k) s[size_t(t + k) * stride] = r[k];
  }
}

// s[r] = the lane sum of row_vec(rows + r * rb), r < n: the dot_rows entry of every type (one
// token against a range of rows, without a call or a full reduction per row).
template <class RowVec>
void sum_rows(float* s, const uint8_t* rows, size_t rb, int64_t n, RowVec row_vec) {
  int64_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const uint8_t* p = rows + size_t(r) * rb;
    const __m512 a = row_vec(p), b = row_vec(p + rb), c = row_vec(p + 2 * rb), d = row_vec(p + 3 * rb);
    _mm_storeu_ps(s + r, sum4(a, b, c, d));
  }
  for (; r < n; ++r) s[r] = sum1(row_vec(rows + size_t(r) * rb));
}

// Q4_0 and Q8_0 rows: G groups of 16 blocks, the last at half width when it holds at most 8
// (PackedFormat::half_tail); the scales come first.
struct Groups16 {
  int64_t G;
  bool half;     // the last group is [chunks][32]
  int64_t full;  // groups at full width
  const uint8_t* scales;  // fp16 [16] per group, first in the row
  const uint8_t* codes;
  Groups16(int64_t K, const uint8_t* row)
      : G((K + 511) / 512), half(packed_half_last(K, 512)), full(G - half), scales(row),
        codes(row + packed_scales_area(G, 32)) {}
};

// A group's codes as eight registers of unsigned bytes, register k against the activation's
// 64-byte chunk k (elements 4c + j of each block for k = c < 4, 16 + 4c + j for k = 4 + c): Q4_0's
// low nibbles, then its high nibbles in place (code & 0xF0: 16 x their value, one operation where
// shift-and-mask took two), Q8_0's eight stored chunks (+ 128). The two halves' int sums are
// exact; combine() joins them, Q4_0 dividing the high half by 16 (exact: every product a multiple
// of 16, |sum| <= 16 * 4 * 15 * 127 * 4, far inside int32). load_half() gives a half-width last
// group's codes ([chunks][32]: lanes 0-7).
struct Q4_0Codes {
  static constexpr size_t kGroupBytes = 256;
  static void load(const uint8_t* c, __m512i q[8]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int ch = 0; ch < 4; ++ch) {
      const __m512i v = load512(c + 64 * ch);
      q[ch] = _mm512_and_si512(v, m4);
      q[4 + ch] = _mm512_andnot_si512(m4, v);
    }
  }
  static void load_half(const uint8_t* c, __m256i q[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int ch = 0; ch < 4; ++ch) {
      const __m256i v = load256(c + 32 * ch);
      q[ch] = _mm256_and_si256(v, m4);
      q[4 + ch] = _mm256_andnot_si256(m4, v);
    }
  }
  static __m512i combine(__m512i lo, __m512i hi) { return _mm512_add_epi32(lo, _mm512_srai_epi32(hi, 4)); }
  static __m256i combine(__m256i lo, __m256i hi) { return _mm256_add_epi32(lo, _mm256_srai_epi32(hi, 4)); }
};

struct Q8_0Codes {
  static constexpr size_t kGroupBytes = 512;
  static void load(const uint8_t* c, __m512i q[8]) {
    for (int ch = 0; ch < 8; ++ch) q[ch] = load512(c + 64 * ch);
  }
  static void load_half(const uint8_t* c, __m256i q[8]) {
    for (int ch = 0; ch < 8; ++ch) q[ch] = load256(c + 32 * ch);
  }
  static __m512i combine(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
  static __m256i combine(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
};

}  // namespace

// The int32 lane sums of a half last group against one token: lanes 0-7 as a full group's,
// 8-15 zero (what a padding block gives).
template <class Codes>
static __m512i half_sums(const uint8_t* c, const uint8_t* a) {
  __m256i q[8];
  Codes::load_half(c, q);
  __m256i s0 = load256(a + 64), s1 = _mm256_setzero_si256();
  for (int ch = 0; ch < 4; ++ch) {
    s0 = _mm256_dpbusd_epi32(s0, q[ch], load256(a + 128 + 64 * ch));
    s1 = _mm256_dpbusd_epi32(s1, q[4 + ch], load256(a + 384 + 64 * ch));
  }
  return _mm512_zextsi256_si512(Codes::combine(s0, s1));
}

// Q4_0 and Q8_0, per group of 16 blocks: the codes are loaded once into eight registers; for each
// of the N activation rows eight dpbusd in two chains, the first started from the bias (-8 resp.
// -128 * sum(q)), leave int32 lane b as block b's exact sum, and one f32 conversion and one FMA
// with d_x * d_y apply the scales (groups alternate between two accumulators). N > 1 (small
// batches, up to 8: the accumulators still fit the 32 registers) reads each weight once for N
// tokens; a row's result is the same for every N, bit for bit.
template <class Codes, int N>
static void packed16_rows(int64_t K, float* s, size_t s_stride, const uint8_t* row, const uint8_t* act,
                          size_t act_stride) {
  const Groups16 gs(K, row);
  __m512 acc[N][2];
  for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  auto scale = [&](int64_t g, int t, __m512 dx, __m512i sum) {
    const __m512 d = _mm512_mul_ps(dx, _mm512_loadu_ps(act + t * act_stride + g * 640));
    acc[t][g & 1] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc[t][g & 1]);
  };
  for (int64_t g = 0; g < gs.full; ++g) {
    __m512i q[8];
    Codes::load(gs.codes + g * Codes::kGroupBytes, q);
    const __m512 dx = _mm512_cvtph_ps(load256(gs.scales + g * 32));
    for (int t = 0; t < N; ++t) {
      const uint8_t* a = act + t * act_stride + g * 640;
      __m512i s0 = load512(a + 64), s1 = _mm512_setzero_si512();
      for (int ch = 0; ch < 4; ++ch) {
        s0 = _mm512_dpbusd_epi32(s0, q[ch], load512(a + 128 + 64 * ch));
        s1 = _mm512_dpbusd_epi32(s1, q[4 + ch], load512(a + 384 + 64 * ch));
      }
      scale(g, t, dx, Codes::combine(s0, s1));
    }
  }
  if (gs.half) {
    const int64_t g = gs.full;
    const __m512 dx = _mm512_cvtph_ps(load256(gs.scales + g * 32));
    for (int t = 0; t < N; ++t)
      scale(g, t, dx, half_sums<Codes>(gs.codes + g * Codes::kGroupBytes, act + t * act_stride + g * 640));
  }
  __m512 v[N];
  for (int t = 0; t < N; ++t) v[t] = _mm512_add_ps(acc[t][0], acc[t][1]);
  store_sums(s, s_stride, v);
}

// One row (generation): the same sums in four dpbusd chains, which dpbusd's latency needs when
// no other token's chains interleave (the template above at N = 1 ran at 26 vs 45 GB/s).
template <class Codes>
static __m512 packed16_row(int64_t K, const uint8_t* row, const uint8_t* act) {
  const Groups16 gs(K, row);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  // dx is loaded before the group's codes (the row is read front to back).
  auto scale = [&](int64_t g, __m512 dx, __m512i sum) {
    const __m512 d = _mm512_mul_ps(dx, _mm512_loadu_ps(act + g * 640));
    if (g & 1) acc1 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc1);
    else acc0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc0);
  };
  auto dx_of = [&](int64_t g) { return _mm512_cvtph_ps(load256(gs.scales + g * 32)); };
  for (int64_t g = 0; g < gs.full; ++g) {
    const uint8_t* a = act + g * 640;
    const __m512 dx = dx_of(g);
    __m512i q[8];
    Codes::load(gs.codes + g * Codes::kGroupBytes, q);
    __m512i s0 = load512(a + 64), s1 = _mm512_setzero_si512(), s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
    for (int ch = 0; ch < 4; ch += 2) {
      s0 = _mm512_dpbusd_epi32(s0, q[ch], load512(a + 128 + 64 * ch));
      s1 = _mm512_dpbusd_epi32(s1, q[ch + 1], load512(a + 192 + 64 * ch));
      s2 = _mm512_dpbusd_epi32(s2, q[4 + ch], load512(a + 384 + 64 * ch));
      s3 = _mm512_dpbusd_epi32(s3, q[5 + ch], load512(a + 448 + 64 * ch));
    }
    scale(g, dx, Codes::combine(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)));
  }
  if (gs.half) scale(gs.full, dx_of(gs.full), half_sums<Codes>(gs.codes + gs.full * Codes::kGroupBytes, act + gs.full * 640));
  return _mm512_add_ps(acc0, acc1);
}

template <class Codes>
static void packed16_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* vact) {
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  sum_rows(s, static_cast<const uint8_t*>(rows), row_bytes, n, [&](const uint8_t* r) { return packed16_row<Codes>(K, r, act); });
}

template <class Codes>
static void packed16_dot_n(int64_t K, float* s, size_t s_stride, const void* vrow, const void* vact, size_t act_stride,
                           int n) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  switch (n) {
    case 1: *s = sum1(packed16_row<Codes>(K, row, act)); return;
    case 2: return packed16_rows<Codes, 2>(K, s, s_stride, row, act, act_stride);
    case 3: return packed16_rows<Codes, 3>(K, s, s_stride, row, act, act_stride);
    case 4: return packed16_rows<Codes, 4>(K, s, s_stride, row, act, act_stride);
    case 5: return packed16_rows<Codes, 5>(K, s, s_stride, row, act, act_stride);
    case 6: return packed16_rows<Codes, 6>(K, s, s_stride, row, act, act_stride);
    case 7: return packed16_rows<Codes, 7>(K, s, s_stride, row, act, act_stride);
    default: return packed16_rows<Codes, 8>(K, s, s_stride, row, act, act_stride);
  }
}

void avx512_packed_q4_0_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = sum1(packed16_row<Q4_0Codes>(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}
void avx512_packed_q4_0_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  packed16_dot_rows<Q4_0Codes>(K, s, rows, row_bytes, n, act);
}
void avx512_packed_q4_0_dot_n(int64_t K, float* s, size_t s_stride, const void* row, const void* act, size_t act_stride,
                              int n) {
  packed16_dot_n<Q4_0Codes>(K, s, s_stride, row, act, act_stride, n);
}

void avx512_packed_q8_0_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = sum1(packed16_row<Q8_0Codes>(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}
void avx512_packed_q8_0_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  packed16_dot_rows<Q8_0Codes>(K, s, rows, row_bytes, n, act);
}
void avx512_packed_q8_0_dot_n(int64_t K, float* s, size_t s_stride, const void* row, const void* act, size_t act_stride,
                              int n) {
  packed16_dot_n<Q8_0Codes>(K, s, s_stride, row, act, act_stride, n);
}

// Q5_K (and the per-row Q4_K layout these kernels were first written for: Q4_K now takes 16-row
// panels on AVX-512, vec_dot_panel_avx512.cpp, so only kFive = true is instantiated here; AVX2
// reads that layout for Q4_K), per group of 4 super-blocks: sixteen dpbusd give each lane (4 code bytes of 4
// sub-block pairs) the exact sums of its low-nibble sub-block and its high-nibble one (Q5_K:
// each code gets its fifth bit, 16, from one of two bit planes); the 6-bit scales multiply them
// in f32 (exactly), the mins the activation's sub-block sums in int32, and d, dmin and d_y,
// spread from the four super-blocks to their four lanes, combine them (K4Scales::apply).

// Chunk ch of a group's codes: the low-nibble and high-nibble sub-blocks' codes. Q4_K's high
// nibbles stay in place, 16 x their value (one operation instead of a shift and a mask; their
// sums are divided by 16 once per group, exactly: see hi_sums); Q5_K's get their fifth bit,
// which would not fit a byte at 16 x. c: the group's code bytes (Q5_K: its two bit planes, then
// the nibbles).
template <bool kFive>
static void k4_codes(const uint8_t* c, int ch, __m512i& lo, __m512i& hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i v = load512(c + (kFive ? 128 : 0) + 64 * ch);
  lo = _mm512_and_si512(v, m4);
  if constexpr (!kFive) {
    hi = _mm512_andnot_si512(m4, v);
  } else {
    hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    // A byte test of each plane against the chunk's bit picks the codes that get 16. (The
    // earlier layout, a 64-bit mask per chunk moved into a mask register through a general
    // register, ran 7-11 % slower from L2; GFNI's affine transform in place of the test, or a
    // shift + movepi8_mask, measured no faster resp. 25 % slower.)
    const __m512i bit = _mm512_set1_epi8(char(1 << ch)), b16 = _mm512_set1_epi8(0x10);
    lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(load512(c), bit), lo, b16);
    hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(load512(c + 64), bit), hi, b16);
  }
}

// The high-nibble sub-blocks' lane sums from k4_codes' chains: Q4_K's are 16 x the sums (exact
// multiples of 16, |sum| <= 16 * 15 * 128 * 32: far inside int32).
template <bool kFive>
static __m512i hi_sums(__m512i chains) {
  if constexpr (kFive) return chains;
  else return _mm512_srai_epi32(chains, 4);
}

// A group's scales, converted once for every activation row (small batches): the 6-bit scales
// as f32 lanes, the mins as int16 pairs (lane l: sub-blocks 2L and 2L+1), d and dmin of each
// lane's super-block as f32 lanes. (The earlier layout, mins as two int32 rows for two mullo per
// row and token, and d_y spread over the lanes by permutes at every apply: Q5_K's small-batch
// kernel 14 % slower from L1, its one-row one 9 % with one thread from memory; Q4_K the same
// within 1-6 %.)
struct K4Scales {
  __m512 sc_lo, sc_hi;
  __m512i mins;
  __m512 d, dmin;
  explicit K4Scales(const uint8_t* mt)
      : sc_lo(_mm512_cvtepi32_ps(u8x16_to_i32(mt))),
        sc_hi(_mm512_cvtepi32_ps(u8x16_to_i32(mt + 16))),
        mins(_mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(mt + 32)))) {
    const __m512 dd = _mm512_castps256_ps512(f16x8(mt + 64));  // [d, dmin] of the four super-blocks
    d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6), dd);
    dmin = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7), dd);
  }
  // One activation row's group result added to acc: d_y * (d * q - dmin * m) per lane, q the
  // lane sums (low- and high-nibble sub-blocks) times their scales — exact in f32: each product
  // and their sum stay below 2^24 (|sum| <= 31 * 127 * 32, times 63, twice) —, m the activation's
  // sub-block sums times the mins (one dpwssd over the int16 pairs), d, dmin of the lane's
  // super-block, d_y spread over the lanes by the activation's layout (no lane moves here).
  // a: the row's group. (Before: q and m through two vpmulld and an integer add, applied into two
  // accumulators subtracted at the end; one accumulator per token frees four registers in the
  // 4-token kernel, which ran 13 % (Q4_K) and 19 % (Q5_K) faster from L2 this way, the one-row
  // kernel unchanged.)
  void apply(__m512i lo_sum, __m512i hi_sum, const uint8_t* a, __m512& acc) const {
    const __m512 q = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi_sum), sc_hi, _mm512_mul_ps(_mm512_cvtepi32_ps(lo_sum), sc_lo));
    const __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mins, load512(a + 1024));
    const __m512 dy = _mm512_loadu_ps(reinterpret_cast<const float*>(a + 1088));
    const __m512 f = _mm512_fmsub_ps(d, q, _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(m)));
    acc = _mm512_fmadd_ps(dy, f, acc);
  }
};

// One row: the lane sums in four dpbusd chains (dpbusd's latency).
template <bool kFive>
static __m512 packed_k4_row(int64_t K, const uint8_t* row, const uint8_t* act) {
  constexpr int64_t kCodeBytes = kFive ? 640 : 512;
  const int64_t G = (K + 1023) / 1024;
  const uint8_t* meta = row;  // 80 bytes per group, then the codes
  const uint8_t* codes = row + packed_scales_area(G, 80);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* c = codes + g * kCodeBytes;
    const uint8_t* a = act + g * 1152;
    const K4Scales sc(meta + g * 80);  // first: the row is read front to back
    __m512i lo0 = _mm512_setzero_si512(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    for (int ch = 0; ch < 8; ch += 2) {
      __m512i l0, h0, l1, h1;
      k4_codes<kFive>(c, ch, l0, h0);
      k4_codes<kFive>(c, ch + 1, l1, h1);
      lo0 = _mm512_dpbusd_epi32(lo0, l0, load512(a + 64 * ch));
      lo1 = _mm512_dpbusd_epi32(lo1, l1, load512(a + 64 * (ch + 1)));
      hi0 = _mm512_dpbusd_epi32(hi0, h0, load512(a + 512 + 64 * ch));
      hi1 = _mm512_dpbusd_epi32(hi1, h1, load512(a + 512 + 64 * (ch + 1)));
    }
    sc.apply(_mm512_add_epi32(lo0, lo1), hi_sums<kFive>(_mm512_add_epi32(hi0, hi1)), a, acc);
  }
  return acc;
}

// The same for N = 2..4 activation rows (small batches): the codes of a quarter group (two
// chunks) are unpacked once for the N rows, whose int sums run in two chains each; every row's
// result equals the one-row kernel's bit for bit (the int sums are exact, the float steps the same).
// (Half a group at a time, eight code registers live beside the rows' sums and accumulators,
// spilled accumulators to the stack: 2-3 % slower per token from L1, Q4_K and Q5_K alike.)
template <bool kFive, int N>
static void packed_k4_rows(int64_t K, float* s, size_t s_stride, const uint8_t* row, const uint8_t* act,
                           size_t act_stride) {
  constexpr int64_t kCodeBytes = kFive ? 640 : 512;
  const int64_t G = (K + 1023) / 1024;
  const uint8_t* meta = row;  // 80 bytes per group, then the codes
  const uint8_t* codes = row + packed_scales_area(G, 80);
  __m512 acc[N];
  for (int t = 0; t < N; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* c = codes + g * kCodeBytes;
    const K4Scales sc(meta + g * 80);
    __m512i lo_sum[N], hi_sum[N];
    for (int t = 0; t < N; ++t) lo_sum[t] = hi_sum[t] = _mm512_setzero_si512();
    for (int quarter = 0; quarter < 4; ++quarter) {
      __m512i lo[2], hi[2];
      for (int k = 0; k < 2; ++k) k4_codes<kFive>(c, 2 * quarter + k, lo[k], hi[k]);
      for (int t = 0; t < N; ++t) {
        const uint8_t* a = act + t * act_stride + g * 1152;
        for (int k = 0; k < 2; ++k) {
          const int ch = 2 * quarter + k;
          lo_sum[t] = _mm512_dpbusd_epi32(lo_sum[t], lo[k], load512(a + 64 * ch));
          hi_sum[t] = _mm512_dpbusd_epi32(hi_sum[t], hi[k], load512(a + 512 + 64 * ch));
        }
      }
    }
    for (int t = 0; t < N; ++t)
      sc.apply(lo_sum[t], hi_sums<kFive>(hi_sum[t]), act + t * act_stride + g * 1152, acc[t]);
  }
  __m512 v[N];
  for (int t = 0; t < N; ++t) v[t] = acc[t];
  store_sums(s, s_stride, v);
}

template <bool kFive>
static void packed_k4_dot_n(int64_t K, float* s, size_t s_stride, const void* vrow, const void* vact, size_t act_stride,
                            int n) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  switch (n) {
    case 1: *s = sum1(packed_k4_row<kFive>(K, row, act)); return;
    case 2: return packed_k4_rows<kFive, 2>(K, s, s_stride, row, act, act_stride);
    case 3: return packed_k4_rows<kFive, 3>(K, s, s_stride, row, act, act_stride);
    default: return packed_k4_rows<kFive, 4>(K, s, s_stride, row, act, act_stride);
  }
}

void avx512_packed_q5_K_dot_n(int64_t K, float* s, size_t s_stride, const void* row, const void* act, size_t act_stride,
                              int n) {
  packed_k4_dot_n<true>(K, s, s_stride, row, act, act_stride, n);
}

void avx512_packed_q5_K_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = sum1(packed_k4_row<true>(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}

template <bool kFive>
static void packed_k4_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* vact) {
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  sum_rows(s, static_cast<const uint8_t*>(rows), row_bytes, n,
           [&](const uint8_t* r) { return packed_k4_row<kFive>(K, r, act); });
}

void avx512_packed_q5_K_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  packed_k4_dot_rows<true>(K, s, rows, row_bytes, n, act);
}

// Q6_K, per super-block (group) of 16 sub-blocks of 16: lane l = sub-block l; its four chunks'
// 6-bit codes are rebuilt from two nibble vectors and one vector of 2-bit tops (code = value +
// 32, unsigned), four dpbusd started from -32 * sum(q) give each lane its exact sum, the int8
// scales multiply it in int32 (|sum| <= 32 * 127 * 16, times 128: exact in f32 too), and one FMA
// applies d_x * d_y.
static void q6_K_codes(const uint8_t* c, __m512i q[4]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  constexpr int kAndOr = 0xEA;  // ternary logic (A & B) | C
  const __m512i v0 = load512(c), v1 = load512(c + 64), h = load512(c + 128);
  q[0] = _mm512_ternarylogic_epi32(v0, m4, _mm512_and_si512(_mm512_slli_epi16(h, 4), m30), kAndOr);
  q[1] = _mm512_ternarylogic_epi32(v1, m4, _mm512_and_si512(_mm512_slli_epi16(h, 2), m30), kAndOr);
  q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v0, 4), m4, _mm512_and_si512(h, m30), kAndOr);
  q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v1, 4), m4, _mm512_and_si512(_mm512_srli_epi16(h, 2), m30), kAndOr);
}

// Lane sums of one activation row against a group's codes, scaled by the int8 sub-block scales.
static __m512i q6_K_scaled_sums(const __m512i q[4], const uint8_t* a, const __m512i scales) {
  __m512i s0 = load512(a + 256), s1 = _mm512_setzero_si512();
  s0 = _mm512_dpbusd_epi32(s0, q[0], load512(a));
  s1 = _mm512_dpbusd_epi32(s1, q[1], load512(a + 64));
  s0 = _mm512_dpbusd_epi32(s0, q[2], load512(a + 128));
  s1 = _mm512_dpbusd_epi32(s1, q[3], load512(a + 192));
  return _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), scales);
}

namespace {
// Group g of a row, unpacked once for every activation row: the codes, the int8 scales as
// int32 lanes, d_x in every lane straight from its fp16 (a word broadcast and one conversion).
// The activation holds d_y in every lane, so d_x * d_y takes no scalar steps (the f32 product a
// scalar d_x * d_y gives: the scalar form ran 8-9 % slower with one thread).
struct Q6KGroup {
  __m512i q[4];
  __m512i scales;
  __m512 dx;
  Q6KGroup(const uint8_t* row, int64_t G, int64_t g) {
    const uint8_t* mt = row + g * 18;  // 18 bytes per group, then the codes
    q6_K_codes(row + packed_scales_area(G, 18) + g * 192, q);
    scales = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(mt)));
    int16_t h;
    std::memcpy(&h, mt + 16, 2);
    dx = _mm512_cvtph_ps(_mm256_set1_epi16(h));
  }
  // This group's part of one activation row's dot (a: the row's group g) added to acc.
  void accumulate(const uint8_t* a, __m512& acc) const {
    const __m512 d = _mm512_mul_ps(dx, _mm512_loadu_ps(reinterpret_cast<const float*>(a + 320)));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(q6_K_scaled_sums(q, a, scales)), acc);
  }
};
}  // namespace

template <int N>
static void packed_q6_K_rows(int64_t K, float* s, size_t s_stride, const uint8_t* row, const uint8_t* act,
                             size_t act_stride) {
  const int64_t G = K / 256;
  __m512 acc[N][2];
  for (int t = 0; t < N; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    const Q6KGroup grp(row, G, g);
    for (int t = 0; t < N; ++t) grp.accumulate(act + t * act_stride + g * 384, acc[t][g & 1]);
  }
  __m512 v[N];
  for (int t = 0; t < N; ++t) v[t] = _mm512_add_ps(acc[t][0], acc[t][1]);
  store_sums(s, s_stride, v);
}

// One row: two groups per iteration (8 % faster than the template at N = 1, measured), each with
// its own accumulator: the same sums as the template.
static __m512 packed_q6_K_row(int64_t K, const uint8_t* row, const uint8_t* act) {
  const int64_t G = K / 256;
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t g = 0;
  for (; g + 2 <= G; g += 2) {
    Q6KGroup(row, G, g).accumulate(act + g * 384, acc[0]);
    Q6KGroup(row, G, g + 1).accumulate(act + (g + 1) * 384, acc[1]);
  }
  if (g < G) Q6KGroup(row, G, g).accumulate(act + g * 384, acc[0]);
  return _mm512_add_ps(acc[0], acc[1]);
}

void avx512_packed_q6_K_dot(int64_t K, float* s, const void* row, const void* act) {
  *s = sum1(packed_q6_K_row(K, static_cast<const uint8_t*>(row), static_cast<const uint8_t*>(act)));
}

void avx512_packed_q6_K_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* vact) {
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  sum_rows(s, static_cast<const uint8_t*>(rows), row_bytes, n, [&](const uint8_t* r) { return packed_q6_K_row(K, r, act); });
}

void avx512_packed_q6_K_dot_n(int64_t K, float* s, size_t s_stride, const void* vrow, const void* vact,
                              size_t act_stride, int n) {
  const uint8_t* row = static_cast<const uint8_t*>(vrow);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  switch (n) {
    case 1: return packed_q6_K_rows<1>(K, s, s_stride, row, act, act_stride);
    case 2: return packed_q6_K_rows<2>(K, s, s_stride, row, act, act_stride);
    case 3: return packed_q6_K_rows<3>(K, s, s_stride, row, act, act_stride);
    default: return packed_q6_K_rows<4>(K, s, s_stride, row, act, act_stride);
  }
}

}  // namespace nnb::kern
