#version 450
// Matrix times vector (generation: one batch row, or a few): y[t][row0 + r] = dot(W row r, x[t])
// for NR weight rows and up to NV batch rows per workgroup.
//
// A group of threads shares a row: with -DUSE_SUBGROUP a subgroup (its size as the device runs
// it: 8 on lavapipe, 32 or 64 on GPUs) and subgroupAdd sums it; without, TPR = WG / NR threads
// and a shared-memory tree. Lane l of a row's group walks the row's halves of 32-value blocks
// hb = l, l + lanes, ... (dequant.glsl), so a row of K values keeps K / 16 lanes busy, and each
// weight is dequantized once for all NV batch rows. When the workgroup's activation rows fit XS
// floats (and K is a multiple of 16), it first copies them into shared memory as vec4, which
// all NR rows then read (on lavapipe a load costs about the same at any width).
//
// Bindings: the weight chunk three times (bytes, halves, words: dequant.glsl), x, y.
// Specialization constants: 0 the workgroup size, 1 NR, 2 XS (floats, a multiple of 4).
// Dispatch: (ceil(rows / NR), ceil(n / NV)).
#include "common.glsl"
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 8;
layout(constant_id = 2) const uint XS = 4096;
#define NV 4

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

shared vec4 xs[XS / 4];
#ifndef USE_SUBGROUP
shared float red[NV][gl_WorkGroupSize.x];
#endif

#include "dequant.glsl"

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint t0 = gl_WorkGroupID.y * NV;
  const uint nt = min(NV, p.n - t0);
  // Staged as vec4 (K a multiple of 16: every quantized type; a float type's odd rows are not).
  const bool staged = nt * p.K <= XS && p.K % 16 == 0;
  if (staged) {
    for (uint i = tid; i < nt * p.K / 4; i += gl_WorkGroupSize.x) {
      const uint t = (4 * i) / p.K, o = p.x_off + (t0 + t) * p.x_stride + (4 * i - t * p.K);
      xs[i] = vec4(x[o], x[o + 1], x[o + 2], x[o + 3]);
    }
    barrier();
  }
#ifdef USE_SUBGROUP
  // Rows by subgroup, however many subgroups of whatever size the device made.
  const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize, grp = gl_SubgroupID, groups = gl_NumSubgroups;
#else
  const uint TPR = gl_WorkGroupSize.x / NR;
  const uint lane = tid % TPR, lanes = TPR, grp = tid / TPR, groups = NR;
#endif
  const uint nh = (p.K + 15) / 16;
  for (uint rr = grp; rr < NR; rr += groups) {
    const uint r = gl_WorkGroupID.x * NR + rr;
    float acc[NV];
    [[unroll]] for (uint t = 0; t < NV; ++t) acc[t] = 0.0;
    if (r < p.rows) {
      const uint row_off = r * p.row_bytes;
      for (uint hb = lane; hb < nh; hb += lanes) {
        float w[16];
        dequant16(row_off, hb / 2, hb % 2, p.K, w);
        const uint k0 = hb * 16;
        // (t runs over all NV with a test, not to nt: a dynamic index would put acc in memory.)
        if (staged) {
          [[unroll]] for (uint t = 0; t < NV; ++t) {
            if (t >= nt) break;
            const uint xo = (t * p.K + k0) / 4;
            acc[t] += dot(vec4(w[0], w[1], w[2], w[3]), xs[xo]) + dot(vec4(w[4], w[5], w[6], w[7]), xs[xo + 1]) +
                      dot(vec4(w[8], w[9], w[10], w[11]), xs[xo + 2]) + dot(vec4(w[12], w[13], w[14], w[15]), xs[xo + 3]);
          }
        } else {
          // From x; a float row may end inside the 16 values.
          [[unroll]] for (uint t = 0; t < NV; ++t) {
            if (t >= nt) break;
            const uint xo = p.x_off + (t0 + t) * p.x_stride + k0;
            float s = 0.0;
            if (k0 + 16 <= p.K) {
              [[unroll]] for (uint j = 0; j < 16; ++j) s += w[j] * x[xo + j];
            } else {
              for (uint j = 0; k0 + j < p.K; ++j) s += w[j] * x[xo + j];
            }
            acc[t] += s;
          }
        }
      }
    }
#ifdef USE_SUBGROUP
    [[unroll]] for (uint t = 0; t < NV; ++t) acc[t] = subgroupAdd(acc[t]);
    if (lane == 0 && r < p.rows)
      [[unroll]] for (uint t = 0; t < NV; ++t)
        if (t < nt) y[(t0 + t) * p.y_stride + p.row0 + r] = acc[t];
#else
    [[unroll]] for (uint t = 0; t < NV; ++t) red[t][tid] = acc[t];
    barrier();
    for (uint s = TPR / 2; s > 0; s >>= 1) {
      if (lane < s) {
        [[unroll]] for (uint t = 0; t < NV; ++t) red[t][tid] += red[t][tid + s];
      }
      barrier();
    }
    if (lane == 0 && r < p.rows)
      [[unroll]] for (uint t = 0; t < NV; ++t)
        if (t < nt) y[(t0 + t) * p.y_stride + p.row0 + r] = red[t][tid];
#endif
  }
}
