// grpc.health.v1.Health served by nnbridge itself: gRPC's built-in health service answers
// anyone (it cannot be put behind --auth-token-file: gRPC 1.51 has no server hook that can
// refuse one of its calls), which tells an unauthenticated peer that a server is there and
// what it serves. Ours runs Check in the same frame as every other call (run_call: bearer
// token, session, error convention) and refuses an unauthenticated Watch the same way.
//
// Check: SERVING for "" (the whole server) and the services this server has; NOT_SERVING
// once shutdown has begun; NOT_FOUND for other names (as gRPC's own). Watch: sends the status
// (SERVICE_UNKNOWN for other names) and keeps the stream open until the client ends it or the
// server stops (the stream then ends, which health-checking clients read as not serving).
#pragma once

#include <atomic>
#include <string>

#include "health.grpc.pb.h"
#include "rpc/server_state.h"

namespace nnb::rpc {

namespace hpb = ::grpc::health::v1;

class HealthService final : public hpb::Health::WithCallbackMethod_Watch<hpb::Health::Service> {
 public:
  explicit HealthService(ServerState& st) : st_(st) {}
  grpc::Status Check(grpc::ServerContext*, const hpb::HealthCheckRequest*, hpb::HealthCheckResponse*) override;
  grpc::ServerWriteReactor<hpb::HealthCheckResponse>* Watch(grpc::CallbackServerContext*,
                                                            const hpb::HealthCheckRequest*) override;

  // Whether `service` is "" or the full name of a service this server registers.
  static bool serves(const std::string& service);
  // Called when shutdown begins: Check answers NOT_SERVING from then on.
  void set_serving(bool serving) { serving_.store(serving, std::memory_order_relaxed); }
  hpb::HealthCheckResponse::ServingStatus status_of(const std::string& service) const;

 private:
  ServerState& st_;
  std::atomic<bool> serving_{true};
};

}  // namespace nnb::rpc
