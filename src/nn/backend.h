// The WASI-NN model in C++: a Backend loads Graphs, a Graph makes ExecutionContexts.
// The local GGML engine implements it, and so does the RPC client (a remote host is just
// another backend); the wasm bindings and the gRPC server are thin adapters over it.
// Every failure is an nn::Error carrying the errno the caller must see.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn/stop_reason.h"
#include "nn/types.h"

namespace nnb::nn {

class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;

  virtual void set_input(uint32_t index, const TensorView& tensor) = 0;
  virtual void compute() = 0;
  // The whole output `index`. Adapters compare its size with the caller's buffer and answer
  // TooLarge with the needed size rather than truncating.
  virtual std::vector<uint8_t> get_output(uint32_t index) = 0;

  // Streaming (WasmEdge's GGML extension): compute_single produces one more token or throws
  // Error(EndOfSequence / ContextFull / PromptTooLong); get_output_single(0) is that token's
  // piece; fini_single ends the stream.
  virtual void compute_single() = 0;
  virtual std::vector<uint8_t> get_output_single(uint32_t index) = 0;
  virtual void fini_single() = 0;

  // Polled by long computations (before each prompt batch and each token): once it returns
  // true, the computation stops within that step with Error(RuntimeError, "cancelled …") and
  // the context is left ready for a new prompt. The server sets "the caller is gone, its
  // deadline passed or the server is stopping"; the guest runtime its --time-limit. Set it
  // between calls, not during one; an empty function never stops. Backends that cannot stop
  // early ignore it.
  virtual void set_abort_check(std::function<bool()> check) { (void)check; }

  // Why the last generation on this context ended (compute, or a compute_single stream that
  // answered EndOfSequence / ContextFull), Cancelled when the abort check stopped it; nullopt
  // while none has ended since the prompt was set, or when the backend cannot tell (then the
  // errno is all there is: 100 end of sequence, 101 context full). Not during another call.
  virtual std::optional<StopReason> stop_reason() { return std::nullopt; }
};

// What a chat adapter needs to prompt a model in its own format: the chat template (Jinja
// source as the model carries it, "" when it has none) and the texts its BOS / EOS tokens have
// in that template. Not part of WASI-NN: backends that cannot tell answer all empty.
struct ModelInfo {
  std::string chat_template;
  std::string bos_token, eos_token;
  int64_t n_ctx_train = 0;  // 0: unknown
  std::string device;       // where its contexts compute ("cpu", "vulkan:0" ...); "" unknown
};

class Graph {
 public:
  virtual ~Graph() = default;
  virtual std::unique_ptr<ExecutionContext> init_execution_context() = 0;
  virtual const std::string& name() const = 0;
  virtual ModelInfo info() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  // wasi-nn `load`: the graph from in-memory builders (for GGML: one builder holding a model
  // path or the GGUF bytes, per the backend's rules).
  virtual std::shared_ptr<Graph> load(std::span<const std::span<const uint8_t>> builders, GraphEncoding encoding,
                                      ExecutionTarget target) = 0;
  // wasi-nn `load_by_name` / `load_by_name_with_config` (config empty: none). Unknown name or
  // missing file → Error(ModelNotFound) for preloaded names whose file is absent, NotFound otherwise.
  virtual std::shared_ptr<Graph> load_by_name(std::string_view name, std::string_view config) = 0;
  // Forget a graph obtained from this backend (the name can be loaded again afterwards).
  virtual void unload(const std::shared_ptr<Graph>& graph) = 0;
};

}  // namespace nnb::nn
