// Dot products between a weight row of a stored type and an activation row in that type's
// "vec_dot type" (ggml's pairing: Q4_0 x Q8_0, Q4_1 x Q8_1, K-quants x Q8_K, F16 x F16 ...).
// Matrix products quantize the activations once with quantize_row(vec_dot_type, ...) and then
// call vec_dot for each weight row. Implementations: portable scalar, AVX2/FMA, AVX-512,
// chosen once at run time from the CPU's features.
#pragma once

#include <cstdint>
#include "engine/quant/ggml_types.h"

namespace nnb {

// s = dot(x[0..n), y[0..n)); x is a weight row of type t, y a row of vec_dot_type(t).
using VecDotFn = void (*)(int64_t n, float* s, const void* x, const void* y);

struct DotKernel {
  GgmlType vec_dot_type;
  VecDotFn vec_dot;
};

// Kernel for weights of type t (F32, F16, BF16 and every quantized type the engine reads).
// Returns nullptr for types without a kernel.
const DotKernel* dot_kernel(GgmlType t);

enum class Isa { Scalar, Avx2, Avx512 };
Isa active_isa();                // what dot_kernel() picks on this CPU
const char* isa_name(Isa isa);
// Kernel of a given ISA (for tests comparing the paths); nullptr when absent or unsupported by the CPU.
const DotKernel* dot_kernel_for(GgmlType t, Isa isa);

}  // namespace nnb
