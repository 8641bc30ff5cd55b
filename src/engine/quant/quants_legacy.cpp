// Quantization to the 32-element "legacy" formats, following ggml's quantize_row_*_ref, which
// llama-quantize uses when no importance matrix is given (so our bytes equal its bytes).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "engine/quant/quants_impl.h"

namespace nnb::quants_detail {
namespace {

// The element of largest magnitude, with its sign (the first one wins ties).
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, int n, float* mn, float* mx) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *mn = lo;
  *mx = hi;
}

// ggml converts `x + 0.5f` (or `+ 8.5f` ...) with a C cast, i.e. truncation; the clamp keeps
// out-of-range input (inf, nan) from undefined behaviour without changing in-range results.
inline int trunc_to_int(float v) {
  if (!(v > -128.0f)) return -128;
  if (v >= 127.0f) return 127;
  return int(v);
}

}  // namespace

// Symmetric: d = max/-8 so the largest-magnitude element maps exactly to level 0 (-8).
void quant_q4_0(const float* x, block_q4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
    const float d = signed_absmax(x, QK4_0) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int q0 = std::min(15, trunc_to_int(x[j] * id + 8.5f));
      const int q1 = std::min(15, trunc_to_int(x[j + QK4_0 / 2] * id + 8.5f));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

void quant_q4_1(const float* x, block_q4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
    float mn, mx;
    min_max(x, QK4_1, &mn, &mx);
    const float d = (mx - mn) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const int q0 = std::min(15, trunc_to_int((x[j] - mn) * id + 0.5f));
      const int q1 = std::min(15, trunc_to_int((x[j + QK4_1 / 2] - mn) * id + 0.5f));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

void quant_q5_0(const float* x, block_q5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
    const float d = signed_absmax(x, QK5_0) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const uint32_t q0 = uint8_t(std::min(31, trunc_to_int(x[j] * id + 16.5f)));
      const uint32_t q1 = uint8_t(std::min(31, trunc_to_int(x[j + QK5_0 / 2] * id + 16.5f)));
      y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + QK5_0 / 2);
    }
    for (int k = 0; k < 4; ++k) y[i].qh[k] = uint8_t(qh >> (8 * k));
  }
}

void quant_q5_1(const float* x, block_q5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
    float mn, mx;
    min_max(x, QK5_1, &mn, &mx);
    const float d = (mx - mn) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_1 / 2; ++j) {
      // ggml casts straight to uint8_t here (no clamp); in-range values never exceed 31.
      const uint32_t q0 = uint8_t(trunc_to_int((x[j] - mn) * id + 0.5f));
      const uint32_t q1 = uint8_t(trunc_to_int((x[j + QK5_1 / 2] - mn) * id + 0.5f));
      y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + QK5_1 / 2);
    }
    for (int k = 0; k < 4; ++k) y[i].qh[k] = uint8_t(qh >> (8 * k));
  }
}

}  // namespace nnb::quants_detail
