#version 450
// Element-wise operations over n floats (one per invocation, 256 per workgroup):
//   OP_ADD       a[i] += b[i]
//   OP_ADD_BIAS  a[i] += b[i % width]            (a bias on every row)
//   OP_SWIGLU    a[i] = silu(a[i]) * b[i]         (gate, up)
//   OP_GEGLU     a[i] = gelu(a[i]) * b[i]         (gate, up; GELU as ggml's CPU table: f16 in, f16 out)
//   OP_GELU      a[i] = gelu(a[i])                (no gate; the same f16 evaluation)
//   OP_SCALE     a[i] *= uintBitsToFloat(width)
//   OP_COPY      b[i] = a[i]
//   OP_GATHER    b[k * width + j] = a[idx[k] * width + j]   (rows idx[k] to the front, k < n / width)
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer AB { float a[]; };
layout(std430, binding = 1) buffer BB { float b[]; };
layout(std430, binding = 2) readonly buffer IB { int idx[]; };
layout(push_constant) uniform P { uint n; uint width; } p;

// GELU as ggml's CPU backend evaluates it (its f16 table): the tanh form on the input rounded
// to f16, the result rounded to f16; 0 below -10, x above 10.
float gelu_f16(float x) {
  if (x <= -10.0) return 0.0;
  if (x >= 10.0) return x;
  const float h = unpackHalf2x16(packHalf2x16(vec2(x, 0.0))).x;
  const float y = 0.5 * h * (1.0 + tanh(0.79788456080286535587989211986876 * h * (1.0 + 0.044715 * h * h)));
  return unpackHalf2x16(packHalf2x16(vec2(y, 0.0))).x;
}

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
#elif defined(OP_GEGLU)
  a[i] = gelu_f16(a[i]) * b[i];
#elif defined(OP_GELU)
  a[i] = gelu_f16(a[i]);
#elif defined(OP_SCALE)
  a[i] *= uintBitsToFloat(p.width);
#elif defined(OP_COPY)
  b[i] = a[i];
#elif defined(OP_GATHER)
  const uint k = i / p.width, j = i % p.width;
  b[i] = a[uint(idx[k]) * p.width + j];
#endif
}
