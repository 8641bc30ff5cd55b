// A graph over one model name's upstreams: its options (the backend's defaults, then the
// loader's config) are where each context starts. info() is empty: the upstream keeps the
// chat template, and WasmEdge apps render their own.
#pragma once

#include <memory>
#include <string>

#include "backends/openai/openai_context.h"
#include "backends/openai/openai_options.h"
#include "nn/backend.h"

namespace nnb::openai {

class OpenAIGraph : public nn::Graph {
 public:
  OpenAIGraph(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<const Runtime> rt, CompletionOptions opts)
      : pool_(std::move(pool)), rt_(std::move(rt)), opts_(std::move(opts)) {}
  std::unique_ptr<nn::ExecutionContext> init_execution_context() override {
    return std::make_unique<OpenAIExecutionContext>(pool_, rt_, opts_);
  }
  const std::string& name() const override { return pool_->name(); }

 private:
  std::shared_ptr<UpstreamPool> pool_;
  std::shared_ptr<const Runtime> rt_;
  CompletionOptions opts_;
};

}  // namespace nnb::openai
