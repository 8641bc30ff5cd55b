// Internal to the remote backend: the state its graphs and contexts share (channel, stubs,
// session id), how every call is prepared (metadata, deadline) and how a failed call becomes
// an nn::Error. Not part of the public client interface (client.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "nnbridge.grpc.pb.h"
#include "rpc/client.h"
#include "wasi_ephemeral_nn.grpc.pb.h"

namespace nnb::rpc {

class SessionKeeper;

struct RemoteBackend::Core {
  enum class Service { Unknown, Present, Absent };

  ClientOptions opts;
  Endpoint endpoint;
  std::string session_id;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<wasi_ephemeral_nn::Graph::Stub> graph;
  std::unique_ptr<wasi_ephemeral_nn::GraphResource::Stub> graph_resource;
  std::unique_ptr<wasi_ephemeral_nn::GraphExecutionContextResource::Stub> context;
  std::unique_ptr<nnbridge::v1::Nnbridge::Stub> nnbridge;
  // Whether the server has the Nnbridge service; learnt from the first call that tries it.
  std::atomic<Service> service{Service::Unknown};
  std::unique_ptr<SessionKeeper> session;

  explicit Core(ClientOptions o);
  ~Core();

  // Whether Nnbridge-service calls are worth trying (present, or not yet known).
  bool may_use_nnbridge() const { return !opts.wasmedge_only && service.load() != Service::Absent; }

  // Session and auth metadata, and the deadline (0: none). Does not wait for a connection:
  // for calls that must not block or throw (destructors' cleanup, the Session stream).
  void prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) const;
  // The same for the call named `call`, after waiting for the connection (wait_connected).
  void prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout, std::string_view call) const {
    wait_connected(call, timeout);
    prepare(ctx, timeout);
  }
  // Returns once the channel is READY; waits at most opts.connect_timeout (and at most
  // `timeout` when that is shorter and nonzero), then throws TransportError naming the URI.
  // Without this a call made while the channel is still connecting, or between two attempts,
  // fails at once with UNAVAILABLE although the server is up.
  void wait_connected(std::string_view call, std::chrono::milliseconds timeout) const;

  // Throws the nn::Error a failed call means: the server's errno trailer when present, else a
  // TransportError naming the URI, the call and the gRPC status.
  [[noreturn]] void fail(const grpc::Status& status, const grpc::ClientContext& ctx, std::string_view call) const;
  void check(const grpc::Status& status, const grpc::ClientContext& ctx, std::string_view call) const {
    if (!status.ok()) fail(status, ctx, call);
  }

  // After a Nnbridge-service call: if it showed the server lacks that service (a WasmEdge
  // server), remember it and return true.
  bool learn_service_absent(const grpc::Status& status, const grpc::ClientContext& ctx);
};

// UNIMPLEMENTED without an errno trailer: the server has no such method (not a WASI-NN error).
bool is_unimplemented(const grpc::Status& status, const grpc::ClientContext& ctx);

// Whether the failed call carried a WASI-NN errno (i.e. the server itself answered it).
bool has_errno_trailer(const grpc::ClientContext& ctx);
std::string_view status_code_name(grpc::StatusCode code);
// A random 128-bit id as 32 hex digits.
std::string random_session_id();
// The channel for the options: TLS or insecure, keepalive, message limits, fast reconnects
// with each attempt given opts.connect_timeout.
std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& opts, const Endpoint& endpoint);

}  // namespace nnb::rpc
