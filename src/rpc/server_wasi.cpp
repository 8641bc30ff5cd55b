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
  // WasmEdge clients share the anonymous session and cannot unload (their protocol has no
  // call for it): they get a much larger bound, and the idle reaper frees their graphs. The
  // check and the insert are not atomic, so concurrent loads may overshoot by a few.
  constexpr size_t kAnonymousGraphsPerClientCap = 64;
  const size_t cap = s.anonymous() ? st.opts.max_graphs_per_client * kAnonymousGraphsPerClientCap
                                   : st.opts.max_graphs_per_client;
  if (s.graphs.size() >= cap)
    throw nn::Error(Errno::Busy, "too many graphs in this session (" + std::to_string(s.graphs.size()) +
                                     "); unload some first, or wait for idle ones to be freed");
  return s.graphs.insert(std::make_shared<GraphEntry>(std::move(g)));
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
  return run_call(st_, call, "compute", [&](Session& s) { lock_context(s, req->resource_handle(), *call)->compute(); });
}

grpc::Status WasiContextService::ComputeSingle(grpc::ServerContext* call, const wpb::ComputeRequest* req,
                                               google::protobuf::Empty*) {
  return run_call(st_, call, "compute_single",
                  [&](Session& s) { lock_context(s, req->resource_handle(), *call)->compute_single(); });
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
