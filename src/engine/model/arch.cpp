#include "engine/model/arch.h"

#include <array>
#include <stdexcept>

namespace nnb {
namespace {

constexpr ArchInfo make_llama() {
  ArchInfo a;
  a.name = "llama";
  a.rope = RopeType::Normal;
  a.qkv_bias = Presence::Optional;
  return a;
}

constexpr ArchInfo make_qwen2() {
  ArchInfo a;
  a.name = "qwen2";
  a.rope = RopeType::Neox;
  a.qkv_bias = Presence::Required;
  return a;
}

// Gemma: the embedding scaled by sqrt(n_embd), GELU-gated FFN, neox RoPE, the output always
// tied to the embedding (GGUF norms already hold HF's "1 +", so they are plain RMS norms).
constexpr ArchInfo make_gemma() {
  ArchInfo a;
  a.name = "gemma";
  a.rope = RopeType::Neox;
  a.ffn_act = FfnAct::GeluGated;
  a.embd_scale = true;
  a.output = Presence::Absent;
  return a;
}

// Phi-3: Q, K and V in one matrix, gate and up in one matrix, neox RoPE, and a sliding window
// over the keys in every layer when the file names one (<arch>.attention.sliding_window).
constexpr ArchInfo make_phi3() {
  ArchInfo a;
  a.name = "phi3";
  a.rope = RopeType::Neox;
  a.fused_qkv = true;
  a.fused_gate_up = true;
  a.sliding_window = true;
  return a;
}

// Gemma 2: gemma's graph plus RMS norms on the attention and FFN outputs before their residual
// adds, soft-capped attention scores and logits, and a sliding window on even layers.
constexpr ArchInfo make_gemma2() {
  ArchInfo a = make_gemma();
  a.name = "gemma2";
  a.post_norms = true;
  a.attn_softcap = true;
  a.final_softcap = true;
  a.sliding_window = true;
  a.swa_pattern = 2;
  return a;
}

// StarCoder2: LayerNorms with biases, biases on every projection, a GELU MLP without gate.
constexpr ArchInfo make_starcoder2() {
  ArchInfo a;
  a.name = "starcoder2";
  a.rope = RopeType::Neox;
  a.qkv_bias = Presence::Required;
  a.out_ffn_bias = true;
  a.ffn_act = FfnAct::Gelu;
  a.norm = NormType::Layer;
  return a;
}

// Command R (Cohere): one weight-only LayerNorm per layer feeding attention and a SwiGLU FFN in
// parallel, llama's RoPE pairing, logits scaled by logit_scale, and the output always the token
// embedding (llama.cpp reads no output.weight for it). Command R+ adds per-head Q/K norms.
constexpr ArchInfo make_command_r() {
  ArchInfo a;
  a.name = "command-r";
  a.rope = RopeType::Normal;
  a.norm = NormType::Layer;
  a.norm_bias = false;
  a.parallel_ffn = true;
  a.logit_scale = true;
  a.output = Presence::Absent;
  a.qk_norm = Presence::Optional;
  return a;
}

constexpr std::array<ArchInfo, 7> kArchitectures = {make_llama(),  make_qwen2(),  make_gemma(),    make_phi3(),
                                                    make_gemma2(), make_starcoder2(), make_command_r()};

}  // namespace

std::span<const ArchInfo> architectures() { return kArchitectures; }

const ArchInfo* find_architecture(std::string_view name) {
  for (const ArchInfo& a : kArchitectures)
    if (a.name == name) return &a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const ArchInfo& a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

const ArchInfo& require_architecture(std::string_view name) {
  if (const ArchInfo* a = find_architecture(name)) return *a;
  throw std::invalid_argument("unsupported model architecture '" + std::string(name) +
                              "' (supported: " + architecture_names() + ")");
}

// Every field of ArchInfo is computed by the forward pass today, except per-head Q/K norms: a
// row that requires them is refused here (an Optional row refuses, at load, the files that have
// them). A field added before its code is named here until then.
std::string_view unsupported_feature(const ArchInfo& a) {
  if (a.qk_norm == Presence::Required) return "per-head Q/K norms";
  return {};
}

const char* rope_type_name(RopeType r) { return r == RopeType::Normal ? "normal" : "neox"; }

}  // namespace nnb
