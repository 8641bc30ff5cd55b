// Architectures as data: one row per model architecture the engine accepts, naming every way
// the architecture departs from the llama graph. Model loading reads a row to know which
// tensors are required, optional or absent and which metadata keys apply; the forward pass
// (context.cpp) reads the row's flags instead of comparing names or testing for tensors.
//
// Every field describes a feature of some llama-family architecture (llama.cpp's graphs for
// phi3, gemma, gemma2, starcoder2, command-r ...). A feature the forward pass
// does not compute yet is listed by unsupported_feature(): a row asking for one is refused at
// load (and by the model generator) naming it, so a new row can never run a graph silently
// wrong. Adding an architecture is: a row here, the code of each feature it newly needs (then
// taken off unsupported_feature()), and its case in tests/engine_arch_generated_test.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace nnb {

// How RoPE pairs the dimensions of a head.
enum class RopeType {
  Normal,  // adjacent pairs (2i, 2i+1): llama, command-r
  Neox,    // split halves (i, i + n_rot/2): GPT-NeoX, qwen2, phi3, gemma
};

// Whether a tensor (or group of tensors) is in the file.
enum class Presence {
  Absent,    // never read (a file that has it gets the "not used" warning)
  Optional,  // used when present
  Required,  // loading fails without it
};

// The feed-forward block: act(gate(x)) * up(x), then down.
enum class FfnAct {
  SiluGated,  // SwiGLU: llama, qwen2, phi3
  GeluGated,  // GeGLU (tanh approximation): gemma, gemma2
  Gelu,       // down(gelu(up(x))), no gate: starcoder2
};

// The normalization before attention, before the FFN and before the output.
enum class NormType {
  Rms,    // x / sqrt(mean(x^2) + eps) * w: llama, qwen2, gemma
  Layer,  // (x - mean) / sqrt(var + eps) * w + b: starcoder2, phi2, command-r (b = 0)
};

struct ArchInfo {
  // general.architecture, also the prefix of the hyper-parameter keys ("<name>.block_count").
  std::string_view name;
  // RoPE dimension pairing. The rope hyper-parameters (rope.dimension_count, rope.freq_base,
  // rope.scaling.*, rope_freqs.weight) are read for every architecture.
  RopeType rope = RopeType::Normal;
  // blk.N.attn_{q,k,v}.bias, added after the projections (qwen2: Required; llama.cpp's llama
  // graph adds them when present: Optional). All three or none.
  Presence qkv_bias = Presence::Absent;
  // One blk.N.attn_qkv.weight [n_embd, n_embd_q + 2 n_embd_kv] instead of attn_q/k/v (phi3).
  bool fused_qkv = false;
  // One blk.N.ffn_up.weight [n_embd, 2 n_ff] holding gate then up, no ffn_gate (phi3).
  bool fused_gate_up = false;
  // The FFN activation.
  FfnAct ffn_act = FfnAct::SiluGated;
  // Biases on the attention output and the FFN's up and down projections (starcoder2).
  bool out_ffn_bias = false;
  // The token embedding is multiplied by sqrt(n_embd) before the first layer (gemma).
  bool embd_scale = false;
  // The normalization of the attention, FFN and output inputs.
  NormType norm = NormType::Rms;
  // Extra norms on the attention and FFN outputs before their residual additions,
  // blk.N.post_attention_norm / post_ffw_norm (gemma2).
  bool post_norms = false;
  // Attention scores become c * tanh(s / c), c = <name>.attn_logit_softcapping (gemma2).
  bool attn_softcap = false;
  // Logits become c * tanh(l / c), c = <name>.final_logit_softcapping (gemma2).
  bool final_softcap = false;
  // Attention sees only the last <name>.attention.sliding_window positions (0 or absent: all),
  // in the layers il with il % swa_pattern == 0: every layer (phi3: 1), every other one from
  // layer 0 (gemma2: 2).
  bool sliding_window = false;
  int swa_pattern = 1;
  // output.weight: Optional means logits from token_embd when absent (tied); gemma ties
  // always (Absent).
  Presence output = Presence::Optional;
  // LayerNorms with a bias tensor (starcoder2) or without one (command-r: the norms are
  // weight-only, computed as LayerNorms with a zero bias). Only read for NormType::Layer.
  bool norm_bias = true;
  // The attention and the FFN both read the attention norm's output and both add to the
  // residual: x + attn(norm(x)) + ffn(norm(x)), no ffn_norm (command-r).
  bool parallel_ffn = false;
  // Logits are multiplied by <name>.logit_scale (command-r).
  bool logit_scale = false;
  // Per-head LayerNorms on Q and K (blk.N.attn_q_norm / attn_k_norm, [head_dim, n_head]) that
  // some files of the row carry (Command R+: llama.cpp requires them from 64 layers on). Not
  // computed yet: Optional means a file without them loads and a file with them is refused
  // naming them, never run without them.
  Presence qk_norm = Presence::Absent;
};

// Every architecture the engine accepts, in a fixed order (llama, qwen2, gemma, phi3, gemma2,
// starcoder2, command-r).
std::span<const ArchInfo> architectures();

// The row named `name`, or nullptr.
const ArchInfo* find_architecture(std::string_view name);

// The row named `name`; throws std::invalid_argument naming it and the supported list
// ("unsupported model architecture 'phi3' (supported: llama, qwen2)").
const ArchInfo& require_architecture(std::string_view name);

// "llama, qwen2".
std::string architecture_names();

// The first feature `a` asks for that the forward pass does not compute yet ("fused QKV",
// "GeLU FFN", ...), or an empty view when it computes all of them.
std::string_view unsupported_feature(const ArchInfo& a);

const char* rope_type_name(RopeType r);  // "normal", "neox"

}  // namespace nnb
