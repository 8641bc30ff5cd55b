// nn::Backend over nnbridge's GGUF engine, behaving as WasmEdge 0.14.1's GGML (llama.cpp)
// backend does (COMPAT §4) minus its server bugs (§3): a missing preload file does not stop
// start-up but fails load_by_name with ModelNotFound; failed loads are not cached; every load
// returns a new graph with its own config; models are loaded lazily and shared per file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/ggml/ggml_graph.h"
#include "backends/ggml/ggml_model_cache.h"
#include "backends/ggml/ggml_runtime.h"
#include "nn/backend.h"
#include "nn/preload.h"

namespace nnb::ggml {

class GgmlBackend : public nn::Backend {
 public:
  // Throws std::invalid_argument for a preload whose encoding is not GGML or whose name
  // repeats an earlier one. Model files are not opened here.
  explicit GgmlBackend(std::vector<nn::PreloadSpec> preloads, GgmlBackendOptions opts = {});

  // builders[0]: GGUF bytes (starting with "GGUF"), or a UTF-8 path to a model file;
  // builders[1] (optional): config JSON, as load_by_name_with_config's. Encoding must be GGML
  // (else InvalidEncoding); a missing path is ModelNotFound.
  std::shared_ptr<nn::Graph> load(std::span<const std::span<const uint8_t>> builders, nn::GraphEncoding encoding,
                                  nn::ExecutionTarget target) override;
  // Unknown name: NotFound. Preloaded name whose file is missing: ModelNotFound. Bad config:
  // InvalidEncoding / InvalidArgument as for set_input(1).
  std::shared_ptr<nn::Graph> load_by_name(std::string_view name, std::string_view config) override;
  // Releases the graph's model reference. A graph from another backend: InvalidArgument.
  void unload(const std::shared_ptr<nn::Graph>& graph) override;

  size_t live_models() const { return models_.live_models(); }

  // Opens and validates preload `name` now (what a client's load_by_name would do) and says
  // what it is: "llama, 4.2 M parameters, Q4_0, context 512, 12.3 MiB". Throws nn::Error
  // with the reason it is unusable. Keeps nothing loaded once the caller drops the result.
  std::string describe_preload(std::string_view name);

 private:
  std::shared_ptr<GgmlGraph> make_graph(std::string name, std::shared_ptr<const Model> model, std::string_view config,
                                        nn::ExecutionTarget target);
  std::string device_for(nn::ExecutionTarget target) const;

  std::map<std::string, nn::PreloadSpec, std::less<>> preloads_;
  std::shared_ptr<const GgmlBackendOptions> rt_;
  ModelCache models_;
};

}  // namespace nnb::ggml
