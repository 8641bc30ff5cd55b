// Matrix-matrix products for prompt processing: weight rows times several activation rows,
// with each weight loaded (and unpacked) once for all tokens of the batch.
//
// A GEMM kernel works on panels of `rows` (16) consecutive
// weight rows. pack() expands them from the stored type into an interleaved scratch layout
// (bytes with per-block float scales for the quantized types, f32 for F16/BF16/F32) that one
// vector register covers for all rows at once; compute() then runs the panel against n
// activation rows, one register of outputs per token per step, without horizontal sums. Activations are prepared once per matrix product by
// gemm_prepare() into the layout the kernel reads; their values are exactly those of
// quantize_row_activation(vec_dot_type), and every integer block sum is exact, so results
// equal the per-row vec_dot kernels up to float rounding (the order of additions; on AVX-512
// K-quants apply their sub-block scales d * scale, exact in f32, per sub-block in float rather
// than per super-block in int32).
//
// Kernels exist for AVX-512 (F/BW/VL/DQ/VNNI; 16-row panels) and AVX2/FMA (vec_dot_gemm_avx2.cpp:
// 16-row panels of two 256-bit registers, maddubs/madd for dpbusd, and the K-quants' sub-block
// scales applied in int32 rather than float); on the scalar ISA gemm_kernel() returns nullptr and
// the caller uses the per-row vec_dot kernels. Callers take the panel height from `rows`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quant/ggml_types.h"
#include "engine/cpu/vec_dot.h"

namespace nnb {

// Activation layouts (per token row of K values):
//   F32:  K floats (F32 weights); F16R / BF16R: K floats rounded to fp16 / bf16 (F16 / BF16 weights)
//   Q8_0: int8 q[K] | float d[K/32] | int32 -sum(q of block)[K/32]     (ggml's Q8_0 values)
//   Q8_K: int8 q[K] | float d[K/256] | int32 -sum(q)[K/16] | float sum(q)[K/16] | float sum(q)[K/32]
//         | int16 sum(q)[K/16] | int16 sum(q)[K/32]
enum class GemmAct : uint8_t { F32, F16R, BF16R, Q8_0, Q8_K };

struct GemmKernel {
  GemmAct act;
  int rows;   // weight rows per panel
  int min_n;  // fewest tokens for which the GEMM beats the per-row kernels (packing costs)
  size_t (*panel_bytes)(int64_t K);
  // Packs `rows` weight rows (row r at w + r * row_bytes, K elements each) into panel.
  void (*pack)(const uint8_t* w, size_t row_bytes, int64_t K, void* panel);
  // out[t * ldo + i] = dot(weight row i of the panel, activation row t), i < rows, t < n.
  void (*compute)(const void* panel, int64_t K, const uint8_t* act, size_t act_stride, int64_t n, float* out,
                  int64_t ldo);
};

// Bytes of one prepared activation row (a multiple of 64 so rows stay aligned).
size_t gemm_act_bytes(GemmAct a, int64_t K);
// Prepares one activation row (K must be a multiple of the weight type's block size).
void gemm_prepare(GemmAct a, const float* x, int64_t K, uint8_t* dst);

// Kernel for weights of type t on the active ISA, or nullptr.
const GemmKernel* gemm_kernel(GgmlType t);
const GemmKernel* gemm_kernel_for(GgmlType t, Isa isa);

}  // namespace nnb
