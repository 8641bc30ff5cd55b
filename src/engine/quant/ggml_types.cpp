#include "engine/quant/ggml_types.h"

#include <cstring>
#include <stdexcept>

namespace nnb {
namespace {

// Indexed by type number; block_size 0 marks a number ggml never defined (4, 5) or one past
// the table. `supported` = the engine reads it.
constexpr TypeTraits kTraits[] = {
    /* 0 F32     */ {"f32", 1, 4, true},
    /* 1 F16     */ {"f16", 1, 2, true},
    /* 2 Q4_0    */ {"q4_0", QK4_0, sizeof(block_q4_0), true},
    /* 3 Q4_1    */ {"q4_1", QK4_1, sizeof(block_q4_1), true},
    /* 4         */ {"q4_2 (removed)", 0, 0, false},
    /* 5         */ {"q4_3 (removed)", 0, 0, false},
    /* 6 Q5_0    */ {"q5_0", QK5_0, sizeof(block_q5_0), true},
    /* 7 Q5_1    */ {"q5_1", QK5_1, sizeof(block_q5_1), true},
    /* 8 Q8_0    */ {"q8_0", QK8_0, sizeof(block_q8_0), true},
    /* 9 Q8_1    */ {"q8_1", QK8_1, sizeof(block_q8_1), false},
    /* 10 Q2_K   */ {"q2_K", QK_K, sizeof(block_q2_K), true},
    /* 11 Q3_K   */ {"q3_K", QK_K, sizeof(block_q3_K), true},
    /* 12 Q4_K   */ {"q4_K", QK_K, sizeof(block_q4_K), true},
    /* 13 Q5_K   */ {"q5_K", QK_K, sizeof(block_q5_K), true},
    /* 14 Q6_K   */ {"q6_K", QK_K, sizeof(block_q6_K), true},
    /* 15 Q8_K   */ {"q8_K", QK_K, sizeof(block_q8_K), false},
    /* 16 IQ2_XXS*/ {"iq2_xxs", QK_K, 66, false},
    /* 17 IQ2_XS */ {"iq2_xs", QK_K, 74, false},
    /* 18 IQ3_XXS*/ {"iq3_xxs", QK_K, 98, false},
    /* 19 IQ1_S  */ {"iq1_s", QK_K, 50, false},
    /* 20 IQ4_NL */ {"iq4_nl", QK4_NL, sizeof(block_iq4_nl), true},
    /* 21 IQ3_S  */ {"iq3_s", QK_K, 110, false},
    /* 22 IQ2_S  */ {"iq2_s", QK_K, 82, false},
    /* 23 IQ4_XS */ {"iq4_xs", QK_K, sizeof(block_iq4_xs), true},
    /* 24 I8     */ {"i8", 1, 1, false},
    /* 25 I16    */ {"i16", 1, 2, false},
    /* 26 I32    */ {"i32", 1, 4, false},
    /* 27 I64    */ {"i64", 1, 8, false},
    /* 28 F64    */ {"f64", 1, 8, false},
    /* 29 IQ1_M  */ {"iq1_m", QK_K, 56, false},
    /* 30 BF16   */ {"bf16", 1, 2, true},
};
constexpr uint32_t kNumTypes = sizeof(kTraits) / sizeof(kTraits[0]);

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t type) {
  if (type >= kNumTypes || kTraits[type].block_size == 0) return std::nullopt;
  return kTraits[type];
}

const TypeTraits& traits(GgmlType t) {
  auto i = static_cast<uint32_t>(t);
  if (i >= kNumTypes || kTraits[i].block_size == 0) throw std::invalid_argument("unknown ggml type");
  return kTraits[i];
}

std::string_view type_name(GgmlType t) {
  auto i = static_cast<uint32_t>(t);
  return i < kNumTypes ? kTraits[i].name : std::string_view("unknown");
}

float fp16_to_fp32(ggml_fp16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while (!(mant & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

ggml_fp16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000u) {  // inf or nan
    return uint16_t(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
  }
  if (absx >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520: inf
  if (absx < 0x38800000u) {                                   // below the smallest normal half
    if (absx < 0x33000000u) return uint16_t(sign);            // < 2^-25 rounds to 0
    // Subnormal half: value = m * 2^-24; round the full mantissa to nearest even.
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14 - (e - 127) - 1 + 24 -> shift of the 24-bit mantissa
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return uint16_t(sign | r);
  }
  // Normal: rebias exponent, round 23-bit mantissa to 10 bits, nearest even (carry may bump exp).
  uint32_t r = absx - 0x38000000u;  // exponent 127 -> 15
  r += 0xfff + ((r >> 13) & 1);
  return uint16_t(sign | (r >> 13));
}

ggml_bf16_t fp32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000u) return uint16_t((u >> 16) | 64);  // quiet nan
  return uint16_t((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace nnb
