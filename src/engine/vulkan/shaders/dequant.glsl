// The one dequantization routine of each weight type, shared by the matrix shaders (matvec,
// matmat, matmul), which are compiled once per type with -DTYPE_<type>.
//
//   void dequant16(uint row_off, uint b, uint h, uint K, out float w[16])
//     w := values 32*b + 16*h .. +15 of the weight row whose first byte is row_off.
//
// The including shader binds the weight chunk three times, as bytes (wb), halves (wh) and
// 32-bit words (ww); a type reads the views it needs. Runs of quant bytes are read as words
// (load16: 4 or 5 loads for 16 bytes, where lavapipe pays a gather per load of any width). Halves of 32-value blocks are the unit because
// every type's scales are constant over 16 values (the k-quants' finest sub-blocks), so a half
// reads its scale once, and a block splits over two threads where work is scarce.
// Layouts (ggml's): F32 / F16 / BF16 rows of K values; the float types zero values >= K (their
// rows need not be whole blocks), the quantized ones are always whole blocks of 32 (k-quants
// and IQ4_XS: superblocks of 256, read as 8 blocks of 32; layouts at their code). Every block
// size is even, so every row starts at an even byte and every f16 field sits at an even offset
// (readable through wh); other multi-byte fields are assembled from bytes.
// Each branch follows the operation order of the engine's reference dequantizers
// (src/engine/quant/quants_dequant*.cpp, quants_iq4.cpp), up to FMA contraction.

#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
// The 16 non-linear levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl).
const int kvalues_iq4nl[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
#endif

// The 16 bytes at byte o (even: every block field is 2-aligned) as 4 little-endian words. The
// word past them is read only when o is not 4-aligned (it then holds bytes o+14, o+15).
void load16(uint o, out uint q[4]) {
  const uint i = o >> 2;
  if ((o & 2u) == 0u) {
    [[unroll]] for (uint k = 0; k < 4; ++k) q[k] = ww[i + k];
  } else {
    uint a = ww[i];
    [[unroll]] for (uint k = 0; k < 4; ++k) {
      const uint b = ww[i + k + 1];
      q[k] = (a >> 16) | (b << 16);
      a = b;
    }
  }
}
// Byte j (0..15, a constant after unrolling) of what load16 read.
#define QBYTE(q, j) ((q[(j) >> 2] >> (8u * ((j) & 3u))) & 255u)

#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
// The 32-bit little-endian word at byte o (2-aligned): the fifth bits.
uint load_u32(uint o) {
  const uint i = o >> 2;
  return (o & 2u) == 0u ? ww[i] : (ww[i] >> 16) | (ww[i + 1] << 16);
}
#endif

#if defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at byte o.
void scale_min_k4(uint o, uint j, out uint sc, out uint mn) {
  if (j < 4) {
    sc = uint(wb[o + j]) & 63u;
    mn = uint(wb[o + j + 4]) & 63u;
  } else {
    sc = (uint(wb[o + j + 4]) & 15u) | ((uint(wb[o + j - 4]) >> 6) << 4);
    mn = (uint(wb[o + j + 4]) >> 4) | ((uint(wb[o + j]) >> 6) << 4);
  }
}
#endif

void dequant16(uint row_off, uint b, uint h, uint K, out float w[16]) {
  const uint v0 = b * 32 + h * 16;  // first value of the half in the row
#if defined(TYPE_F32)
  const uint base = row_off / 4 + v0;
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = (v0 + j < K) ? uintBitsToFloat(ww[base + j]) : 0.0;
#elif defined(TYPE_F16)
  const uint base = row_off / 2 + v0;
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = (v0 + j < K) ? float(wh[base + j]) : 0.0;
#elif defined(TYPE_BF16)
  // bf16 is the top half of an f32: two bytes, little-endian, shifted up.
  const uint base = row_off + 2 * v0;
  [[unroll]] for (uint j = 0; j < 16; ++j) {
    const uint o = base + 2 * j;
    w[j] = (v0 + j < K) ? uintBitsToFloat((uint(wb[o]) | (uint(wb[o + 1]) << 8)) << 16) : 0.0;
  }
#elif defined(TYPE_Q8_0)
  // 34 bytes: f16 d, 32 int8.
  const uint off = row_off + b * 34;
  const float d = float(wh[off / 2]);
  uint q[4];
  load16(off + 2 + 16 * h, q);
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = d * float(bitfieldExtract(int(QBYTE(q, j)), 0, 8));
#elif defined(TYPE_Q4_0)
  // 18 bytes: f16 d, 16 bytes of nibbles (low: values 0-15, high: 16-31); (q - 8) * d.
  const uint off = row_off + b * 18, shift = 4 * h;
  const float d = float(wh[off / 2]);
  uint q[4];
  load16(off + 2, q);
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = d * (float((QBYTE(q, j) >> shift) & 15u) - 8.0);
#elif defined(TYPE_Q4_1)
  // 20 bytes: f16 d, f16 m, 16 bytes of nibbles (as Q4_0); q*d + m.
  const uint off = row_off + b * 20, shift = 4 * h;
  const float d = float(wh[off / 2]), m = float(wh[off / 2 + 1]);
  uint q[4];
  load16(off + 4, q);
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = float((QBYTE(q, j) >> shift) & 15u) * d + m;
#elif defined(TYPE_Q5_0)
  // 22 bytes: f16 d, 4 bytes qh (bit v: the fifth bit of value v), 16 bytes of nibbles as in
  // Q4_0; (q - 16) * d.
  const uint off = row_off + b * 22, shift = 4 * h;
  const float d = float(wh[off / 2]);
  const uint qh = load_u32(off + 2) >> (16 * h);
  uint qs[4];
  load16(off + 6, qs);
  [[unroll]] for (uint j = 0; j < 16; ++j) {
    const uint q = ((QBYTE(qs, j) >> shift) & 15u) | (((qh >> j) & 1u) << 4);
    w[j] = float(int(q) - 16) * d;
  }
#elif defined(TYPE_Q5_1)
  // 24 bytes: f16 d, f16 m, 4 bytes qh, 16 bytes of nibbles; q*d + m.
  const uint off = row_off + b * 24, shift = 4 * h;
  const float d = float(wh[off / 2]), m = float(wh[off / 2 + 1]);
  const uint qh = load_u32(off + 4) >> (16 * h);
  uint qs[4];
  load16(off + 8, qs);
  [[unroll]] for (uint j = 0; j < 16; ++j) {
    const uint q = ((QBYTE(qs, j) >> shift) & 15u) | (((qh >> j) & 1u) << 4);
    w[j] = float(q) * d + m;
  }
#elif defined(TYPE_IQ4_NL)
  // 18 bytes: f16 d, 16 bytes of nibbles (low: values 0-15, high: 16-31) indexing the levels.
  const uint off = row_off + b * 18, shift = 4 * h;
  const float d = float(wh[off / 2]);
  uint q[4];
  load16(off + 2, q);
  [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = d * float(kvalues_iq4nl[(QBYTE(q, j) >> shift) & 15u]);
#elif defined(TYPE_Q2_K)
  // Superblocks of 256 values, 84 bytes: 16 scale bytes (low nibble: scale, high: min, one per
  // 16 values), 64 bytes of 2-bit quants, f16 d, f16 dmin. Each half of 128 values uses 32
  // quant bytes; its quarter q is bit pair q of those bytes. (d*sc)*q - (dmin*m).
  const uint sb = row_off + (b / 8) * 84, j = b % 8;
  const uint qo = sb + 16 + 32 * (j / 4) + 16 * h, shift = 2 * (j % 4);
  const float d = float(wh[(sb + 80) / 2]), dmin = float(wh[(sb + 82) / 2]);
  const uint sc = uint(wb[sb + 2 * j + h]);
  const float dl = d * float(sc & 15u), ml = dmin * float(sc >> 4);
  uint q[4];
  load16(qo, q);
  [[unroll]] for (uint l = 0; l < 16; ++l) w[l] = dl * float((QBYTE(q, l) >> shift) & 3u) - ml;
#elif defined(TYPE_Q3_K)
  // Superblocks of 256 values, 110 bytes: 32 bytes hmask (bit j of byte l: the high bit of
  // value l of block j), 64 bytes of 2-bit quants (as Q2_K), 12 bytes of 6-bit scales (16, one
  // per 16 values: low nibbles in bytes 0-7, high bit pairs in bytes 8-11, minus 32), f16 d.
  // A cleared high bit means the value is 4 lower: (d*s) * (q - 4*(1 - hb)).
  const uint sb = row_off + (b / 8) * 110, j = b % 8;
  const uint qo = sb + 32 + 32 * (j / 4) + 16 * h, shift = 2 * (j % 4), so = sb + 96, hm = sb + 16 * h;
  const float d = float(wh[(sb + 108) / 2]);
  const uint s = 2 * j + h;
  const uint lo = s < 8 ? uint(wb[so + s]) & 15u : uint(wb[so + s - 8]) >> 4;
  const uint hi = (uint(wb[so + 8 + s % 4]) >> (2 * (s / 4))) & 3u;
  const float dl = d * float(int(lo | (hi << 4)) - 32);
  uint qs[4], hs[4];
  load16(qo, qs);
  load16(hm, hs);
  [[unroll]] for (uint l = 0; l < 16; ++l) {
    const int q = int((QBYTE(qs, l) >> shift) & 3u) - (((QBYTE(hs, l) >> j) & 1u) != 0u ? 0 : 4);
    w[l] = dl * float(q);
  }
#elif defined(TYPE_Q4_K)
  // Superblocks of 256 values, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins
  // for its 8 sub-blocks of 32, then 128 bytes of nibbles (sub-blocks 2i and 2i+1 share 32
  // bytes: low nibbles, high nibbles). Block b is sub-block j of superblock b / 8.
  const uint sb = row_off + (b / 8) * 144, j = b % 8;
  const float d = float(wh[sb / 2]), dmin = float(wh[sb / 2 + 1]);
  uint sc, mn;
  scale_min_k4(sb + 4, j, sc, mn);
  const float d1 = d * float(sc), m1 = dmin * float(mn);
  const uint qo = sb + 16 + 32 * (j / 2) + 16 * h, shift = 4 * (j % 2);
  uint q[4];
  load16(qo, q);
  [[unroll]] for (uint l = 0; l < 16; ++l) w[l] = d1 * float((QBYTE(q, l) >> shift) & 15u) - m1;
#elif defined(TYPE_Q5_K)
  // Superblocks of 256 values, 176 bytes: f16 d, f16 dmin, 12 bytes of scales and mins (as
  // Q4_K), 32 bytes qh (bit j of byte l: the fifth bit of value l of sub-block j), 128 bytes of
  // nibbles (as Q4_K). (d*sc)*q - (dmin*m).
  const uint sb = row_off + (b / 8) * 176, j = b % 8;
  const float d = float(wh[sb / 2]), dmin = float(wh[sb / 2 + 1]);
  uint sc, mn;
  scale_min_k4(sb + 4, j, sc, mn);
  const float d1 = d * float(sc), m1 = dmin * float(mn);
  const uint qo = sb + 48 + 32 * (j / 2) + 16 * h, shift = 4 * (j % 2), qh = sb + 16 + 16 * h;
  uint qs[4], hs[4];
  load16(qo, qs);
  load16(qh, hs);
  [[unroll]] for (uint l = 0; l < 16; ++l) {
    const uint q = ((QBYTE(qs, l) >> shift) & 15u) | (((QBYTE(hs, l) >> j) & 1u) << 4);
    w[l] = d1 * float(q) - m1;
  }
#elif defined(TYPE_IQ4_XS)
  // Superblocks of 256 values, 136 bytes: f16 d, 2 bytes scales_h (bits 2j, 2j+1: the high
  // bits of sub-block j's 6-bit scale), 4 bytes scales_l (a nibble per sub-block: its low
  // bits), 128 bytes of nibbles (16 per sub-block, as IQ4_NL). d * (scale - 32) * level.
  const uint sb = row_off + (b / 8) * 136, j = b % 8;
  const float d = float(wh[sb / 2]);
  const uint sh = uint(wb[sb + 2]) | (uint(wb[sb + 3]) << 8);
  const uint ls = ((uint(wb[sb + 4 + j / 2]) >> (4 * (j % 2))) & 15u) | (((sh >> (2 * j)) & 3u) << 4);
  const float dl = d * float(int(ls) - 32);
  const uint qo = sb + 8 + 16 * j, shift = 4 * h;
  uint q[4];
  load16(qo, q);
  [[unroll]] for (uint l = 0; l < 16; ++l) w[l] = dl * float(kvalues_iq4nl[(QBYTE(q, l) >> shift) & 15u]);
#elif defined(TYPE_Q6_K)
  // Superblocks of 256 values, 210 bytes: 128 bytes of low 4 bits, 64 of high 2 bits, 16 int8
  // scales (one per 16 values), f16 d last. Each half of 128 values uses 64 + 32 bytes; its
  // quarter q takes low/high nibbles of ql[l] / ql[l + 32] and bit pair q of qh[l].
  const uint sb = row_off + (b / 8) * 210, j = b % 8;
  const uint hf = j / 4, q = j % 4;
  const uint ql = sb + 64 * hf + (q % 2) * 32 + 16 * h, qh = sb + 128 + 32 * hf + 16 * h;
  const float d = float(wh[(sb + 208) / 2]);
  const float s = float(bitfieldExtract(int(uint(wb[sb + 192 + 8 * hf + 2 * q + h])), 0, 8));
  uint ls[4], hs[4];
  load16(ql, ls);
  load16(qh, hs);
  [[unroll]] for (uint l = 0; l < 16; ++l) {
    const uint lo = (QBYTE(ls, l) >> (4 * (q / 2))) & 15u;
    const uint hi = (QBYTE(hs, l) >> (2 * q)) & 3u;
    w[l] = d * s * (float(lo | (hi << 4)) - 32.0);
  }
#else
#error "no weight type"
#endif
}
