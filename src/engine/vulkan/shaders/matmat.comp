#version 450
// Matrix times matrix (prompts: many batch rows): y[t][row0 + r] = dot(W row r, x[t]) for a tile
// of BM weight rows by BN batch rows per workgroup.
//
// The workgroup walks K in slices of BK = 32 values (one block): it dequantizes the slice of
// its BM weight rows once into shared memory (ws: BM x BK f32, each thread one half-block,
// dequant.glsl) and copies the slice of its BN activation rows beside it (xs), then each thread
// accumulates a TM x TN register block from the two, so every dequantized weight serves BN
// batch rows and every loaded value TM or TN products. Thread (tr, tc) owns weight rows
// tr + i*(BM/TM) and batch rows tc + j*(BN/TN): neighbouring threads read neighbouring rows of
// ws, and the +1 padding of each shared row spreads those reads over the memory banks.
// Shared memory: (BM + BN) * (BK + 1) floats, 12.4 KiB, and 128 threads: within what every
// Vulkan device has (16 KiB, 128 invocations). Values of a float row past K and tile rows past
// the chunk or the batch are zeros.
//
// Bindings: the weight chunk three times (bytes, halves, words: dequant.glsl), x, y.
// Dispatch: (ceil(rows / BM), ceil(n / BN)).
#include "common.glsl"

#ifndef BN
#define BN 32
#endif
#define BM 64
#define BK 32
#define TM 4
#define TN 4
#define NT ((BM / TM) * (BN / TN))  // threads
layout(local_size_x = NT) in;

layout(std430, binding = 0) readonly buffer WB { uint8_t wb[]; };
layout(std430, binding = 1) readonly buffer WH { float16_t wh[]; };
layout(std430, binding = 2) readonly buffer WW { uint ww[]; };
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
  uint rows;       // rows of this chunk
} p;

#define LD (BK + 1)
shared float ws[BM * LD];
shared float xs[BN * LD];

#include "dequant.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
  const uint tr = tid % (BM / TM), tc = tid / (BM / TM);
  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; ++i)
    [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // The weight slice: BM rows x 2 halves.
    for (uint e = tid; e < BM * 2; e += NT) {
      const uint r = e / 2, h = e % 2;
      float w[16];
      if (m0 + r < p.rows) {
        dequant16((m0 + r) * p.row_bytes, k0 / 32, h, p.K, w);
      } else {
        [[unroll]] for (uint j = 0; j < 16; ++j) w[j] = 0.0;
      }
      [[unroll]] for (uint j = 0; j < 16; ++j) ws[r * LD + h * 16 + j] = w[j];
    }
    // The activation slice: BN rows x BK values, 8 consecutive values per step.
    for (uint e = tid; e < BN * (BK / 8); e += NT) {
      const uint c = e / (BK / 8), s = (e % (BK / 8)) * 8;
      const uint xo = p.x_off + (n0 + c) * p.x_stride + k0 + s;
      const bool row_ok = n0 + c < p.n;
      [[unroll]] for (uint j = 0; j < 8; ++j) xs[c * LD + s + j] = (row_ok && k0 + s + j < p.K) ? x[xo + j] : 0.0;
    }
    barrier();
    [[unroll]] for (uint k = 0; k < BK; ++k) {
      float a[TM], b[TN];
      [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = ws[(tr + i * (BM / TM)) * LD + k];
      [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = xs[(tc + j * (BN / TN)) * LD + k];
      [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    barrier();
  }
  [[unroll]] for (uint i = 0; i < TM; ++i) {
    const uint r = m0 + tr + i * (BM / TM);
    if (r >= p.rows) continue;
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const uint t = n0 + tc + j * (BN / TN);
      if (t < p.n) y[t * p.y_stride + p.row0 + r] = acc[i][j];
    }
  }
}
