// Q4_0 weights repacked at load for mat-vec products (generation).
//
// Why: the stored Q4_0 layout puts a 2-byte scale before every 16 bytes of codes, so the one-row
// AVX-512 kernel pays, per pair of blocks, two broadcasts, an insert, a masked shift and a scale
// permute around its one dpbusd. On one core that work, not memory, bounds generation: 15-19
// GB/s of weights even from L2, against 26-30 GB/s of DRAM read on the machines measured.
// Repacked, one 512-bit register holds four codes of each of 16 blocks (lane b = block b), so
// the int32 lanes of a dpbusd chain are the blocks' sums and one conversion and one FMA per 16
// blocks apply the scales: about a third of the instructions per weight.
//
// Layout of a packed matrix (M rows, K columns; G = ceil(K / 512) groups of 16 blocks a row),
// codes and scales in two arrays so that each stays 64-byte aligned:
//   codes  [M][G][4][64]  byte 4b + j of chunk c = qs[4c + j] of block 16g + b: its low nibble
//                         is element 4c + j of the block, its high nibble element 16 + 4c + j
//   scales [M][G][16]     fp16 d of block 16g + b
// Blocks past the end of a row are padding: code 0x88 (value 0) and d = 0.
// A packed activation row, per group (PackedQ4_0::act_bytes): f32 d[16] | int32 -8*sum(q)[16] |
// int8 lo[4][64] | int8 hi[4][64], lo holding element 4c + j of block b at 64c + 4b + j and hi
// element 16 + 4c + j; the values are those of quantize_row_activation(Q8_0), padding zero.
// Results equal the one-row kernels up to the order of the float additions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/cpu/vec_dot.h"

namespace nnb {

struct PackedQ4_0 {
  static constexpr int64_t kGroupBlocks = 16;
  static int64_t groups(int64_t K) { return (K / 32 + kGroupBlocks - 1) / kGroupBlocks; }
  static size_t code_bytes(int64_t K) { return size_t(groups(K)) * 256; }  // per row
  static size_t scale_bytes(int64_t K) { return size_t(groups(K)) * 32; }  // per row
  static size_t act_bytes(int64_t K) { return size_t(groups(K)) * 640; }   // per activation row
};

// Packs rows [r0, r1) of a Q4_0 matrix (row r at src + r * row_bytes; K a multiple of 32) into
// the row-r slots of codes / scales.
void pack_q4_0_rows(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* codes,
                    uint8_t* scales);
// Quantizes one activation row (K a multiple of 32) into the packed activation layout.
void prepare_q4_0_act(const float* x, int64_t K, uint8_t* dst);

// s = dot(packed row, packed activation row): codes / scales point at the row's slots.
using PackedDotFn = void (*)(int64_t K, float* s, const uint8_t* codes, const uint8_t* scales, const uint8_t* act);
// The kernel of the active ISA (AVX-512 only so far), or nullptr: then nothing is packed.
PackedDotFn packed_q4_0_dot();
PackedDotFn packed_q4_0_dot_for(Isa isa);

}  // namespace nnb
