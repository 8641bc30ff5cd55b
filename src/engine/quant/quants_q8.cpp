// Quantization to the activation formats of the quantized dot products: Q8_0, Q8_1, Q8_K.
// These run once per matrix product on the activations, so the loops are kept simple enough
// for the compiler to vectorize (max-abs reduction, multiply, round by the magic-number trick).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/quant/quants_impl.h"

namespace nnb::quants_detail {
namespace {

// Rounds to the nearest integer, ties to even, for |v| < 2^22: adding 1.5*2^23 pushes the
// fraction out of the mantissa (ggml's nearest_int, and what _mm256_round_ps(_MM_ROUND_NEAREST)
// gives for the in-range values Q8 produces). Needs IEEE f32 arithmetic without -ffast-math.
// Returns the integer directly from the mantissa bits, so that even inf/nan input (which gives a
// meaningless but harmless value, as in ggml) never reaches an undefined float->int conversion.
inline int nearest_int(float v) {
  const float f = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &f, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// roundf (ties away from zero) converted to int; out-of-range or nan input gives 0 instead of UB.
inline int round_away(float v) {
  const float r = std::round(v);
  return (r >= -32768.f && r <= 32767.f) ? int(r) : 0;
}

inline float block_amax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

// ggml quantize_row_q8_0_ref: d = amax/127, id = 1/d, q = roundf(x*id) (ties away from zero).
void quant_q8_0_ref(const float* x, block_q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
    const float d = block_amax(x, QK8_0) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = int8_t(round_away(x[j] * id));
  }
}

// ggml quantize_row_q8_1_ref: as Q8_0, plus s = fp16(sum(q) * d).
void quant_q8_1_ref(const float* x, block_q8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_1) {
    const float d = block_amax(x, QK8_1) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      y[i].qs[j] = int8_t(round_away(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = fp32_to_fp16(float(sum) * d);
  }
}

// ggml-cpu's quantize_row_q8_0 on x86 (the AVX/AVX2 path llama.cpp runs on activations):
// id = 127/amax (not 1/d) and round half to even (not roundf). d is the same as the reference.
void quant_q8_0_x86(const float* x, block_q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
    const float amax = block_amax(x, QK8_0);
    y[i].d = fp32_to_fp16(amax / 127.f);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = int8_t(nearest_int(x[j] * id));
  }
}

// ggml-cpu's quantize_row_q8_1 on x86: the Q8_0 x86 rules plus s = fp16(d * sum(q)).
void quant_q8_1_x86(const float* x, block_q8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_1) {
    const float amax = block_amax(x, QK8_1);
    const float d = amax / 127.f;
    y[i].d = fp32_to_fp16(d);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      const int q = nearest_int(x[j] * id);
      y[i].qs[j] = int8_t(q);
      sum += q;
    }
    y[i].s = fp32_to_fp16(d * float(sum));
  }
}

// ggml quantize_row_q8_K_ref: scale from the signed element of largest magnitude,
// iscale = -127/max, q = min(127, nearest_int(iscale*x)), d = 1/iscale (f32), and bsums =
// sums of each 16 quants (used by the K-quant dot products to apply the mins).
void quant_q8_K(const float* x, block_q8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      // ggml leaves bsums untouched here; zero is their true value.
      std::memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      const int v = nearest_int(iscale * x[j]);
      y[i].qs[j] = int8_t(std::min(127, v));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[j * 16 + l];
      y[i].bsums[j] = int16_t(sum);
    }
    const float d = 1 / iscale;
    std::memcpy(&y[i].d, &d, sizeof d);
  }
}

}  // namespace nnb::quants_detail
