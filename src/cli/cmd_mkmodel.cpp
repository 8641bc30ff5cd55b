// nnbridge mkmodel: write a GGUF of an architecture the engine accepts (llama, qwen2, gemma,
// phi3, gemma2, starcoder2, command-r) with seeded random weights (tests, benchmarks, demos).
#include <cstdio>
#include <stdexcept>

#include "cli/commands.h"
#include "engine/model/arch.h"
#include "engine/model/model_gen.h"

namespace nnb::cli {

void add_mkmodel(CLI::App& app) {
  struct Opts {
    std::string out, type = "F32", preset = "tiny", arch = "llama";
    ModelSpec spec;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("mkmodel", "Write a GGUF model (llama, qwen2, gemma, phi3, gemma2, starcoder2, command-r) with seeded random weights");
  c->add_option("-o,--output", o->out, "Output .gguf path")->required();
  c->add_option("--arch", o->arch, "Architecture: " + architecture_names() + " (qwen2: Q/K/V biases, neox rope; gemma: scaled embedding, GELU FFN, tied output; phi3: fused QKV and gate/up; gemma2: gemma + post norms, soft-capping; starcoder2: LayerNorms, biases, GELU MLP; command-r: weight-only LayerNorm, parallel attention and FFN, logit scale, tied output)")
      ->capture_default_str();
  c->add_option("--type", o->type, "Matrix type: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K ...")
      ->capture_default_str();
  c->add_option("--preset", o->preset, "tiny (~100K params) or bench (~220M: n_embd 1024, 12 layers, 16 heads, "
                                       "n_ff 2816, 32000 tokens)")
      ->check(CLI::IsMember({"tiny", "bench"}))
      ->capture_default_str();
  c->add_option("--n-vocab", o->spec.n_vocab, "Vocabulary size (overrides the preset)");
  c->add_option("--n-embd", o->spec.n_embd, "Embedding width");
  c->add_option("--n-layer", o->spec.n_layer, "Layers");
  c->add_option("--n-head", o->spec.n_head, "Attention heads");
  c->add_option("--n-head-kv", o->spec.n_head_kv, "KV heads (GQA)");
  c->add_option("--n-ff", o->spec.n_ff, "Feed-forward width");
  c->add_option("--seed", o->spec.seed, "Weight RNG seed")->capture_default_str();
  c->add_flag("--tied", o->spec.tied_output, "No output.weight (logits from token_embd)");
  c->callback([o, c] {
    if (!find_architecture(o->arch))
      throw CLI::ValidationError("--arch", "unsupported architecture '" + o->arch +
                                               "' (supported: " + architecture_names() + ")");
    const GgmlType type = parse_weight_type(o->type);
    ModelSpec s = o->preset == "bench" ? bench_model_spec(type) : ModelSpec{};
    s.type = type;
    if (o->preset == "tiny") s.output_type = type;
    // Explicit flags override the preset.
    auto set_if = [&](const char* flag, auto& field, auto value) {
      if (c->count(flag)) field = value;
    };
    set_if("--n-vocab", s.n_vocab, o->spec.n_vocab);
    set_if("--n-embd", s.n_embd, o->spec.n_embd);
    set_if("--n-layer", s.n_layer, o->spec.n_layer);
    set_if("--n-head", s.n_head, o->spec.n_head);
    set_if("--n-head-kv", s.n_head_kv, o->spec.n_head_kv);
    set_if("--n-ff", s.n_ff, o->spec.n_ff);
    s.arch = o->arch;
    s.seed = o->spec.seed;
    s.tied_output = o->spec.tied_output;
    write_model(s, o->out);
    std::fprintf(stderr, "nnbridge: wrote %s (%s %s, n_embd %d, %d layers, %d heads/%d kv, n_ff %d, %d tokens)\n",
                 o->out.c_str(), s.arch.c_str(), o->type.c_str(), s.n_embd, s.n_layer, s.n_head, s.n_head_kv, s.n_ff, s.n_vocab);
  });
}

}  // namespace nnb::cli
