// Internal interface between quants.cpp (dispatch, argument checks) and the per-family files
// that hold the actual conversions. Every function here takes a whole number of blocks (nb)
// and trusts its arguments; quants.cpp validates them first.
#pragma once

#include <cstdint>
#include "engine/quant/ggml_types.h"

// Bit-exactness with ggml needs every `a*b + c` rounded twice, as in ggml's own build of these
// functions (ggml-base gets no -march flags, so no FMA). Both compilers fuse them into FMA by
// default whenever the target has it (e.g. -march=native: GCC even across statements), which
// changes quantized bytes, so contraction is switched off for the files including this header.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace nnb::quants_detail {

// The 16 non-linear levels shared by IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// ---- dequantization (quants_dequant.cpp, quants_dequant_k.cpp) --------------------------------
void dequant_q4_0(const block_q4_0* x, float* y, int64_t nb);
void dequant_q4_1(const block_q4_1* x, float* y, int64_t nb);
void dequant_q5_0(const block_q5_0* x, float* y, int64_t nb);
void dequant_q5_1(const block_q5_1* x, float* y, int64_t nb);
void dequant_q8_0(const block_q8_0* x, float* y, int64_t nb);
void dequant_q8_1(const block_q8_1* x, float* y, int64_t nb);
void dequant_iq4_nl(const block_iq4_nl* x, float* y, int64_t nb);
void dequant_q2_K(const block_q2_K* x, float* y, int64_t nb);
void dequant_q3_K(const block_q3_K* x, float* y, int64_t nb);
void dequant_q4_K(const block_q4_K* x, float* y, int64_t nb);
void dequant_q5_K(const block_q5_K* x, float* y, int64_t nb);
void dequant_q6_K(const block_q6_K* x, float* y, int64_t nb);
void dequant_q8_K(const block_q8_K* x, float* y, int64_t nb);
void dequant_iq4_xs(const block_iq4_xs* x, float* y, int64_t nb);

// ---- quantization: activation formats (quants_q8.cpp) -----------------------------------------
void quant_q8_0_ref(const float* x, block_q8_0* y, int64_t nb);
void quant_q8_1_ref(const float* x, block_q8_1* y, int64_t nb);
void quant_q8_0_x86(const float* x, block_q8_0* y, int64_t nb);
void quant_q8_1_x86(const float* x, block_q8_1* y, int64_t nb);
void quant_q8_K(const float* x, block_q8_K* y, int64_t nb);

// ---- quantization: legacy 32-element formats (quants_legacy.cpp) ------------------------------
void quant_q4_0(const float* x, block_q4_0* y, int64_t nb);
void quant_q4_1(const float* x, block_q4_1* y, int64_t nb);
void quant_q5_0(const float* x, block_q5_0* y, int64_t nb);
void quant_q5_1(const float* x, block_q5_1* y, int64_t nb);

// ---- quantization: K-quants (quants_kquant.cpp) ------------------------------------------------
void quant_q2_K(const float* x, block_q2_K* y, int64_t nb);
void quant_q3_K(const float* x, block_q3_K* y, int64_t nb);
void quant_q4_K(const float* x, block_q4_K* y, int64_t nb);
void quant_q5_K(const float* x, block_q5_K* y, int64_t nb);
void quant_q6_K(const float* x, block_q6_K* y, int64_t nb);

// ---- quantization: IQ4 (quants_iq4.cpp) --------------------------------------------------------
void quant_iq4_nl(const float* x, block_iq4_nl* y, int64_t nb);
void quant_iq4_xs(const float* x, block_iq4_xs* y, int64_t nb);

// The 6-bit scale/min pair j (0..7) of a Q4_K / Q5_K block's 12 packed scale bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

}  // namespace nnb::quants_detail
