// ggml tensor types: numbering, block layouts and per-type traits.
// The numeric values and the block structs are ggml's on-disk format (GGUF stores them verbatim),
// so they must never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace nnb {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
  // 4 and 5 (Q4_2, Q4_3) were removed from ggml long ago.
  Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
};

struct TypeTraits {
  std::string_view name;   // ggml's name, e.g. "q4_K"
  int64_t block_size;      // elements per block (1 for plain types)
  size_t type_size;        // bytes per block
  bool supported;          // the engine can dequantize it
};

// Traits of a type number read from a file; nullopt for numbers ggml never defined.
std::optional<TypeTraits> type_traits(uint32_t type);
const TypeTraits& traits(GgmlType t);  // for known types only
std::string_view type_name(GgmlType t);

// Bytes of a row of n elements (n must be a multiple of the block size).
inline size_t row_size(GgmlType t, int64_t n) { return size_t(n / traits(t).block_size) * traits(t).type_size; }

// ---- half precision ---------------------------------------------------------------------------
using ggml_fp16_t = uint16_t;
using ggml_bf16_t = uint16_t;

float fp16_to_fp32(ggml_fp16_t h);   // exact
ggml_fp16_t fp32_to_fp16(float f);   // round to nearest even, as F16C's _cvtss_sh(x, 0)
inline float bf16_to_fp32(ggml_bf16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
ggml_bf16_t fp32_to_bf16(float f);   // round to nearest even, NaN kept quiet (ggml_compute_fp32_to_bf16)

// ---- block layouts (ggml-common.h) ------------------------------------------------------------
constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32, QK4_NL = 32;
constexpr int QK_K = 256;
constexpr int K_SCALE_SIZE = 12;

#pragma pack(push, 1)
struct block_q4_0 { ggml_fp16_t d; uint8_t qs[QK4_0 / 2]; };
struct block_q4_1 { ggml_fp16_t d, m; uint8_t qs[QK4_1 / 2]; };
struct block_q5_0 { ggml_fp16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };
struct block_q5_1 { ggml_fp16_t d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };
struct block_q8_0 { ggml_fp16_t d; int8_t qs[QK8_0]; };
struct block_q8_1 { ggml_fp16_t d, s; int8_t qs[QK8_1]; };  // s = d * sum(qs)
struct block_q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; ggml_fp16_t d, dmin; };
struct block_q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; ggml_fp16_t d; };
struct block_q4_K { ggml_fp16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { ggml_fp16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; ggml_fp16_t d; };
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };
struct block_iq4_nl { ggml_fp16_t d; uint8_t qs[QK4_NL / 2]; };
struct block_iq4_xs { ggml_fp16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; };
#pragma pack(pop)

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110 && sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292);
static_assert(sizeof(block_iq4_nl) == 18 && sizeof(block_iq4_xs) == 136);

}  // namespace nnb
