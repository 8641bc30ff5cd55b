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

constexpr std::array<ArchInfo, 2> kArchitectures = {make_llama(), make_qwen2()};

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

std::string_view unsupported_feature(const ArchInfo& a) {
  if (a.fused_qkv) return "fused QKV";
  if (a.fused_gate_up) return "fused gate/up FFN";
  if (a.ffn_act != FfnAct::SiluGated) return "GeLU FFN";
  if (a.embd_scale) return "embedding scale";
  if (a.norm != NormType::Rms) return "layer norm";
  if (a.post_norms) return "post-attention/post-FFN norms";
  if (a.attn_softcap) return "attention soft-capping";
  if (a.final_softcap) return "final logit soft-capping";
  if (a.sliding_window) return "sliding-window attention";
  if (a.output == Presence::Absent) return "always-tied output";
  return {};
}

const char* rope_type_name(RopeType r) { return r == RopeType::Normal ? "normal" : "neox"; }

}  // namespace nnb
