#version 450
// y[t][row0 + r] = dot(W row r, x[t]) for the rows of one weight chunk and up to TILE batch rows
// per workgroup. Workgroup (r, tile): each of its WG threads walks blocks b = tid, tid+WG, ...
// of row r, dequantizes each weight once and multiplies it with the TILE activation rows, then
// the workgroup sums its partial dot products in shared memory.
//
// The weight chunk is bound three times (bytes, halves, floats); a type uses the views it needs.
// Layouts (ggml's): F32 / F16 / BF16 rows of K values; Q8_0 blocks of 34 bytes (f16 scale, 32
// int8); Q4_0 blocks of 18 bytes (f16 scale, 16 bytes: low nibbles are values 0-15, high 16-31,
// minus 8); Q4_1, Q5_0, Q5_1 and IQ4_NL likewise (layouts at their code). Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K and IQ4_XS: superblocks of 256 values, read as 8 blocks of 32 (layouts at their code).
// Every block size is even, so every row starts at an even byte and every f16 field sits at an
// even offset (readable through wh); other multi-byte fields are assembled from bytes.
// Blocks are 32 values; float rows use the same loop with a bound check for the last block.
// Each branch follows the operation order of the engine's reference dequantizers
// (src/engine/quant/quants_dequant*.cpp, quants_iq4.cpp), up to FMA contraction.
#include "common.glsl"
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer WB { uint8_t wb[]; };
layout(std430, binding = 1) readonly buffer WH { float16_t wh[]; };
layout(std430, binding = 2) readonly buffer WF { float wf[]; };
layout(std430, binding = 3) readonly buffer XB { float x[]; };
layout(std430, binding = 4) writeonly buffer YB { float y[]; };

layout(push_constant) uniform P {
  uint K;          // row length (values)
  uint n;          // batch rows
  uint x_off;      // first float of batch row 0 in x
  uint x_stride;   // floats between batch rows of x
  uint y_stride;   // floats between batch rows of y
  uint row0;       // first output row of this chunk
  uint row_bytes;  // bytes per weight row
} p;

#define TILE 8
shared float red[TILE][WG];

#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
// The 16 non-linear levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl).
const int kvalues_iq4nl[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
#endif

#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
// The 32-bit little-endian word of fifth bits at byte o (not 4-aligned: read as bytes).
uint load_u32(uint o) {
  return uint(wb[o]) | (uint(wb[o + 1]) << 8) | (uint(wb[o + 2]) << 16) | (uint(wb[o + 3]) << 24);
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

void main() {
  const uint r = gl_WorkGroupID.x;
  const uint t0 = gl_WorkGroupID.y * TILE;
  const uint tid = gl_LocalInvocationID.x;
  const uint nt = min(TILE, p.n - t0);
  float acc[TILE];
  [[unroll]] for (uint t = 0; t < TILE; ++t) acc[t] = 0.0;

  const uint nb = (p.K + 31) / 32;
  for (uint b = tid; b < nb; b += WG) {
    float w[32];
#if defined(TYPE_F32)
    const uint base = r * (p.row_bytes / 4) + b * 32;
    [[unroll]] for (uint j = 0; j < 32; ++j) w[j] = (b * 32 + j < p.K) ? wf[base + j] : 0.0;
#elif defined(TYPE_F16)
    const uint base = r * (p.row_bytes / 2) + b * 32;
    [[unroll]] for (uint j = 0; j < 32; ++j) w[j] = (b * 32 + j < p.K) ? float(wh[base + j]) : 0.0;
#elif defined(TYPE_BF16)
    // bf16 is the top half of an f32: two bytes, little-endian, shifted up.
    const uint base = r * p.row_bytes + b * 64;
    [[unroll]] for (uint j = 0; j < 32; ++j) {
      const uint o = base + 2 * j;
      w[j] = (b * 32 + j < p.K) ? uintBitsToFloat((uint(wb[o]) | (uint(wb[o + 1]) << 8)) << 16) : 0.0;
    }
#elif defined(TYPE_Q8_0)
    const uint off = r * p.row_bytes + b * 34;
    const float d = float(wh[off / 2]);
    [[unroll]] for (uint j = 0; j < 32; ++j) w[j] = d * float(bitfieldExtract(int(uint(wb[off + 2 + j])), 0, 8));
#elif defined(TYPE_Q4_0)
    const uint off = r * p.row_bytes + b * 18;
    const float d = float(wh[off / 2]);
    [[unroll]] for (uint j = 0; j < 16; ++j) {
      const uint q = uint(wb[off + 2 + j]);
      w[j] = d * (float(q & 15u) - 8.0);
      w[j + 16] = d * (float(q >> 4) - 8.0);
    }
#elif defined(TYPE_Q4_1)
    // 20 bytes: f16 d, f16 m, 16 bytes of nibbles (low: values 0-15, high: 16-31); q*d + m.
    const uint off = r * p.row_bytes + b * 20;
    const float d = float(wh[off / 2]), m = float(wh[off / 2 + 1]);
    [[unroll]] for (uint j = 0; j < 16; ++j) {
      const uint q = uint(wb[off + 4 + j]);
      w[j] = float(q & 15u) * d + m;
      w[j + 16] = float(q >> 4) * d + m;
    }
#elif defined(TYPE_Q5_0)
    // 22 bytes: f16 d, 4 bytes qh (bit j: the fifth bit of value j), 16 bytes of nibbles as in
    // Q4_0; (q - 16) * d.
    const uint off = r * p.row_bytes + b * 22;
    const float d = float(wh[off / 2]);
    const uint qh = load_u32(off + 2);
    [[unroll]] for (uint j = 0; j < 16; ++j) {
      const uint q = uint(wb[off + 6 + j]);
      const uint h0 = ((qh >> j) << 4) & 16u, h1 = (qh >> (j + 12)) & 16u;
      w[j] = float(int((q & 15u) | h0) - 16) * d;
      w[j + 16] = float(int((q >> 4) | h1) - 16) * d;
    }
#elif defined(TYPE_Q5_1)
    // 24 bytes: f16 d, f16 m, 4 bytes qh, 16 bytes of nibbles; q*d + m.
    const uint off = r * p.row_bytes + b * 24;
    const float d = float(wh[off / 2]), m = float(wh[off / 2 + 1]);
    const uint qh = load_u32(off + 4);
    [[unroll]] for (uint j = 0; j < 16; ++j) {
      const uint q = uint(wb[off + 8 + j]);
      const uint h0 = ((qh >> j) << 4) & 16u, h1 = (qh >> (j + 12)) & 16u;
      w[j] = float((q & 15u) | h0) * d + m;
      w[j + 16] = float((q >> 4) | h1) * d + m;
    }
#elif defined(TYPE_IQ4_NL)
    // 18 bytes: f16 d, 16 bytes of nibbles (low: values 0-15, high: 16-31) indexing the levels.
    const uint off = r * p.row_bytes + b * 18;
    const float d = float(wh[off / 2]);
    [[unroll]] for (uint j = 0; j < 16; ++j) {
      const uint q = uint(wb[off + 2 + j]);
      w[j] = d * float(kvalues_iq4nl[q & 15u]);
      w[j + 16] = d * float(kvalues_iq4nl[q >> 4]);
    }
#elif defined(TYPE_Q2_K)
    // Superblocks of 256 values, 84 bytes: 16 scale bytes (low nibble: scale, high: min, one per
    // 16 values), 64 bytes of 2-bit quants, f16 d, f16 dmin. Each half of 128 values uses 32
    // quant bytes; its quarter q is bit pair q of those bytes. (d*sc)*q - (dmin*m).
    const uint sb = r * p.row_bytes + (b / 8) * 84, j = b % 8;
    const uint qo = sb + 16 + 32 * (j / 4), shift = 2 * (j % 4);
    const float d = float(wh[(sb + 80) / 2]), dmin = float(wh[(sb + 82) / 2]);
    [[unroll]] for (uint l = 0; l < 32; ++l) {
      const uint sc = uint(wb[sb + 2 * j + l / 16]);
      const float dl = d * float(sc & 15u), ml = dmin * float(sc >> 4);
      w[l] = dl * float((uint(wb[qo + l]) >> shift) & 3u) - ml;
    }
#elif defined(TYPE_Q3_K)
    // Superblocks of 256 values, 110 bytes: 32 bytes hmask (bit j of byte l: the high bit of
    // value l of block j), 64 bytes of 2-bit quants (as Q2_K), 12 bytes of 6-bit scales (16, one
    // per 16 values: low nibbles in bytes 0-7, high bit pairs in bytes 8-11, minus 32), f16 d.
    // A cleared high bit means the value is 4 lower: (d*s) * (q - 4*(1 - h)).
    const uint sb = r * p.row_bytes + (b / 8) * 110, j = b % 8;
    const uint qo = sb + 32 + 32 * (j / 4), shift = 2 * (j % 4), so = sb + 96;
    const float d = float(wh[(sb + 108) / 2]);
    float dl[2];
    [[unroll]] for (uint h = 0; h < 2; ++h) {
      const uint s = 2 * j + h;
      const uint lo = s < 8 ? uint(wb[so + s]) & 15u : uint(wb[so + s - 8]) >> 4;
      const uint hi = (uint(wb[so + 8 + s % 4]) >> (2 * (s / 4))) & 3u;
      dl[h] = d * float(int(lo | (hi << 4)) - 32);
    }
    [[unroll]] for (uint l = 0; l < 32; ++l) {
      const int q = int((uint(wb[qo + l]) >> shift) & 3u) - (((uint(wb[sb + l]) >> j) & 1u) != 0u ? 0 : 4);
      w[l] = dl[l / 16] * float(q);
    }
#elif defined(TYPE_Q4_K)
    // Superblocks of 256 values, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins
    // for its 8 sub-blocks of 32, then 128 bytes of nibbles (sub-blocks 2i and 2i+1 share 32
    // bytes: low nibbles, high nibbles). This block b is sub-block j of superblock b / 8.
    const uint sb = r * p.row_bytes + (b / 8) * 144, j = b % 8;
    const float d = float(wh[sb / 2]), dmin = float(wh[sb / 2 + 1]);
    uint sc, mn;
    scale_min_k4(sb + 4, j, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    const uint qo = sb + 16 + 32 * (j / 2), shift = 4 * (j % 2);
    [[unroll]] for (uint l = 0; l < 32; ++l) w[l] = d1 * float((uint(wb[qo + l]) >> shift) & 15u) - m1;
#elif defined(TYPE_Q5_K)
    // Superblocks of 256 values, 176 bytes: f16 d, f16 dmin, 12 bytes of scales and mins (as
    // Q4_K), 32 bytes qh (bit j of byte l: the fifth bit of value l of sub-block j), 128 bytes of
    // nibbles (as Q4_K). (d*sc)*q - (dmin*m).
    const uint sb = r * p.row_bytes + (b / 8) * 176, j = b % 8;
    const float d = float(wh[sb / 2]), dmin = float(wh[sb / 2 + 1]);
    uint sc, mn;
    scale_min_k4(sb + 4, j, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    const uint qo = sb + 48 + 32 * (j / 2), shift = 4 * (j % 2);
    [[unroll]] for (uint l = 0; l < 32; ++l) {
      const uint q = ((uint(wb[qo + l]) >> shift) & 15u) | (((uint(wb[sb + 16 + l]) >> j) & 1u) << 4);
      w[l] = d1 * float(q) - m1;
    }
#elif defined(TYPE_IQ4_XS)
    // Superblocks of 256 values, 136 bytes: f16 d, 2 bytes scales_h (bits 2j, 2j+1: the high
    // bits of sub-block j's 6-bit scale), 4 bytes scales_l (a nibble per sub-block: its low
    // bits), 128 bytes of nibbles (16 per sub-block, as IQ4_NL). d * (scale - 32) * level.
    const uint sb = r * p.row_bytes + (b / 8) * 136, j = b % 8;
    const float d = float(wh[sb / 2]);
    const uint sh = uint(wb[sb + 2]) | (uint(wb[sb + 3]) << 8);
    const uint ls = ((uint(wb[sb + 4 + j / 2]) >> (4 * (j % 2))) & 15u) | (((sh >> (2 * j)) & 3u) << 4);
    const float dl = d * float(int(ls) - 32);
    const uint qo = sb + 8 + 16 * j;
    [[unroll]] for (uint l = 0; l < 16; ++l) {
      const uint q = uint(wb[qo + l]);
      w[l] = dl * float(kvalues_iq4nl[q & 15u]);
      w[l + 16] = dl * float(kvalues_iq4nl[q >> 4]);
    }
#elif defined(TYPE_Q6_K)
    // Superblocks of 256 values, 210 bytes: 128 bytes of low 4 bits, 64 of high 2 bits, 16 int8
    // scales (one per 16 values), f16 d last. Each half of 128 values uses 64 + 32 bytes; its
    // quarter q takes low/high nibbles of ql[l] / ql[l + 32] and bit pair q of qh[l].
    const uint sb = r * p.row_bytes + (b / 8) * 210, j = b % 8;
    const uint h = j / 4, q = j % 4;
    const uint ql = sb + 64 * h + (q % 2) * 32, qh = sb + 128 + 32 * h, sc = sb + 192 + 8 * h + 2 * q;
    const float d = float(wh[(sb + 208) / 2]);
    [[unroll]] for (uint l = 0; l < 32; ++l) {
      const uint lo = (uint(wb[ql + l]) >> (4 * (q / 2))) & 15u;
      const uint hi = (uint(wb[qh + l]) >> (2 * q)) & 3u;
      const float s = float(bitfieldExtract(int(uint(wb[sc + l / 16])), 0, 8));
      w[l] = d * s * (float(lo | (hi << 4)) - 32.0);
    }
#else
#error "no weight type"
#endif
    const uint k0 = b * 32;
    for (uint t = 0; t < nt; ++t) {
      const uint xo = p.x_off + (t0 + t) * p.x_stride + k0;
      float s = 0.0;
      if (k0 + 32 <= p.K) {
        [[unroll]] for (uint j = 0; j < 32; ++j) s += w[j] * x[xo + j];
      } else {
        for (uint j = 0; k0 + j < p.K; ++j) s += w[j] * x[xo + j];
      }
      acc[t] += s;
    }
  }
  [[unroll]] for (uint t = 0; t < TILE; ++t) red[t][tid] = acc[t];
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (tid < s) {
      [[unroll]] for (uint t = 0; t < TILE; ++t) red[t][tid] += red[t][tid + s];
    }
    barrier();
  }
  if (tid < nt) y[(t0 + tid) * p.y_stride + p.row0 + r] = red[tid][0];
}
