// The remote backend: nn::Backend over gRPC, talking to `nnbridge serve` or to WasmEdge 0.14's
// `wasi_nn_rpcserver` (COMPAT §3). A program uses it exactly like the local GGML backend; the
// graphs and contexts it returns forward every call to the server.
//
// One channel per backend (gRPC reconnects by itself). Every call carries the backend's random
// session id (`nnbridge-session` metadata) and, when configured, `authorization: Bearer <t>`.
// Against an nnbridge server the backend also holds the Session stream open for its lifetime,
// so the server frees this process's graphs and contexts when it exits or dies; against a
// server without the Nnbridge service (UNIMPLEMENTED) it silently uses plain WASI-NN calls.
//
// Errors: every failed call throws nn::Error with the server's `errno` trailer; a failure
// without one (server down or killed, unimplemented method, deadline) throws TransportError,
// an nn::Error with RuntimeError (5) — never success, unlike WasmEdge 0.14.1's client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/backend.h"
#include "rpc/common.h"

namespace nnb::rpc {

struct ClientOptions {
  std::string uri;         // unix:///abs/path.sock or HOST:PORT (parse_endpoint)
  std::string auth_token;  // sent as `authorization: Bearer <token>` when non-empty
  // TLS (any set: TLS channel): PEM file paths of the CA bundle that signs the server's
  // certificate, and of this client's certificate and key for mutual TLS.
  std::string tls_ca, tls_cert, tls_key;
  std::string tls_server_name;  // overrides the name checked in the server's certificate
  // How long a call waits for the connection to the server to be ready (connecting, or
  // reconnecting after a restart) before failing with TransportError "cannot reach server at
  // URI"; also each connection attempt's own budget (TCP/UNIX connect + handshake + HTTP/2
  // SETTINGS), so that a busy but healthy server is never taken for a dead one. 0: no wait
  // (a call made while not connected fails at once, gRPC's default attempt budget of 20 s).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Deadline of each control call (load, init, set_input, get_output, ...); 0: none.
  std::chrono::milliseconds call_timeout{std::chrono::seconds(60)};
  // Deadline of compute / compute_single / a whole Generate stream; 0: none.
  std::chrono::milliseconds compute_timeout{std::chrono::hours(1)};
  // Largest message accepted and sent, both ways (gRPC's default receive limit is 4 MiB,
  // too small for embeddings and images; COMPAT §3).
  int max_message_bytes = 64 << 20;
  // HTTP/2 keepalive ping interval, to notice a peer that vanished without closing the
  // connection (TCP across hosts). gRPC servers, WasmEdge's included, by default answer pings
  // more frequent than every 5 minutes on a quiet connection with GOAWAY, which would end the
  // Session stream and free this client's handles: keep it at >= 5 minutes unless the server
  // is configured to accept more. 0: no keepalive.
  std::chrono::milliseconds keepalive{std::chrono::minutes(5)};
  // Speak only WasmEdge's WASI-NN protocol, never the Nnbridge service (no Session stream,
  // Generate through the compute_single loop). For servers behind proxies that drop unknown
  // services, and to exercise the WasmEdge path against an nnbridge server.
  bool wasmedge_only = false;
};

// A call that failed without a WASI-NN errno from the server: unreachable, killed mid-call,
// method unimplemented, deadline exceeded. code() is RuntimeError.
class TransportError : public nn::Error {
 public:
  TransportError(const std::string& message, int grpc_code)
      : nn::Error(nn::Errno::RuntimeError, message), grpc_code_(grpc_code) {}
  int grpc_code() const { return grpc_code_; }  // grpc::StatusCode

 private:
  int grpc_code_;
};

// What a generate() call reports once its stream has ended.
struct GenerateResult {
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  // Why it ended: the server's Final message (its `stop` enum, or its string from an older
  // nnbridge server), or in the WASI-NN fallback the context's stop_reason() (the server's
  // metadata "stop_reason"; a WasmEdge server tells only errno 100 → end_of_generation, 101 →
  // context_full). Cancelled when on_piece returned false. Both paths give the same reason
  // for the same generation against an nnbridge server.
  nn::StopReason stop = nn::StopReason::EndOfGeneration;
  std::string stop_reason;  // stop's name (nn::stop_reason_name)
  double prompt_seconds = 0;      // server-side prompt evaluation (client-timed in fallback)
  double generation_seconds = 0;  // server-side token generation (client-timed in fallback)
  std::string metadata_json;      // the GGML backend's output-1 metadata, when known
  bool native = false;            // nnbridge Generate stream (false: WASI-NN compute_single loop)
};

// Receives each generated piece (raw bytes, possibly partial UTF-8); false cancels.
using PieceFn = std::function<bool(std::string_view piece)>;

class RemoteContext;  // client_objects.h

class RemoteBackend : public nn::Backend {
 public:
  // Parses the URI (std::invalid_argument on a bad one) and creates the channel; does not wait
  // for the server: an unreachable server is reported by the first call, once it has waited
  // options.connect_timeout for a connection.
  explicit RemoteBackend(ClientOptions options);
  ~RemoteBackend() override;
  RemoteBackend(const RemoteBackend&) = delete;
  RemoteBackend& operator=(const RemoteBackend&) = delete;

  // No RPC carries model bytes: throws nn::Error(UnsupportedOperation), as WasmEdge's client.
  std::shared_ptr<nn::Graph> load(std::span<const std::span<const uint8_t>> builders, nn::GraphEncoding encoding,
                                  nn::ExecutionTarget target) override;
  // LoadByName (config empty) or LoadByNameWithConfig.
  std::shared_ptr<nn::Graph> load_by_name(std::string_view name, std::string_view config) override;
  // nnbridge Unload; against a WasmEdge server nn::Error(UnsupportedOperation), as WasmEdge.
  void unload(const std::shared_ptr<nn::Graph>& graph) override;

  // Streams a generation from `graph` (a graph of this backend) or from the model `name`
  // (loaded for the call). options_json: GGML metadata keys (COMPAT §4). Uses nnbridge
  // Generate, or a set_input / compute_single / get_output_single loop against a WasmEdge
  // server. on_piece returning false cancels promptly.
  // should_stop (may be empty) is polled every 20 ms, also while the server evaluates the
  // prompt and sends nothing; true cancels like on_piece returning false.
  GenerateResult generate(const std::shared_ptr<nn::Graph>& graph, std::string_view prompt,
                          std::string_view options_json, const PieceFn& on_piece,
                          const std::function<bool()>& should_stop = {});
  GenerateResult generate(std::string_view model_name, std::string_view prompt, std::string_view options_json,
                          const PieceFn& on_piece, const std::function<bool()>& should_stop = {});
  // On an execution context of this backend, which keeps its KV cache between calls (with the
  // cache-prompt option the next turn of a conversation evaluates only its new tokens). Its
  // options and prompt are replaced by these.
  GenerateResult generate(nn::ExecutionContext& context, std::string_view prompt, std::string_view options_json,
                          const PieceFn& on_piece, const std::function<bool()>& should_stop = {});

  // The names of the server's preloaded models whose files exist (nnbridge ListModels);
  // nullopt against a WasmEdge server, which cannot list them.
  std::optional<std::vector<std::string>> list_models();

  // Whether the server has answered a Nnbridge-service call (false also while unknown).
  bool has_nnbridge_service() const;
  // Whether the Session stream is attached now (the server echoed our session id).
  bool session_attached() const;
  const std::string& session_id() const;
  const Endpoint& endpoint() const;

  struct Core;  // shared with graphs and contexts, which may outlive the backend object

 private:
  GenerateResult generate_impl(const std::shared_ptr<nn::Graph>& graph, std::string_view model_name,
                               RemoteContext* context, std::string_view prompt, std::string_view options_json, const PieceFn& on_piece,
                               const std::function<bool()>& should_stop);
  std::shared_ptr<Core> core_;
};

}  // namespace nnb::rpc
