#include "engine/model/model_gen.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/model/arch.h"
#include "engine/gguf/gguf.h"
#include "engine/quant/quants.h"

namespace nnb {
namespace {

// Word pieces for the vocabulary: common English words (so that prompts tokenize into
// whole words), then letter pairs and triples as filler up to n_vocab.
const char* const kWords[] = {
    "the", "a", "and", "to", "was", "he", "she", "it", "of", "in", "that", "they", "her", "his", "with",
    "on", "for", "said", "you", "day", "one", "time", "upon", "once", "there", "little", "girl", "boy",
    "big", "happy", "play", "named", "lily", "tim", "ben", "mom", "dog", "cat", "tree", "park", "sun",
    "friend", "friends", "saw", "went", "wanted", "very", "had", "were", "is", "are", "be", "not", "so",
    "but", "what", "all", "we", "can", "out", "up", "do", "go", "see", "like", "have", "from", "at",
    "story", "ball", "bird", "fun", "red", "blue", "house", "home", "ran", "looked", "found", "help",
};

std::vector<std::string> make_pieces(int32_t n) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (int32_t(out.size()) < n && seen.insert(p).second) out.push_back(p);
  };
  const std::string space = "\xe2\x96\x81";  // "▁", SentencePiece's space
  for (const char* w : kWords) add(space + w);
  // SentencePiece merges pairs of existing pieces, so every word needs its prefixes too.
  for (const char* w : kWords)
    for (size_t n = 1; w[n] != '\0'; ++n) add(space + std::string(w, n));
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c)), add(space + c);
  for (const char* p : {".", ",", "!", "?", "\xe2\x96\x81"}) add(p);
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b) add(std::string{a, b});
  for (char a = 'a'; a <= 'z'; ++a)
    for (char b = 'a'; b <= 'z'; ++b)
      for (char c = 'a'; c <= 'z'; ++c) {
        add(std::string{a, b, c});
        if (int32_t(out.size()) >= n) return out;
      }
  for (int i = 0; int32_t(out.size()) < n; ++i) add("<extra_" + std::to_string(i) + ">");
  return out;
}

class TensorMaker {
 public:
  TensorMaker(gguf::Writer& w, uint64_t seed, int n_threads)
      : w_(w), rng_(seed), n_threads_(n_threads > 0 ? n_threads : int(std::max(1u, std::thread::hardware_concurrency()))) {}

  void matrix(const std::string& name, GgmlType type, int64_t ne0, int64_t ne1, float stddev) {
    const size_t rb = row_size(type, ne0);
    std::vector<uint8_t> bytes(rb * size_t(ne1));
    if (ne0 * ne1 <= kSerialLimit) {
      // One stream for the whole model, in order: the files tests were tuned on.
      std::vector<float> v(size_t(ne0 * ne1));
      std::normal_distribution<float> nd(0.0f, stddev);
      for (auto& x : v) x = nd(rng_);
      parallel_rows(ne1, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) quantize_row(type, v.data() + r * ne0, bytes.data() + size_t(r) * rb, ne0);
      });
    } else {
      // A large matrix (7B-shaped models): each block of 64 rows draws from its own generator,
      // seeded from the model's stream and the block number, so the blocks fill in parallel
      // and the bytes still depend only on the spec, not on the thread count.
      const uint64_t tensor_seed = rng_();
      parallel_rows(ne1, 64, [&](int64_t r0, int64_t r1) {
        std::mt19937_64 g(tensor_seed ^ (uint64_t(r0 / 64 + 1) * 0x9E3779B97F4A7C15ull));
        std::normal_distribution<float> nd(0.0f, stddev);
        std::vector<float> row(static_cast<size_t>(ne0));
        for (int64_t r = r0; r < r1; ++r) {
          for (auto& x : row) x = nd(g);
          quantize_row(type, row.data(), bytes.data() + size_t(r) * rb, ne0);
        }
      });
    }
    w_.add_tensor(name, type, {ne0, ne1}, bytes.data(), bytes.size());
  }

  // N(0, 1) * scale, F32 (scale 0 still draws, so later tensors do not depend on it).
  void vector(const std::string& name, int64_t n, float scale) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = nd(rng_) * scale;
    w_.add_tensor(name, GgmlType::F32, {n}, v.data(), v.size() * sizeof(float));
  }

  void norm(const std::string& name, int64_t n) {
    std::uniform_real_distribution<float> ud(0.8f, 1.2f);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = ud(rng_);
    w_.add_tensor(name, GgmlType::F32, {n}, v.data(), v.size() * sizeof(float));
  }

 private:
  // Matrices above this many values take the parallel, block-seeded path.
  static constexpr int64_t kSerialLimit = int64_t(1) << 22;

  // fn(r0, r1) over blocks of `block` rows, on plain threads (the model layer stays off the
  // CPU device's pool); blocks are taken in any order, results do not depend on it.
  template <class Fn>
  void parallel_rows(int64_t n, int64_t block, Fn fn) {
    std::atomic<int64_t> next{0};
    auto work = [&] {
      for (int64_t b; (b = next.fetch_add(block)) < n;) fn(b, std::min(n, b + block));
    };
    std::vector<std::thread> workers;
    for (int i = 1; i < n_threads_; ++i) workers.emplace_back(work);
    work();
    for (std::thread& t : workers) t.join();
  }

  gguf::Writer& w_;
  std::mt19937_64 rng_;
  int n_threads_;
};

// llama.cpp's general.file_type numbers (llama_ftype) for a file whose matrices are `t`.
uint32_t llama_file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q2_K: return 10;
    case GgmlType::Q3_K: return 12;  // Q3_K_M
    case GgmlType::Q4_K: return 15;  // Q4_K_M
    case GgmlType::Q5_K: return 17;  // Q5_K_M
    case GgmlType::Q6_K: return 18;
    case GgmlType::IQ4_NL: return 25;
    case GgmlType::IQ4_XS: return 30;
    case GgmlType::BF16: return 32;
    default: return 0;
  }
}

}  // namespace

GgmlType parse_weight_type(const std::string& s0) {
  std::string s;
  for (char c : s0) s += char(std::toupper(static_cast<unsigned char>(c)));
  if (s.size() > 2 && (s.ends_with("_M") || s.ends_with("_S") || s.ends_with("_L")) && s.find("_K") != std::string::npos)
    s.resize(s.size() - 2);  // Q4_K_M -> Q4_K: one type for every matrix here
  static const std::pair<const char*, GgmlType> kNames[] = {
      {"F32", GgmlType::F32},   {"F16", GgmlType::F16},   {"BF16", GgmlType::BF16}, {"Q8_0", GgmlType::Q8_0},
      {"Q4_0", GgmlType::Q4_0}, {"Q4_1", GgmlType::Q4_1}, {"Q5_0", GgmlType::Q5_0}, {"Q5_1", GgmlType::Q5_1},
      {"Q2_K", GgmlType::Q2_K}, {"Q3_K", GgmlType::Q3_K}, {"Q4_K", GgmlType::Q4_K}, {"Q5_K", GgmlType::Q5_K},
      {"Q6_K", GgmlType::Q6_K}, {"IQ4_NL", GgmlType::IQ4_NL}, {"IQ4_XS", GgmlType::IQ4_XS},
  };
  for (const auto& [n, t] : kNames)
    if (s == n) {
      if (!can_quantize(t)) throw std::invalid_argument("the model generator cannot write " + s0 + " weights");
      return t;
    }
  throw std::invalid_argument("unknown weight type '" + s0 + "'");
}

ModelSpec bench_model_spec(GgmlType type) {
  ModelSpec s;
  s.name = "nnbridge-bench-220M";
  s.n_vocab = 32000;
  s.n_embd = 1024;
  s.n_layer = 12;
  s.n_head = 16;
  s.n_head_kv = 16;
  s.n_ff = 2816;
  s.type = type;
  // llama-quantize's mixtures keep the output matrix at higher precision for k-quants.
  const bool kquant = type == GgmlType::Q2_K || type == GgmlType::Q3_K || type == GgmlType::Q4_K ||
                      type == GgmlType::Q5_K || type == GgmlType::Q4_0 || type == GgmlType::Q4_1 ||
                      type == GgmlType::Q5_0 || type == GgmlType::Q5_1 || type == GgmlType::IQ4_NL ||
                      type == GgmlType::IQ4_XS;
  s.output_type = kquant && can_quantize(GgmlType::Q6_K) ? GgmlType::Q6_K : type;
  s.output_std = 0.02f;
  return s;
}

void write_model(const ModelSpec& sp, const std::filesystem::path& path) {
  const ArchInfo& arch = require_architecture(sp.arch);
  if (const std::string_view feat = unsupported_feature(arch); !feat.empty())
    throw std::invalid_argument("the model generator cannot write " + std::string(feat) + " (" + sp.arch + ")");
  if (sp.tied_output && arch.output == Presence::Required)
    throw std::invalid_argument(sp.arch + " models have an output.weight: a tied output cannot be written");
  if (sp.n_vocab < 259 + 5) throw std::invalid_argument("n_vocab must be at least 264");
  if (sp.n_embd <= 0 || sp.n_layer <= 0 || sp.n_head <= 0 || sp.n_head_kv <= 0 || sp.n_ff <= 0)
    throw std::invalid_argument("model dimensions must be positive");
  if (sp.n_embd % sp.n_head || sp.n_head % sp.n_head_kv || (sp.n_embd / sp.n_head) % 2)
    throw std::invalid_argument("n_embd must split into an even head size and n_head into n_head_kv groups");
  for (GgmlType t : {sp.type, sp.output_type}) {
    const int64_t bs = traits(t).block_size;
    if (!can_quantize(t)) throw std::invalid_argument("cannot write " + std::string(type_name(t)) + " weights");
    if (sp.n_embd % bs || sp.n_ff % bs)
      throw std::invalid_argument("n_embd and n_ff must be multiples of " + std::to_string(bs) + " for " +
                                  std::string(type_name(t)));
  }
  const int32_t hd = sp.n_embd / sp.n_head;

  gguf::Writer w;
  const std::string a(arch.name), k = a + ".";
  w.set_string("general.architecture", a);
  w.set_string("general.name", sp.name);
  w.set_u32("general.file_type", llama_file_type(sp.type));
  w.set_u32(k + "context_length", uint32_t(sp.n_ctx_train));
  w.set_u32(k + "embedding_length", uint32_t(sp.n_embd));
  w.set_u32(k + "block_count", uint32_t(sp.n_layer));
  w.set_u32(k + "feed_forward_length", uint32_t(sp.n_ff));
  w.set_u32(k + "attention.head_count", uint32_t(sp.n_head));
  w.set_u32(k + "attention.head_count_kv", uint32_t(sp.n_head_kv));
  w.set_u32(k + "rope.dimension_count", uint32_t(hd));
  w.set_f32(k + "rope.freq_base", 10000.0f);
  w.set_f32(k + (arch.norm == NormType::Layer ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon"),
            1e-5f);
  w.set_u32(k + "vocab_size", uint32_t(sp.n_vocab));
  if (arch.sliding_window) w.set_u32(k + "attention.sliding_window", uint32_t(std::max(sp.sliding_window, 0)));
  // Soft-capping constants small enough to change the logits of short runs (gemma2's real
  // ones are 50 and 30).
  if (arch.attn_softcap) w.set_f32(k + "attn_logit_softcapping", 8.0f);
  if (arch.final_softcap) w.set_f32(k + "final_logit_softcapping", 12.0f);
  // command-r 35B's is 0.0625; a larger one keeps generated logits far from uniform.
  if (arch.logit_scale) w.set_f32(k + "logit_scale", 0.5f);

  // SentencePiece vocabulary: control tokens, byte fallback, then word pieces by score.
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    scores.push_back(0);
    types.push_back(6);
  }
  auto pieces = make_pieces(sp.n_vocab - int32_t(tokens.size()));
  for (size_t i = 0; i < pieces.size(); ++i) {
    tokens.push_back(pieces[i]);
    scores.push_back(-float(i));
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);

  TensorMaker mk(w, sp.seed, sp.n_threads);
  const int64_t E = sp.n_embd, KV = int64_t(sp.n_head_kv) * hd, F = sp.n_ff;
  mk.matrix("token_embd.weight", sp.type, E, sp.n_vocab, 1.0f);
  for (int i = 0; i < sp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    mk.norm(p + "attn_norm.weight", E);
    const bool norm_bias = arch.norm == NormType::Layer && arch.norm_bias;
    if (norm_bias) mk.vector(p + "attn_norm.bias", E, sp.bias_std);
    if (arch.fused_qkv) {
      mk.matrix(p + "attn_qkv.weight", sp.type, E, E + 2 * KV, sp.weight_std);
    } else {
      mk.matrix(p + "attn_q.weight", sp.type, E, E, sp.weight_std);
      mk.matrix(p + "attn_k.weight", sp.type, E, KV, sp.weight_std);
      mk.matrix(p + "attn_v.weight", sp.type, E, KV, sp.weight_std);
    }
    if (arch.qkv_bias == Presence::Required) {  // Optional (llama): not written
      mk.vector(p + "attn_q.bias", E, sp.bias_std);
      mk.vector(p + "attn_k.bias", KV, sp.bias_std);
      mk.vector(p + "attn_v.bias", KV, sp.bias_std);
    }
    mk.matrix(p + "attn_output.weight", sp.type, E, E, sp.weight_std);
    if (arch.out_ffn_bias) mk.vector(p + "attn_output.bias", E, sp.bias_std);
    if (arch.post_norms) mk.norm(p + "post_attention_norm.weight", E);
    if (!arch.parallel_ffn) {  // a parallel FFN reads the attention's norm
      mk.norm(p + "ffn_norm.weight", E);
      if (norm_bias) mk.vector(p + "ffn_norm.bias", E, sp.bias_std);
    }
    if (arch.fused_gate_up) {
      mk.matrix(p + "ffn_up.weight", sp.type, E, 2 * F, sp.weight_std);
    } else if (arch.ffn_act == FfnAct::Gelu) {
      mk.matrix(p + "ffn_up.weight", sp.type, E, F, sp.weight_std);
      if (arch.out_ffn_bias) mk.vector(p + "ffn_up.bias", F, sp.bias_std);
    } else {
      mk.matrix(p + "ffn_gate.weight", sp.type, E, F, sp.weight_std);
      mk.matrix(p + "ffn_up.weight", sp.type, E, F, sp.weight_std);
    }
    mk.matrix(p + "ffn_down.weight", sp.type, F, E, sp.weight_std);
    if (arch.out_ffn_bias) mk.vector(p + "ffn_down.bias", E, sp.bias_std);
    if (arch.post_norms) mk.norm(p + "post_ffw_norm.weight", E);
  }
  mk.norm("output_norm.weight", E);
  if (arch.norm == NormType::Layer && arch.norm_bias) mk.vector("output_norm.bias", E, sp.bias_std);
  if (!sp.tied_output && arch.output != Presence::Absent)
    mk.matrix("output.weight", sp.output_type, E, sp.n_vocab, sp.output_std);
  w.write(path);
}

}  // namespace nnb
