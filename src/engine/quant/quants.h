// Conversion between f32 and ggml's stored types.
// Dequantization is bit-exact to ggml's to_float (same f32 operation order), which the
// fixtures' sha256 checksums verify. Quantization follows ggml's reference quantizers, so
// that activations quantized here produce the same dot products as llama.cpp's.
#pragma once

#include <cstdint>
#include "engine/quant/ggml_types.h"

namespace nnb {

// True when dequantize_row can convert this type.
bool can_dequantize(GgmlType t);

// Converts n elements (a multiple of the block size) starting at src to f32.
// Throws std::invalid_argument for an unsupported type or a bad n (likewise quantize_row).
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// True when quantize_row can produce this type.
bool can_quantize(GgmlType t);

// Converts n f32 values (a multiple of the block size) to type t at dst (row_size(t, n) bytes).
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q8_K, Q4_K, Q5_K, Q6_K (and more
// where implemented; can_quantize tells). Q8_0 / Q8_1 / Q8_K are the activation formats of the
// quantized dot products and match ggml's quantize_row_*_ref exactly.
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// Quantizes activations as llama.cpp's CPU backend does on x86 (ggml-cpu's AVX/AVX2 from_float
// of the vec_dot types), which is what the golden logits were computed with. It differs from
// quantize_row only for Q8_0 and Q8_1: ggml-cpu uses id = 127/amax and rounds half to even,
// where the reference uses id = 1/d and roundf (they rarely disagree: ~1 value in 10^5 on
// Gaussian data, but one flipped value is enough to break bit-exactness).
// Every other type is identical to quantize_row (Q8_K activations use the reference in ggml too).
void quantize_row_activation(GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace nnb
