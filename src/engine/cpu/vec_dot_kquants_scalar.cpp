// Portable kernels for the K-quants (Q2_K .. Q6_K) and IQ4_XS against Q8_K: ggml's generic
// vec_dot code, integer sums per (sub-)block scaled in ggml's order, including its eight float
// lanes for Q3_K .. Q6_K (their summation order is part of the result). No intrinsics.
#include <cstring>

#include "engine/cpu/vec_dot_impl.h"

namespace nnb::kern {
namespace {

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes. This rewrites
// them as four words: bytes 0..7 = scales[0..7], bytes 8..15 = mins[0..7] (ggml's utmp trick).
void unpack_k4_scales(const uint8_t packed[12], uint32_t out[4]) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  std::memcpy(out, packed, 12);
  out[3] = ((out[2] >> 4) & kmask2) | (((out[1] >> 6) & kmask3) << 4);
  const uint32_t uaux = out[1] & kmask1;
  out[1] = (out[2] & kmask2) | (((out[0] >> 6) & kmask3) << 4);
  out[2] = uaux;
  out[0] &= kmask1;
}

// Q3_K packs sixteen 6-bit scales (stored +32) into 12 bytes; this gives them as 16 bytes in
// order, still biased by +32.
void unpack_q3k_scales(const uint8_t packed[12], uint32_t out[4]) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  std::memcpy(out, packed, 12);
  const uint32_t tmp = out[2];
  out[2] = ((out[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  out[3] = ((out[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  out[0] = (out[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  out[1] = (out[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
}

// Shared tail of Q4_K and Q5_K: a[] holds the 256 unsigned quants, the 12 scale bytes give eight
// (scale, min) pairs for sub-blocks of 32; the min term uses Q8_K's per-16 sums.
void accumulate_k4(const int8_t* a, const uint8_t packed_scales[12], const block_q8_K& yb,
                   float d, float dmin, float sums[8], float& sumf) {
  uint32_t utmp[4];
  unpack_k4_scales(packed_scales, utmp);
  uint8_t sm[16];
  std::memcpy(sm, utmp, 16);
  const uint8_t* scales = sm;
  const uint8_t* mins = sm + 8;
  int sumi = 0;
  for (int j = 0; j < QK_K / 16; ++j) sumi += yb.bsums[j] * mins[j / 2];
  const int8_t* q8 = yb.qs;
  int32_t aux32[8] = {};
  for (int j = 0; j < QK_K / 32; ++j) {
    const int32_t scale = scales[j];
    for (int part = 0; part < 4; ++part) {
      for (int l = 0; l < 8; ++l) aux32[l] += scale * int16_t(q8[l] * a[l]);
      q8 += 8;
      a += 8;
    }
  }
  for (int l = 0; l < 8; ++l) sums[l] += d * float(aux32[l]);
  sumf -= dmin * float(sumi);
}

}  // namespace

// Q2_K: 16 sub-blocks of 16 with 4-bit scale (low nibble) and 4-bit min (high nibble); the min
// term comes from Q8_K's per-16 sums.
void scalar_dot_q2_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q2_K* x = static_cast<const block_q2_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q2 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    const uint8_t* sc = x[i].scales;
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
    const float dall = y[i].d * h[x[i].d];
    const float dmin = y[i].d * h[x[i].dmin];
    int isum = 0, is = 0;
    for (int k = 0; k < QK_K / 128; ++k) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const int d = sc[is++] & 0xF;
          int isuml = 0;
          for (int l = 16 * half; l < 16 * half + 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
          isum += d * isuml;
        }
        q8 += 32;
      }
      q2 += 32;
    }
    sumf += dall * float(isum) - dmin * float(summs);
  }
  *s = sumf;
}

// Q3_K: 2-bit low part plus a high-bit mask (clear bit = subtract 4), sixteen 6-bit scales.
// Eight float lanes as in ggml's generic code (their sum order is part of the result).
void scalar_dot_q3_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q3_K* x = static_cast<const block_q3_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  int8_t aux8[QK_K];
  float sums[8] = {};
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q3 = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    const int8_t* q8 = y[i].qs;
    int8_t* a = aux8;
    uint8_t m = 1;
    for (int j = 0; j < QK_K; j += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int l = 0; l < 32; ++l) a[l] = int8_t(((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        a += 32;
        m <<= 1;
      }
      q3 += 32;
    }
    uint32_t auxs[4];
    unpack_q3k_scales(x[i].scales, auxs);
    int8_t scales[16];
    std::memcpy(scales, auxs, 16);
    int32_t aux32[8] = {};
    a = aux8;
    for (int j = 0; j < QK_K / 16; ++j) {
      for (int half = 0; half < 2; ++half) {
        for (int l = 0; l < 8; ++l) aux32[l] += (scales[j] - 32) * int16_t(q8[l] * a[l]);
        q8 += 8;
        a += 8;
      }
    }
    const float d = h[x[i].d] * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * float(aux32[l]);
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  *s = sumf;
}

void scalar_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_K* x = static_cast<const block_q4_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  int8_t aux8[QK_K];
  float sums[8] = {};
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q4 = x[i].qs;
    int8_t* a = aux8;
    for (int j = 0; j < QK_K / 64; ++j) {
      for (int l = 0; l < 32; ++l) a[l] = int8_t(q4[l] & 0xF);
      for (int l = 0; l < 32; ++l) a[l + 32] = int8_t(q4[l] >> 4);
      a += 64;
      q4 += 32;
    }
    accumulate_k4(aux8, x[i].scales, y[i], h[x[i].d] * y[i].d, h[x[i].dmin] * y[i].d, sums, sumf);
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  *s = sumf;
}

void scalar_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_K* x = static_cast<const block_q5_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  int8_t aux8[QK_K];
  float sums[8] = {};
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q4 = x[i].qs;
    const uint8_t* hm = x[i].qh;
    int8_t* a = aux8;
    uint8_t m = 1;
    for (int j = 0; j < QK_K / 64; ++j) {
      for (int l = 0; l < 32; ++l) a[l] = int8_t((q4[l] & 0xF) + ((hm[l] & m) ? 16 : 0));
      m <<= 1;
      for (int l = 0; l < 32; ++l) a[l + 32] = int8_t((q4[l] >> 4) + ((hm[l] & m) ? 16 : 0));
      m <<= 1;
      a += 64;
      q4 += 32;
    }
    accumulate_k4(aux8, x[i].scales, y[i], h[x[i].d] * y[i].d, h[x[i].dmin] * y[i].d, sums, sumf);
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  *s = sumf;
}

// Q6_K: 4 low bits in ql, 2 high bits in qh, stored +32; sixteen signed 8-bit scales.
void scalar_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q6_K* x = static_cast<const block_q6_K*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  int8_t aux8[QK_K];
  float sums[8] = {};
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q4 = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* q8 = y[i].qs;
    int8_t* a = aux8;
    for (int j = 0; j < QK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        a[l + 0] = int8_t(((q4[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        a[l + 32] = int8_t(((q4[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        a[l + 64] = int8_t(((q4[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        a[l + 96] = int8_t(((q4[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
      a += 128;
      q4 += 64;
      qh += 32;
    }
    int32_t aux32[8] = {};
    a = aux8;
    for (int j = 0; j < QK_K / 16; ++j) {
      const int scale = x[i].scales[j];
      for (int half = 0; half < 2; ++half) {
        for (int l = 0; l < 8; ++l) aux32[l] += scale * int16_t(q8[l] * a[l]);
        q8 += 8;
        a += 8;
      }
    }
    const float d = h[x[i].d] * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * float(aux32[l]);
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  *s = sumf;
}

// IQ4_XS: IQ4_NL values with a 6-bit scale (stored +32) per sub-block of 32.
void scalar_dot_iq4_xs(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_xs* x = static_cast<const block_iq4_xs*>(vx);
  const block_q8_K* y = static_cast<const block_q8_K*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    const float d4d8 = h[x[ibl].d] * y[ibl].d;
    uint16_t hbits = x[ibl].scales_h;
    const uint8_t* qs = x[ibl].qs;
    const int8_t* q8 = y[ibl].qs;
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      const int ls1 = (x[ibl].scales_l[ib / 2] & 0xf) | ((hbits << 4) & 0x30);
      const int ls2 = (x[ibl].scales_l[ib / 2] >> 4) | ((hbits << 2) & 0x30);
      hbits >>= 4;
      for (const int ls : {ls1, ls2}) {
        int sumi1 = 0, sumi2 = 0;
        for (int j = 0; j < 16; ++j) {
          sumi1 += q8[j] * kIq4nlValues[qs[j] & 0xf];
          sumi2 += q8[j + 16] * kIq4nlValues[qs[j] >> 4];
        }
        sumf += d4d8 * float(ls - 32) * float(sumi1 + sumi2);
        qs += 16;
        q8 += 32;
      }
    }
  }
  *s = sumf;
}

}  // namespace nnb::kern
