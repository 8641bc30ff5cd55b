#version 450
// y[row] = x[row] / sqrt(mean(x[row]^2) + eps) * w, one workgroup per row; with -DLAYER the
// LayerNorm y = (x - mean) / sqrt(var + eps) * w + b.
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer XB { float x[]; };
layout(std430, binding = 1) writeonly buffer YB { float y[]; };
layout(std430, binding = 2) readonly buffer WB { float w[]; };
#ifdef LAYER
layout(std430, binding = 3) readonly buffer BB { float bias[]; };
#endif
layout(push_constant) uniform P { uint n; uint stride; float eps; } p;
shared float red[WG];
void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
  const uint o = row * p.stride;
  float mean = 0.0;
#ifdef LAYER
  float m = 0.0;
  for (uint i = tid; i < p.n; i += WG) m += x[o + i];
  red[tid] = m;
  barrier();
  for (uint k = WG / 2; k > 0; k >>= 1) {
    if (tid < k) red[tid] += red[tid + k];
    barrier();
  }
  mean = red[0] / float(p.n);
  barrier();
#endif
  float s = 0.0;
  for (uint i = tid; i < p.n; i += WG) s += (x[o + i] - mean) * (x[o + i] - mean);
  red[tid] = s;
  barrier();
  for (uint k = WG / 2; k > 0; k >>= 1) {
    if (tid < k) red[tid] += red[tid + k];
    barrier();
  }
  const float scale = 1.0 / sqrt(red[0] / float(p.n) + p.eps);
#ifdef LAYER
  for (uint i = tid; i < p.n; i += WG) y[o + i] = (x[o + i] - mean) * scale * w[i] + bias[i];
#else
  for (uint i = tid; i < p.n; i += WG) y[o + i] = x[o + i] * scale * w[i];
#endif
}
