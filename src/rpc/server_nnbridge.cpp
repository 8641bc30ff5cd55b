// nnbridge's own service: Session (a stream whose end frees the session), Generate (one
// message per token as soon as it exists, on a private context that is freed the moment the
// client goes away), ListModels, Unload, GraphInfo and FinalizeContext.
#include <filesystem>
#include <set>

#include "nn/stream.h"
#include "rpc/server_services.h"

namespace nnb::rpc {

using nn::Errno;

namespace {

// Keeps the session named by the call's metadata alive while the stream is open; when the
// client closes it, crashes or its connection drops (OnCancel), the session's graphs and
// contexts are freed at once.
class SessionReactor final : public grpc::ServerWriteReactor<npb::SessionEvent> {
 public:
  // The session is already attached (SessionRegistry::attach) for this stream.
  SessionReactor(ServerState& st, std::string id) : st_(st), id_(std::move(id)) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      event_.set_session_id(id_);
    }
    StartWrite(&event_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) end();  // the client is gone
  }
  void OnCancel() override { end(); }
  void OnDone() override {
    end_session();
    delete this;
  }

 private:
  // gRPC runs these callbacks on its own threads; the mutex orders them visibly (also to
  // ThreadSanitizer, which cannot see gRPC's internal synchronisation).
  void end() {
    end_session();  // free first: the client may be gone for good
    bool finish = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      finish = !finished_;
      finished_ = true;
    }
    // Not under the lock, and nothing after it: OnDone (which deletes this) may follow.
    if (finish) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "session ended"));
  }
  void end_session() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!detached_) {
      detached_ = true;
      st_.sessions.detach(id_);  // frees the session's contexts now
    }
  }

  ServerState& st_;
  const std::string id_;
  npb::SessionEvent event_;
  std::mutex mu_;
  bool finished_ = false, detached_ = false;
};

// A Session call refused before it starts (bad token, no or malformed session id).
class RefusedReactor final : public grpc::ServerWriteReactor<npb::SessionEvent> {
 public:
  explicit RefusedReactor(const grpc::Status& s) { Finish(s); }
  void OnDone() override { delete this; }
};

nn::TensorView text_tensor(const std::string& s, const uint32_t& dim) {
  nn::TensorView t;
  t.dims = std::span<const uint32_t>(&dim, 1);
  t.type = 3;  // U8 in wasmedge-wasi-nn 0.7+ numbering; the GGML backend ignores it
  t.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return t;
}

npb::StopReason to_wire(nn::StopReason r) {
  switch (r) {
    case nn::StopReason::EndOfGeneration: return npb::STOP_REASON_END_OF_GENERATION;
    case nn::StopReason::NPredict: return npb::STOP_REASON_N_PREDICT;
    case nn::StopReason::ReversePrompt: return npb::STOP_REASON_REVERSE_PROMPT;
    case nn::StopReason::ContextFull: return npb::STOP_REASON_CONTEXT_FULL;
    case nn::StopReason::Cancelled: return npb::STOP_REASON_CANCELLED;
  }
  return npb::STOP_REASON_UNSPECIFIED;
}

}  // namespace

grpc::ServerWriteReactor<npb::SessionEvent>* NnbridgeService::Session(grpc::CallbackServerContext* call,
                                                                     const npb::SessionRequest*) {
  st_.calls.fetch_add(1, std::memory_order_relaxed);
  auto refuse = [&](grpc::StatusCode code, Errno e, const std::string& why) {
    call->AddTrailingMetadata(kErrnoKey, std::to_string(uint32_t(e)));
    st_.log("session refused: " + why);
    return new RefusedReactor(grpc::Status(
        code, "failed to call host function \"session\", errno=" + std::to_string(uint32_t(e)) + ": " + why));
  };
  if (!st_.auth.check(*call))
    return refuse(grpc::StatusCode::UNAUTHENTICATED, Errno::RuntimeError,
                  "missing or wrong `authorization: Bearer` token");
  std::string id;
  try {
    id = session_id_of(*call);
  } catch (const nn::Error& e) {
    return refuse(grpc::StatusCode::UNKNOWN, e.code(), e.what());
  }
  if (id.empty())
    return refuse(grpc::StatusCode::UNKNOWN, Errno::InvalidArgument, "Session needs `nnbridge-session` metadata");
  try {
    st_.sessions.attach(id);
  } catch (const nn::Error& e) {  // --max-sessions reached
    return refuse(grpc::StatusCode::RESOURCE_EXHAUSTED, e.code(), e.what());
  }
  return new SessionReactor(st_, id);
}

grpc::Status NnbridgeService::Generate(grpc::ServerContext* call, const npb::GenerateRequest* req,
                                       grpc::ServerWriter<npb::GenerateResponse>* writer) {
  bool cancelled = false;
  size_t produced = 0;
  auto status = run_call(st_, call, "generate", [&](rpc::Session& s) {
    // The stream over one context whose options and prompt are set from the request.
    auto stream_on = [&](nn::ExecutionContext& ctx, const std::string& model) {
      AbortWhenGone abort(st_, s, *call, ctx);  // also stops a long prompt evaluation
      const uint32_t dim = 1;
      if (!req->use_context_input()) {
        if (!req->options_json().empty()) ctx.set_input(1, text_tensor(req->options_json(), dim));
        ctx.set_input(0, text_tensor(req->prompt(), dim));
      }

      npb::GenerateResponse msg;
      const nn::Outcome out = nn::stream_generation(
          ctx,
          [&](std::string_view piece) {
            msg.set_piece(piece.data(), piece.size());
            if (!writer->Write(msg)) return false;  // the client went away mid-stream
            ++produced;
            return true;
          },
          [&] { return call_gone(st_, s, *call); });
      if (out.stop == nn::StopReason::Cancelled) {
        cancelled = true;
        return;
      }
      const std::string_view stop = nn::stop_reason_name(out.stop);
      auto* fin = msg.mutable_final();
      fin->set_input_tokens(out.input_tokens);
      fin->set_output_tokens(out.output_tokens);
      fin->set_stop(to_wire(out.stop));
      fin->set_stop_reason(std::string(stop));  // for older clients
      fin->set_prompt_seconds(out.prompt_seconds);
      fin->set_generation_seconds(out.generation_seconds);
      fin->set_metadata_json(out.metadata_json);
      writer->Write(msg, grpc::WriteOptions().set_last_message());
      // The first token's time is in prompt_s: the rate is over the tokens after it.
      st_.log(generation_line({"generate", s.id(), model, out.input_tokens, out.output_tokens, out.prompt_seconds,
                               out.produced > 1 && out.generation_seconds > 0
                                   ? double(out.produced - 1) / out.generation_seconds
                                   : -1,
                               stop}));
    };
    if (req->use_context_input() && req->ctx_handle() == 0)
      throw nn::Error(Errno::InvalidArgument, "use_context_input needs a ctx_handle");
    if (req->ctx_handle() != 0) {
      // A context of this session: it keeps its KV cache between calls (with cache-prompt,
      // the next turn of a conversation evaluates only its new tokens).
      auto c = lock_context(s, req->ctx_handle(), *call);
      stream_on(*c, c.entry->graph->name());
      return;
    }
    std::shared_ptr<nn::Graph> graph;
    if (req->graph_handle() != 0) {
      auto g = s.graphs.get(req->graph_handle());
      if (!g) throw nn::Error(Errno::InvalidArgument, "unknown graph handle " + std::to_string(req->graph_handle()));
      g->touch();
      graph = g->graph;
    } else if (!req->model().empty()) {
      graph = st_.backend->load_by_name(req->model(), {});
    } else {
      throw nn::Error(Errno::InvalidArgument, "generate needs a ctx_handle, a graph_handle or a model name");
    }
    // A private context, in no handle table: it lives exactly as long as this call.
    ContextEntry entry(st_.reserve_context(s, graph->name()), graph, graph->init_execution_context());
    stream_on(*entry.ctx, graph->name());
  });
  if (cancelled) {
    st_.log("generate stopped after " + std::to_string(produced) +
            " tokens (client cancelled or gone, deadline passed, or server stopping); context freed");
    // Name the cause the client will recognise: a passed deadline is DEADLINE_EXCEEDED,
    // whichever side's status reaches the client first.
    if (std::chrono::system_clock::now() > call->deadline())
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "generate stopped: the call's deadline passed");
    return grpc::Status(grpc::StatusCode::CANCELLED, "generate cancelled");
  }
  return status;
}

grpc::Status NnbridgeService::ListModels(grpc::ServerContext* call, const npb::ListModelsRequest*,
                                         npb::ListModelsResponse* res) {
  return run_call(st_, call, "list_models", [&](rpc::Session&) {
    std::map<std::string, uint32_t> graphs_by_model;
    uint32_t graphs = 0;
    for (const auto& s : st_.sessions.all())
      for (const auto& [h, g] : s->graphs.items()) {
        ++graphs_by_model[g->graph->name()];
        ++graphs;
      }
    std::set<std::string> listed;
    for (const auto& p : st_.opts.preloads) {
      if (!listed.insert(p.name).second) continue;  // a name given several times: one model
      auto* m = res->add_models();
      m->set_name(p.name);
      // An upstream's key may ride in its URL's query (?key_file=…): show the address only.
      m->set_path(p.kind == nn::PreloadKind::OpenAIUpstream ? p.path.substr(0, p.path.find('?')) : p.path);
      std::error_code ec;
      // A file must exist; an upstream model is there when it is configured (its health is
      // the OpenAI backend's business, which routes around upstreams that are down).
      m->set_available(p.kind == nn::PreloadKind::OpenAIUpstream || std::filesystem::is_regular_file(p.path, ec));
      m->set_graphs(graphs_by_model[p.name]);
      m->set_contexts(uint32_t(st_.accounting->by_model(p.name)));
      // Models are mapped while some graph or context holds them (the backend shares one
      // mapping per file and drops it with the last holder).
      m->set_loaded(m->graphs() > 0 || m->contexts() > 0);
    }
    auto* stats = res->mutable_stats();
    stats->set_sessions(uint32_t(st_.sessions.count()));
    stats->set_graphs(graphs);
    stats->set_contexts(uint32_t(st_.accounting->total()));
    stats->set_calls(st_.calls.load());
  });
}

grpc::Status NnbridgeService::Unload(grpc::ServerContext* call, const npb::UnloadRequest* req, npb::UnloadResponse*) {
  return run_call(st_, call, "unload", [&](rpc::Session& s) {
    auto g = s.graphs.erase(req->graph_handle());
    if (!g) throw nn::Error(Errno::InvalidArgument, "unknown graph handle " + std::to_string(req->graph_handle()));
    st_.backend->unload(g->graph);
  });
}

grpc::Status NnbridgeService::GraphInfo(grpc::ServerContext* call, const npb::GraphInfoRequest* req,
                                        npb::GraphInfoResponse* res) {
  return run_call(st_, call, "graph_info", [&](rpc::Session& s) {
    auto g = s.graphs.get(req->graph_handle());
    if (!g) throw nn::Error(Errno::InvalidArgument, "unknown graph handle " + std::to_string(req->graph_handle()));
    g->touch();
    const nn::ModelInfo info = g->graph->info();
    res->set_chat_template(info.chat_template);
    res->set_bos_token(info.bos_token);
    res->set_eos_token(info.eos_token);
    res->set_n_ctx_train(info.n_ctx_train);
    res->set_device(info.device);
  });
}

grpc::Status NnbridgeService::FinalizeContext(grpc::ServerContext* call, const npb::FinalizeContextRequest* req,
                                              npb::FinalizeContextResponse*) {
  return run_call(st_, call, "finalize_context", [&](rpc::Session& s) {
    if (!s.contexts.erase(req->ctx_handle()))
      throw nn::Error(Errno::InvalidArgument, "unknown execution context handle " + std::to_string(req->ctx_handle()));
  });
}

}  // namespace nnb::rpc
