// One completion over any nn::Backend: the local GGML engine on the host (`serve --http`) or
// the remote backend in the guest (`gateway`). It owns what both HTTP front ends share: a
// graph per model, a small pool of idle execution contexts per model (their KV cache and
// buffers are reused; at most `parallel` generations run at once, later ones wait their turn),
// the chat prompt (the model's own template, or the one the operator named), stop sequences
// and UTF-8 assembly. It knows nothing of HTTP; the API server turns its results into JSON.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/openai_request.h"
#include "nn/backend.h"
#include "nn/stop_reason.h"
#include "nn/stream.h"

namespace nnb::chat {
class ChatTemplate;
}

namespace nnb::http {

// How one generation runs on an execution context (from the pool; its options and prompt are
// replaced by these). Empty: set_input + compute_single on the context itself, the local way.
// The gateway streams it with RemoteBackend::generate instead: one Generate stream on that
// context per completion, not two RPCs per token. Returns what stream_generation would; `gone`
// true or the sink returning false cancel it.
using GenerateFn = std::function<nn::Outcome(nn::ExecutionContext& ctx, const std::string& prompt,
                                             const std::string& options_json, const nn::PieceSink& on_piece,
                                             const std::function<bool()>& gone)>;

struct ServiceOptions {
  // The model names the API offers (GET /v1/models; the first is the default for requests
  // without "model"). Called per request: a remote host's list can change.
  std::function<std::vector<std::string>()> list_models;
  int64_t ctx_size = 4096;  // per generation; at most the model's training context
  size_t parallel = 4;      // generations running at once
  std::chrono::milliseconds queue_timeout{std::chrono::seconds(60)};  // then 503
  // --chat-template: a built-in name or a file's text; "" = each model's own template.
  std::string chat_template_override;
  std::function<void(const std::string&)> log;  // notes (fallback templates ...); may be empty
  GenerateFn generate;  // empty: compute_single on the context
};

struct CompletionResult {
  std::string model;
  std::string finish_reason;  // "stop" or "length"
  uint32_t prompt_tokens = 0, completion_tokens = 0;
  uint32_t cached_tokens = 0;  // prompt tokens whose KV cache was reused (not evaluated again)
  double first_token_seconds = 0, generation_seconds = 0;
};

struct EmbeddingResult {
  std::string model;
  std::vector<std::vector<float>> vectors;  // one per input, L2-normalised
  uint32_t prompt_tokens = 0;
};

class CompletionService {
 public:
  CompletionService(std::shared_ptr<nn::Backend> backend, ServiceOptions opts);
  ~CompletionService();

  std::vector<std::string> models() const;
  // The model a request names, or the default; ApiError 404 when unknown.
  std::string resolve_model(const std::string& requested) const;
  // The prompt text the model gets for a chat request (its template, generation prompt added).
  std::string chat_prompt(const std::string& model, const nlohmann::json& messages);

  // Runs the request. on_text gets text as it becomes final (whole UTF-8, stop sequences
  // removed) and returns false when its receiver is gone; `gone` is polled during prompt
  // evaluation and between tokens. Both cancel the generation. Throws ApiError.
  CompletionResult run(const CompletionRequest& req, const std::function<bool(const std::string&)>& on_text,
                       const std::function<bool()>& gone);

  // The embeddings of the inputs, one after another on a pooled context (the backend's
  // "embedding": true, pooled as the model says). Throws ApiError.
  EmbeddingResult embed(const EmbeddingRequest& req);

 private:
  struct Loaded {
    std::shared_ptr<nn::Graph> graph;
    nn::ModelInfo info;
  };
  Loaded graph(const std::string& model);
  const chat::ChatTemplate& chat_template(const std::string& model, nn::ModelInfo& info);
  // An idle context of the model: the one whose last prompt and answer share the longest
  // beginning with `prompt` (its KV cache then covers that part), else a new one.
  std::unique_ptr<nn::ExecutionContext> take_context(const std::string& model, nn::Graph& g, const std::string& prompt);
  void give_back(const std::string& model, std::unique_ptr<nn::ExecutionContext> ctx, std::string text);
  void forget(const std::string& model);  // drops its graph and idle contexts (stale handles)
  // One generation over a pooled context; metadata_json is read even when the sink stopped
  // it, for the prompt's token count.
  nn::Outcome generate_pooled(const std::string& model, nn::Graph& g, const std::string& prompt,
                              const std::string& options, const nn::PieceSink& on_piece,
                              const std::function<bool()>& gone);
  void note(const std::string& line) const;
  // A generation slot (at most `parallel` at once); released by the returned guard.
  std::shared_ptr<void> acquire_slot(const std::function<bool()>& gone);

  std::shared_ptr<nn::Backend> backend_;
  ServiceOptions opts_;
  std::mutex mu_;
  std::condition_variable slot_free_;
  size_t running_ = 0;
  std::map<std::string, Loaded> graphs_;
  struct Idle {
    std::unique_ptr<nn::ExecutionContext> ctx;
    std::string text;  // its last prompt + answer
  };
  std::map<std::string, std::vector<Idle>> idle_;  // most recently used last
  struct TemplateEntry;
  std::map<std::string, std::shared_ptr<TemplateEntry>> templates_;
};

// nn::Error → the API's error (404 unknown model, 400 bad input or prompt too long, 503 busy,
// 500 otherwise).
ApiError api_error(const nn::Error& e);

}  // namespace nnb::http
