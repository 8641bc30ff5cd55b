#include "rpc/server_health.h"

#include <mutex>

#include "nnbridge.grpc.pb.h"
#include "wasi_ephemeral_nn.grpc.pb.h"

namespace nnb::rpc {
namespace {

// One Watch stream: the status once, then open until the client or the server ends it.
class WatchReactor final : public grpc::ServerWriteReactor<hpb::HealthCheckResponse> {
 public:
  explicit WatchReactor(hpb::HealthCheckResponse::ServingStatus s) {
    std::lock_guard<std::mutex> lk(mu_);
    msg_.set_status(s);
    StartWrite(&msg_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) finish();  // the client is gone
  }
  void OnCancel() override { finish(); }
  void OnDone() override { delete this; }

 private:
  void finish() {
    {
      // gRPC runs the callbacks on its own threads: the flag makes Finish happen once.
      std::lock_guard<std::mutex> lk(mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "health watch ended"));
  }
  hpb::HealthCheckResponse msg_;
  std::mutex mu_;
  bool finished_ = false;
};

class RefusedWatch final : public grpc::ServerWriteReactor<hpb::HealthCheckResponse> {
 public:
  explicit RefusedWatch(const grpc::Status& s) { Finish(s); }
  void OnDone() override { delete this; }
};

}  // namespace

hpb::HealthCheckResponse::ServingStatus HealthService::status_of(const std::string& service) const {
  if (!serves(service)) return hpb::HealthCheckResponse::SERVICE_UNKNOWN;
  return serving_.load(std::memory_order_relaxed) ? hpb::HealthCheckResponse::SERVING
                                                  : hpb::HealthCheckResponse::NOT_SERVING;
}

bool HealthService::serves(const std::string& service) {
  return service.empty() || service == wasi_ephemeral_nn::Graph::service_full_name() ||
         service == wasi_ephemeral_nn::GraphResource::service_full_name() ||
         service == wasi_ephemeral_nn::GraphExecutionContextResource::service_full_name() ||
         service == nnbridge::v1::Nnbridge::service_full_name() || service == hpb::Health::service_full_name();
}

grpc::Status HealthService::Check(grpc::ServerContext* call, const hpb::HealthCheckRequest* req,
                                  hpb::HealthCheckResponse* res) {
  bool known = true;
  const grpc::Status s = run_call(st_, call, "health_check", [&](Session&) {
    known = serves(req->service());
    res->set_status(status_of(req->service()));
  });
  if (s.ok() && !known) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  return s;
}

grpc::ServerWriteReactor<hpb::HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext* call,
                                                                         const hpb::HealthCheckRequest* req) {
  st_.calls.fetch_add(1, std::memory_order_relaxed);
  if (!st_.auth.check(*call)) {
    // The refusal every other call gets (run_call), for a streaming method.
    call->AddTrailingMetadata(kErrnoKey, std::to_string(uint32_t(nn::Errno::RuntimeError)));
    st_.log("health_watch refused: missing or wrong bearer token (peer " + call->peer() + ")");
    return new RefusedWatch(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                         "failed to call host function \"health_watch\", errno=5: missing or wrong "
                                         "`authorization: Bearer` token"));
  }
  return new WatchReactor(status_of(req->service()));
}

}  // namespace nnb::rpc
