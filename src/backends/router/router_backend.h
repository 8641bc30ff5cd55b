// An nn::Backend that hands each model name to the backend serving it (the GGML engine for
// local files, the OpenAI backend for names that live on a fleet), so that the adapters above
// (gRPC services, Generate, the HTTP API) stay ignorant of backend kinds. load() from bytes
// and names no route claims go to the fallback.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "nn/backend.h"

namespace nnb::router {

class RouterBackend : public nn::Backend {
 public:
  explicit RouterBackend(std::shared_ptr<nn::Backend> fallback) : fallback_(std::move(fallback)) {}

  // Names served by `backend`; throws std::invalid_argument when `name` is routed already.
  void route(const std::string& name, std::shared_ptr<nn::Backend> backend);

  std::shared_ptr<nn::Graph> load(std::span<const std::span<const uint8_t>> builders, nn::GraphEncoding encoding,
                                  nn::ExecutionTarget target) override {
    return fallback_->load(builders, encoding, target);
  }
  std::shared_ptr<nn::Graph> load_by_name(std::string_view name, std::string_view config) override {
    return backend_for(name).load_by_name(name, config);
  }
  // By the graph's name: a graph is named after the preload it was loaded by.
  void unload(const std::shared_ptr<nn::Graph>& graph) override { backend_for(graph->name()).unload(graph); }

 private:
  nn::Backend& backend_for(std::string_view name) const;

  std::shared_ptr<nn::Backend> fallback_;
  std::map<std::string, std::shared_ptr<nn::Backend>, std::less<>> routes_;
};

}  // namespace nnb::router
