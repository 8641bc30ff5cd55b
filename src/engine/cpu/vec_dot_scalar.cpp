// Portable dot-product kernels: ggml's generic (scalar) vec_dot for each pairing, with the same
// integer sums per block and the same order of float scaling, so results match ggml's
// fallback path. This file: the float types, the 32-element block formats and the scalar
// kernel table; the K-quants and IQ4_XS are in vec_dot_kquants_scalar.cpp. No intrinsics:
// builds on any architecture.
#include <cstring>

#include "engine/cpu/vec_dot_impl.h"

namespace nnb::kern {

const float* fp16_table() {
  static const float* const table = [] {
    static float t[1 << 16];
    for (uint32_t i = 0; i < (1u << 16); ++i) t[i] = fp16_to_fp32(ggml_fp16_t(i));
    return t;
  }();
  return table;
}

namespace {

// ---- plain floats: products in f32, sum in double (ggml_float) ---------------------------------

void dot_f32(int64_t n, float* s, const void* vx, const void* vy) {
  const float* x = static_cast<const float*>(vx);
  const float* y = static_cast<const float*>(vy);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i] * y[i]);
  *s = float(sum);
}

void dot_f16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_fp16_t* x = static_cast<const ggml_fp16_t*>(vx);
  const ggml_fp16_t* y = static_cast<const ggml_fp16_t*>(vy);
  const float* h = fp16_table();
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(h[x[i]] * h[y[i]]);
  *s = float(sum);
}

void dot_bf16(int64_t n, float* s, const void* vx, const void* vy) {
  const ggml_bf16_t* x = static_cast<const ggml_bf16_t*>(vx);
  const ggml_bf16_t* y = static_cast<const ggml_bf16_t*>(vy);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
  *s = float(sum);
}

// ---- 32-element blocks -------------------------------------------------------------------------

void dot_q4_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_0* x = static_cast<const block_q4_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK8_0 / 2; ++j) {
      const int v0 = (x[ib].qs[j] & 0x0F) - 8;
      const int v1 = (x[ib].qs[j] >> 4) - 8;
      sumi0 += v0 * y[ib].qs[j];
      sumi1 += v1 * y[ib].qs[j + QK8_0 / 2];
    }
    sumf += float(sumi0 + sumi1) * h[x[ib].d] * h[y[ib].d];
  }
  *s = sumf;
}

// Q4_1 x Q8_1: the min term uses Q8_1's precomputed s = d * sum(qs).
void dot_q4_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q4_1* x = static_cast<const block_q4_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK8_1; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK8_1 / 2; ++j) {
      sumi0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
      sumi1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + QK8_1 / 2];
    }
    sumf += (h[x[ib].d] * h[y[ib].d]) * float(sumi0 + sumi1) + h[x[ib].m] * h[y[ib].s];
  }
  *s = sumf;
}

void dot_q5_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_0* x = static_cast<const block_q5_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
    uint32_t qh;
    std::memcpy(&qh, x[ib].qh, sizeof(qh));
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK8_0 / 2; ++j) {
      const int hi0 = int((qh >> j) & 1) << 4;
      const int hi1 = int((qh >> (j + 16)) & 1) << 4;
      sumi0 += (((x[ib].qs[j] & 0x0F) | hi0) - 16) * y[ib].qs[j];
      sumi1 += (((x[ib].qs[j] >> 4) | hi1) - 16) * y[ib].qs[j + QK8_0 / 2];
    }
    sumf += (h[x[ib].d] * h[y[ib].d]) * float(sumi0 + sumi1);
  }
  *s = sumf;
}

void dot_q5_1(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q5_1* x = static_cast<const block_q5_1*>(vx);
  const block_q8_1* y = static_cast<const block_q8_1*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK8_1; ++ib) {
    uint32_t qh;
    std::memcpy(&qh, x[ib].qh, sizeof(qh));
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK8_1 / 2; ++j) {
      const int hi0 = int((qh >> j) & 1) << 4;
      const int hi1 = int((qh >> (j + 16)) & 1) << 4;
      sumi0 += ((x[ib].qs[j] & 0x0F) | hi0) * y[ib].qs[j];
      sumi1 += ((x[ib].qs[j] >> 4) | hi1) * y[ib].qs[j + QK8_1 / 2];
    }
    sumf += (h[x[ib].d] * h[y[ib].d]) * float(sumi0 + sumi1) + h[x[ib].m] * h[y[ib].s];
  }
  *s = sumf;
}

void dot_q8_0(int64_t n, float* s, const void* vx, const void* vy) {
  const block_q8_0* x = static_cast<const block_q8_0*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
    int sumi = 0;
    for (int j = 0; j < QK8_0; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
    sumf += float(sumi) * (h[x[ib].d] * h[y[ib].d]);
  }
  *s = sumf;
}

void dot_iq4_nl(int64_t n, float* s, const void* vx, const void* vy) {
  const block_iq4_nl* x = static_cast<const block_iq4_nl*>(vx);
  const block_q8_0* y = static_cast<const block_q8_0*>(vy);
  const float* h = fp16_table();
  float sumf = 0;
  for (int64_t ib = 0; ib < n / QK4_NL; ++ib) {
    const float d = h[y[ib].d] * h[x[ib].d];
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < QK4_NL / 2; ++j) {
      sumi1 += y[ib].qs[j] * kIq4nlValues[x[ib].qs[j] & 0xf];
      sumi2 += y[ib].qs[j + QK4_NL / 2] * kIq4nlValues[x[ib].qs[j] >> 4];
    }
    sumf += d * float(sumi1 + sumi2);
  }
  *s = sumf;
}

constexpr int kNumTypes = 31;

struct Table {
  DotKernel k[kNumTypes] = {};
  constexpr Table() {
    auto set = [&](GgmlType t, GgmlType vt, VecDotFn f) { k[int(t)] = {vt, f}; };
    set(GgmlType::F32, GgmlType::F32, dot_f32);
    set(GgmlType::F16, GgmlType::F16, dot_f16);
    set(GgmlType::BF16, GgmlType::BF16, dot_bf16);
    set(GgmlType::Q4_0, GgmlType::Q8_0, dot_q4_0);
    set(GgmlType::Q4_1, GgmlType::Q8_1, dot_q4_1);
    set(GgmlType::Q5_0, GgmlType::Q8_0, dot_q5_0);
    set(GgmlType::Q5_1, GgmlType::Q8_1, dot_q5_1);
    set(GgmlType::Q8_0, GgmlType::Q8_0, dot_q8_0);
    set(GgmlType::Q2_K, GgmlType::Q8_K, scalar_dot_q2_K);
    set(GgmlType::Q3_K, GgmlType::Q8_K, scalar_dot_q3_K);
    set(GgmlType::Q4_K, GgmlType::Q8_K, scalar_dot_q4_K);
    set(GgmlType::Q5_K, GgmlType::Q8_K, scalar_dot_q5_K);
    set(GgmlType::Q6_K, GgmlType::Q8_K, scalar_dot_q6_K);
    set(GgmlType::IQ4_NL, GgmlType::Q8_0, dot_iq4_nl);
    set(GgmlType::IQ4_XS, GgmlType::Q8_K, scalar_dot_iq4_xs);
  }
};
constexpr Table kTable;

}  // namespace

const DotKernel* scalar_kernel(GgmlType t) {
  const auto i = uint32_t(t);
  return i < uint32_t(kNumTypes) && kTable.k[i].vec_dot ? &kTable.k[i] : nullptr;
}

}  // namespace nnb::kern
