// Weights repacked at load for mat-vec products (generation): Q4_0, Q4_K, Q5_K, Q6_K and Q8_0
// in panels of 16 rows.
//
// Why: the stored block formats interleave scales with codes (Q4_0: 2 bytes of scale before
// every 16 bytes of codes, Q8_0 before every 32 signed ones, which dpbusd takes only after a
// sign swap; Q4_K: 6-bit scales and mins packed three to two bytes), so the one-row kernels spend
// most of their instructions moving codes into place and spreading scales over lanes, around a
// few dpbusd: 15-20 GB/s of weights even from L2, against 26-30 GB/s of DRAM read on one core.
// Repacked rows (one 512-bit register holding four codes of each of 16 blocks of one row) fixed
// that for one token; panels (16 rows interleaved, below) also serve the small batches of a
// batching server, where a row layout needs a full activation vector per dpbusd and a horizontal
// sum per row and token. A panel is read front to back, super-block by super-block, each one's
// scales first (with the scales after the codes, a row read jumped to its end and back at every
// group, and two threads streaming so ran 5-12 % slower: Q8_0 generation, 2 threads).
//
// Q4_K panels (rows interleaved, not blocks): 16 consecutive rows share one panel, per
// super-block (256 elements) 2368 bytes, the scales first:
//   scales u8 [8][16] (6-bit scale of sub-block j of row r at 16j + r) | mins u8 [8][16] |
//          fp16 d[16] | fp16 dmin[16]   (320 bytes)
//   codes  [4][8][64]: pair p, step t: bytes 4r .. 4r+3 = qs[32p + 4t ..] of row r, whose low
//          nibbles are elements 64p + 4t + k (sub-block 2p), high ones 64p + 32 + 4t + k (2p+1)
//   A 64-byte chunk holds 4 codes of each of 16 rows, so one dpbusd against 4 activation bytes
//   broadcast gives the 16 rows' partial sums: the lanes end as 16 rows' results, no horizontal
//   sums, and a small batch reuses each chunk for every token. AVX2 takes each
//   chunk's two 256-bit halves (rows 0-7, 8-15) as two registers. 148 bytes per row and
//   super-block (the stored 144 plus the scales unpacked), against 160 for the per-row Q4_K
//   layout panels replaced, at K = 1024. A matrix takes it only when its rows are a multiple of
//   16.
//   activation, per super-block: int8 q[256] | f32 d | f32 sum(q)[8] (per 32) | pad  (320 bytes)
// Q5_K panels: Q4_K's panels with the codes' fifth bits in planes between the scales
//   and the codes (2880 bytes per super-block, 180 per row): planes [8][64], bits 2u and 2u + 1
//   of byte 4r + k of plane v = the fifth bits of the low and high codes at that byte of chunk
//   4v + u. Before the codes, not after: every chunk needs its plane, and a row (or panel) read
//   front to back streams faster (the per-row Q5_K layout with its planes after the nibbles ran
//   from memory at 17-21 instead of 21-23 GB/s on one core, K = 1024). Activation as Q4_K's.
// Q6_K panels: 16 rows a panel as Q4_K's, per super-block 3392 bytes; step s = the
// elements 4s .. 4s+3 (s < 64; sub-block s / 4), codes = value + 32 (0..63):
//   scales int8 [16][16] (sub-block j of row r at 16j + r) | fp16 d[16] | pad   (320 bytes)
//   lo     [32][64]: register k, bytes 4r .. 4r+3: the low 4 bits of step k of row r (low
//          nibbles) and of step k + 32 (high nibbles)
//   top    [16][64]: register m: the 2-bit tops of steps m, m + 16, m + 32, m + 48 at bits 0-1,
//          2-3, 4-5, 6-7
//   212 bytes per row and super-block (the stored 210 plus alignment). (The per-row layout it
//   replaced, lanes = sub-blocks of one row, ran 4 and 8 tokens at 73 and 83 M row-products/s
//   from L2, these 169 and 170; one token the same, 55.)
//   activation, per super-block: int8 q[256] | int32 -32*sum(q)[16] (per 16) | f32 d | pad
//   (384 bytes)
// Q4_0 panels: 16 rows a panel as Q4_K's, per super-block of 8 blocks (256 elements) 2304
//   bytes: scales fp16 d[8][16] (block j of row r at 32j + 2r) | codes [8][4][64]: block j, step
//   t: bytes 4r .. 4r+3 = qs[4t ..] of row r (low nibbles elements 4t + k, high ones 16 + 4t + k).
//   144 bytes per row and super-block, the stored size. K need only be a multiple of 32: a last
//   super-block of fewer blocks is padded with blocks of scale 0. (The per-row layout it replaced,
//   groups of 16 blocks, ran 8 tokens at 118 M row-products/s from L2 on AVX-512, these 228-234.)
//   activation, per super-block: int8 q[256] | f32 d[8] | int32 -8*sum(q)[8] | pad  (320 bytes)
// Q8_0 panels (AVX-512 only: AVX2's maddubs would saturate on the unsigned codes): as Q4_0's with
//   8 chunks a block, bytes 4r .. 4r+3 of chunk t = qs[4t ..] + 128 of row r (unsigned, as dpbusd
//   takes them), 4352 bytes per super-block, 272 per row (the stored size); activation as
//   Q4_0's, with -128*sum(q) for the bias.
// Activation values are those of quantize_row_activation (Q8_0 resp. Q8_K); results equal the
// one-row kernels up to the order of the float additions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/cpu/vec_dot.h"

namespace nnb {

// s[r] = dot(packed weight row r, act), r < n: one token against a range of rows (generation);
// rows starts a panel and n is a multiple of PackedFormat::panel. Each result the same, bit for
// bit, as dot_panel's for that token.
using PackedRowsFn = void (*)(int64_t K, float* s, const void* rows, size_t row_bytes, int64_t n, const void* act);

// s[t * s_stride + i] = dot(row i of the panel, activation row t at act + t * act_stride),
// i < PackedFormat::panel, any n >= 1; each token's result the same, bit for bit, whatever n
// (and dot_rows' for that token). The kernel touches the bytes `ahead` beyond each super-block it
// reads (row_prefetch.h's distance), or 2 super-blocks when ahead is 0 (vec_dot_panel_impl.h:
// the hardware prefetchers do not follow a super-block's streams): with several tokens they fall
// behind too (Q4_K, K = 4096, 4 tokens from memory: 88 M row-products/s without, 172-234 with
// 2-4 super-blocks ahead). dot_rows prefetches 2 ahead.
using PackedDotPanelFn = void (*)(int64_t K, float* s, size_t s_stride, const void* panel, const void* act,
                                  size_t act_stride, int n, size_t ahead);

// An ISA's panel kernels, in the order Q4_0, Q4_K, Q5_K, Q6_K, Q8_0, nullptr where it has none
// (each vec_dot_panel_<isa>.cpp exports one: kern::avx512_panel_kernels, kern::avx2_panel_kernels).
struct PanelKernels {
  PackedDotPanelFn dot[5];
  PackedRowsFn rows[5];
};

struct PackedFormat {
  GgmlType type;      // the stored type it repacks
  int64_t group;      // elements per super-block (256); a row's last may be part padding (Q4_0, Q8_0)
  size_t code_bytes;  // a row's share of a super-block's bytes in a panel
  size_t act_bytes;   // per super-block of a packed activation row (a multiple of 64)
  // Packs rows [r0, r1) (multiples of panel; row r at src + r * row_bytes, K a multiple of the
  // block size) into the row-r slots of dst (row_bytes(K) apart).
  void (*pack_rows)(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst);
  // Quantizes one activation row into the packed activation layout.
  void (*prepare)(const float* x, int64_t K, uint8_t* dst);
  PackedRowsFn dot_rows = nullptr;
  PackedDotPanelFn dot_panel = nullptr;
  int panel = 16;  // rows interleaved per panel
  // The fewest tokens of a product for which the prompt GEMM (vec_dot_gemm.h) beats dot_panel,
  // measured per type and ISA (cpu_device.cpp has the figures); INT32_MAX: never.
  int32_t gemm_min = INT32_MAX;

  int64_t groups(int64_t K) const { return (K + group - 1) / group; }
  size_t row_bytes(int64_t K) const { return size_t(groups(K)) * code_bytes; }
  // Whether a matrix of that many rows can take the format.
  bool fits(int64_t rows) const { return rows % panel == 0; }
  size_t act_row_bytes(int64_t K) const { return size_t(groups(K)) * act_bytes; }
};

// The packed format of type t with a kernel on the active ISA, or nullptr: Q4_0, Q4_K, Q5_K,
// Q6_K and Q8_0 on AVX-512 (vec_dot_panel_avx512.cpp), all but Q8_0 on AVX2
// (vec_dot_panel_avx2.cpp), none on the scalar path.
const PackedFormat* packed_format(GgmlType t);
const PackedFormat* packed_format_for(GgmlType t, Isa isa);

}  // namespace nnb
