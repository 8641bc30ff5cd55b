#version 450
// y[row] = x[row] / sqrt(mean(x[row]^2) + eps) * w, one workgroup per row.
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer XB { float x[]; };
layout(std430, binding = 1) writeonly buffer YB { float y[]; };
layout(std430, binding = 2) readonly buffer WB { float w[]; };
layout(push_constant) uniform P { uint n; uint stride; float eps; } p;
shared float red[WG];
void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
  const uint o = row * p.stride;
  float s = 0.0;
  for (uint i = tid; i < p.n; i += WG) s += x[o + i] * x[o + i];
  red[tid] = s;
  barrier();
  for (uint k = WG / 2; k > 0; k >>= 1) {
    if (tid < k) red[tid] += red[tid + k];
    barrier();
  }
  const float scale = 1.0 / sqrt(red[0] / float(p.n) + p.eps);
  for (uint i = tid; i < p.n; i += WG) y[o + i] = x[o + i] * scale * w[i];
}
