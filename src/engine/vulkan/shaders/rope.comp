#version 450
// RoPE in place on n_heads heads of each row, at the row's position. Workgroup (row, head);
// thread i rotates pair i of the first n_rot dimensions: (2i, 2i+1) in the normal layout,
// (i, i + n_rot/2) in the neox one. theta advances by repeated multiplication with
// base^(-2/n_rot), as ggml (and the CPU device) compute it, so the angles agree exactly.
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) buffer XB { float x[]; };
layout(std430, binding = 1) readonly buffer PB { int pos[]; };
layout(std430, binding = 2) readonly buffer FB { float ff[]; };
layout(push_constant) uniform P {
  uint head_dim; uint n_rot; uint stride; uint neox; uint has_ff;
  float theta_scale; float freq_scale;
} p;
void main() {
  const uint row = gl_WorkGroupID.x, h = gl_WorkGroupID.y;
  const uint half_rot = p.n_rot / 2;
  for (uint i = gl_LocalInvocationID.x; i < half_rot; i += WG) {
    float theta = float(pos[row]);
    for (uint k = 0; k < i; ++k) theta *= p.theta_scale;
    const float f = p.has_ff != 0u ? ff[i] : 1.0;
    const float a = p.freq_scale * (theta / f);
    const float c = cos(a), s = sin(a);
    const uint o = row * p.stride + h * p.head_dim;
    const uint i0 = p.neox != 0u ? o + i : o + 2 * i;
    const uint i1 = p.neox != 0u ? o + i + half_rot : o + 2 * i + 1;
    const float x0 = x[i0], x1 = x[i1];
    x[i0] = x0 * c - x1 * s;
    x[i1] = x0 * s + x1 * c;
  }
}
