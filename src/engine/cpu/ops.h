// Vectorized element-wise operations and attention of the forward pass, with the same run-time
// ISA choice as the dot-product kernels (active_isa(), NNB_ISA): scalar, AVX2/FMA, AVX-512.
//
// exp is a Cephes-style polynomial (about 1 ulp), the same formula on every path, used by the
// softmax and SiLU instead of the (scalar, slower) libm expf.
#pragma once

#include <cstdint>

namespace nnb {

// One attention head over a block of consecutive queries of one sequence, causal.
struct AttnArgs {
  const float* q = nullptr;  // query t (head_dim floats) at q + t * q_stride
  int64_t q_stride = 0;
  // Elements of the cache: float, ggml_fp16_t when f16, int8_t when q8_0 (kv_cache.h).
  const void* k = nullptr;  // this KV head's keys: blocks of 16 positions, each [head_dim][16] (q8_0: [head_dim/4][16][4])
  const void* v = nullptr;  // this KV head's values: [position][head_dim], 16 rows per block
  bool f16 = false;
  // q8_0 (head_dim a multiple of 32): the scales of this KV head, per block [head_dim/32][16]
  // for the keys, per position [head_dim/32] for the values; nullptr for the other types.
  const float* k_scales = nullptr;
  const float* v_scales = nullptr;
  // The sequence's block table (kv_cache.h): its positions 16b .. 16b+15 are physical block
  // blocks[b] (keys at k + blocks[b]*16*head_dim, value rows at v + blocks[b]*16*head_dim).
  // nullptr: blocks in order (block b at b).
  const int32_t* blocks = nullptr;
  float* out = nullptr;      // output row t at out + t * out_stride (head_dim floats)
  int64_t out_stride = 0;
  int32_t head_dim = 0;
  int32_t n_q = 0;   // queries in the block, at positions pos0 .. pos0 + n_q - 1
  int32_t pos0 = 0;  // query t sees keys 0 .. pos0 + t
  float scale = 1.0f;
  // Sliding window: query t sees only its last `window` keys, itself included (0: all keys).
  int32_t window = 0;
  // Scores become softcap * tanh(score / softcap) before the softmax (0: off).
  float softcap = 0.0f;
  float* scratch = nullptr;  // attn_scratch_floats(n_q, pos0 + n_q) floats
};

// Scratch needed by attend() for n_q queries over n_keys keys.
inline int64_t attn_scratch_floats(int32_t n_q, int32_t n_keys) {
  return int64_t(n_q) * ((int64_t(n_keys) + 15) / 16 * 16) + 64;
}

struct OpsTable {
  // y = x / sqrt(mean(x^2) + eps) * w (sum of squares in double, as ggml).
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // g = silu(g) * u
  void (*silu_mul)(float* g, const float* u, int64_t n);
  // x += y
  void (*add)(float* x, const float* y, int64_t n);
  // softmax(q k^T * scale) v for each query of the block.
  void (*attend)(const AttnArgs& a);
  // y[i] = exp(x[i]) (tests)
  void (*exp)(const float* x, float* y, int64_t n);
  // y[i] = x[i] in f16, rounded to nearest even (F16C's rounding, ggml's fp32_to_fp16)
  void (*to_f16)(const float* x, uint16_t* y, int64_t n);
};

// The table for the active ISA.
const OpsTable& ops();

namespace ops_detail {
const OpsTable* scalar_ops();
#if defined(__x86_64__) || defined(_M_X64)
const OpsTable* avx2_ops();
const OpsTable* avx512_ops();
#endif
}  // namespace ops_detail

}  // namespace nnb
