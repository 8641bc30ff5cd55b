// The remote backend's WASI-NN calls: one unary RPC per nn::Backend / Graph / ExecutionContext
// method (COMPAT §3), errors mapped by Core::fail.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "rpc/client_objects.h"
#include "rpc/client_single_stream.h"
#include "rpc/client_session.h"

namespace nnb::rpc {
namespace {

// Destructors free server handles with a short deadline: a hung server must not hang exit.
constexpr std::chrono::milliseconds kCleanupTimeout{2000};

}  // namespace

RemoteBackend::Core::Core(ClientOptions o) : opts(std::move(o)), endpoint(parse_endpoint(opts.uri)) {
  session_id = random_session_id();
  channel = make_channel(opts, endpoint);
  graph = wasi_ephemeral_nn::Graph::NewStub(channel);
  graph_resource = wasi_ephemeral_nn::GraphResource::NewStub(channel);
  context = wasi_ephemeral_nn::GraphExecutionContextResource::NewStub(channel);
  nnbridge = nnbridge::v1::Nnbridge::NewStub(channel);
  if (opts.wasmedge_only) service = Service::Absent;
  else session = std::make_unique<SessionKeeper>(*this);
}

RemoteBackend::Core::~Core() { session.reset(); }

// ---- graph ----

RemoteGraph::~RemoteGraph() {
  if (unloaded_.load() || !core_->may_use_nnbridge()) return;
  grpc::ClientContext ctx;
  core_->prepare(ctx, kCleanupTimeout);
  nnbridge::v1::UnloadRequest req;
  req.set_graph_handle(handle_);
  nnbridge::v1::UnloadResponse resp;
  const grpc::Status st = core_->nnbridge->Unload(&ctx, req, &resp);
  core_->learn_service_absent(st, ctx);
}

void RemoteGraph::unload() {
  if (unloaded_.load()) throw nn::Error(nn::Errno::InvalidArgument, "graph '" + name_ + "' was already unloaded");
  if (!core_->may_use_nnbridge())
    throw nn::Error(nn::Errno::UnsupportedOperation,
                    "unload is not supported by the server at " + core_->endpoint.to_string() + " (WasmEdge protocol)");
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "Unload");
  nnbridge::v1::UnloadRequest req;
  req.set_graph_handle(handle_);
  nnbridge::v1::UnloadResponse resp;
  const grpc::Status st = core_->nnbridge->Unload(&ctx, req, &resp);
  if (core_->learn_service_absent(st, ctx)) {
    throw nn::Error(nn::Errno::UnsupportedOperation,
                    "unload is not supported by the server at " + core_->endpoint.to_string() + " (no Nnbridge service)");
  }
  core_->check(st, ctx, "Unload");
  core_->service = RemoteBackend::Core::Service::Present;
  unloaded_ = true;
}

nn::ModelInfo RemoteGraph::info() const {
  nn::ModelInfo info;
  if (!core_->may_use_nnbridge()) return info;
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "GraphInfo");
  nnbridge::v1::GraphInfoRequest req;
  req.set_graph_handle(handle_);
  nnbridge::v1::GraphInfoResponse resp;
  const grpc::Status st = core_->nnbridge->GraphInfo(&ctx, req, &resp);
  if (core_->learn_service_absent(st, ctx)) return info;
  core_->check(st, ctx, "GraphInfo");
  info.chat_template = resp.chat_template();
  info.bos_token = resp.bos_token();
  info.eos_token = resp.eos_token();
  info.n_ctx_train = resp.n_ctx_train();
  info.device = resp.device();
  return info;
}

std::unique_ptr<nn::ExecutionContext> RemoteGraph::init_execution_context() {
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "InitExecutionContext");
  wasi_ephemeral_nn::InitExecutionContextRequest req;
  req.set_resource_handle(handle_);
  wasi_ephemeral_nn::InitExecutionContextResult resp;
  core_->check(core_->graph_resource->InitExecutionContext(&ctx, req, &resp), ctx, "InitExecutionContext");
  return std::make_unique<RemoteContext>(core_, shared_from_this(), resp.ctx_handle());
}

// ---- execution context ----

RemoteContext::RemoteContext(std::shared_ptr<RemoteBackend::Core> core, std::shared_ptr<RemoteGraph> graph,
                             uint32_t handle)
    : core_(std::move(core)), graph_(std::move(graph)), handle_(handle), stream_stdout_(graph_->stream_stdout()) {}

RemoteContext::~RemoteContext() {
  end_stream();
  if (!core_->may_use_nnbridge()) return;
  grpc::ClientContext ctx;
  core_->prepare(ctx, kCleanupTimeout);
  nnbridge::v1::FinalizeContextRequest req;
  req.set_ctx_handle(handle_);
  nnbridge::v1::FinalizeContextResponse resp;
  const grpc::Status st = core_->nnbridge->FinalizeContext(&ctx, req, &resp);
  core_->learn_service_absent(st, ctx);
}

std::optional<bool> stream_stdout_option(std::string_view options_json) {
  const auto j = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("stream-stdout");
  if (it == j.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

void RemoteContext::set_input(uint32_t index, const nn::TensorView& tensor) {
  end_stream();
  piece_local_ = false;
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "SetInput");
  wasi_ephemeral_nn::SetInputRequest req;
  req.set_resource_handle(handle_);
  req.set_index(index);
  auto* t = req.mutable_tensor();
  for (uint32_t d : tensor.dims) t->add_dimensions(d);
  // The caller's own type number, unchanged: its meaning depends on the guest's crate (COMPAT §3).
  t->set_ty(static_cast<wasi_ephemeral_nn::TensorType>(tensor.type));
  t->set_data(tensor.data.data(), tensor.data.size());
  google::protobuf::Empty resp;
  core_->check(core_->context->SetInput(&ctx, req, &resp), ctx, "SetInput");
  if (index == 1) {  // metadata accepted by the server: track its stream-stdout
    const std::string_view json(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
    if (auto v = stream_stdout_option(json)) stream_stdout_ = *v;
  }
}

void RemoteContext::compute() {
  end_stream();
  piece_local_ = false;
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.compute_timeout, "Compute");
  wasi_ephemeral_nn::ComputeRequest req;
  req.set_resource_handle(handle_);
  google::protobuf::Empty resp;
  const grpc::Status st = core_->context->Compute(&ctx, req, &resp);
  // The unary protocol returns the text only at the end, so stream-stdout prints it then
  // (also after ContextFull, whose text so far stays readable).
  if (stream_stdout_ && (st.ok() || errno_of(st, ctx) == nn::Errno::ContextFull)) {
    try {
      const auto text = get_output(0);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } catch (const nn::Error&) {
      // Printing is a courtesy: the compute's own result (0 or 101) is what the guest gets;
      // its get_output(0) will report the failure itself.
    }
  }
  core_->check(st, ctx, "Compute");
}

void RemoteContext::compute_single() {
  piece_local_ = false;
  if (stream_next()) {
    piece_local_ = true;
    return;
  }
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.compute_timeout, "ComputeSingle");
  wasi_ephemeral_nn::ComputeRequest req;
  req.set_resource_handle(handle_);
  google::protobuf::Empty resp;
  core_->check(core_->context->ComputeSingle(&ctx, req, &resp), ctx, "ComputeSingle");
}

std::vector<uint8_t> RemoteContext::output(uint32_t index, bool single) {
  // The piece of a streamed token is here already (index 1, the metadata, is the server's).
  if (single && index != 1 && piece_local_) return std::vector<uint8_t>(last_piece_.begin(), last_piece_.end());
  // Anything else the server must answer on this context: a stream still running holds it.
  drain_stream();
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "GetOutput");
  wasi_ephemeral_nn::GetOutputRequest req;
  req.set_resource_handle(handle_);
  req.set_index(index);
  wasi_ephemeral_nn::GetOutputResult resp;
  const grpc::Status st = single ? core_->context->GetOutputSingle(&ctx, req, &resp)
                                 : core_->context->GetOutput(&ctx, req, &resp);
  core_->check(st, ctx, single ? "GetOutputSingle" : "GetOutput");
  const std::string& d = resp.data();
  return std::vector<uint8_t>(d.begin(), d.end());
}

std::vector<uint8_t> RemoteContext::get_output(uint32_t index) { return output(index, false); }
std::vector<uint8_t> RemoteContext::get_output_single(uint32_t index) { return output(index, true); }

void RemoteContext::fini_single() {
  end_stream();
  piece_local_ = false;
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "FiniSingle");
  wasi_ephemeral_nn::FiniSingleRequest req;
  req.set_resource_handle(handle_);
  google::protobuf::Empty resp;
  core_->check(core_->context->FiniSingle(&ctx, req, &resp), ctx, "FiniSingle");
}

// ---- backend ----

RemoteBackend::RemoteBackend(ClientOptions options) : core_(std::make_shared<Core>(std::move(options))) {}
RemoteBackend::~RemoteBackend() = default;

std::shared_ptr<nn::Graph> RemoteBackend::load(std::span<const std::span<const uint8_t>>, nn::GraphEncoding,
                                               nn::ExecutionTarget) {
  throw nn::Error(nn::Errno::UnsupportedOperation,
                  "load from builders is not available over RPC (the protocol has no call carrying model bytes); "
                  "preload the model on the server (--nn-preload NAME:GGML:AUTO:PATH) and use load_by_name");
}

std::shared_ptr<nn::Graph> RemoteBackend::load_by_name(std::string_view name, std::string_view config) {
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.compute_timeout, "LoadByName");  // loading a large model takes a while
  uint32_t handle = 0;
  if (config.empty()) {
    wasi_ephemeral_nn::LoadByNameRequest req;
    req.set_name(std::string(name));
    wasi_ephemeral_nn::LoadByNameResult resp;
    core_->check(core_->graph->LoadByName(&ctx, req, &resp), ctx, "LoadByName");
    handle = resp.graph_handle();
  } else {
    wasi_ephemeral_nn::LoadByNameWithConfigRequest req;
    req.set_name(std::string(name));
    req.set_config(std::string(config));
    wasi_ephemeral_nn::LoadByNameWithConfigResult resp;
    core_->check(core_->graph->LoadByNameWithConfig(&ctx, req, &resp), ctx, "LoadByNameWithConfig");
    handle = resp.graph_handle();
  }
  return std::make_shared<RemoteGraph>(core_, handle, std::string(name), stream_stdout_option(config).value_or(false));
}

void RemoteBackend::unload(const std::shared_ptr<nn::Graph>& graph) {
  auto* g = dynamic_cast<RemoteGraph*>(graph.get());
  if (!g || g->core() != core_.get())
    throw nn::Error(nn::Errno::InvalidArgument, "unload: the graph does not belong to this remote backend");
  g->unload();
}

std::optional<std::vector<std::string>> RemoteBackend::list_models() {
  if (!core_->may_use_nnbridge()) return std::nullopt;
  grpc::ClientContext ctx;
  core_->prepare(ctx, core_->opts.call_timeout, "ListModels");
  nnbridge::v1::ListModelsRequest req;
  nnbridge::v1::ListModelsResponse resp;
  const grpc::Status st = core_->nnbridge->ListModels(&ctx, req, &resp);
  if (core_->learn_service_absent(st, ctx)) return std::nullopt;
  core_->check(st, ctx, "ListModels");
  core_->service = Core::Service::Present;
  std::vector<std::string> names;
  for (const auto& m : resp.models())
    if (m.available()) names.push_back(m.name());
  return names;
}

bool RemoteBackend::has_nnbridge_service() const { return core_->service.load() == Core::Service::Present; }
bool RemoteBackend::session_attached() const { return core_->session && core_->session->attached(); }
const std::string& RemoteBackend::session_id() const { return core_->session_id; }
const Endpoint& RemoteBackend::endpoint() const { return core_->endpoint; }

}  // namespace nnb::rpc
