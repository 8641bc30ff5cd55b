// Private to the vec_dot*.cpp files: the per-ISA kernel tables, the scalar K-quant kernels and
// the IQ4 value table that every ISA uses.
//
// Everything defined here has internal linkage (static / constexpr) on purpose: this header is
// compiled into the scalar, AVX2 and AVX-512 translation units with different instruction-set
// flags, and an out-of-line copy of an `inline` function built with -mavx512f could be the one
// the linker keeps and then run on a CPU without AVX-512.
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/cpu/vec_dot.h"

namespace nnb::kern {

// Kernel tables of each ISA; nullptr where that ISA has no kernel of its own for t.
const DotKernel* scalar_kernel(GgmlType t);
#if defined(__x86_64__) || defined(_M_X64)
const DotKernel* avx2_kernel(GgmlType t);    // every type
const DotKernel* avx512_kernel(GgmlType t);  // all but F32, Q2_K, Q3_K, IQ4_XS
#endif

// Scalar K-quant and IQ4_XS kernels (vec_dot_kquants_scalar.cpp), listed in the scalar table.
void scalar_dot_q2_K(int64_t n, float* s, const void* vx, const void* vy);
void scalar_dot_q3_K(int64_t n, float* s, const void* vx, const void* vy);
void scalar_dot_q4_K(int64_t n, float* s, const void* vx, const void* vy);
void scalar_dot_q5_K(int64_t n, float* s, const void* vx, const void* vy);
void scalar_dot_q6_K(int64_t n, float* s, const void* vx, const void* vy);
void scalar_dot_iq4_xs(int64_t n, float* s, const void* vx, const void* vy);

// fp16 -> f32 through a 64K-entry table built once from the exact converter, like ggml's table
// on CPUs without F16C (the scalar F16 kernel converts two values per element). Scalar files
// only.
const float* fp16_table();

// The 16 values an IQ4_NL / IQ4_XS nibble selects (ggml's kvalues_iq4nl).
alignas(16) static constexpr int8_t kIq4nlValues[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace nnb::kern
