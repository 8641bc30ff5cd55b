// A loaded llama-family model: its architecture row (arch.h), hyper-parameters, zero-copy weight
// views into the mmapped GGUF file, and the tokenizer. Immutable after load, so any number of
// contexts can share it.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/model/arch.h"
#include "engine/quant/ggml_types.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/vocab.h"

namespace nnb {

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Pooling { Mean, Cls, Last };

struct Hparams {
  std::string arch;  // general.architecture (its row: Model::arch())
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t n_ff = 0;
  int32_t head_dim = 0;  // attention.key_length, else n_embd / n_head
  int32_t n_rot = 0;     // rope.dimension_count, else head_dim
  float rms_eps = 1e-5f;  // the norm's epsilon (LayerNorm's for NormType::Layer rows)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  RopeType rope_type = RopeType::Normal;  // the architecture row's
  bool qkv_bias = false;  // Q/K/V biases are added: the row requires them, or allows and has them
  // How an embedding pools the tokens' hidden states (<arch>.pooling_type: 1 mean, 2 CLS = the
  // first token, 3 last); Mean when the file names none or another kind.
  Pooling pooling = Pooling::Mean;
  // Keys a query sees: the last n_swa positions, itself included (0: all).
  int32_t n_swa = 0;
  // Soft-capping constants (0: off): attention scores and final logits become c * tanh(x / c).
  float attn_softcap = 0.0f, final_softcap = 0.0f;
  // Logits are multiplied by this (<arch>.logit_scale, command-r); 0: not scaled.
  float logit_scale = 0.0f;
  // Attention scores are q·k times this: 1/sqrt(head_dim), except gemma2 27B (46 layers), whose
  // queries llama.cpp scales by 1/sqrt(n_embd / n_head) (it picks the scale by model size).
  float attn_scale = 0.0f;

  int32_t n_embd_kv() const { return n_head_kv * head_dim; }
  int32_t n_embd_q() const { return n_head * head_dim; }
};

// A 2-D weight matrix: ne0 = input width (row length), ne1 = output rows.
struct Matrix {
  const gguf::TensorInfo* info = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t ne0 = 0, ne1 = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;

  const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes; }
  explicit operator bool() const { return data != nullptr; }
};

struct Layer {
  std::vector<float> attn_norm, ffn_norm;  // norm weights, converted to f32 at load (no ffn_norm: parallel FFN)
  std::vector<float> attn_post_norm, ffn_post_norm;  // on the block outputs (gemma2), else empty
  std::vector<float> attn_norm_b, ffn_norm_b;        // LayerNorm biases (zeros for command-r), else empty
  std::vector<float> bo, b_up, b_down;               // projection biases (starcoder2), else empty
  std::vector<float> bq, bk, bv;           // Q/K/V biases (empty unless Hparams::qkv_bias)
  Matrix wq, wk, wv, wo;
  Matrix w_gate, w_up, w_down;
};

class Model {
 public:
  // Opens, validates (architecture, every expected tensor and its shape) and maps a model.
  // Throws gguf::Error / ModelError / std::runtime_error with a message naming the problem;
  // an architecture without a row, or whose row needs a feature the engine lacks, is refused
  // naming it (and the supported list).
  static std::unique_ptr<Model> load(const std::filesystem::path& path);

  const ArchInfo& arch() const { return *arch_; }
  const Hparams& hparams() const { return hp_; }
  const Vocab& vocab() const { return *vocab_; }
  const gguf::File& file() const { return *file_; }
  const std::filesystem::path& path() const { return path_; }
  std::string name() const;  // general.name, else the file name

  const Matrix& tok_embd() const { return tok_embd_; }
  const Matrix& output() const { return output_; }  // tok_embd when tied
  bool output_tied() const { return output_tied_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<float>& output_norm_bias() const { return output_norm_b_; }  // LayerNorm models
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<float>& rope_freq_factors() const { return rope_freqs_; }  // empty if none
  uint64_t n_params() const;
  uint64_t weight_bytes() const;

  // Data a device derives from the weights and keeps as long as the model (the CPU's copies for
  // generation): made by `make` on the first call for `key`, under a lock, then shared by every
  // context; a null result is kept too (the decision, e.g. "no room", is not retried).
  std::shared_ptr<const void> derived(const std::string& key,
                                      const std::function<std::shared_ptr<const void>()>& make) const {
    std::lock_guard<std::mutex> lock(derived_mu_);
    auto it = derived_.find(key);
    if (it == derived_.end()) it = derived_.emplace(key, make()).first;
    return it->second;
  }

 private:
  Model() = default;
  std::filesystem::path path_;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Vocab> vocab_;
  const ArchInfo* arch_ = nullptr;
  Hparams hp_;
  Matrix tok_embd_, output_;
  bool output_tied_ = false;
  std::vector<float> output_norm_, output_norm_b_;
  std::vector<float> rope_freqs_;
  std::vector<Layer> layers_;
  mutable std::mutex derived_mu_;
  mutable std::map<std::string, std::shared_ptr<const void>> derived_;
};

}  // namespace nnb
