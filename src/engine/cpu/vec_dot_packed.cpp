#include "engine/cpu/vec_dot_packed.h"

#include <cstring>

#include "engine/quant/quants.h"

namespace nnb {
#if defined(__x86_64__) || defined(_M_X64)
namespace kern {
void avx512_packed_q4_0_dot(int64_t K, float* s, const uint8_t* codes, const uint8_t* scales, const uint8_t* act);
}
#endif

void pack_q4_0_rows(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* codes,
                    uint8_t* scales) {
  const int64_t nb = K / QK4_0, G = PackedQ4_0::groups(K);
  for (int64_t r = r0; r < r1; ++r) {
    const block_q4_0* x = reinterpret_cast<const block_q4_0*>(src + size_t(r) * row_bytes);
    uint8_t* c = codes + size_t(r) * PackedQ4_0::code_bytes(K);
    uint8_t* d = scales + size_t(r) * PackedQ4_0::scale_bytes(K);
    for (int64_t g = 0; g < G; ++g) {
      for (int b = 0; b < 16; ++b) {
        const int64_t ib = g * 16 + b;
        uint8_t* dst_d = d + size_t(g) * 32 + size_t(b) * 2;
        if (ib >= nb) {  // padding
          std::memset(dst_d, 0, 2);
          for (int ch = 0; ch < 4; ++ch) std::memset(c + size_t(g) * 256 + size_t(ch) * 64 + size_t(b) * 4, 0x88, 4);
          continue;
        }
        std::memcpy(dst_d, &x[ib].d, 2);
        for (int ch = 0; ch < 4; ++ch) std::memcpy(c + size_t(g) * 256 + size_t(ch) * 64 + size_t(b) * 4, x[ib].qs + 4 * ch, 4);
      }
    }
  }
}

void prepare_q4_0_act(const float* x, int64_t K, uint8_t* dst) {
  const int64_t nb = K / QK8_0;
  std::memset(dst, 0, PackedQ4_0::act_bytes(K));
  for (int64_t ib = 0; ib < nb; ++ib) {
    block_q8_0 q;
    quantize_row_activation(GgmlType::Q8_0, x + ib * QK8_0, &q, QK8_0);
    uint8_t* grp = dst + size_t(ib / 16) * 640;
    const int b = int(ib % 16);
    const float d = fp16_to_fp32(q.d);
    int32_t sum = 0;
    for (int j = 0; j < QK8_0; ++j) sum += q.qs[j];
    const int32_t neg_bias = -8 * sum;
    std::memcpy(grp + 4 * b, &d, 4);
    std::memcpy(grp + 64 + 4 * b, &neg_bias, 4);
    for (int ch = 0; ch < 4; ++ch) {
      std::memcpy(grp + 128 + 64 * ch + 4 * b, q.qs + 4 * ch, 4);
      std::memcpy(grp + 384 + 64 * ch + 4 * b, q.qs + 16 + 4 * ch, 4);
    }
  }
}

PackedDotFn packed_q4_0_dot_for(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512 && dot_kernel_for(GgmlType::Q4_0, Isa::Avx512)) return kern::avx512_packed_q4_0_dot;
#endif
  (void)isa;
  return nullptr;
}

PackedDotFn packed_q4_0_dot() { return packed_q4_0_dot_for(active_isa()); }

}  // namespace nnb
