#include "engine/model/model.h"

#include <cmath>
#include <cstdio>

#include "engine/quant/quants.h"

namespace nnb {
namespace {

std::string fmt_shape(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

std::string fmt_shape(const gguf::TensorInfo& t) {
  return fmt_shape(std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
}

// Rows [r0, r0 + n) of a matrix, as a matrix of their own (a view: no copy).
Matrix rows_of(const Matrix& m, int64_t r0, int64_t n) {
  Matrix v = m;
  v.data = m.row(r0);
  v.ne1 = n;
  return v;
}

class Loader {
 public:
  explicit Loader(const gguf::File& f) : f_(f) {}

  const gguf::TensorInfo* find(const std::string& name, const std::vector<int64_t>& ne, bool required) {
    const gguf::TensorInfo* t = f_.tensor(name);
    if (!t) {
      if (required) throw ModelError("tensor '" + name + "' is missing from the model file");
      return nullptr;
    }
    bool ok = t->n_dims <= int(ne.size()) || [&] {
      for (int d = int(ne.size()); d < t->n_dims; ++d)
        if (t->ne[d] != 1) return false;
      return true;
    }();
    for (size_t d = 0; ok && d < ne.size(); ++d) ok = t->ne[d] == ne[d];
    if (!ok)
      throw ModelError("tensor '" + name + "' has shape " + fmt_shape(*t) + ", expected " + fmt_shape(ne));
    ++used_;
    return t;
  }

  Matrix matrix(const std::string& name, int64_t ne0, int64_t ne1, bool required = true) {
    Matrix m;
    const gguf::TensorInfo* t = find(name, {ne0, ne1}, required);
    if (!t) return m;
    if (!can_dequantize(t->type))
      throw ModelError("tensor '" + name + "' has type " + std::string(type_name(t->type)) +
                       ", which this engine cannot compute with");
    m.info = t;
    m.type = t->type;
    m.ne0 = ne0;
    m.ne1 = ne1;
    m.data = t->data;
    m.row_bytes = row_size(t->type, ne0);
    return m;
  }

  // 1-D tensors (norms, biases) are tiny: keep an f32 copy so the forward pass needs no
  // conversions for them whatever their stored type.
  std::vector<float> vector(const std::string& name, int64_t n, bool required = true) {
    const gguf::TensorInfo* t = find(name, {n}, required);
    if (!t) return {};
    if (!can_dequantize(t->type) || n % traits(t->type).block_size != 0)
      throw ModelError("tensor '" + name + "' has unsupported type " + std::string(type_name(t->type)));
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row(t->type, t->data, v.data(), n);
    return v;
  }

  size_t used() const { return used_; }

 private:
  const gguf::File& f_;
  size_t used_ = 0;
};

int32_t require_u32(const gguf::File& f, const std::string& key) {
  auto v = f.get_u32(key);
  if (!v) throw ModelError("required metadata key '" + key + "' is missing");
  if (*v == 0 || *v > (1u << 30)) throw ModelError("metadata '" + key + "' = " + std::to_string(*v) + " is out of range");
  return int32_t(*v);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::filesystem::path& path) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  m->file_ = gguf::File::open(path);
  const gguf::File& f = *m->file_;
  Hparams& hp = m->hp_;

  auto arch = f.get_string("general.architecture");
  if (!arch) throw ModelError("metadata key 'general.architecture' is missing");
  hp.arch = *arch;
  const ArchInfo* row = find_architecture(hp.arch);
  if (!row)
    throw ModelError("unsupported model architecture '" + hp.arch + "' (supported: " + architecture_names() + ")");
  if (const std::string_view feat = unsupported_feature(*row); !feat.empty())
    throw ModelError("model architecture '" + hp.arch + "' needs " + std::string(feat) +
                     ", which this engine does not compute yet");
  m->arch_ = row;
  const ArchInfo& ai = *row;
  hp.rope_type = ai.rope;
  const std::string a = hp.arch + ".";
  hp.n_embd = require_u32(f, a + "embedding_length");
  hp.n_layer = require_u32(f, a + "block_count");
  hp.n_ff = require_u32(f, a + "feed_forward_length");
  hp.n_head = require_u32(f, a + "attention.head_count");
  hp.n_head_kv = f.find(a + "attention.head_count_kv") ? require_u32(f, a + "attention.head_count_kv") : hp.n_head;
  hp.n_ctx_train = f.find(a + "context_length") ? require_u32(f, a + "context_length") : 2048;
  if (f.find(a + "expert_count") && f.get_u32(a + "expert_count").value_or(0) > 0)
    throw ModelError("mixture-of-experts models are not supported");
  if (hp.n_head % hp.n_head_kv != 0)
    throw ModelError("head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                     std::to_string(hp.n_head_kv));
  hp.head_dim = f.find(a + "attention.key_length") ? require_u32(f, a + "attention.key_length")
                                                    : hp.n_embd / hp.n_head;
  if (f.find(a + "attention.value_length") && require_u32(f, a + "attention.value_length") != hp.head_dim)
    throw ModelError("attention.value_length differs from key_length, which is not supported");
  if (hp.head_dim % 2 != 0) throw ModelError("attention head size " + std::to_string(hp.head_dim) + " is odd");
  // Every buffer size derives from these products: check them in 64-bit before anything is
  // sized from them (a crafted file must not wrap an int32 and shrink a buffer).
  constexpr int64_t kMaxWidth = int64_t(1) << 20;  // far above any real model's rows
  for (const auto& [what, v] : {std::pair<const char*, int64_t>{"embedding_length", hp.n_embd},
                                {"feed_forward_length", hp.n_ff},
                                {"head_count * key_length", int64_t(hp.n_head) * hp.head_dim},
                                {"head_count_kv * key_length", int64_t(hp.n_head_kv) * hp.head_dim}})
    if (v > kMaxWidth)
      throw ModelError(std::string("model width ") + what + " = " + std::to_string(v) + " exceeds " +
                       std::to_string(kMaxWidth));
  hp.n_rot = f.find(a + "rope.dimension_count") ? require_u32(f, a + "rope.dimension_count") : hp.head_dim;
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2) throw ModelError("rope.dimension_count is invalid");
  hp.rms_eps = float(f.get_float(ai.norm == NormType::Layer ? a + "attention.layer_norm_epsilon"
                                                             : a + "attention.layer_norm_rms_epsilon")
                         .value_or(1e-5));
  hp.rope_freq_base = float(f.get_float(a + "rope.freq_base").value_or(10000.0));
  if (auto st = f.get_string(a + "rope.scaling.type"); st && *st != "none") {
    if (*st != "linear" && *st != "llama3")
      throw ModelError("rope scaling type '" + *st + "' is not supported");
  }
  if (auto factor = f.get_float(a + "rope.scaling.factor"); factor && *factor > 0 &&
      f.get_string(a + "rope.scaling.type").value_or("linear") == "linear")
    hp.rope_freq_scale = float(1.0 / *factor);
  if (!(hp.rms_eps > 0) || !(hp.rope_freq_base > 0)) throw ModelError("rms epsilon / rope base must be positive");
  if (ai.sliding_window) hp.n_swa = int32_t(f.get_u32(a + "attention.sliding_window").value_or(0));
  auto softcap = [&](bool used, const std::string& key) {
    if (!used) return 0.0f;
    const double c = f.get_float(key).value_or(0.0);
    if (!(c > 0)) throw ModelError(key + " must be a positive number for " + hp.arch);
    return float(c);
  };
  hp.attn_scale = 1.0f / std::sqrt(float(hp.head_dim));
  if (hp.arch == "gemma2" && hp.n_layer == 46) hp.attn_scale = 1.0f / std::sqrt(float(hp.n_embd / hp.n_head));
  hp.attn_softcap = softcap(ai.attn_softcap, a + "attn_logit_softcapping");
  hp.final_softcap = softcap(ai.final_softcap, a + "final_logit_softcapping");
  if (ai.logit_scale) {
    const double c = f.get_float(a + "logit_scale").value_or(0.0);
    if (!(c > 0)) throw ModelError(a + "logit_scale must be a positive number for " + hp.arch);
    hp.logit_scale = float(c);
  }
  if (auto pt = f.get_u32(a + "pooling_type")) hp.pooling = *pt == 2 ? Pooling::Cls : *pt == 3 ? Pooling::Last : Pooling::Mean;

  m->vocab_ = Vocab::from_gguf(f);
  hp.n_vocab = m->vocab_->n_tokens();
  if (auto vs = f.get_u32(a + "vocab_size"); vs && int32_t(*vs) != hp.n_vocab)
    throw ModelError("vocab_size " + std::to_string(*vs) + " differs from the tokenizer's " +
                     std::to_string(hp.n_vocab) + " tokens");

  Loader ld(f);
  const int64_t E = hp.n_embd, Q = hp.n_embd_q(), KV = hp.n_embd_kv(), F = hp.n_ff;
  m->tok_embd_ = ld.matrix("token_embd.weight", E, hp.n_vocab);
  // A weight-only LayerNorm gets a zero bias: the devices' LayerNorm always adds one, and
  // adding 0 changes no value.
  auto norm_bias = [&](const std::string& name) {
    if (ai.norm != NormType::Layer) return std::vector<float>();
    return ai.norm_bias ? ld.vector(name, E) : std::vector<float>(size_t(E), 0.0f);
  };
  m->output_norm_ = ld.vector("output_norm.weight", E);
  m->output_norm_b_ = norm_bias("output_norm.bias");
  if (ai.output != Presence::Absent) m->output_ = ld.matrix("output.weight", E, hp.n_vocab, ai.output == Presence::Required);
  if (!m->output_) {
    m->output_ = m->tok_embd_;
    m->output_tied_ = true;
  }
  m->rope_freqs_ = ld.vector("rope_freqs.weight", hp.n_rot / 2, /*required=*/false);
  // LongRoPE (Phi-3's 128k variants) scales RoPE per dimension by context length; computing
  // these files with plain RoPE would be silently wrong, so they are refused.
  for (const char* t : {"rope_factors_long.weight", "rope_factors_short.weight"})
    if (f.tensor(t)) throw ModelError(std::string("tensor '") + t + "': LongRoPE scaling is not supported");
  // Q/K/V biases: per the row; an Optional set is used when layer 0 has it, and then every
  // layer must have all three (a partial set is an error, not silently half-applied).
  hp.qkv_bias = ai.qkv_bias == Presence::Required ||
                (ai.qkv_bias == Presence::Optional && f.tensor("blk.0.attn_q.bias") != nullptr);
  // Per-head Q/K norms are not computed: a file that has them would run wrong without them.
  if (ai.qk_norm != Presence::Absent)
    for (const char* t : {"blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"})
      if (f.tensor(t))
        throw ModelError("tensor '" + std::string(t) + "': per-head Q/K norms (" + hp.arch +
                         " models such as Command R+) are not computed yet");
  m->layers_.resize(size_t(hp.n_layer));
  for (int i = 0; i < hp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer& L = m->layers_[size_t(i)];
    L.attn_norm = ld.vector(p + "attn_norm.weight", E);
    L.attn_norm_b = norm_bias(p + "attn_norm.bias");
    if (!ai.parallel_ffn) L.ffn_norm_b = norm_bias(p + "ffn_norm.bias");
    if (ai.fused_qkv) {
      // One matrix whose output rows are Q, then K, then V: three views of its rows.
      const Matrix qkv = ld.matrix(p + "attn_qkv.weight", E, Q + 2 * KV);
      L.wq = rows_of(qkv, 0, Q);
      L.wk = rows_of(qkv, Q, KV);
      L.wv = rows_of(qkv, Q + KV, KV);
    } else {
      L.wq = ld.matrix(p + "attn_q.weight", E, Q);
      L.wk = ld.matrix(p + "attn_k.weight", E, KV);
      L.wv = ld.matrix(p + "attn_v.weight", E, KV);
    }
    L.wo = ld.matrix(p + "attn_output.weight", Q, E);
    if (hp.qkv_bias) {
      L.bq = ld.vector(p + "attn_q.bias", Q);
      L.bk = ld.vector(p + "attn_k.bias", KV);
      L.bv = ld.vector(p + "attn_v.bias", KV);
    }
    if (!ai.parallel_ffn) L.ffn_norm = ld.vector(p + "ffn_norm.weight", E);
    if (ai.fused_gate_up) {
      // ffn_up holds the gate's rows, then the up projection's.
      const Matrix gu = ld.matrix(p + "ffn_up.weight", E, 2 * F);
      L.w_gate = rows_of(gu, 0, F);
      L.w_up = rows_of(gu, F, F);
    } else if (ai.ffn_act == FfnAct::Gelu) {
      L.w_up = ld.matrix(p + "ffn_up.weight", E, F);  // no gate
    } else {
      L.w_gate = ld.matrix(p + "ffn_gate.weight", E, F);
      L.w_up = ld.matrix(p + "ffn_up.weight", E, F);
    }
    if (ai.out_ffn_bias) {
      L.bo = ld.vector(p + "attn_output.bias", E);
      L.b_up = ld.vector(p + "ffn_up.bias", F);
      L.b_down = ld.vector(p + "ffn_down.bias", E);
    }
    L.w_down = ld.matrix(p + "ffn_down.weight", F, E);
    if (ai.post_norms) {
      L.attn_post_norm = ld.vector(p + "post_attention_norm.weight", E);
      L.ffn_post_norm = ld.vector(p + "post_ffw_norm.weight", E);
    }
  }
  if (ld.used() != f.tensors().size())
    std::fprintf(stderr, "nnbridge: warning: %zu tensor(s) in %s are not used by the %s graph\n",
                 f.tensors().size() - ld.used(), path.filename().c_str(), hp.arch.c_str());
  return m;
}

std::string Model::name() const {
  if (auto n = file_->get_string("general.name"); n && !n->empty()) return *n;
  return path_.filename().string();
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += uint64_t(t.n_elements());
  return n;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.nbytes;
  return n;
}

}  // namespace nnb
