// The device interface: the operations one transformer layer needs, and nothing else. The
// forward pass (runtime/context.cpp) is written once over it; the CPU (cpu/cpu_device.h) is
// the first device, a GPU is the next. Why this cut, and not a graph of tensors as ggml's: the
// forward pass of a llama-family model is a fixed sequence of a dozen operations, so naming
// them is shorter than building a graph per batch, and a device implements each one directly
// (fused where it pays: the CPU runs up to three products with one input in one parallel region).
//
// Data placement: a device owns the activations of a batch (the Act buffers below, [rows][width]
// f32 each, for up to n_batch rows) and reads weights through the model's Matrix views (a GPU
// device uploads each matrix once, keyed by its address). Only token ids, positions, KV cells,
// attention jobs and the logits cross between host and device.
//
// The KV cache's bookkeeping (sequences, block tables, reference counts: kv_cache.h) is the
// host's; its storage is read and written only through kv_store() and attention(), and a
// device whose storage is its own (the GPU's) hears of copy-on-write through kv_copy_block().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/device/kv_cache.h"
#include "engine/model/model.h"

namespace nnb {

// The activation buffers of a forward pass. Each is [rows][width(act)] f32, rows contiguous.
enum class Act : uint8_t {
  X,     // the residual stream, n_embd
  XN,    // a normalized copy of X, the input of the products, n_embd
  Q,     // queries, n_embd_q (n_head * head_dim)
  K,     // keys of the batch, n_embd_kv
  V,     // values of the batch, n_embd_kv
  Attn,  // attention output, n_embd_q
  Gate,  // FFN gate (then act(gate) * up), n_ff
  Up,    // FFN up, n_ff
  Tmp,   // a product's output before its residual add, n_embd
};
inline constexpr int kActCount = 9;

// Row width of an activation buffer for a model.
inline int64_t act_width(const Hparams& hp, Act a) {
  switch (a) {
    case Act::X:
    case Act::XN:
    case Act::Tmp: return hp.n_embd;
    case Act::Q:
    case Act::Attn: return hp.n_embd_q();
    case Act::K:
    case Act::V: return hp.n_embd_kv();
    case Act::Gate:
    case Act::Up: return hp.n_ff;
  }
  return 0;
}

// One product of a batch: out[row] = W * in[row] for every row (W: ne1 rows of ne0).
struct MatJob {
  const Matrix* w;
  Act out;
};

// Causal attention of up to 4 consecutive queries of one sequence: query rows q_row ..
// q_row+n_q-1 of Act::Q (positions pos0 ..) write output rows out_row .. of Act::Attn, keys
// and values through the sequence's block table (kv_cache.h).
struct AttnJob {
  int32_t q_row;
  int32_t out_row;
  int32_t n_q;
  int32_t pos0;
  const int32_t* blocks;
};

class Device {
 public:
  virtual ~Device() = default;
  // For logs and benchmarks ("cpu avx512, 2 threads").
  virtual std::string describe() const = 0;
  // The host's CPU (weights and KV cache in host memory) or not.
  virtual bool is_cpu() const = 0;
  virtual int32_t n_threads() const = 0;
  // The most rows a batch may have (the size of the Act buffers).
  virtual int32_t max_rows() const = 0;

  // The start of a forward pass (before the KV cache reserves its cells, which may copy blocks):
  // a device that queues work drops what a failed pass left queued.
  virtual void begin() {}
  // Act::X row i := embedding row tokens[i], as f32.
  virtual void embed(const Matrix& emb, const int32_t* tokens, int32_t n) = 0;
  // The batch's positions, for the rope() calls that follow (row i at position pos[i]).
  virtual void set_positions(const int32_t* pos, int32_t n) = 0;
  // dst = x / sqrt(mean(x^2) + eps) * w, per row (sum of squares in double, as ggml).
  virtual void rms_norm(Act src, Act dst, const std::vector<float>& w, int32_t rows, float eps) = 0;
  // dst = (x - mean(x)) / sqrt(var(x) + eps) * w + b, per row (sums in double, as ggml).
  virtual void layer_norm(Act src, Act dst, const std::vector<float>& w, const std::vector<float>& b, int32_t rows,
                          float eps) = 0;
  // Up to 3 products sharing one input (Q/K/V, gate/up), rows 0 .. rows-1.
  virtual void matmul(std::span<const MatJob> jobs, Act in, int32_t rows) = 0;
  // The output projection, written to host memory: out[row * w.ne1 ..] (the logits).
  virtual void matmul_to_host(const Matrix& w, Act in, int32_t rows, float* out) = 0;
  // dst[row] += b (a bias), per row.
  virtual void add_bias(Act dst, const std::vector<float>& b, int32_t rows) = 0;
  // RoPE on n_heads heads of head_dim in each row, at the positions of set_positions().
  virtual void rope(Act dst, int32_t n_heads, int32_t rows) = 0;
  // Writes the K and V rows of the batch into the KV cells cells[0 .. rows-1].
  virtual void kv_store(KvCache& kv, int layer, const int32_t* cells, int32_t rows) = 0;
  // Act::Attn rows of the jobs from Act::Q and the layer's cache. window > 0: a query sees its
  // last `window` keys only (itself included); softcap > 0: scores become c * tanh(s / c)
  // before the softmax (gemma2).
  virtual void attention(const KvCache& kv, int layer, std::span<const AttnJob> jobs, int32_t window = 0,
                         float softcap = 0.0f) = 0;
  // Row k of buf := row rows[k], for k = 0 .. m-1 (rows ascending, rows[k] >= k).
  virtual void gather_rows(Act buf, const int32_t* rows, int32_t m) = 0;
  // dst += src over rows whole rows.
  virtual void add(Act dst, Act src, int32_t rows) = 0;
  // Gate = silu(Gate) * Up.
  virtual void swiglu(int32_t rows) = 0;
  // Gate = gelu(Gate) * Up, GELU's tanh form evaluated as ggml's CPU backend does: on the input
  // rounded to f16, the result rounded to f16 (its lookup table), 0 below -10, x above 10.
  virtual void geglu(int32_t rows) = 0;
  // a = gelu(a) in place, GELU as in geglu() (starcoder2's MLP, no gate).
  virtual void gelu(Act a, int32_t rows) = 0;
  // a *= s over rows whole rows (the embedding scale).
  virtual void scale(Act a, int32_t rows, float s) = 0;
  // Rows 0 .. rows-1 of an activation buffer from / to host memory (rows * width floats): the
  // residual stream crossing from one device to the next when the layers are split between
  // them (--n-gpu-layers). Reading waits for the work queued before it.
  virtual void read_act(Act a, int32_t rows, float* host) = 0;
  virtual void write_act(Act a, int32_t rows, const float* host) = 0;
  // The KV cache copied physical block `from` to `to` (copy-on-write of a shared block; the
  // cache has copied its host storage already). A device with storage of its own copies it.
  virtual void kv_copy_block(int32_t from, int32_t to) {}
  // The end of a forward pass: a device that queues work runs it now.
  virtual void finish() {}
};

}  // namespace nnb
