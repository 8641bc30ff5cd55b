// An inference context: its own KV cache and device (the CPU device: its buffers and thread
// pool) over a shared Model. decode() runs the llama forward pass (the graph llama.cpp builds for `llama` and
// `qwen2`) for a batch of tokens, which may belong to several sequences: each sequence has its
// own positions in the shared, paged KV cache (kv_cache.h), the matrix products run over the
// whole batch (each weight is read once per batch, whatever the number of sequences), and each
// token attends only to its own sequence. The single-sequence API (decode(tokens), n_past(),
// clear(), truncate()) is sequence 0, which is also the Context's Sequence (sequence.h) for
// the token loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/device/device.h"
#include "engine/device/kv_cache.h"
#include "engine/model/model.h"
#include "engine/runtime/sequence.h"

namespace nnb {

// One entry of a batch: token `token` at position `pos` of sequence `seq` (0 .. 65535); logits
// kept when `logits` is set. The positions of one sequence must follow each other, starting at
// the sequence's n_past(seq): the cache of a sequence is always positions 0 .. n-1 (a sequence
// is rewound with truncate(seq, n), not by decoding over old positions). Entries of different
// sequences may be in any order; those of one sequence that are adjacent in the batch share
// the attention kernels' key loads (group them for speed).
struct BatchToken {
  Token token = 0;
  int32_t pos = 0;
  int32_t seq = 0;
  bool logits = false;
};

struct ContextParams {
  int32_t n_ctx = 512;    // KV cache size in tokens (<= 0: the model's training context)
  int32_t n_batch = 512;  // tokens evaluated per forward pass
  int32_t n_threads = 0;  // <= 0: one per core (CPU device)
  std::string device = "cpu";  // auto | cpu | vulkan | vulkan:N (runtime/devices.h)
  // With a GPU device: layers [0, n_gpu_layers) on it, the rest (and the output) on the CPU,
  // as llama.cpp's --n-gpu-layers. < 0 or >= the model's layers: all on the device; 0: the CPU.
  int32_t n_gpu_layers = -1;
  // Element type of the KV cache (kv_cache.h): f32 (exact agreement with f32-cache runs) or
  // f16 (half the memory and the bytes attention reads; the CPU device only).
  KvType kv_type = KvType::F32;
};

// decode() stopped because the abort check asked it to (the cache holds what was evaluated
// before the stop).
struct CancelledError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ContextFullError (decode() would need more positions than the context holds): kv_cache.h.

class Context : public Sequence {
 public:
  Context(const Model& model, const ContextParams& params);
  ~Context() override;

  // Evaluates `tokens` at positions n_past() .. n_past()+n-1 of sequence 0 and appends them to
  // the cache. Logits are kept for the last token, or for every token when all_logits is set.
  // Throws ContextFullError (cache unchanged) or std::invalid_argument for a bad token id.
  // Throws CancelledError when the abort check returns true before a batch.
  void decode(std::span<const Token> tokens, bool all_logits);
  void decode(std::span<const Token> tokens) override { decode(tokens, false); }
  // Evaluates a batch of tokens of any sequences (see BatchToken), in forward passes of up to
  // n_batch entries. Logits are kept for the entries that ask for them (logits_ith(i)), in
  // batch order (logits_at(k): the k-th of them). Throws std::invalid_argument (bad token,
  // sequence or position), ContextFullError (a sequence would exceed n_ctx positions, or the
  // blocks of the shared cache would run out) — both before anything is evaluated, cache
  // unchanged — or CancelledError before a forward pass (the cache holds what was evaluated).
  void decode(std::span<const BatchToken> batch);
  // Polled before every batch of decode() (so between prompt chunks and between generated
  // tokens), like llama.cpp's abort callback. Empty: never stop.
  void set_abort_check(std::function<bool()> check) override { abort_check_ = std::move(check); }

  // The embedding of a text: evaluates `tokens` as sequence 0 from an empty cache, pools the
  // final hidden states (after the output norm) as the model's pooling type says (mean over the
  // tokens, the first, or the last) and L2-normalizes the result (n_embd floats), as WasmEdge
  // returns embeddings. The cache is empty again afterwards. Throws as decode() does.
  std::vector<float> embed(std::span<const Token> tokens);

  // Logits of the last token with logits of the last decode() (n_vocab floats).
  const float* logits() const override;
  // The i-th logits of the last decode() call (with all_logits: of its i-th token).
  const float* logits_at(int32_t i) const;
  // Logits of entry i of the last decode(batch) (it must have asked for them).
  const float* logits_ith(int32_t i) const;

  // Sequence 0.
  int32_t n_past() const override { return kv_.n_used(); }
  void clear() { kv_.truncate(0); }
  void truncate(int32_t n) override { kv_.truncate(n); }
  // Any sequence.
  int32_t n_past(int32_t seq) const { return kv_.n_pos(seq); }
  void truncate(int32_t seq, int32_t n) { kv_.truncate(seq, n); }
  // Releases the sequence's cache blocks (its id may be used again, from position 0).
  void drop_sequence(int32_t seq) { kv_.drop_sequence(seq); }
  // Sequence dst := the first n_prefix positions of src, sharing their cache blocks (no copy,
  // no evaluation; dst's own positions are dropped first). The two continue independently.
  void fork_sequence(int32_t src, int32_t dst, int32_t n_prefix) { kv_.fork(src, dst, n_prefix); }
  // Positions per sequence; the cells (n_ctx rounded up to blocks of 16) are shared by all.
  int32_t n_ctx() const override { return kv_.capacity(); }
  const KvCache& kv_cache() const { return kv_; }

  const Model& model() const override { return model_; }
  // The device of the first layer (the GPU when the layers are split).
  Device& device() { return *dev_; }
  // Layers on device() (the rest on the CPU device).
  int32_t n_device_layers() const { return split_; }
  int32_t n_threads() const { return dev_->n_threads(); }

 private:
  struct Plan;
  void forward(const BatchToken* batch, int32_t n);

  const Model& model_;
  ContextParams params_;
  KvCache kv_;
  std::unique_ptr<Device> dev_;
  std::unique_ptr<Device> rest_;  // the CPU, for layers split_ .. when they are split
  int32_t split_ = 0;
  std::unique_ptr<Plan> s_;
  std::vector<float> logits_;
  int32_t n_logits_ = 0;
  std::vector<int32_t> logits_row_;  // per entry of the last decode(): its logits row or -1
  std::vector<BatchToken> batch_;    // decode(tokens) as a batch of sequence 0
  bool hidden_mode_ = false;         // embed(): keep final hidden states instead of logits
  std::vector<float> hidden_;        // [rows wanted][n_embd] in that mode
  std::function<bool()> abort_check_;
};

}  // namespace nnb
