#include "backends/ggml/ggml_backend.h"

#include <cstdio>
#include <stdexcept>

#include "backends/ggml/ggml_builder.h"

namespace nnb::ggml {

using nn::Errno;
using nn::Error;

GgmlBackend::GgmlBackend(std::vector<nn::PreloadSpec> preloads, GgmlBackendOptions opts)
    : rt_(std::make_shared<const GgmlBackendOptions>(with_defaults(std::move(opts)))) {
  try {
    GgmlOptions probe;
    apply_options_json(probe, rt_->default_options_json);
  } catch (const Error& e) {
    throw std::invalid_argument(std::string("default options (--nn-options): ") + e.what());
  }
  for (auto& p : preloads) {
    if (p.encoding != nn::GraphEncoding::GGML)
      throw std::invalid_argument("preload '" + p.name + "': encoding " + std::string(nn::encoding_name(p.encoding)) +
                                  " is not supported by the GGML backend (use GGML)");
    if (preloads_.count(p.name))
      throw std::invalid_argument("preload '" + p.name + "' is given twice");
    // The file is deliberately not checked here: a missing model must not stop start-up
    // (COMPAT §2); load_by_name reports it.
    std::string name = p.name;
    preloads_.emplace(std::move(name), std::move(p));
  }
}

// The guest's execution target, within what the host allows: CPU is honoured (the guest asked
// for the CPU), AUTO takes the host's --device, GPU and TPU take it too (a GPU when the host
// has one that can run the model; a host serving with --device cpu says so).
std::string GgmlBackend::device_for(nn::ExecutionTarget target) const {
  if (target == nn::ExecutionTarget::CPU) return "cpu";
  if ((target == nn::ExecutionTarget::GPU || target == nn::ExecutionTarget::TPU) && rt_->device == "cpu")
    rt_->logger(LogLevel::Note, "target " + std::string(nn::target_name(target)) +
                                    ": this host computes on the CPU (--device cpu)");
  return rt_->device;
}

// The host's KV cache type (--kv-type) must hold the model's heads (q8_0 keeps a scale per 32 of
// a head's dimensions): a model it cannot is refused when its graph is made (and named at
// start-up for a preload), not at each context.
static void check_kv_type_fits(const Model& model, KvType kv, const std::string& name) {
  const int32_t hd = model.hparams().head_dim;
  if (!KvCache::holds(kv, hd))
    throw Error(Errno::InvalidArgument, "model '" + name + "': the host's KV cache type q8_0 (--kv-type) needs a head "
                                        "dimension that is a multiple of 32, at most 512; this model's is " +
                                        std::to_string(hd));
}

std::shared_ptr<GgmlGraph> GgmlBackend::make_graph(std::string name, std::shared_ptr<const Model> model,
                                                   std::string_view config, nn::ExecutionTarget target) {
  check_kv_type_fits(*model, rt_->kv_type, name);
  GgmlOptions defaults;
  defaults.device = device_for(target);
  apply_options_json(defaults, rt_->default_options_json);  // checked in the constructor
  for (const auto& note : apply_options_json(defaults, config)) rt_->logger(LogLevel::Note, note);
  return std::make_shared<GgmlGraph>(std::move(name), std::move(model), std::move(defaults), rt_);
}

std::shared_ptr<nn::Graph> GgmlBackend::load_by_name(std::string_view name, std::string_view config) {
  auto it = preloads_.find(name);
  if (it == preloads_.end())
    throw Error(Errno::NotFound, "no model named '" + std::string(name) + "' (give it with --nn-preload)");
  // The config is checked before the (possibly slow) model load.
  GgmlOptions probe;
  apply_options_json(probe, config);
  auto model = models_.get(it->second.path);
  return make_graph(it->first, std::move(model), config, it->second.target);
}

std::string GgmlBackend::describe_preload(std::string_view name) {
  auto it = preloads_.find(name);
  if (it == preloads_.end()) throw Error(Errno::NotFound, "no model named '" + std::string(name) + "'");
  const auto model = models_.get(it->second.path);
  check_kv_type_fits(*model, rt_->kv_type, std::string(name));
  const Hparams& hp = model->hparams();
  // The most common weight type names the model's quantization ("Q4_K", "F16" ...).
  std::map<std::string, size_t> bytes_by_type;
  for (const auto& t : model->file().tensors()) bytes_by_type[std::string(type_name(t.type))] += t.nbytes;
  std::string main_type = "?";
  size_t most = 0;
  for (const auto& [type, n] : bytes_by_type)
    if (n > most) most = n, main_type = type;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %.1f M parameters, %s, context %d, %.1f MiB", hp.arch.c_str(),
                double(model->n_params()) / 1e6, main_type.c_str(), hp.n_ctx_train,
                double(model->file().total_bytes()) / (1024.0 * 1024.0));
  return buf;
}

std::shared_ptr<nn::Graph> GgmlBackend::load(std::span<const std::span<const uint8_t>> builders,
                                             nn::GraphEncoding encoding, nn::ExecutionTarget target) {
  if (encoding != nn::GraphEncoding::GGML)
    throw Error(Errno::InvalidEncoding, "encoding " + std::string(nn::encoding_name(encoding)) +
                                            " is not supported by the GGML backend");
  if (builders.empty()) throw Error(Errno::InvalidArgument, "load: no builder (expected the GGUF bytes or \"preload:<model path>\")");
  const std::string_view config =
      builders.size() > 1 ? std::string_view(reinterpret_cast<const char*>(builders[1].data()), builders[1].size())
                          : std::string_view();
  GgmlOptions probe;
  apply_options_json(probe, config);
  const auto b = builders[0];
  if (is_gguf_bytes(b)) return make_graph("<in-memory GGUF>", load_model_bytes(b), config, target);
  auto path = builder_path(b);
  if (!path)
    throw Error(Errno::InvalidArgument, "load: the builder is neither GGUF bytes nor \"preload:<model path>\" (" +
                                            std::to_string(b.size()) + " bytes)");
  // The guest names a host file here: only models the host chose to expose (--nn-preload)
  // may be opened, so a guest can neither read nor probe any other host path.
  std::error_code ec;
  const auto want = std::filesystem::weakly_canonical(*path, ec);
  bool exposed = false;
  for (const auto& [name, spec] : preloads_) {
    std::error_code ec2;
    if (!ec && std::filesystem::weakly_canonical(spec.path, ec2) == want && !ec2) exposed = true;
  }
  if (!exposed)
    throw Error(Errno::InvalidArgument, "load: \"preload:" + path->string() +
                                            "\" is not a model given with --nn-preload; other host files cannot be opened");
  return make_graph(path->string(), models_.get(*path), config, target);
}

void GgmlBackend::unload(const std::shared_ptr<nn::Graph>& graph) {
  auto g = std::dynamic_pointer_cast<GgmlGraph>(graph);
  if (!g) throw Error(Errno::InvalidArgument, "unload: not a graph of the GGML backend");
  g->release();  // idempotent; the model goes when its last graph and context let go
}

}  // namespace nnb::ggml
