#include "http/completion_service.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "chat/chat_template.h"
#include "http/text_stream.h"
#include "nn/stream.h"

namespace nnb::http {

using nlohmann::json;

namespace {
// A text input as the backends take it: dims [1] and type 3 (U8 in WasmEdge's numbering; text
// backends read the bytes, whatever the type). It refers to `s`, which must outlive it.
nn::TensorView text_tensor(const std::string& s) {
  static const uint32_t kOne = 1;
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&kOne, 1);
  t.type = 3;
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
}  // namespace

ApiError api_error(const nn::Error& e) {
  using nn::Errno;
  switch (e.code()) {
    case Errno::NotFound:
    case Errno::ModelNotFound: return ApiError(404, "not_found_error", e.what(), "model", "model_not_found");
    case Errno::PromptTooLong:
      return ApiError(400, "invalid_request_error", e.what(), "messages", "context_length_exceeded");
    case Errno::InvalidArgument:
    case Errno::InvalidEncoding:
    case Errno::TooLarge: return ApiError(400, "invalid_request_error", e.what());
    case Errno::UnsupportedOperation: return ApiError(400, "invalid_request_error", e.what(), "", "unsupported");
    case Errno::Busy: return ApiError(503, "server_error", e.what(), "", "server_busy");
    default: return ApiError(500, "server_error", e.what());
  }
}

// A model's parsed template (or why it could not be parsed), with the token texts it uses.
struct CompletionService::TemplateEntry {
  std::unique_ptr<chat::ChatTemplate> tmpl;
  std::string error;
  nn::ModelInfo info;
};

CompletionService::CompletionService(std::shared_ptr<nn::Backend> backend, ServiceOptions opts)
    : backend_(std::move(backend)), opts_(std::move(opts)) {
  opts_.parallel = std::max<size_t>(opts_.parallel, 1);
}

CompletionService::~CompletionService() = default;

void CompletionService::note(const std::string& line) const {
  if (opts_.log) opts_.log(line);
}

std::vector<std::string> CompletionService::models() const {
  return opts_.list_models ? opts_.list_models() : std::vector<std::string>{};
}

std::string CompletionService::resolve_model(const std::string& requested) const {
  const auto names = models();
  if (requested.empty()) {
    if (names.empty()) throw ApiError(404, "not_found_error", "no model is loaded on this server", "model", "model_not_found");
    return names.front();
  }
  if (std::find(names.begin(), names.end(), requested) == names.end())
    throw ApiError(404, "not_found_error", "the model '" + requested + "' does not exist", "model", "model_not_found");
  return requested;
}

CompletionService::Loaded CompletionService::graph(const std::string& model) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (auto it = graphs_.find(model); it != graphs_.end()) return it->second;
  }
  // Loading can take a while: outside the lock (two first requests may both load; one wins).
  Loaded l;
  l.graph = backend_->load_by_name(model, {});
  l.info = l.graph->info();
  std::lock_guard<std::mutex> lk(mu_);
  return graphs_.try_emplace(model, std::move(l)).first->second;
}

const chat::ChatTemplate& CompletionService::chat_template(const std::string& model, nn::ModelInfo& info) {
  std::shared_ptr<TemplateEntry> e;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (auto it = templates_.find(model); it != templates_.end()) e = it->second;
  }
  if (!e) {
    e = std::make_shared<TemplateEntry>();
    e->info = graph(model).info;
    std::string source = opts_.chat_template_override;
    if (source.empty()) source = e->info.chat_template;
    if (source.empty()) {
      source = *chat::builtin_template("chatml");
      note("model '" + model + "' carries no chat template: using chatml (choose another with --chat-template)");
    }
    try {
      e->tmpl = std::make_unique<chat::ChatTemplate>(source);
    } catch (const chat::TemplateError& err) {
      e->error = std::string("the chat template of model '") + model + "' cannot be used: " + err.what();
      note(e->error);
    }
    std::lock_guard<std::mutex> lk(mu_);
    e = templates_.try_emplace(model, e).first->second;
  }
  if (!e->tmpl) throw ApiError(500, "server_error", e->error, "", "chat_template_unsupported");
  info = e->info;
  return *e->tmpl;
}

std::string CompletionService::chat_prompt(const std::string& model, const json& messages) {
  nn::ModelInfo info;
  const chat::ChatTemplate& t = chat_template(model, info);
  try {
    return chat::chat_prompt(t, messages, info.bos_token, info.eos_token);
  } catch (const chat::TemplateError& err) {
    // Templates raise on conversations they refuse (e.g. "System role not supported").
    throw ApiError(400, "invalid_request_error", std::string("the model's chat template refused the messages: ") + err.what(),
                   "messages");
  }
}

void CompletionService::forget(const std::string& model) {
  std::lock_guard<std::mutex> lk(mu_);
  graphs_.erase(model);
  idle_.erase(model);
}

std::unique_ptr<nn::ExecutionContext> CompletionService::take_context(const std::string& model, nn::Graph& g,
                                                                      const std::string& prompt) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& pool = idle_[model];
    if (!pool.empty()) {
      size_t best = pool.size() - 1, best_len = 0;  // no common prefix: the most recent one
      for (size_t i = 0; i < pool.size(); ++i) {
        const std::string& t = pool[i].text;
        const size_t n = std::min(t.size(), prompt.size());
        const size_t len = size_t(std::mismatch(t.begin(), t.begin() + ptrdiff_t(n), prompt.begin()).first - t.begin());
        if (len > best_len) best = i, best_len = len;
      }
      auto ctx = std::move(pool[best].ctx);
      pool.erase(pool.begin() + ptrdiff_t(best));
      return ctx;
    }
  }
  return g.init_execution_context();
}

void CompletionService::give_back(const std::string& model, std::unique_ptr<nn::ExecutionContext> ctx,
                                  std::string text) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& pool = idle_[model];
  if (pool.size() >= opts_.parallel) pool.erase(pool.begin());  // the least recently used goes
  pool.push_back({std::move(ctx), std::move(text)});
}

std::shared_ptr<void> CompletionService::acquire_slot(const std::function<bool()>& gone) {
  std::unique_lock<std::mutex> lk(mu_);
  const auto deadline = std::chrono::steady_clock::now() + opts_.queue_timeout;
  while (running_ >= opts_.parallel) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      throw ApiError(503, "server_error",
                     "the server is busy: " + std::to_string(opts_.parallel) + " generations are running", "",
                     "server_busy");
    slot_free_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(100)));
    if (gone && gone()) throw ApiError(499, "invalid_request_error", "the client went away while queued");
  }
  ++running_;
  return std::shared_ptr<void>(nullptr, [this](void*) {
    std::lock_guard<std::mutex> g(mu_);
    --running_;
    slot_free_.notify_one();
  });
}

EmbeddingResult CompletionService::embed(const EmbeddingRequest& req) {
  EmbeddingResult res;
  res.model = resolve_model(req.model);
  const auto slot = acquire_slot({});
  try {
    const Loaded m = graph(res.model);
    const int64_t ctx_size =
        m.info.n_ctx_train > 0 ? std::min(opts_.ctx_size, m.info.n_ctx_train) : opts_.ctx_size;
    auto ctx = take_context(res.model, *m.graph, "");
    const std::string options = json{{"embedding", true}, {"ctx-size", ctx_size}, {"cache-prompt", false}}.dump();
    ctx->set_input(1, text_tensor(options));
    for (const auto& input : req.inputs) {
      ctx->set_input(0, text_tensor(input));
      ctx->compute();
      const auto out = ctx->get_output(0);
      const auto j = json::parse(out.begin(), out.end(), nullptr, false);
      if (!j.is_object() || !j.contains("embedding") || !j["embedding"].is_array())
        throw ApiError(500, "server_error", "the backend answered no embedding");
      res.vectors.push_back(j["embedding"].get<std::vector<float>>());
      const auto meta = ctx->get_output(1);
      const auto mj = json::parse(meta.begin(), meta.end(), nullptr, false);
      if (mj.is_object() && mj.contains("input_tokens") && mj["input_tokens"].is_number_unsigned())
        res.prompt_tokens += mj["input_tokens"].get<uint32_t>();
    }
    give_back(res.model, std::move(ctx), "");  // its KV cache holds nothing a prompt can reuse
    note("embeddings: model=" + json(res.model).dump() + " inputs=" + std::to_string(req.inputs.size()) +
         " prompt_tokens=" + std::to_string(res.prompt_tokens) + " via=http");
    return res;
  } catch (const nn::Error& e) {
    throw api_error(e);
  }
}

CompletionResult CompletionService::run(const CompletionRequest& req,
                                        const std::function<bool(const std::string&)>& on_text,
                                        const std::function<bool()>& gone) {
  CompletionResult res;
  res.model = resolve_model(req.model);

  const auto slot = acquire_slot(gone);
  try {
    const Loaded m = graph(res.model);
    const std::string prompt = req.chat ? chat_prompt(res.model, req.messages) : req.prompt;
    const int64_t ctx_size =
        m.info.n_ctx_train > 0 ? std::min(opts_.ctx_size, m.info.n_ctx_train) : opts_.ctx_size;
    const std::string options = ggml_options(req, ctx_size);

    TextStream text(req.stop);
    bool receiver_gone = false;
    // What delivering a piece costs (UTF-8 and stop handling, JSON, SSE, the socket write),
    // counted in this thread's CPU time: on a shared machine wall time mostly measures the
    // neighbours. It is what this API adds to the engine's own time per token.
    double delivery_cpu_s = 0;
    const nn::PieceSink sink = [&](std::string_view piece) {
      const double c0 = thread_cpu_seconds();
      const std::string s = text.push(piece);
      const bool ok = s.empty() || on_text(s);
      delivery_cpu_s += thread_cpu_seconds() - c0;
      if (!ok) {
        receiver_gone = true;
        return false;
      }
      return !text.stopped();
    };
    nn::Outcome out;
    bool any_piece = false;
    const nn::PieceSink counted = [&](std::string_view piece) {
      any_piece = true;
      return sink(piece);
    };
    try {
      out = generate_pooled(res.model, *m.graph, prompt, options, counted, gone);
    } catch (const nn::Error& e) {
      // A graph or context handle the backend no longer knows (the host server restarted under
      // the gateway) fails before any text: forget this model's graph and contexts, load it
      // again and try once more. Anything else, or after text went out, is the client's error.
      if (any_piece || (gone && gone()) || e.code() != nn::Errno::InvalidArgument) throw;
      forget(res.model);
      note("model '" + res.model + "': " + e.what() + "; loading it again");
      const Loaded again = graph(res.model);
      out = generate_pooled(res.model, *again.graph, prompt, options, counted, gone);
    }
    const double delivery_us = out.produced > 0 ? delivery_cpu_s / out.produced * 1e6 : 0.0;
    if (receiver_gone || (out.stop == nn::StopReason::Cancelled && !text.stopped()))
      throw ApiError(499, "invalid_request_error", "the client went away");
    if (!text.stopped())
      if (const std::string rest = text.finish(); !rest.empty()) on_text(rest);
    res.prompt_tokens = out.input_tokens;
    res.completion_tokens = out.output_tokens;
    const auto meta = json::parse(out.metadata_json, nullptr, false);
    if (meta.is_object() && meta.contains("reused_tokens") && meta["reused_tokens"].is_number_unsigned())
      res.cached_tokens = meta["reused_tokens"].get<uint32_t>();
    if (text.stopped()) {
      // Ended by a stop sequence: the metadata (when the backend gave it) still counts the prompt.
      if (meta.is_object() && meta.contains("input_tokens") && meta["input_tokens"].is_number_unsigned())
        res.prompt_tokens = meta["input_tokens"].get<uint32_t>();
      res.finish_reason = "stop";
    } else {
      res.finish_reason =
          (out.stop == nn::StopReason::NPredict || out.stop == nn::StopReason::ContextFull) ? "length" : "stop";
    }
    res.first_token_seconds = out.prompt_seconds;
    res.generation_seconds = out.generation_seconds;
    // One line per completion, as the gRPC server logs its generations (the first token's time
    // is in prompt_s: the rate is over the tokens after it).
    char line[256];
    std::snprintf(line, sizeof line,
                  "generation: model=%s prompt_tokens=%u cached_tokens=%u output_tokens=%u prompt_s=%.3f "
                  "tokens_per_s=%.1f delivery_cpu_us_per_token=%.1f finish=%s via=http",
                  json(res.model).dump().c_str(), res.prompt_tokens, res.cached_tokens, res.completion_tokens,
                  out.prompt_seconds,
                  out.produced > 1 && out.generation_seconds > 0 ? double(out.produced - 1) / out.generation_seconds
                                                                  : -1.0,
                  delivery_us, res.finish_reason.c_str());
    note(line);
    return res;
  } catch (const nn::Error& e) {
    if (gone && gone()) throw ApiError(499, "invalid_request_error", "the client went away");
    throw api_error(e);
  }
}

nn::Outcome CompletionService::generate_pooled(const std::string& model, nn::Graph& g, const std::string& prompt,
                                               const std::string& options, const nn::PieceSink& on_piece,
                                               const std::function<bool()>& gone) {
  auto ctx = take_context(model, g, prompt);
  std::string answer;  // the raw pieces, to know what the context's cache holds afterwards
  const nn::PieceSink collect = [&](std::string_view piece) {
    answer.append(piece);
    return on_piece(piece);
  };
  nn::Outcome out;
  if (opts_.generate) {
    out = opts_.generate(*ctx, prompt, options, collect, gone);
  } else {
    ctx->set_input(1, text_tensor(options));
    ctx->set_input(0, text_tensor(prompt));
    ctx->set_abort_check(gone);
    out = nn::stream_generation(*ctx, collect, gone);
    ctx->set_abort_check({});
  }
  if (out.metadata_json.empty() && out.produced > 0) {
    try {
      const auto meta = ctx->get_output(1);
      out.metadata_json.assign(meta.begin(), meta.end());
    } catch (const nn::Error&) {
    }
  }
  if (!opts_.generate) {  // a Generate stream leaves nothing to finish
    try {
      ctx->fini_single();
    } catch (const nn::Error&) {
      return out;  // a context that cannot finish its stream is not reused
    }
  }
  give_back(model, std::move(ctx), prompt + answer);
  return out;
}

}  // namespace nnb::http
