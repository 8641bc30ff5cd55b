// GEMM kernel selection and activation preparation (vec_dot_gemm.h). The kernels themselves
// are in vec_dot_gemm_avx512.cpp and vec_dot_gemm_avx2.cpp.
#include "engine/cpu/vec_dot_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "engine/quant/quants.h"
#include "engine/cpu/vec_dot_impl.h"

namespace nnb {

namespace kern {
#if defined(__x86_64__) || defined(_M_X64)
const GemmKernel* avx512_gemm_kernel(GgmlType t);
const GemmKernel* avx2_gemm_kernel(GgmlType t);
#endif
}  // namespace kern

namespace {
size_t round64(size_t b) { return (b + 63) / 64 * 64; }
}  // namespace

size_t gemm_act_bytes(GemmAct a, int64_t K) {
  switch (a) {
    case GemmAct::F32:
    case GemmAct::F16R:
    case GemmAct::BF16R: return round64(size_t(K) * 4);
    case GemmAct::Q8_0: return round64(size_t(K) + size_t(K / 32) * 8);
    case GemmAct::Q8_K:
      return round64(size_t(K) + size_t(K / 256) * 4 + size_t(K / 16) * 8 + size_t(K / 32) * 4 + size_t(K / 16) * 2 +
                     size_t(K / 32) * 2);
  }
  return 0;
}

void gemm_prepare(GemmAct a, const float* x, int64_t K, uint8_t* dst) {
  switch (a) {
    case GemmAct::F32: std::memcpy(dst, x, size_t(K) * 4); return;
    case GemmAct::F16R: {
      float* y = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < K; ++i) y[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    }
    case GemmAct::BF16R: {
      float* y = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < K; ++i) y[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    }
    case GemmAct::Q8_0: {
      const int64_t nb = K / QK8_0;
      block_q8_0 blk[8];
      int8_t* q = reinterpret_cast<int8_t*>(dst);
      float* d = reinterpret_cast<float*>(dst + K);
      int32_t* ns = reinterpret_cast<int32_t*>(dst + K + nb * 4);
      for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int64_t m = std::min<int64_t>(8, nb - b0);
        quantize_row_activation(GgmlType::Q8_0, x + b0 * QK8_0, blk, m * QK8_0);
        for (int64_t j = 0; j < m; ++j) {
          std::memcpy(q + (b0 + j) * QK8_0, blk[j].qs, QK8_0);
          d[b0 + j] = fp16_to_fp32(blk[j].d);
          int32_t s = 0;
          for (int k = 0; k < QK8_0; ++k) s += blk[j].qs[k];
          ns[b0 + j] = -s;
        }
      }
      return;
    }
    case GemmAct::Q8_K: {
      const int64_t nb = K / QK_K;
      block_q8_K blk;
      int8_t* q = reinterpret_cast<int8_t*>(dst);
      float* d = reinterpret_cast<float*>(dst + K);
      int32_t* ns16 = reinterpret_cast<int32_t*>(dst + K + nb * 4);
      float* fs16 = reinterpret_cast<float*>(dst + K + nb * 4 + (K / 16) * 4);
      float* fs32 = reinterpret_cast<float*>(dst + K + nb * 4 + (K / 16) * 8);
      int16_t* is16 = reinterpret_cast<int16_t*>(dst + K + nb * 4 + (K / 16) * 8 + (K / 32) * 4);
      int16_t* is32 = is16 + K / 16;
      for (int64_t b = 0; b < nb; ++b) {
        quantize_row_activation(GgmlType::Q8_K, x + b * QK_K, &blk, QK_K);
        std::memcpy(q + b * QK_K, blk.qs, QK_K);
        d[b] = blk.d;
        for (int j = 0; j < QK_K / 16; ++j) {
          ns16[b * 16 + j] = -int32_t(blk.bsums[j]);
          fs16[b * 16 + j] = float(blk.bsums[j]);
          is16[b * 16 + j] = blk.bsums[j];
        }
        for (int j = 0; j < QK_K / 32; ++j) {
          const int32_t s32 = int32_t(blk.bsums[2 * j]) + blk.bsums[2 * j + 1];  // |s32| <= 32 * 128
          fs32[b * 8 + j] = float(s32);
          is32[b * 8 + j] = int16_t(s32);
        }
      }
      return;
    }
  }
  throw std::invalid_argument("gemm_prepare: bad activation layout");
}

const GemmKernel* gemm_kernel_for(GgmlType t, Isa isa) {
  if (dot_kernel_for(t, isa) == nullptr) return nullptr;  // also: the CPU lacks the ISA
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512) return kern::avx512_gemm_kernel(t);
  if (isa == Isa::Avx2) return kern::avx2_gemm_kernel(t);
#endif
  (void)t;
  return nullptr;
}

const GemmKernel* gemm_kernel(GgmlType t) {
  static const char* off = std::getenv("NNB_NO_GEMM");
  if (off && *off && *off != '0') return nullptr;
  return gemm_kernel_for(t, active_isa());
}

}  // namespace nnb
