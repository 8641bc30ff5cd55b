#include "backends/ggml/ggml_graph.h"

#include "backends/ggml/ggml_context.h"
#include "engine/runtime/devices.h"

namespace nnb::ggml {

GgmlGraph::GgmlGraph(std::string name, std::shared_ptr<const Model> model, GgmlOptions defaults,
                     std::shared_ptr<const GgmlBackendOptions> runtime)
    : name_(std::move(name)), defaults_(std::move(defaults)), runtime_(std::move(runtime)), model_(std::move(model)) {}

std::unique_ptr<nn::ExecutionContext> GgmlGraph::init_execution_context() {
  auto m = model();
  if (!m) throw nn::Error(nn::Errno::InvalidArgument, "graph '" + name_ + "' was unloaded");
  return std::make_unique<GgmlExecutionContext>(std::move(m), defaults_, runtime_);
}

nn::ModelInfo GgmlGraph::info() const {
  auto m = model();
  if (!m) throw nn::Error(nn::Errno::InvalidArgument, "graph '" + name_ + "' was unloaded");
  nn::ModelInfo info;
  info.chat_template = m->file().get_string("tokenizer.chat_template").value_or("");
  const Vocab& v = m->vocab();
  if (v.bos() >= 0) info.bos_token = v.token_text(v.bos());
  if (v.eos() >= 0) info.eos_token = v.token_text(v.eos());
  info.n_ctx_train = m->hparams().n_ctx_train;
  try {
    info.device = describe_device_choice(defaults_.device);  // "auto" names what it picks
  } catch (const std::exception&) {
    info.device = defaults_.device;
  }
  return info;
}

std::shared_ptr<const Model> GgmlGraph::model() const {
  std::lock_guard<std::mutex> lk(mu_);
  return model_;
}

void GgmlGraph::release() {
  std::shared_ptr<const Model> old;
  {
    std::lock_guard<std::mutex> lk(mu_);
    old.swap(model_);
  }  // the model may be unmapped here: outside the lock
}

}  // namespace nnb::ggml
