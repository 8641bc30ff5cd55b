#version 450
// Element-wise operations over n floats (one per invocation, 256 per workgroup):
//   OP_ADD       a[i] += b[i]
//   OP_ADD_BIAS  a[i] += b[i % width]            (a bias on every row)
//   OP_SWIGLU    a[i] = silu(a[i]) * b[i]         (gate, up)
//   OP_COPY      b[i] = a[i]
//   OP_GATHER    b[k * width + j] = a[idx[k] * width + j]   (rows idx[k] to the front, k < n / width)
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer AB { float a[]; };
layout(std430, binding = 1) buffer BB { float b[]; };
layout(std430, binding = 2) readonly buffer IB { int idx[]; };
layout(push_constant) uniform P { uint n; uint width; } p;
void main() {
  const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256;
  if (i >= p.n) return;
#if defined(OP_ADD)
  a[i] += b[i];
#elif defined(OP_ADD_BIAS)
  a[i] += b[i % p.width];
#elif defined(OP_SWIGLU)
  const float g = a[i];
  a[i] = g / (1.0 + exp(-g)) * b[i];
#elif defined(OP_COPY)
  b[i] = a[i];
#elif defined(OP_GATHER)
  const uint k = i / p.width, j = i % p.width;
  b[i] = a[uint(idx[k]) * p.width + j];
#endif
}
