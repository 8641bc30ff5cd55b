#version 450
// y[t][row0 + r] = dot(W row r, x[t]) for the rows of one weight chunk and up to TILE batch rows
// per workgroup. Workgroup (r, tile): each of its WG threads walks blocks b = tid, tid+WG, ...
// of row r, dequantizes each weight once and multiplies it with the TILE activation rows, then
// the workgroup sums its partial dot products in shared memory.
//
// The weight chunk is bound three times (bytes, halves, floats); a type uses the views it needs.
// Layouts (ggml's): F32 / F16 rows of K values; Q8_0 blocks of 34 bytes (f16 scale, 32 int8);
// Q4_0 blocks of 18 bytes (f16 scale, 16 bytes: low nibbles are values 0-15, high 16-31, minus 8).
// Q4_K and Q6_K: superblocks of 256 values, read as 8 blocks of 32 (layouts at their code).
// Blocks are 32 values; F32/F16 rows use the same loop with a bound check for the last block.
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
#elif defined(TYPE_Q4_K)
    // Superblocks of 256 values, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins
    // for its 8 sub-blocks of 32, then 128 bytes of nibbles (sub-blocks 2i and 2i+1 share 32
    // bytes: low nibbles, high nibbles). This block b is sub-block j of superblock b / 8.
    const uint sb = r * p.row_bytes + (b / 8) * 144, j = b % 8;
    const float d = float(wh[sb / 2]), dmin = float(wh[sb / 2 + 1]);
    uint sc, mn;
    if (j < 4) {
      sc = uint(wb[sb + 4 + j]) & 63u;
      mn = uint(wb[sb + 4 + j + 4]) & 63u;
    } else {
      sc = (uint(wb[sb + 4 + j + 4]) & 15u) | ((uint(wb[sb + 4 + j - 4]) >> 6) << 4);
      mn = (uint(wb[sb + 4 + j + 4]) >> 4) | ((uint(wb[sb + 4 + j]) >> 6) << 4);
    }
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    const uint qo = sb + 16 + 32 * (j / 2), shift = 4 * (j % 2);
    [[unroll]] for (uint l = 0; l < 32; ++l) w[l] = d1 * float((uint(wb[qo + l]) >> shift) & 15u) - m1;
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
