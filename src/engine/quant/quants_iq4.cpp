// Quantization to IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks with 6-bit
// sub-block scales), following ggml's quantize_row_iq4_nl_impl as llama-quantize runs it without
// an importance matrix: weights x^2, 7 tries each side of the initial scale.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/quant/quants_impl.h"

namespace nnb::quants_detail {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
constexpr int kNtry = 7;

inline int nearest_int(float v) {
  float f = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &f, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Index of the level nearest to x in the sorted table (ties go to the upper level), with the
// comparison done in f32 exactly as ggml's best_index_int8 does it.
inline int best_index(const int8_t* val, float x) {
  constexpr int n = 16;
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int ml = 0, mu = n - 1;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) mu = mav;
    else ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Quantizes one super-block of `sbs` elements made of 32-element blocks. For sbs == 32 (IQ4_NL)
// the block scale is stored as f16 directly; otherwise (IQ4_XS) the per-block scales become 6-bit
// multiples of a super-block scale in scales_h / scales_l.
void quantize_iq4_impl(int sbs, const float* x, ggml_fp16_t* dh, uint8_t* q4, uint16_t* scales_h,
                       uint8_t* scales_l) {
  constexpr int bs = 32;
  const int8_t* values = kIq4nlValues;
  float scales[QK_K / bs];
  float weight[bs];
  uint8_t L[QK_K];

  std::memset(q4, 0, size_t(sbs / 2));
  *dh = fp32_to_fp16(0.f);

  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < sbs / bs; ++ib) {
    const float* xb = x + ib * bs;
    uint8_t* Lb = L + ib * bs;
    for (int j = 0; j < bs; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < bs; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < bs; ++j) {
      const int l = best_index(values, id * xb[j]);
      Lb[j] = uint8_t(l);
      const float q = values[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kNtry; itry <= kNtry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < bs; ++j) {
        const float q = values[best_index(values, id * xb[j])];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }

  if (sbs / bs > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < sbs / bs; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * l;
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < bs; ++j) L[ib * bs + j] = uint8_t(best_index(values, idl * x[ib * bs + j]));
      l += 32;
      const uint8_t l_l = uint8_t(l & 0xF), l_h = uint8_t(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= uint8_t(l_l << 4);
      *scales_h = uint16_t(*scales_h | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = fp32_to_fp16(scales[0]);
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
    for (int j = 0; j < sbs; ++j) L[j] = uint8_t(best_index(values, id * x[j]));
  }

  for (int i = 0; i < sbs / 32; ++i) {
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

}  // namespace

void quant_iq4_nl(const float* x, block_iq4_nl* y, int64_t nb) {
  uint16_t unused_h;
  uint8_t unused_l[QK_K / 64];
  for (int64_t i = 0; i < nb; ++i) {
    ggml_fp16_t d;
    quantize_iq4_impl(QK4_NL, x + i * QK4_NL, &d, y[i].qs, &unused_h, unused_l);
    y[i].d = d;
  }
}

void quant_iq4_xs(const float* x, block_iq4_xs* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    ggml_fp16_t d;
    uint16_t sh = 0;
    quantize_iq4_impl(QK_K, x + i * QK_K, &d, y[i].qs, &sh, y[i].scales_l);
    y[i].d = d;
    y[i].scales_h = sh;
  }
}

}  // namespace nnb::quants_detail
