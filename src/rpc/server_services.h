// The gRPC services: WasmEdge's three wasi_ephemeral_nn services (server_wasi.cpp) and
// nnbridge's own Nnbridge service (server_nnbridge.cpp), all thin adapters over nn::Backend.
#pragma once

#include "nnbridge.grpc.pb.h"
#include "rpc/server_state.h"
#include "wasi_ephemeral_nn.grpc.pb.h"

namespace nnb::rpc {

namespace wpb = ::wasi_ephemeral_nn;
namespace npb = ::nnbridge::v1;

class WasiGraphService final : public wpb::Graph::Service {
 public:
  explicit WasiGraphService(ServerState& st) : st_(st) {}
  grpc::Status LoadByName(grpc::ServerContext*, const wpb::LoadByNameRequest*, wpb::LoadByNameResult*) override;
  grpc::Status LoadByNameWithConfig(grpc::ServerContext*, const wpb::LoadByNameWithConfigRequest*,
                                    wpb::LoadByNameWithConfigResult*) override;

 private:
  ServerState& st_;
};

class WasiGraphResourceService final : public wpb::GraphResource::Service {
 public:
  explicit WasiGraphResourceService(ServerState& st) : st_(st) {}
  grpc::Status InitExecutionContext(grpc::ServerContext*, const wpb::InitExecutionContextRequest*,
                                    wpb::InitExecutionContextResult*) override;

 private:
  ServerState& st_;
};

class WasiContextService final : public wpb::GraphExecutionContextResource::Service {
 public:
  explicit WasiContextService(ServerState& st) : st_(st) {}
  grpc::Status SetInput(grpc::ServerContext*, const wpb::SetInputRequest*, google::protobuf::Empty*) override;
  grpc::Status Compute(grpc::ServerContext*, const wpb::ComputeRequest*, google::protobuf::Empty*) override;
  grpc::Status ComputeSingle(grpc::ServerContext*, const wpb::ComputeRequest*, google::protobuf::Empty*) override;
  grpc::Status GetOutput(grpc::ServerContext*, const wpb::GetOutputRequest*, wpb::GetOutputResult*) override;
  grpc::Status GetOutputSingle(grpc::ServerContext*, const wpb::GetOutputRequest*, wpb::GetOutputResult*) override;
  grpc::Status FiniSingle(grpc::ServerContext*, const wpb::FiniSingleRequest*, google::protobuf::Empty*) override;

 private:
  grpc::Status output(grpc::ServerContext*, const char* fn, const wpb::GetOutputRequest*, wpb::GetOutputResult*,
                      bool single);
  ServerState& st_;
};

// Session is callback-based (a reactor, no thread held while a client is attached); the
// other methods use the synchronous thread pool.
class NnbridgeService final : public npb::Nnbridge::WithCallbackMethod_Session<npb::Nnbridge::Service> {
 public:
  explicit NnbridgeService(ServerState& st) : st_(st) {}
  grpc::ServerWriteReactor<npb::SessionEvent>* Session(grpc::CallbackServerContext*,
                                                      const npb::SessionRequest*) override;
  grpc::Status Generate(grpc::ServerContext*, const npb::GenerateRequest*,
                        grpc::ServerWriter<npb::GenerateResponse>*) override;
  grpc::Status ListModels(grpc::ServerContext*, const npb::ListModelsRequest*, npb::ListModelsResponse*) override;
  grpc::Status Unload(grpc::ServerContext*, const npb::UnloadRequest*, npb::UnloadResponse*) override;
  grpc::Status GraphInfo(grpc::ServerContext*, const npb::GraphInfoRequest*, npb::GraphInfoResponse*) override;
  grpc::Status FinalizeContext(grpc::ServerContext*, const npb::FinalizeContextRequest*,
                               npb::FinalizeContextResponse*) override;

 private:
  ServerState& st_;
};

}  // namespace nnb::rpc
