#version 450
// The batch's K and V rows into their KV cells. Cache layout per layer: [kv head][cell][head_dim]
// (cell = physical block * 16 + lane, kv_cache.h). Workgroup (row, kv head).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer KB { float k[]; };
layout(std430, binding = 1) readonly buffer VB { float v[]; };
layout(std430, binding = 2) writeonly buffer KC { float kc[]; };
layout(std430, binding = 3) writeonly buffer VC { float vc[]; };
layout(std430, binding = 4) readonly buffer CB { int cells[]; };
layout(push_constant) uniform P { uint head_dim; uint cap16; uint stride; } p;
void main() {
  const uint row = gl_WorkGroupID.x, h = gl_WorkGroupID.y;
  const uint src = row * p.stride + h * p.head_dim;
  const uint dst = (h * p.cap16 + uint(cells[row])) * p.head_dim;
  for (uint d = gl_LocalInvocationID.x; d < p.head_dim; d += WG) {
    kc[dst + d] = k[src + d];
    vc[dst + d] = v[src + d];
  }
}
