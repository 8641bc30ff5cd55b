// An inference context: its own KV cache, scratch buffers and thread pool over a shared
// Model. decode() runs the llama forward pass (the graph llama.cpp builds for `llama` and
// `qwen2`) for a batch of tokens appended after the tokens already in the cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/threadpool.h"

namespace nnb {

struct ContextParams {
  int32_t n_ctx = 512;    // KV cache size in tokens (<= 0: the model's training context)
  int32_t n_batch = 512;  // tokens evaluated per forward pass
  int32_t n_threads = 0;  // <= 0: one per core
};

// decode() stopped because the abort check asked it to (the cache holds what was evaluated
// before the stop).
struct CancelledError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// decode() would need more positions than the context holds.
struct ContextFullError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Context {
 public:
  Context(const Model& model, const ContextParams& params);
  ~Context();

  // Evaluates `tokens` at positions n_past() .. n_past()+n-1 and appends them to the cache.
  // Logits are kept for the last token, or for every token when all_logits is set.
  // Throws ContextFullError (cache unchanged) or std::invalid_argument for a bad token id.
  // Throws CancelledError when the abort check returns true before a batch.
  void decode(std::span<const Token> tokens, bool all_logits = false);
  // Polled before every batch of decode() (so between prompt chunks and between generated
  // tokens), like llama.cpp's abort callback. Empty: never stop.
  void set_abort_check(std::function<bool()> check) { abort_check_ = std::move(check); }

  // Logits of the last decoded token (n_vocab floats).
  const float* logits() const;
  // With all_logits: logits of the i-th token of the last decode() call.
  const float* logits_at(int32_t i) const;

  int32_t n_past() const { return kv_.n_used(); }
  int32_t n_ctx() const { return kv_.capacity(); }
  void clear() { kv_.truncate(0); }
  void truncate(int32_t n) { kv_.truncate(n); }

  const Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }
  int32_t n_threads() const { return pool_.size(); }

 private:
  struct Scratch;
  struct MatOut {
    const Matrix* w;
    float* out;  // [n][w->ne1]
  };
  void forward(const Token* tokens, int32_t n, bool all_logits);
  // Products of up to 3 matrices with the same input, in one parallel region.
  void matmuls(const MatOut* m, int count, const float* in, int32_t n);
  void matmul(const Matrix& w, const float* in, int32_t n, float* out) {
    const MatOut m{&w, out};
    matmuls(&m, 1, in, n);
  }
  void attention(int layer, int32_t pos0, int32_t n, int32_t first_out);

  const Model& model_;
  ContextParams params_;
  ThreadPool pool_;
  KvCache kv_;
  std::unique_ptr<Scratch> s_;
  std::vector<float> logits_;
  int32_t n_logits_ = 0;
  std::function<bool()> abort_check_;
};

}  // namespace nnb
