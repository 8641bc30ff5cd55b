// Entry points of quants.h: argument checks and dispatch by type to the per-family files
// (quants_dequant*.cpp, quants_q8.cpp, quants_legacy.cpp, quants_kquant.cpp, quants_iq4.cpp).
#include "engine/quant/quants.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/quant/quants_impl.h"

namespace nnb {
namespace {

using namespace quants_detail;

// Validates n against t's block size and returns the number of blocks.
int64_t blocks_of(GgmlType t, int64_t n, const char* what) {
  const auto tt = type_traits(static_cast<uint32_t>(t));
  if (!tt) throw std::invalid_argument(std::string(what) + ": unknown ggml type " + std::to_string(uint32_t(t)));
  if (n < 0 || n % tt->block_size != 0) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " elements is not a multiple of " +
                                std::string(tt->name) + "'s block size " + std::to_string(tt->block_size));
  }
  return n / tt->block_size;
}

[[noreturn]] void unsupported(GgmlType t, const char* what) {
  throw std::invalid_argument(std::string(what) + ": type " + std::string(type_name(t)) + " is not supported");
}

template <class Block, class Fn>
void quantize_blocks(Fn fn, const float* src, void* dst, int64_t nb) {
  fn(src, static_cast<Block*>(dst), nb);
}

// Quantization shared by quantize_row and quantize_row_activation; `x86_q8` selects ggml-cpu's
// x86 activation rounding for Q8_0 / Q8_1 instead of the reference quantizers.
void quantize_impl(GgmlType t, const float* src, void* dst, int64_t n, bool x86_q8, const char* what) {
  const int64_t nb = blocks_of(t, n, what);
  if (nb == 0) return;
  if (!src || !dst) throw std::invalid_argument(std::string(what) + ": null buffer");
  switch (t) {
    case GgmlType::F32: std::memmove(dst, src, size_t(n) * sizeof(float)); return;
    case GgmlType::F16: {
      auto* y = static_cast<ggml_fp16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(src[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* y = static_cast<ggml_bf16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(src[i]);
      return;
    }
    case GgmlType::Q8_0:
      return quantize_blocks<block_q8_0>(x86_q8 ? quant_q8_0_x86 : quant_q8_0_ref, src, dst, nb);
    case GgmlType::Q8_1:
      return quantize_blocks<block_q8_1>(x86_q8 ? quant_q8_1_x86 : quant_q8_1_ref, src, dst, nb);
    case GgmlType::Q8_K: return quantize_blocks<block_q8_K>(quant_q8_K, src, dst, nb);
    case GgmlType::Q4_0: return quantize_blocks<block_q4_0>(quant_q4_0, src, dst, nb);
    case GgmlType::Q4_1: return quantize_blocks<block_q4_1>(quant_q4_1, src, dst, nb);
    case GgmlType::Q5_0: return quantize_blocks<block_q5_0>(quant_q5_0, src, dst, nb);
    case GgmlType::Q5_1: return quantize_blocks<block_q5_1>(quant_q5_1, src, dst, nb);
    case GgmlType::Q2_K: return quantize_blocks<block_q2_K>(quant_q2_K, src, dst, nb);
    case GgmlType::Q3_K: return quantize_blocks<block_q3_K>(quant_q3_K, src, dst, nb);
    case GgmlType::Q4_K: return quantize_blocks<block_q4_K>(quant_q4_K, src, dst, nb);
    case GgmlType::Q5_K: return quantize_blocks<block_q5_K>(quant_q5_K, src, dst, nb);
    case GgmlType::Q6_K: return quantize_blocks<block_q6_K>(quant_q6_K, src, dst, nb);
    case GgmlType::IQ4_NL: return quantize_blocks<block_iq4_nl>(quant_iq4_nl, src, dst, nb);
    case GgmlType::IQ4_XS: return quantize_blocks<block_iq4_xs>(quant_iq4_xs, src, dst, nb);
    default: unsupported(t, what);
  }
}

}  // namespace

bool can_dequantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q8_0: case GgmlType::Q8_1:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
    case GgmlType::Q6_K: case GgmlType::Q8_K:
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  const int64_t nb = blocks_of(t, n, "dequantize_row");
  if (nb == 0) return;
  if (!src || !dst) throw std::invalid_argument("dequantize_row: null buffer");
  switch (t) {
    case GgmlType::F32: std::memmove(dst, src, size_t(n) * sizeof(float)); return;
    case GgmlType::F16: {
      const auto* x = static_cast<const ggml_fp16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(x[i]);
      return;
    }
    case GgmlType::BF16: {
      const auto* x = static_cast<const ggml_bf16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(x[i]);
      return;
    }
    case GgmlType::Q4_0: return dequant_q4_0(static_cast<const block_q4_0*>(src), dst, nb);
    case GgmlType::Q4_1: return dequant_q4_1(static_cast<const block_q4_1*>(src), dst, nb);
    case GgmlType::Q5_0: return dequant_q5_0(static_cast<const block_q5_0*>(src), dst, nb);
    case GgmlType::Q5_1: return dequant_q5_1(static_cast<const block_q5_1*>(src), dst, nb);
    case GgmlType::Q8_0: return dequant_q8_0(static_cast<const block_q8_0*>(src), dst, nb);
    case GgmlType::Q8_1: return dequant_q8_1(static_cast<const block_q8_1*>(src), dst, nb);
    case GgmlType::Q2_K: return dequant_q2_K(static_cast<const block_q2_K*>(src), dst, nb);
    case GgmlType::Q3_K: return dequant_q3_K(static_cast<const block_q3_K*>(src), dst, nb);
    case GgmlType::Q4_K: return dequant_q4_K(static_cast<const block_q4_K*>(src), dst, nb);
    case GgmlType::Q5_K: return dequant_q5_K(static_cast<const block_q5_K*>(src), dst, nb);
    case GgmlType::Q6_K: return dequant_q6_K(static_cast<const block_q6_K*>(src), dst, nb);
    case GgmlType::Q8_K: return dequant_q8_K(static_cast<const block_q8_K*>(src), dst, nb);
    case GgmlType::IQ4_NL: return dequant_iq4_nl(static_cast<const block_iq4_nl*>(src), dst, nb);
    case GgmlType::IQ4_XS: return dequant_iq4_xs(static_cast<const block_iq4_xs*>(src), dst, nb);
    default: unsupported(t, "dequantize_row");
  }
}

bool can_quantize(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q8_0: case GgmlType::Q8_1: case GgmlType::Q8_K:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
  quantize_impl(t, src, dst, n, /*x86_q8=*/false, "quantize_row");
}

void quantize_row_activation(GgmlType t, const float* src, void* dst, int64_t n) {
  quantize_impl(t, src, dst, n, /*x86_q8=*/true, "quantize_row_activation");
}

}  // namespace nnb
