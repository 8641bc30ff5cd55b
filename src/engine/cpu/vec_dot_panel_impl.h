// The loops over a panel (vec_dot_packed.h: 16 rows interleaved) that every ISA's panel kernels
// share: vec_dot_panel_avx512.cpp and vec_dot_panel_avx2.cpp give a format's work on one
// super-block (F below); this file walks the super-blocks and the tokens.
//
// Compiled into files built with different instruction-set flags: everything here is in an
// anonymous namespace (see vec_dot_impl.h for why nothing may have external linkage).
//
// F (a format on one ISA) provides:
//   kBytes, kAct       a super-block's bytes in a panel, in a prepared activation row
//   kTile              the most tokens one pass over a super-block keeps in registers
//   kUnpackOnce        whether a batch of more than kTile tokens unpacks each super-block's codes
//                      once (into pre, kPre bytes) instead of once per tile (PanelDefaults: no)
//   Acc                the 16 rows' running results of one token (registers)
//   zero(), load(p), store(p, acc)   Acc from / to 16 floats
//   block<C>(sb, act, act_stride, acc, pre)   acc[c] += super-block sb against token c's
//                      activation (act + c * act_stride), C <= kTile; pre: nullptr or the
//                      codes unpack() left there
//   unpack(sb, pre)    (PanelDefaults: none)
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/cpu/vec_dot_packed.h"
#include "engine/quant/ggml_types.h"

namespace nnb::kern {
namespace {

constexpr int64_t kPanelRows = 16;

// What a format without an unpack-once pass inherits.
struct PanelDefaults {
  static constexpr bool kUnpackOnce = false;
  static constexpr size_t kPre = 0;
  static void unpack(const uint8_t*, uint8_t*) {}
};

// The layouts' sizes (vec_dot_packed.h), per super-block of a panel and of a prepared activation.
constexpr size_t kMeta = 320;  // Q4_K / Q5_K: scales, mins, d, dmin; then (Q5_K) planes, codes
template <bool kFive>
constexpr size_t kSuper = kMeta + (kFive ? 512 : 0) + 2048;
constexpr size_t kActSuper = 320;
constexpr size_t kQ6Meta = 320, kQ6Super = 320 + 3072, kQ6ActSuper = 384;
constexpr size_t kQ40Super = 256 + 2048, kQ80Super = 256 + 4096;  // Q4_0, Q8_0: scales, codes
constexpr size_t kQ8ActSuper = 320;  // Q4_0 and Q8_0: the Q8_0-quantized activation

// The lines of a super-block's bytes, into L1.
template <size_t kBytes>
inline void prefetch_super_block(const uint8_t* p) {
  for (size_t x = 0; x < kBytes; x += 64) __builtin_prefetch(p + x, 0, 3);
}

// How far ahead a panel kernel prefetches: the device's distance, and 2 super-blocks where the
// device prefetches nothing. A panel's super-block is read as 2-3 interleaved streams (Q5_K:
// planes and codes, Q6_K: two nibble areas and the tops) that start again at every super-block,
// which the hardware prefetchers do not follow: one core reading from memory (vec_dot_bench
// matvec_dram, K = 1024, Zen 5 VM, 3 rounds) got Q5_K 8.5-8.9 GB/s without software prefetch
// and 24-29 with 1-2 super-blocks ahead, Q6_K 19-20 vs 26-31 (on AVX2 Q5_K 5.9-6.9 vs 14-22,
// Q6_K 6.8-8.5 vs 16-22); Q4_K, one stream, about even (23.5-25.6 vs 24-30).
template <class F>
inline size_t panel_ahead(size_t ahead) {
  return ahead ? ahead : 2 * F::kBytes;
}

// Up to kTile tokens over the whole panel, results in registers; ahead: panel_ahead's.
template <class F, int C>
inline __attribute__((always_inline)) void panel_tile(int64_t nsb, const uint8_t* panel, const uint8_t* act,
                                                     size_t act_stride, float* out, size_t out_stride, size_t ahead) {
  typename F::Acc acc[C];
  for (int c = 0; c < C; ++c) acc[c] = F::zero();
  for (int64_t i = 0; i < nsb; ++i) {
    prefetch_super_block<F::kBytes>(panel + size_t(i) * F::kBytes + ahead);
    F::template block<C>(panel + size_t(i) * F::kBytes, act + size_t(i) * F::kAct, act_stride, acc, nullptr);
  }
  for (int c = 0; c < C; ++c) F::store(out + size_t(c) * out_stride, acc[c]);
}

// Tokens t0 .. t0 + C of super-block i, their running results kept in out between super-blocks.
template <class F, int C>
inline __attribute__((always_inline)) void super_block_tokens(int64_t i, const uint8_t* panel, const uint8_t* act,
                                                             size_t act_stride, float* out, size_t out_stride,
                                                             const uint8_t* pre) {
  typename F::Acc acc[C];
  for (int c = 0; c < C; ++c) acc[c] = i == 0 ? F::zero() : F::load(out + size_t(c) * out_stride);
  F::template block<C>(panel + size_t(i) * F::kBytes, act + size_t(i) * F::kAct, act_stride, acc, pre);
  for (int c = 0; c < C; ++c) F::store(out + size_t(c) * out_stride, acc[c]);
}

// 1 <= n <= kTile tokens in one pass of panel_tile.
template <class F, int C = F::kTile>
inline __attribute__((always_inline)) void panel_tile_n(int n, int64_t nsb, const uint8_t* panel, const uint8_t* act,
                                                       size_t act_stride, float* out, size_t out_stride,
                                                       size_t ahead) {
  if constexpr (C > 1)
    if (n < C) return panel_tile_n<F, C - 1>(n, nsb, panel, act, act_stride, out, out_stride, ahead);
  panel_tile<F, C>(nsb, panel, act, act_stride, out, out_stride, ahead);
}

// The remaining 1 <= n < kTile tokens of super-block i.
template <class F, int C = F::kTile - 1>
inline __attribute__((always_inline)) void super_block_tail(int n, int64_t i, const uint8_t* panel, const uint8_t* act,
                                                           size_t act_stride, float* out, size_t out_stride,
                                                           const uint8_t* pre) {
  if constexpr (C > 1)
    if (n < C) return super_block_tail<F, C - 1>(n, i, panel, act, act_stride, out, out_stride, pre);
  if constexpr (C >= 1) super_block_tokens<F, C>(i, panel, act, act_stride, out, out_stride, pre);
}

// Up to kTile tokens (kUnpackOnce formats: one): one pass over the panel. More: super-block by
// super-block, every tile before the next super-block, so each super-block's bytes are read from
// memory once and the rest of the time from L1 (a panel of a 2816-wide row is 26 KiB: with the
// tiles one after the other over the whole panel, the second tile read it from L2). A token's
// operations stay the same whatever n, so its result does too.
template <class F>
void panel_dot(int64_t K, float* s, size_t s_stride, const void* vpanel, const void* vact, size_t act_stride, int n,
               size_t ahead) {
  const int64_t nsb = (K + QK_K - 1) / QK_K;  // Q4_0: a last super-block may be part padding
  const uint8_t* panel = static_cast<const uint8_t*>(vpanel);
  const uint8_t* act = static_cast<const uint8_t*>(vact);
  ahead = panel_ahead<F>(ahead);
  if (n == 1 || (!F::kUnpackOnce && n <= F::kTile))
    return panel_tile_n<F>(n, nsb, panel, act, act_stride, s, s_stride, ahead);
  alignas(64) uint8_t pre_codes[F::kUnpackOnce ? F::kPre : 64];
  const uint8_t* pre = F::kUnpackOnce ? pre_codes : nullptr;
  for (int64_t i = 0; i < nsb; ++i) {
    prefetch_super_block<F::kBytes>(panel + size_t(i) * F::kBytes + ahead);
    if constexpr (F::kUnpackOnce) F::unpack(panel + size_t(i) * F::kBytes, pre_codes);
    int t = 0;
    for (; t + F::kTile <= n; t += F::kTile)
      super_block_tokens<F, F::kTile>(i, panel, act + size_t(t) * act_stride, act_stride, s + size_t(t) * s_stride,
                                      s_stride, pre);
    if (t < n)
      super_block_tail<F>(n - t, i, panel, act + size_t(t) * act_stride, act_stride, s + size_t(t) * s_stride, s_stride,
                          pre);
  }
}

// One token against n rows (a multiple of 16), panel by panel.
template <class F>
void panel_dot_rows(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act) {
  const uint8_t* base = static_cast<const uint8_t*>(rows);
  for (int64_t r = 0; r < n; r += kPanelRows)
    panel_tile<F, 1>((K + QK_K - 1) / QK_K, base + size_t(r) * row_bytes, static_cast<const uint8_t*>(act), 0, s + r, 0,
                     panel_ahead<F>(0));
}

// The exported table of an ISA's panel kernels (PanelKernels), F... in its order.
template <class... F>
constexpr PanelKernels panel_kernels() {
  return {{panel_dot<F>...}, {panel_dot_rows<F>...}};
}

}  // namespace
}  // namespace nnb::kern
