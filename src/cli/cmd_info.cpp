// nnbridge info: what a model file holds.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "engine/model/model.h"
#include "engine/runtime/devices.h"

namespace nnb::cli {

void add_info(CLI::App& app) {
  struct Opts {
    std::string model;
    bool metadata = false, devices = false;
  };
  auto o = std::make_shared<Opts>();
  auto* c = app.add_subcommand("info", "Show a model's architecture, hyper-parameters, tokenizer and tensor types, or the devices");
  c->add_option("model", o->model, "GGUF model file");
  c->add_flag("--metadata", o->metadata, "Also list every metadata key");
  c->add_flag("--devices", o->devices, "List the devices --device can name (the CPU, Vulkan GPUs) instead");
  c->callback([o] {
    if (o->devices) {
      if (!o->model.empty() || o->metadata) throw CLI::ValidationError("--devices", "takes no model and no --metadata");
      for (const DeviceListing& d : list_devices())
        std::printf("%-10s %s%s\n", d.spec.c_str(), d.description.c_str(),
                    d.usable ? "" : ("  [not usable: " + d.why_not + "]").c_str());
      return;
    }
    if (o->model.empty()) throw CLI::RequiredError("model");
    auto m = Model::load(o->model);
    const Hparams& hp = m->hparams();
    const gguf::File& f = m->file();
    std::printf("file:            %s (GGUF v%u, %d part%s, %.2f MiB)\n", o->model.c_str(), f.version(), f.n_splits(),
                f.n_splits() == 1 ? "" : "s", double(f.total_bytes()) / (1024.0 * 1024.0));
    std::printf("name:            %s\n", m->name().c_str());
    std::printf("architecture:    %s\n", hp.arch.c_str());
    std::printf("parameters:      %llu (%.1f M), weights %.2f MiB\n", (unsigned long long)m->n_params(),
                double(m->n_params()) / 1e6, double(m->weight_bytes()) / (1024.0 * 1024.0));
    std::printf("context length:  %d\n", hp.n_ctx_train);
    std::printf("embedding:       %d\n", hp.n_embd);
    std::printf("layers:          %d\n", hp.n_layer);
    std::printf("heads:           %d (kv %d, head size %d, rope dims %d, %s rope)\n", hp.n_head, hp.n_head_kv,
                hp.head_dim, hp.n_rot, hp.rope_type == RopeType::Normal ? "normal" : "neox");
    std::printf("feed-forward:    %d\n", hp.n_ff);
    std::printf("rope:            base %g, scale %g\n", hp.rope_freq_base, hp.rope_freq_scale);
    std::printf("rms epsilon:     %g\n", hp.rms_eps);
    std::printf("output:          %s\n", m->output_tied() ? "tied to token_embd" : "output.weight");
    const Vocab& v = m->vocab();
    std::printf("tokenizer:       %s (pre: %s), %d tokens, bos %d, eos %d, add_bos %s\n",
                v.kind() == Vocab::Kind::SPM ? "llama (SentencePiece)" : "gpt2 (BPE)", std::string(v.pre()).c_str(),
                v.n_tokens(), v.bos(), v.eos(), v.add_bos() ? "yes" : "no");
    std::map<std::string, int> counts;
    for (const auto& t : f.tensors()) counts[std::string(type_name(t.type))]++;
    std::printf("tensors:         %zu:", f.tensors().size());
    for (const auto& [name, n] : counts) std::printf(" %s x%d", name.c_str(), n);
    std::printf("\n");
    if (o->metadata)
      for (const auto& [k, val] : f.metadata()) std::printf("  %s = %s\n", k.c_str(), val.to_string().c_str());
  });
}

}  // namespace nnb::cli
