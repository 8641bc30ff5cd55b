// nn::Backend over a fleet of OpenAI-compatible servers (vLLM, llama-server, TGI, Ollama,
// another nnbridge): each model name is a list of upstreams serving the same model, and
// load_by_name gives a graph whose contexts behave as the GGML backend's do (COMPAT §4), so
// WasmEdge apps, nnbridge's Generate and the HTTP API reach the fleet unchanged. A health
// checker thread probes every upstream (GET {base}/models): every health_interval_s while it
// is up, every second while it is down, and at once when a request has just failed on it.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/openai/openai_runtime.h"
#include "backends/openai/upstream_pool.h"
#include "nn/backend.h"

namespace nnb::openai {

class OpenAIBackend : public nn::Backend {
 public:
  // Throws std::invalid_argument for a model without upstreams or an invalid default options JSON.
  OpenAIBackend(std::map<std::string, std::vector<Upstream>> models, OpenAIBackendOptions opts = {});
  ~OpenAIBackend() override;

  // Models are reached by name only: UnsupportedOperation.
  std::shared_ptr<nn::Graph> load(std::span<const std::span<const uint8_t>> builders, nn::GraphEncoding encoding,
                                  nn::ExecutionTarget target) override;
  // Unknown name: NotFound. Bad config: as set_input(1). Nothing is sent upstream here.
  std::shared_ptr<nn::Graph> load_by_name(std::string_view name, std::string_view config) override;
  void unload(const std::shared_ptr<nn::Graph>& graph) override;

  // Probes every upstream of `name` now and says how each answered, for the start-up log:
  // "2 upstreams: http://a/v1#m (up), http://b/v1#m (down: Connection refused)".
  std::string describe(std::string_view name);

 private:
  void health_loop();
  // One probe; updates the pool's mark and returns "" when up, else why not.
  std::string probe(UpstreamPool& pool, size_t index);

  std::shared_ptr<Runtime> rt_;
  std::map<std::string, std::shared_ptr<UpstreamPool>, std::less<>> pools_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false, woken_ = false;
  std::thread health_;
};

}  // namespace nnb::openai
