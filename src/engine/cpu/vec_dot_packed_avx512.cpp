// AVX-512 (F/BW + VNNI) mat-vec kernels over packed Q8_0 rows (layout: vec_dot_packed.h; Q4_0
// and the K-quants take 16-row panels: vec_dot_panel_avx512.cpp).
#include "engine/cpu/vec_dot_packed.h"
#include "engine/cpu/vec_dot_x86.h"

#include "engine/cpu/avx512_gcc_warnings.h"

// Everything but the exported kernels has internal linkage (see vec_dot_impl.h: an out-of-line
// copy of an AVX-512 function must not be the one another file links to).
namespace nnb::kern {
namespace {

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

// Q8_0 rows: G groups of 16 blocks, the last at half width when it holds at most 8
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
// 64-byte chunk k (elements 4c + j of each block for k = c < 4, 16 + 4c + j for k = 4 + c): Q8_0's
// eight stored chunks (+ 128). (Q4_0 had its nibbles here too, before it took panels: hence the
// Codes parameter.) combine() joins the two halves' exact int sums. load_half() gives a
// half-width last group's codes ([chunks][32]: lanes 0-7).
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

// Q8_0, per group of 16 blocks: the codes are loaded once into eight registers; for each
// of the N activation rows eight dpbusd in two chains, the first started from the bias (-128 *
// sum(q)), leave int32 lane b as block b's exact sum, and one f32 conversion and one FMA
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

}  // namespace nnb::kern
