// The host side of nnbridge: a gRPC server speaking WasmEdge's wasi_ephemeral_nn protocol
// (COMPAT §3) plus nnbridge's own Nnbridge service, over any nn::Backend. It is a thin adapter:
// the backend does the work; the server adds what a shared, long-running host needs —
// per-session handle scopes, context caps, an idle reaper, bearer-token auth, TLS, and
// secure-by-default listening (UNIX socket mode 0600, no plain TCP off loopback).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nn/backend.h"
#include "nn/preload.h"
#include "rpc/common.h"

namespace nnb::rpc {

struct ServerOptions {
  Endpoint endpoint;
  // The preloads the backend was given: ListModels reports them (name, path, file present).
  std::vector<nn::PreloadSpec> preloads;
  mode_t socket_mode = 0600;  // UNIX socket permissions after start (created 0600 regardless)
  // TLS (PEM files). Required for TCP off loopback unless `insecure`. With tls_client_ca the
  // server demands and verifies a client certificate (mutual TLS).
  std::string tls_cert_file, tls_key_file, tls_client_ca_file;
  bool insecure = false;
  // Every call must carry `authorization: Bearer <token>` when set (read from this file).
  std::string auth_token_file;
  size_t max_message_bytes = size_t(16) << 20;  // bounds what one request can make the server hold
  double idle_timeout_s = 300;     // anonymous (and orphaned) contexts idle this long are freed
  size_t max_contexts = 64;        // all sessions together, Generate's private contexts included
  size_t max_contexts_per_client = 8;
  size_t max_graphs_per_client = 256;
  size_t max_sessions = 1024;      // named sessions alive at once (each ~10 KB when empty)
  int max_rpc_threads = 256;       // gRPC's sync thread pool bound (ResourceQuota)
  // On shutdown, running computations stop at once (their callers get errno 5); other calls
  // in flight (a get_output, Session streams) get this long before gRPC cancels them.
  double shutdown_grace_s = 0.5;
  // One line per start / stop / failed call. Empty: "nnbridge serve: <line>" on stderr.
  std::function<void(const std::string&)> log;
};

struct ServerState;  // sessions, accounting, auth: shared by the service implementations

class Server {
 public:
  Server(std::shared_ptr<nn::Backend> backend, ServerOptions opts);
  ~Server();  // shuts down if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the security options, claims the socket (replacing a stale socket file,
  // refusing a live one), starts listening and the idle reaper. Throws std::runtime_error
  // with a message saying what is wrong and how to fix it.
  void start();
  // "unix:///path" or "host:port" with the port actually bound (port 0 → chosen port).
  std::string listening_uri() const { return uri_; }
  // Blocks until shutdown() has completed.
  void wait();
  // Stops accepting calls, cancels in-flight ones after the grace period, frees every session
  // and removes the socket file. Idempotent; safe from any thread (not a signal handler).
  void shutdown();

 private:
  void claim_unix_socket();
  void release_unix_socket();
  void reaper_loop();

  std::shared_ptr<ServerState> state_;
  struct Services;
  std::unique_ptr<Services> services_;  // declared first: outlives the grpc::Server using it
  std::unique_ptr<grpc::Server> server_;
  std::string uri_;
  ino_t socket_ino_ = 0;  // the socket file we created, so we only ever remove our own
  std::thread reaper_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false, stopped_ = false;
  std::once_flag shutdown_once_;
};

}  // namespace nnb::rpc
