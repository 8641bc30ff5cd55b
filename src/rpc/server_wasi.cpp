// WasmEdge's wasi_ephemeral_nn services (COMPAT §3), over the caller's session. Differences
// from wasi_nn_rpcserver, all deliberate: handles are random and scoped per session; every
// load makes a new graph with its own config; contexts are locked per call; tensor type
// numbers pass through unchanged; an output bigger than the message limit is TooLarge.
#include <span>

#include "rpc/server_services.h"

namespace nnb::rpc {

using nn::Errno;

namespace {

uint32_t add_graph(ServerState& st, Session& s, std::shared_ptr<nn::Graph> g) {
  // WasmEdge clients cannot unload (their protocol has no call for it) and several share an
  // anonymous session: at their larger bound the least recently used graph handle goes rather
  // than locking every one of them out (a graph is a small reference to a shared model; a
  // context made from it keeps its own). nnbridge sessions can unload: they get Busy. The
  // check and the insert are not atomic, so concurrent loads may overshoot by a few.
  constexpr size_t kAnonymousGraphsPerClientCap = 64;
  if (s.anonymous()) {
    while (s.graphs.size() >= st.opts.max_graphs_per_client * kAnonymousGraphsPerClientCap) s.evict_lru_graph();
  } else if (s.graphs.size() >= st.opts.max_graphs_per_client) {
    throw nn::Error(Errno::Busy, "too many graphs in this session (" + std::to_string(s.graphs.size()) +
                                     ", --max-graphs-per-client " + std::to_string(st.opts.max_graphs_per_client) +
                                     "); unload some first");
  }
  return s.graphs.insert(std::make_shared<GraphEntry>(std::move(g)));
}

// compute / compute_single on the caller's context, stopped early if the caller goes away.
void compute_for(ServerState& st, Session& s, const wpb::ComputeRequest& req, const grpc::ServerContext& call,
                 bool single) {
  auto c = lock_context(s, req.resource_handle(), call);
  AbortWhenGone abort(st, s, call, *c);
  const auto t0 = std::chrono::steady_clock::now();
  // One log line per generation: after compute, or when a compute_single stream ends.
  auto log_generation = [&](double seconds, const nn::Error* end) {
    const std::string line = wasi_generation_line(single ? "compute_single" : "compute", s.id(),
                                                  c.entry->graph->name(), *c, seconds, end);
    if (!line.empty()) st.log(line);
  };
  try {
    single ? c->compute_single() : c->compute();
  } catch (const nn::Error& e) {
    if (!call_gone(st, s, call)) {
      if (e.code() == Errno::EndOfSequence || e.code() == Errno::ContextFull)
        log_generation(single ? -1 : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), &e);
      throw;
    }
    throw nn::Error(e.code(), std::string("stopped, the caller is gone (disconnected, deadline passed, session "
                                          "ended or server stopping): ") + e.what());
  }
  if (!single) log_generation(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), nullptr);
}

}  // namespace

grpc::Status WasiGraphService::LoadByName(grpc::ServerContext* call, const wpb::LoadByNameRequest* req,
                                          wpb::LoadByNameResult* res) {
  return run_call(st_, call, "load_by_name", [&](Session& s) {
    res->set_graph_handle(add_graph(st_, s, st_.backend->load_by_name(req->name(), {})));
  });
}

grpc::Status WasiGraphService::LoadByNameWithConfig(grpc::ServerContext* call,
                                                    const wpb::LoadByNameWithConfigRequest* req,
                                                    wpb::LoadByNameWithConfigResult* res) {
  return run_call(st_, call, "load_by_name_with_config", [&](Session& s) {
    res->set_graph_handle(add_graph(st_, s, st_.backend->load_by_name(req->name(), req->config())));
  });
}

grpc::Status WasiGraphResourceService::InitExecutionContext(grpc::ServerContext* call,
                                                            const wpb::InitExecutionContextRequest* req,
                                                            wpb::InitExecutionContextResult* res) {
  return run_call(st_, call, "init_execution_context", [&](Session& s) {
    auto g = s.graphs.get(req->resource_handle());
    if (!g) throw nn::Error(Errno::InvalidArgument, "unknown graph handle " + std::to_string(req->resource_handle()));
    g->touch();
    auto slot = st_.reserve_context(s, g->graph->name());
    auto entry = std::make_shared<ContextEntry>(std::move(slot), g->graph, g->graph->init_execution_context());
    res->set_ctx_handle(s.contexts.insert(std::move(entry)));
  });
}

grpc::Status WasiContextService::SetInput(grpc::ServerContext* call, const wpb::SetInputRequest* req,
                                          google::protobuf::Empty*) {
  return run_call(st_, call, "set_input", [&](Session& s) {
    auto c = lock_context(s, req->resource_handle(), *call);
    if (!req->has_tensor()) throw nn::Error(Errno::InvalidArgument, "set_input without a tensor");
    const auto& t = req->tensor();
    nn::TensorView view;
    view.dims = std::span<const uint32_t>(t.dimensions().data(), size_t(t.dimensions().size()));
    view.type = uint32_t(t.ty());  // the guest's own number, whatever the proto calls it
    view.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t.data().data()), t.data().size());
    c->set_input(req->index(), view);
  });
}

grpc::Status WasiContextService::Compute(grpc::ServerContext* call, const wpb::ComputeRequest* req,
                                         google::protobuf::Empty*) {
  return run_call(st_, call, "compute", [&](Session& s) { compute_for(st_, s, *req, *call, false); });
}

grpc::Status WasiContextService::ComputeSingle(grpc::ServerContext* call, const wpb::ComputeRequest* req,
                                               google::protobuf::Empty*) {
  return run_call(st_, call, "compute_single", [&](Session& s) { compute_for(st_, s, *req, *call, true); });
}

grpc::Status WasiContextService::output(grpc::ServerContext* call, const char* fn, const wpb::GetOutputRequest* req,
                                        wpb::GetOutputResult* res, bool single) {
  return run_call(st_, call, fn, [&](Session& s) {
    auto c = lock_context(s, req->resource_handle(), *call);
    const std::vector<uint8_t> out = single ? c->get_output_single(req->index()) : c->get_output(req->index());
    // The whole output goes back in one message; rather than let gRPC fail the send with a
    // transport error, say TooLarge (the guest's "buffer too small") with the sizes.
    constexpr size_t kEnvelope = 64;
    if (out.size() + kEnvelope > st_.opts.max_message_bytes)
      throw nn::Error(Errno::TooLarge, "output " + std::to_string(req->index()) + " is " + std::to_string(out.size()) +
                                           " bytes, over the server's message limit of " +
                                           std::to_string(st_.opts.max_message_bytes) + " bytes (--max-message-mb)");
    res->set_data(out.data(), out.size());
  });
}

grpc::Status WasiContextService::GetOutput(grpc::ServerContext* call, const wpb::GetOutputRequest* req,
                                           wpb::GetOutputResult* res) {
  return output(call, "get_output", req, res, false);
}

grpc::Status WasiContextService::GetOutputSingle(grpc::ServerContext* call, const wpb::GetOutputRequest* req,
                                                 wpb::GetOutputResult* res) {
  return output(call, "get_output_single", req, res, true);
}

grpc::Status WasiContextService::FiniSingle(grpc::ServerContext* call, const wpb::FiniSingleRequest* req,
                                            google::protobuf::Empty*) {
  return run_call(st_, call, "fini_single",
                  [&](Session& s) { lock_context(s, req->resource_handle(), *call)->fini_single(); });
}

}  // namespace nnb::rpc
