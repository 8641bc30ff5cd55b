// A loaded GGML graph: a shared model plus the default options its loader gave (config of
// load_by_name_with_config, or none). Each load makes a new graph object, so two callers of one
// name never see each other's config; the model underneath is still shared.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "backends/ggml/ggml_options.h"
#include "backends/ggml/ggml_runtime.h"
#include "engine/model/model.h"
#include "nn/backend.h"

namespace nnb::ggml {

class GgmlGraph : public nn::Graph {
 public:
  GgmlGraph(std::string name, std::shared_ptr<const Model> model, GgmlOptions defaults,
            std::shared_ptr<const GgmlBackendOptions> runtime);

  // Throws Error(InvalidArgument) once the graph was unloaded.
  std::unique_ptr<nn::ExecutionContext> init_execution_context() override;
  const std::string& name() const override { return name_; }
  // The GGUF's tokenizer.chat_template and the BOS/EOS texts; Error(InvalidArgument) once unloaded.
  nn::ModelInfo info() const override;

  // The model (null once unloaded) and the options new contexts start from.
  std::shared_ptr<const Model> model() const;
  const GgmlOptions& defaults() const { return defaults_; }
  // Drops the graph's hold on the model; contexts already made keep theirs until destroyed.
  void release();

 private:
  const std::string name_;
  const GgmlOptions defaults_;
  const std::shared_ptr<const GgmlBackendOptions> runtime_;
  mutable std::mutex mu_;  // guards model_ (unload may race with init_execution_context)
  std::shared_ptr<const Model> model_;
};

}  // namespace nnb::ggml
