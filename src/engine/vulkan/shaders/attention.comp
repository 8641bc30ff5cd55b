#version 450
// Causal attention of one query and one head per workgroup, over the query's sequence through
// its block table, without materializing the scores: keys are taken WG at a time (one per
// thread), and a running maximum, sum and output are rescaled per chunk (online softmax, as in
// FlashAttention), so any context length runs in the same shared memory.
// Workgroup (job, head, t): query t of the job (jobs hold q_row, out_row, n_q, pos0, and the
// offset of the sequence's block table in `blocks`). Thread tid keeps output dimensions
// tid, tid + WG, ... (head_dim <= 256: at most 4 per thread).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer QB { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float kc[]; };
layout(std430, binding = 2) readonly buffer VC { float vc[]; };
layout(std430, binding = 3) writeonly buffer OB { float o[]; };
layout(std430, binding = 4) readonly buffer JB { int jobs[]; };
layout(std430, binding = 5) readonly buffer TB { int blocks[]; };
// window: the query sees its last `window` keys only, itself included (0: all).
// softcap > 0: scores become softcap * tanh(score / softcap) before the softmax (gemma2).
layout(push_constant) uniform P { uint head_dim; uint group; uint cap16; uint stride; float scale; uint window; float softcap; } p;

shared float qs[256];
shared float ps[WG];
shared float red[WG];

void main() {
  const uint job = gl_WorkGroupID.x, h = gl_WorkGroupID.y, t = gl_WorkGroupID.z;
  const uint tid = gl_LocalInvocationID.x;
  const uint n_q = uint(jobs[job * 5 + 2]);
  if (t >= n_q) return;
  const uint q_row = uint(jobs[job * 5 + 0]) + t, out_row = uint(jobs[job * 5 + 1]) + t;
  const uint n_keys = uint(jobs[job * 5 + 3]) + t + 1;
  const uint bt = uint(jobs[job * 5 + 4]);
  const uint hd = p.head_dim, kvh = h / p.group;
  for (uint d = tid; d < hd; d += WG) qs[d] = q[q_row * p.stride + h * hd + d];
  barrier();

  float m = -1.0 / 0.0, l = 0.0;
  float acc[4] = float[4](0.0, 0.0, 0.0, 0.0);
  const uint lo = (p.window != 0u && n_keys > p.window) ? n_keys - p.window : 0u;
  for (uint k0 = lo; k0 < n_keys; k0 += WG) {
    const uint j = k0 + tid;
    float s = -1.0 / 0.0;
    if (j < n_keys) {
      const uint cell = uint(blocks[bt + j / 16]) * 16 + j % 16;
      const uint ko = (kvh * p.cap16 + cell) * hd;
      float dot = 0.0;
      for (uint d = 0; d < hd; ++d) dot += qs[d] * kc[ko + d];
      s = dot * p.scale;
      if (p.softcap > 0.0) s = p.softcap * tanh(s / p.softcap);
    }
    red[tid] = s;
    barrier();
    for (uint w = WG / 2; w > 0; w >>= 1) {
      if (tid < w) red[tid] = max(red[tid], red[tid + w]);
      barrier();
    }
    const float m_new = max(m, red[0]);
    barrier();
    const float e = j < n_keys ? exp(s - m_new) : 0.0;
    ps[tid] = e;
    red[tid] = e;
    barrier();
    for (uint w = WG / 2; w > 0; w >>= 1) {
      if (tid < w) red[tid] += red[tid + w];
      barrier();
    }
    const float f = exp(m - m_new);
    l = l * f + red[0];
    const uint nk = min(uint(WG), n_keys - k0);
    for (uint a = 0; a < 4; ++a) {
      const uint d = tid + a * WG;
      if (d >= hd) break;
      float sum = 0.0;
      for (uint i = 0; i < nk; ++i) {
        const uint jj = k0 + i;
        const uint cell = uint(blocks[bt + jj / 16]) * 16 + jj % 16;
        sum += ps[i] * vc[(kvh * p.cap16 + cell) * hd + d];
      }
      acc[a] = acc[a] * f + sum;
    }
    m = m_new;
    barrier();
  }
  for (uint a = 0; a < 4; ++a) {
    const uint d = tid + a * WG;
    if (d < hd) o[out_row * p.stride + h * hd + d] = acc[a] / l;
  }
}
