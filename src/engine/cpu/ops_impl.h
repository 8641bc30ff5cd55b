// Private to ops*.cpp: the operations of ops.h written once over a small SIMD trait (S::V, S::W
// lanes) and instantiated per ISA. Everything has internal linkage on purpose (see
// vec_dot_impl.h: an inline function built with -mavx512f must never be the copy the linker
// keeps for a CPU without it).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "engine/cpu/ops.h"
#include "engine/quant/ggml_types.h"
#include "engine/quant/quants.h"

namespace nnb::ops_detail {
namespace {

// Cephes expf constants.
constexpr float kExpHi = 88.3762626647949f;
constexpr float kExpLo = -87.3365447504019f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kC1 = 0.693359375f;
constexpr float kC2 = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500E-4f, kP1 = 1.3981999507E-3f, kP2 = 8.3334519073E-3f;
constexpr float kP3 = 4.1665795894E-2f, kP4 = 1.6666665459E-1f, kP5 = 5.0000001201E-1f;

// Scalar: one lane.
struct ScalarS {
  using V = float;
  static constexpr int W = 1;
  static V zero() { return 0.0f; }
  static V set1(float f) { return f; }
  static V load(const float* p) { return *p; }
  static V load_f16(const uint16_t* p) { return fp16_to_fp32(*p); }
  static V load_i8(const int8_t* p) { return float(*p); }
  using VI = int32_t;
  static VI i8_bias(int32_t) { return 0; }
  static VI dot_i8x4(VI acc, const int8_t* k, int32_t q4) {
    int8_t q[4];
    std::memcpy(q, &q4, 4);
    return acc + k[0] * q[0] + k[1] * q[1] + k[2] * q[2] + k[3] * q[3];
  }
  static VI add_i(VI a, VI b) { return a + b; }
  static V cvt_i(VI a) { return float(a); }
  static void store(float* p, V v) { *p = v; }
  static void store_f16(uint16_t* p, V v) { *p = fp32_to_fp16(v); }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V max(V a, V b) { return a > b ? a : b; }
  static float hmax(V v) { return v; }
  static float hsum(V v) { return v; }
  static V exp(V x) {
    x = std::min(std::max(x, kExpLo), kExpHi);
    const float fx = std::nearbyint(x * kLog2e);
    float r = x - fx * kC1;
    r = r - fx * kC2;
    float y = kP0;
    y = y * r + kP1;
    y = y * r + kP2;
    y = y * r + kP3;
    y = y * r + kP4;
    y = y * r + kP5;
    y = y * (r * r) + (r + 1.0f);
    const uint32_t bits = uint32_t(int32_t(fx) + 127) << 23;
    float p2;
    std::memcpy(&p2, &bits, 4);
    return y * p2;
  }
  static double sumsq(const float* x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += double(x[i] * x[i]);
    return s;
  }
};

// Elementwise exp over an array: vector body, scalar tail (same formula).
template <class S>
inline void exp_array(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(y + i, S::exp(S::load(x + i)));
  for (; i < n; ++i) y[i] = ScalarS::exp(x[i]);
}

template <class S>
struct Ops {
  using V = typename S::V;
  static constexpr int W = S::W;

  static void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    const float mean = float(S::sumsq(x, n) / double(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    const V vs = S::set1(scale);
    int64_t i = 0;
    for (; i + W <= n; i += W) S::store(y + i, S::mul(S::mul(S::load(x + i), vs), S::load(w + i)));
    for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  }

  static void silu_mul(float* g, const float* u, int64_t n) {
    const V one = S::set1(1.0f), zero = S::zero();
    int64_t i = 0;
    for (; i + W <= n; i += W) {
      const V x = S::load(g + i);
      const V e = S::exp(S::sub(zero, x));
      S::store(g + i, S::mul(S::div(x, S::add(one, e)), S::load(u + i)));
    }
    for (; i < n; ++i) {
      const float x = g[i];
      g[i] = (x / (1.0f + ScalarS::exp(-x))) * u[i];
    }
  }

  static void add(float* x, const float* y, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W) S::store(x + i, S::add(S::load(x + i), S::load(y + i)));
    for (; i < n; ++i) x[i] += y[i];
  }

  static void exp(const float* x, float* y, int64_t n) { exp_array<S>(x, y, n); }

  static void to_f16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W) S::store_f16(y + i, S::load(x + i));
    for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
  }

  // ---- attention ----------------------------------------------------------------------------
  static constexpr int kMaxQ8Chunks = 16;  // q8_0 cache: head_dim <= KvCache::kQ8MaxHeadDim = 512
  static constexpr int NV = 16 / W;  // vectors per block of 16 key positions

  // Physical block of the keys j0 .. j0+15 (j0 a multiple of 16): the only place where the
  // block table enters; the loops over a block's keys are those of a contiguous cache.
  static int64_t block_of(const AttnArgs& a, int j0) { return a.blocks ? int64_t(a.blocks[j0 / 16]) : int64_t(j0 / 16); }

  // A vector of cached keys or values (E: the cache's element type, float or f16) as f32.
  static V ld(const float* p) { return S::load(p); }
  static V ld(const uint16_t* p) { return S::load_f16(p); }
  static V ld(const int8_t* p) { return S::load_i8(p); }

  // scores[t][j] = scale * q_t . k_j for the T queries and all keys 0 .. n_keys (rounded up to 16).
  template <int T, class E>
  static void scores(const AttnArgs& a, int n_keys, float* sc, int64_t ld) {
    const int hd = a.head_dim;
    // Few queries: split the head dimension over U partial sums so the multiply-adds do not
    // wait on each other's latency.
    constexpr int U = T == 1 ? 4 : T == 2 ? 2 : 1;
    const float* q[T];
    for (int t = 0; t < T; ++t) q[t] = a.q + int64_t(t) * a.q_stride;
    const V vscale = S::set1(a.scale);
    for (int j0 = 0; j0 < n_keys; j0 += 16) {
      const E* kb = static_cast<const E*>(a.k) + block_of(a, j0) * 16 * hd;  // block j0/16: [hd][16]
      V acc[T][NV][U];
      for (int t = 0; t < T; ++t)
        for (int v = 0; v < NV; ++v)
          for (int u = 0; u < U; ++u) acc[t][v][u] = S::zero();
      int d = 0;
      for (; d + U <= hd; d += U) {
        for (int u = 0; u < U; ++u) {
          V kv[NV];
          for (int v = 0; v < NV; ++v) kv[v] = Ops::ld(kb + (d + u) * 16 + v * W);
          for (int t = 0; t < T; ++t) {
            const V qd = S::set1(q[t][d + u]);
            for (int v = 0; v < NV; ++v) acc[t][v][u] = S::fma(qd, kv[v], acc[t][v][u]);
          }
        }
      }
      for (; d < hd; ++d)
        for (int t = 0; t < T; ++t)
          for (int v = 0; v < NV; ++v) acc[t][v][0] = S::fma(S::set1(q[t][d]), Ops::ld(kb + d * 16 + v * W), acc[t][v][0]);
      for (int t = 0; t < T; ++t)
        for (int v = 0; v < NV; ++v) {
          V sum = acc[t][v][0];
          for (int u = 1; u < U; ++u) sum = S::add(sum, acc[t][v][u]);
          S::store(sc + t * ld + j0 + v * W, S::mul(sum, vscale));
        }
    }
  }

  // In place: row[0..n_valid) <- exp(row - max), row[n_valid..n_pad) <- 0; returns the sum.
  static float softmax_row(float* row, int n_valid, int n_pad) {
    V vm = S::set1(-INFINITY);
    int j = 0;
    for (; j + W <= n_valid; j += W) vm = S::max(vm, S::load(row + j));
    float mx = S::hmax(vm);
    for (; j < n_valid; ++j) mx = std::max(mx, row[j]);
    const V vmx = S::set1(mx);
    V vsum = S::zero();
    j = 0;
    for (; j + W <= n_valid; j += W) {
      const V e = S::exp(S::sub(S::load(row + j), vmx));
      S::store(row + j, e);
      vsum = S::add(vsum, e);
    }
    float sum = S::hsum(vsum);
    for (; j < n_valid; ++j) {
      row[j] = ScalarS::exp(row[j] - mx);
      sum += row[j];
    }
    for (j = n_valid; j < n_pad; ++j) row[j] = 0.0f;
    return sum;
  }

  // out_t = sum_j p_tj v_j / sum_t over keys 0 .. n_keys, DV vectors of the head at a time.
  // AVX2 (16 registers) with 3-4 queries takes 2: T x 4 accumulators and 4 values spilled
  // (prompt attention 20 % slower, attention_prompt in bench/attention_bench).
  template <int T, class E>
  static void weighted_values(const AttnArgs& a, int n_keys, const float* p, int64_t ld, const float* inv) {
    const int hd = a.head_dim;
    constexpr int DV = W == 1 ? 8 : (W == 8 && T > 2) ? 2 : 4;
    for (int d0 = 0; d0 < hd; d0 += DV * W) {
      const int nv = std::min(DV, (hd - d0) / W);
      V acc[T][DV];
      for (int t = 0; t < T; ++t)
        for (int v = 0; v < DV; ++v) acc[t][v] = S::zero();
      if (nv == DV && T == 1) {
        // One query: even and odd keys into separate sums (latency, as in scores()). Blocks
        // hold 16 keys, so pairs never straddle two blocks.
        V acc2[DV];
        for (int v = 0; v < DV; ++v) acc2[v] = S::zero();
        for (int j0 = 0; j0 < n_keys; j0 += 16) {
          const E* vb = static_cast<const E*>(a.v) + block_of(a, j0) * 16 * hd + d0;  // row j0 of this block
          const float* pb = p + j0;
          const int nj = std::min(16, n_keys - j0);
          int j = 0;
          for (; j + 2 <= nj; j += 2) {
            const E* vr = vb + int64_t(j) * hd;
            const V p0 = S::set1(pb[j]), p1 = S::set1(pb[j + 1]);
            for (int v = 0; v < DV; ++v) {
              acc[0][v] = S::fma(p0, Ops::ld(vr + v * W), acc[0][v]);
              acc2[v] = S::fma(p1, Ops::ld(vr + hd + v * W), acc2[v]);
            }
          }
          for (; j < nj; ++j) {
            const V pj = S::set1(pb[j]);
            for (int v = 0; v < DV; ++v) acc[0][v] = S::fma(pj, Ops::ld(vb + int64_t(j) * hd + v * W), acc[0][v]);
          }
        }
        for (int v = 0; v < DV; ++v) acc[0][v] = S::add(acc[0][v], acc2[v]);
      } else if (nv == DV) {
        for (int j0 = 0; j0 < n_keys; j0 += 16) {
          const E* vb = static_cast<const E*>(a.v) + block_of(a, j0) * 16 * hd + d0;
          const int nj = std::min(16, n_keys - j0);
          for (int j = 0; j < nj; ++j) {
            const E* vr = vb + int64_t(j) * hd;
            V vv[DV];
            for (int v = 0; v < DV; ++v) vv[v] = Ops::ld(vr + v * W);
            for (int t = 0; t < T; ++t) {
              const V pj = S::set1(p[t * ld + j0 + j]);
              for (int v = 0; v < DV; ++v) acc[t][v] = S::fma(pj, vv[v], acc[t][v]);
            }
          }
        }
      } else {
        for (int j0 = 0; j0 < n_keys; j0 += 16) {
          const E* vb = static_cast<const E*>(a.v) + block_of(a, j0) * 16 * hd + d0;
          const int nj = std::min(16, n_keys - j0);
          for (int j = 0; j < nj; ++j) {
            const E* vr = vb + int64_t(j) * hd;
            for (int t = 0; t < T; ++t) {
              const V pj = S::set1(p[t * ld + j0 + j]);
              for (int v = 0; v < nv; ++v) acc[t][v] = S::fma(pj, Ops::ld(vr + v * W), acc[t][v]);
            }
          }
        }
      }
      for (int t = 0; t < T; ++t) {
        const V s = S::set1(inv[t]);
        for (int v = 0; v < nv; ++v) S::store(a.out + t * a.out_stride + d0 + v * W, S::mul(acc[t][v], s));
      }
    }
  }

  // q8_0 cache: the scores as llama.cpp computes them over such a cache: each query quantized
  // to q8_0 too (ggml-cpu's rules), each chunk of 32 dimensions an exact int32 dot product (keys
  // stored [hd/4][16][4]: 4 dimensions of 16 keys in 64 bytes, one VNNI dpbusd where there is
  // one), times the query's and the 16 keys' scales.
  template <int T>
  static void scores_q8(const AttnArgs& a, int n_keys, float* sc, int64_t ld) {
    using VI = typename S::VI;
    const int hd = a.head_dim, nc = hd / 32;
    constexpr int U = T == 1 ? 2 : 1;  // int32 partial sums (dpbusd latency)
    block_q8_0 qb[T][kMaxQ8Chunks];
    int32_t qsum[T][kMaxQ8Chunks];
    for (int t = 0; t < T; ++t) {
      quantize_row_activation(GgmlType::Q8_0, a.q + int64_t(t) * a.q_stride, qb[t], hd);
      for (int c = 0; c < nc; ++c) {
        qsum[t][c] = 0;
        for (int i = 0; i < 32; ++i) qsum[t][c] += qb[t][c].qs[i];
      }
    }
    const V vscale = S::set1(a.scale);
    for (int j0 = 0; j0 < n_keys; j0 += 16) {
      const int64_t b = block_of(a, j0);
      const int8_t* kb = static_cast<const int8_t*>(a.k) + b * 16 * hd;  // [hd/4][16][4]
      const float* ks = a.k_scales + b * 16 * nc;                         // [nc][16]
      V tot[T][NV];
      for (int t = 0; t < T; ++t)
        for (int v = 0; v < NV; ++v) tot[t][v] = S::zero();
      for (int c = 0; c < nc; ++c) {
        VI acc[T][NV][U];
        for (int t = 0; t < T; ++t)
          for (int v = 0; v < NV; ++v) {
            acc[t][v][0] = S::i8_bias(qsum[t][c]);
            for (int u = 1; u < U; ++u) acc[t][v][u] = S::i8_bias(0);
          }
        for (int g = 0; g < 8; g += U)
          for (int u = 0; u < U; ++u)
            for (int t = 0; t < T; ++t) {
              int32_t q4;
              std::memcpy(&q4, qb[t][c].qs + 4 * (g + u), 4);
              for (int v = 0; v < NV; ++v)
                acc[t][v][u] = S::dot_i8x4(acc[t][v][u], kb + ((8 * c + g + u) * 16 + v * W) * 4, q4);
            }
        for (int t = 0; t < T; ++t) {
          const V dq = S::set1(fp16_to_fp32(qb[t][c].d));
          for (int v = 0; v < NV; ++v) {
            VI sum = acc[t][v][0];
            for (int u = 1; u < U; ++u) sum = S::add_i(sum, acc[t][v][u]);
            tot[t][v] = S::fma(S::cvt_i(sum), S::mul(S::load(ks + c * 16 + v * W), dq), tot[t][v]);
          }
        }
      }
      for (int t = 0; t < T; ++t)
        for (int v = 0; v < NV; ++v) S::store(sc + t * ld + j0 + v * W, S::mul(tot[t][v], vscale));
    }
  }

  // q8_0 cache: out_t = sum_j p_tj v_j / sum_t, one chunk of 32 dimensions at a time, p_tj times
  // the chunk's scale of value row j (one query: even and odd keys into separate sums, as
  // weighted_values()).
  template <int T>
  static void weighted_values_q8(const AttnArgs& a, int n_keys, const float* p, int64_t ld, const float* inv) {
    const int hd = a.head_dim, nc = hd / 32;
    constexpr int CV = 32 / W;  // vectors per chunk
    constexpr int P = T == 1 ? 2 : 1;
    for (int c = 0; c < nc; ++c) {
      V acc[P][T][CV];
      for (int k = 0; k < P; ++k)
        for (int t = 0; t < T; ++t)
          for (int v = 0; v < CV; ++v) acc[k][t][v] = S::zero();
      for (int j0 = 0; j0 < n_keys; j0 += 16) {
        const int64_t b = block_of(a, j0);
        const int8_t* vb = static_cast<const int8_t*>(a.v) + b * 16 * hd + 32 * c;  // row j0 of this block
        const float* vs = a.v_scales + b * 16 * nc + c;                            // row j: vs[j * nc]
        const int nj = std::min(16, n_keys - j0);
        int j = 0;
        if constexpr (P == 2)  // pairs spelled out: indexed by j % 2, the sums lived on the stack
          for (; j + 2 <= nj; j += 2) {
            const int8_t* vr = vb + int64_t(j) * hd;
            V v0[CV], v1[CV];
            for (int v = 0; v < CV; ++v) v0[v] = Ops::ld(vr + v * W), v1[v] = Ops::ld(vr + hd + v * W);
            for (int t = 0; t < T; ++t) {
              const V p0 = S::set1(p[t * ld + j0 + j] * vs[j * nc]);
              const V p1 = S::set1(p[t * ld + j0 + j + 1] * vs[(j + 1) * nc]);
              for (int v = 0; v < CV; ++v) {
                acc[0][t][v] = S::fma(p0, v0[v], acc[0][t][v]);
                acc[1][t][v] = S::fma(p1, v1[v], acc[1][t][v]);
              }
            }
          }
        for (; j < nj; ++j) {  // P == 2: the last, even key of an odd count
          const int8_t* vr = vb + int64_t(j) * hd;
          V vv[CV];
          for (int v = 0; v < CV; ++v) vv[v] = Ops::ld(vr + v * W);
          for (int t = 0; t < T; ++t) {
            const V pj = S::set1(p[t * ld + j0 + j] * vs[j * nc]);
            for (int v = 0; v < CV; ++v) acc[0][t][v] = S::fma(pj, vv[v], acc[0][t][v]);
          }
        }
      }
      for (int t = 0; t < T; ++t) {
        const V s = S::set1(inv[t]);
        for (int v = 0; v < CV; ++v) {
          V sum = acc[0][t][v];
          if constexpr (P == 2) sum = S::add(sum, acc[1][t][v]);
          S::store(a.out + t * a.out_stride + 32 * c + v * W, S::mul(sum, s));
        }
      }
    }
  }

  template <int T, class E>
  static void attend_block(const AttnArgs& a) {
    const int n_keys = a.pos0 + T;
    const int64_t ld = (int64_t(n_keys) + 15) / 16 * 16;
    float* sc = a.scratch;
    if constexpr (std::is_same_v<E, int8_t>) scores_q8<T>(a, n_keys, sc, ld);
    else scores<T, E>(a, n_keys, sc, ld);
    // A sliding window masks the keys before pos - window + 1: out of the maximum (a score far
    // below any real one), then exactly 0 after the exponentials, as llama.cpp's -inf mask.
    if (a.softcap > 0)
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < a.pos0 + t + 1; ++j) sc[t * ld + j] = a.softcap * std::tanh(sc[t * ld + j] / a.softcap);
    int lo[T] = {};
    if (a.window > 0)
      for (int t = 0; t < T; ++t) {
        lo[t] = std::max(0, a.pos0 + t + 1 - a.window);
        for (int j = 0; j < lo[t]; ++j) sc[t * ld + j] = -3.0e38f;
      }
    float inv[T];
    for (int t = 0; t < T; ++t) {
      float sum = softmax_row(sc + t * ld, a.pos0 + t + 1, n_keys);
      for (int j = 0; j < lo[t]; ++j) {
        sum -= sc[t * ld + j];
        sc[t * ld + j] = 0.0f;
      }
      inv[t] = 1.0f / sum;
    }
    if constexpr (std::is_same_v<E, int8_t>) weighted_values_q8<T>(a, n_keys, sc, ld, inv);
    else weighted_values<T, E>(a, n_keys, sc, ld, inv);
  }

  static void attend(const AttnArgs& a) {
    if (a.k_scales) attend_as<int8_t>(a);
    else if (a.f16) attend_as<uint16_t>(a);
    else attend_as<float>(a);
  }
  template <class E>
  static void attend_as(const AttnArgs& a) {
    AttnArgs b = a;
    int done = 0;
    while (done < a.n_q) {
      const int left = a.n_q - done;
      b.q = a.q + int64_t(done) * a.q_stride;
      b.out = a.out + int64_t(done) * a.out_stride;
      b.pos0 = a.pos0 + done;
      if (left >= 4) b.n_q = 4, attend_block<4, E>(b);
      else if (left == 3) b.n_q = 3, attend_block<3, E>(b);
      else if (left == 2) b.n_q = 2, attend_block<2, E>(b);
      else b.n_q = 1, attend_block<1, E>(b);
      done += b.n_q;
    }
  }

  static constexpr OpsTable table() { return OpsTable{rms_norm, silu_mul, add, attend, exp, to_f16}; }
};

}  // namespace
}  // namespace nnb::ops_detail
