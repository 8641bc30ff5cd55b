#include "backends/ggml/ggml_graph.h"

#include "backends/ggml/ggml_context.h"

namespace nnb::ggml {

GgmlGraph::GgmlGraph(std::string name, std::shared_ptr<const Model> model, GgmlOptions defaults,
                     std::shared_ptr<const GgmlBackendOptions> runtime)
    : name_(std::move(name)), defaults_(std::move(defaults)), runtime_(std::move(runtime)), model_(std::move(model)) {}

std::unique_ptr<nn::ExecutionContext> GgmlGraph::init_execution_context() {
  auto m = model();
  if (!m) throw nn::Error(nn::Errno::InvalidArgument, "graph '" + name_ + "' was unloaded");
  return std::make_unique<GgmlExecutionContext>(std::move(m), defaults_, runtime_);
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
