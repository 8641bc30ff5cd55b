// Packing of weights and activations into the layouts of vec_dot_packed.h (portable code: it
// runs once per model, resp. once per activation row of a product) and the format table.
#include "engine/cpu/vec_dot_packed.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/quant/quants.h"

namespace nnb {
#if defined(__x86_64__) || defined(_M_X64)
namespace kern {
extern const PanelKernels avx512_panel_kernels, avx2_panel_kernels;
}  // namespace kern
#endif

namespace {

// ---- Q4_K ----------------------------------------------------------------------------------------

// Scale and min of sub-block j (0..7) from a Q4_K block's 12 packed bytes (ggml's layout:
// 6 bits each; sub-blocks 4..7 keep their low 4 bits in bytes 8..11 and their top 2 bits in the
// top bits of bytes 0..7).
void q4_K_scale_min(const uint8_t* q, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

template <bool kFive>
void pack_k4_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst);
void prepare_q4_K_panel_act(const float* x, int64_t K, uint8_t* dst);
void pack_q6_K_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst);
void prepare_q6_K_panel_act(const float* x, int64_t K, uint8_t* dst);
template <class Block>
void pack_q8_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst);
template <int kBias>
void prepare_q8_panel_act(const float* x, int64_t K, uint8_t* dst);
// A panel format: 16 rows, super-blocks of 256 elements, row_share bytes of one per row.
PackedFormat panels(GgmlType t, size_t row_share, size_t act_bytes, decltype(PackedFormat::pack_rows) pack,
                    decltype(PackedFormat::prepare) prepare) {
  return PackedFormat{t, QK_K, row_share, act_bytes, pack, prepare};
}
const PackedFormat kQ4_KPanels = panels(GgmlType::Q4_K, 148, 320, pack_k4_panels<false>, prepare_q4_K_panel_act);
const PackedFormat kQ5_KPanels = panels(GgmlType::Q5_K, 180, 320, pack_k4_panels<true>, prepare_q4_K_panel_act);
const PackedFormat kQ6_KPanels = panels(GgmlType::Q6_K, 212, 384, pack_q6_K_panels, prepare_q6_K_panel_act);
const PackedFormat kQ4_0Panels =
    panels(GgmlType::Q4_0, 144, 320, pack_q8_panels<block_q4_0>, prepare_q8_panel_act<8>);
const PackedFormat kQ8_0Panels =
    panels(GgmlType::Q8_0, 272, 320, pack_q8_panels<block_q8_0>, prepare_q8_panel_act<128>);

// Rows r0 .. r1 (multiples of 16) into panels of 16 (vec_dot_packed.h): put(sb, k, blocks, n)
// for every super-block sb of every panel (zeroed first) and each of its rows k, blocks that
// row's n stored blocks there (the K-quants: one; Q4_0 and Q8_0: 8, fewer in a last super-block
// that is part padding).
template <class Block, class Put>
void pack_panels(const PackedFormat& f, const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1,
                 uint8_t* dst, Put put) {
  const size_t sb_bytes = 16 * f.code_bytes;
  const int64_t per = QK_K / traits(f.type).block_size, nb = K / traits(f.type).block_size;
  for (int64_t r = r0; r < r1; r += 16)
    for (int64_t i = 0; i < f.groups(K); ++i) {
      uint8_t* sb = dst + size_t(r) * f.row_bytes(K) + size_t(i) * sb_bytes;
      std::memset(sb, 0, sb_bytes);
      for (int k = 0; k < 16; ++k)
        put(sb, k, reinterpret_cast<const Block*>(src + size_t(r + k) * row_bytes) + i * per,
            int(std::min(per, nb - i * per)));
    }
}

// Q4_K and Q5_K panels.
template <bool kFive>
void pack_k4_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst) {
  using Block = std::conditional_t<kFive, block_q5_K, block_q4_K>;
  pack_panels<Block>(kFive ? kQ5_KPanels : kQ4_KPanels, src, row_bytes, K, r0, r1, dst,
                     [](uint8_t* sb, int k, const Block* blocks, int) {
                       const Block& b = *blocks;
                       uint8_t* planes = sb + 320;  // Q5_K: [8][64]
                       uint8_t* codes = planes + (kFive ? 512 : 0);
                       for (int j = 0; j < 8; ++j) q4_K_scale_min(b.scales, j, &sb[16 * j + k], &sb[128 + 16 * j + k]);
                       std::memcpy(sb + 256 + 2 * k, &b.d, 2);
                       std::memcpy(sb + 288 + 2 * k, &b.dmin, 2);
                       for (int p = 0; p < 4; ++p)
                         for (int t = 0; t < 8; ++t) {
                           std::memcpy(codes + (p * 8 + t) * 64 + 4 * k, b.qs + 32 * p + 4 * t, 4);
                           if constexpr (kFive) {
                             // chunk ci = 8p + t: plane ci / 4, bits 2(ci % 4) (low code) and 2(ci % 4) + 1
                             // (high); the fifth bit of element 4t + e of sub-block 2p (2p + 1) is bit
                             // 2p (2p + 1) of qh[4t + e]
                             const int ci = p * 8 + t;
                             for (int e = 0; e < 4; ++e) {
                               const uint8_t h = b.qh[4 * t + e];
                               uint8_t& byte = planes[64 * (ci / 4) + 4 * k + e];
                               byte |= uint8_t(((h >> (2 * p)) & 1) << (2 * (ci % 4)));
                               byte |= uint8_t(((h >> (2 * p + 1)) & 1) << (2 * (ci % 4) + 1));
                             }
                           }
                         }
                     });
}

// A panel format's activation row: per super-block the Q8_K codes, then what tail(a, q) writes
// after them (the layout's sums and scale).
template <class Tail>
void prepare_panel_act(const PackedFormat& f, const float* x, int64_t K, uint8_t* dst, Tail tail) {
  std::memset(dst, 0, f.act_row_bytes(K));
  for (int64_t i = 0; i < K / QK_K; ++i) {
    block_q8_K q;
    quantize_row_activation(GgmlType::Q8_K, x + i * QK_K, &q, QK_K);
    uint8_t* a = dst + size_t(i) * f.act_bytes;
    std::memcpy(a, q.qs, QK_K);
    tail(a, q);
  }
}

void prepare_q4_K_panel_act(const float* x, int64_t K, uint8_t* dst) {
  prepare_panel_act(kQ4_KPanels, x, K, dst, [](uint8_t* a, const block_q8_K& q) {
    std::memcpy(a + 256, &q.d, 4);
    for (int j = 0; j < 8; ++j) {
      const float sum = float(q.bsums[2 * j] + q.bsums[2 * j + 1]);
      std::memcpy(a + 260 + 4 * j, &sum, 4);
    }
  });
}

// The 256 6-bit codes (value + 32, 0..63) of a Q6_K block in element order (ggml's layout: per
// half of 128, ql holds the low 4 bits of elements l and l + 64 in one byte, of l + 32 and
// l + 96 in another, and qh their top 2 bits, 2 bits each).
void q6_K_codes(const block_q6_K& b, uint8_t q[QK_K]) {
  for (int n = 0; n < 2; ++n) {
    const uint8_t* ql = b.ql + 64 * n;
    const uint8_t* qh = b.qh + 32 * n;
    for (int l = 0; l < 32; ++l) {
      q[128 * n + l] = uint8_t((ql[l] & 0xF) | ((qh[l] & 3) << 4));
      q[128 * n + l + 32] = uint8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
      q[128 * n + l + 64] = uint8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      q[128 * n + l + 96] = uint8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}

// Q6_K panels.
void pack_q6_K_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst) {
  pack_panels<block_q6_K>(kQ6_KPanels, src, row_bytes, K, r0, r1, dst, [](uint8_t* sb, int k, const block_q6_K* blocks,
                                                                           int) {
    const block_q6_K& b = *blocks;
    uint8_t* lo = sb + 320;
    uint8_t* top = lo + 2048;
    uint8_t q[QK_K];
    q6_K_codes(b, q);
    for (int j = 0; j < 16; ++j) sb[16 * j + k] = uint8_t(b.scales[j]);
    std::memcpy(sb + 256 + 2 * k, &b.d, 2);
    for (int e = 0; e < 4; ++e) {
      for (int st = 0; st < 32; ++st)  // lo register st: steps st (low nibbles) and st + 32
        lo[64 * st + 4 * k + e] = uint8_t((q[4 * st + e] & 0xF) | ((q[4 * (st + 32) + e] & 0xF) << 4));
      for (int m = 0; m < 16; ++m)  // top register m: steps m, m + 16, m + 32, m + 48
        top[64 * m + 4 * k + e] = uint8_t((q[4 * m + e] >> 4) | ((q[4 * (m + 16) + e] >> 4) << 2) |
                                          ((q[4 * (m + 32) + e] >> 4) << 4) | ((q[4 * (m + 48) + e] >> 4) << 6));
    }
  });
}

void prepare_q6_K_panel_act(const float* x, int64_t K, uint8_t* dst) {
  prepare_panel_act(kQ6_KPanels, x, K, dst, [](uint8_t* a, const block_q8_K& q) {
    for (int j = 0; j < 16; ++j) {
      const int32_t bias = -32 * int32_t(q.bsums[j]);
      std::memcpy(a + 256 + 4 * j, &bias, 4);
    }
    std::memcpy(a + 320, &q.d, 4);
  });
}

// Q4_0 and Q8_0 panels: 8 blocks a super-block; a row's last super-block may hold fewer (K a
// multiple of 32, not of 256), the rest padding of scale 0 that adds 0. Q4_0's code bytes as
// stored (4 chunks a block), Q8_0's values + 128 (8 chunks: unsigned, as dpbusd takes them).
template <class Block>
void pack_q8_panels(const uint8_t* src, size_t row_bytes, int64_t K, int64_t r0, int64_t r1, uint8_t* dst) {
  constexpr bool kQ8 = std::is_same_v<Block, block_q8_0>;
  constexpr int kChunks = kQ8 ? 8 : 4;
  pack_panels<Block>(kQ8 ? kQ8_0Panels : kQ4_0Panels, src, row_bytes, K, r0, r1, dst,
                     [](uint8_t* sb, int k, const Block* blocks, int n) {
                       for (int j = 0; j < n; ++j) {
                         const Block& b = blocks[j];
                         std::memcpy(sb + 32 * j + 2 * k, &b.d, 2);
                         for (int t = 0; t < kChunks; ++t)
                           for (int e = 0; e < 4; ++e)
                             sb[256 + (j * kChunks + t) * 64 + 4 * k + e] =
                                 uint8_t(kQ8 ? b.qs[4 * t + e] ^ 0x80 : b.qs[4 * t + e]);
                       }
                     });
}

// Their activation: per super-block the Q8_0 codes of its 8 blocks, their d (f32), and -kBias x
// each block's sum of codes (the codes' offset: Q4_0's 8, Q8_0's 128).
template <int kBias>
void prepare_q8_panel_act(const float* x, int64_t K, uint8_t* dst) {
  const PackedFormat& f = kQ4_0Panels;  // one layout for both
  std::memset(dst, 0, f.act_row_bytes(K));
  const int64_t nb = K / QK8_0;
  for (int64_t b = 0; b < nb; ++b) {
    block_q8_0 q;
    quantize_row_activation(GgmlType::Q8_0, x + b * QK8_0, &q, QK8_0);
    uint8_t* a = dst + size_t(b / 8) * f.act_bytes;
    const int j = int(b % 8);
    std::memcpy(a + 32 * j, q.qs, QK8_0);
    const float d = fp16_to_fp32(q.d);
    int32_t sum = 0;
    for (int8_t v : q.qs) sum += v;
    const int32_t bias = -kBias * sum;
    std::memcpy(a + 256 + 4 * j, &d, 4);
    std::memcpy(a + 288 + 4 * j, &bias, 4);
  }
}

}  // namespace

const PackedFormat* packed_format_for(GgmlType t, Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  // Formats by ISA, in PanelKernels' order; a format without a kernel on an ISA is not offered
  // there (Q8_0 on AVX2: its + 128 codes would saturate maddubs' int16 sums).
  struct Table {
    PackedFormat f[5] = {kQ4_0Panels, kQ4_KPanels, kQ5_KPanels, kQ6_KPanels, kQ8_0Panels};
    explicit Table(const PanelKernels& k) {
      for (size_t i = 0; i < 5; ++i) {
        f[i].dot_panel = k.dot[i];
        f[i].dot_rows = k.rows[i];
      }
    }
  };
  static const Table avx512 = [] {
    Table t(kern::avx512_panel_kernels);
    t.f[3].gemm_min = 40;
    t.f[4].gemm_min = 128;  // Q4_0, Q4_K, Q5_K: never
    return t;
  }();
  static const Table avx2 = [] {
    Table t(kern::avx2_panel_kernels);
    t.f[0].gemm_min = 48;
    t.f[1].gemm_min = 48;
    t.f[2].gemm_min = 128;
    t.f[3].gemm_min = 40;
    return t;
  }();
  if (isa == Isa::Scalar || !dot_kernel_for(t, isa)) return nullptr;  // also: the CPU lacks the ISA
  const Table& table = isa == Isa::Avx512 ? avx512 : avx2;
  for (const PackedFormat& f : table.f)
    if (f.type == t && f.dot_panel) return &f;
#endif
  (void)t;
  (void)isa;
  return nullptr;
}

const PackedFormat* packed_format(GgmlType t) { return packed_format_for(t, active_isa()); }

}  // namespace nnb
