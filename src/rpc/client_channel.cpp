// The client's channel, per-call metadata and error mapping (client_core.h).
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "nn/secure_random.h"
#include "rpc/client_core.h"

namespace nnb::rpc {
namespace {

std::string read_pem(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument(std::string("cannot read the TLS ") + what + " file '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream s;
  s << double(ms.count()) / 1000.0 << " s";
  return s.str();
}

}  // namespace

std::string random_session_id() {
  // The id is the session's only credential besides the bearer token: 128 unguessable bits.
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = nn::secure_random_u32();
    for (int j = 0; j < 8; ++j, v >>= 4) id += hex[v & 15];
  }
  return id;
}

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& opts, const Endpoint& endpoint) {
  grpc::ChannelArguments args;
  if (opts.max_message_bytes > 0) {
    args.SetMaxReceiveMessageSize(opts.max_message_bytes);
    args.SetMaxSendMessageSize(opts.max_message_bytes);
  }
  if (opts.keepalive.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, int(opts.keepalive.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
    // Keep pinging a quiet Session stream (gRPC otherwise stops after two data-less pings);
    // never ping without a call, which servers punish with GOAWAY.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  }
  // gRPC's default reconnect backoff grows to 2 minutes, during which every call fails at once:
  // a restarted local server must be usable again within a second or two.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Despite its name, MIN_RECONNECT_BACKOFF is not a backoff: gRPC's subchannel gives each
  // connection attempt max(this, next backoff) to connect and receive the server's HTTP/2
  // SETTINGS (doc/connection-backoff.md: MIN_CONNECT_TIMEOUT). Set to 100 ms it failed
  // attempts to a healthy server that was merely busy ("timed out before receiving SETTINGS
  // frame"): the attempt gets the whole connect timeout instead.
  if (opts.connect_timeout.count() > 0)
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                int(std::clamp<int64_t>(opts.connect_timeout.count(), 100, INT32_MAX)));

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!opts.tls_ca.empty() || !opts.tls_cert.empty() || !opts.tls_key.empty()) {
    if (opts.tls_cert.empty() != opts.tls_key.empty())
      throw std::invalid_argument("TLS client certificate and key must be given together");
    grpc::SslCredentialsOptions ssl;
    if (!opts.tls_ca.empty()) ssl.pem_root_certs = read_pem(opts.tls_ca, "CA");
    if (!opts.tls_cert.empty()) {
      ssl.pem_cert_chain = read_pem(opts.tls_cert, "certificate");
      ssl.pem_private_key = read_pem(opts.tls_key, "key");
    }
    creds = grpc::SslCredentials(ssl);
    if (!opts.tls_server_name.empty()) args.SetSslTargetNameOverride(opts.tls_server_name);
    else if (endpoint.kind == Endpoint::Kind::Unix) args.SetSslTargetNameOverride("localhost");
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(endpoint.grpc_target(), creds, args);
}

void RemoteBackend::Core::prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout) const {
  ctx.AddMetadata(kSessionKey, session_id);
  // Added by hand, not as call credentials: gRPC refuses those on insecure channels, and a
  // UNIX socket into the VM is the common, local-only case.
  if (!opts.auth_token.empty()) ctx.AddMetadata("authorization", "Bearer " + opts.auth_token);
  if (timeout.count() > 0) ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

std::string_view channel_state_name(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_IDLE: return "IDLE";
    case GRPC_CHANNEL_CONNECTING: return "CONNECTING";
    case GRPC_CHANNEL_READY: return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN: return "SHUTDOWN";
  }
  return "UNKNOWN";
}

void RemoteBackend::Core::wait_connected(std::string_view call, std::chrono::milliseconds timeout) const {
  if (opts.connect_timeout.count() <= 0) return;
  if (channel->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) return;
  auto budget = opts.connect_timeout;
  if (timeout.count() > 0) budget = std::min(budget, timeout);
  // Through CONNECTING and TRANSIENT_FAILURE alike: gRPC keeps retrying (backoff from 100 ms)
  // while we wait, so a server that is starting, restarting or busy gets the whole budget.
  if (channel->WaitForConnected(std::chrono::system_clock::now() + budget)) return;
  throw TransportError("cannot reach server at " + endpoint.to_string() + ": no connection within " +
                           seconds_text(budget) + " for " + std::string(call) + " (connection " +
                           std::string(channel_state_name(channel->GetState(false))) +
                           "; is the server running at this address? --connect-timeout waits longer)",
                       int(grpc::StatusCode::UNAVAILABLE));
}

bool has_errno_trailer(const grpc::ClientContext& ctx) {
  return ctx.GetServerTrailingMetadata().count(kErrnoKey) > 0;
}

bool is_unimplemented(const grpc::Status& status, const grpc::ClientContext& ctx) {
  return status.error_code() == grpc::StatusCode::UNIMPLEMENTED && !has_errno_trailer(ctx);
}

bool RemoteBackend::Core::learn_service_absent(const grpc::Status& status, const grpc::ClientContext& ctx) {
  if (!is_unimplemented(status, ctx)) return false;
  service = Service::Absent;
  return true;
}

std::string_view status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_STATUS";
  }
}

void RemoteBackend::Core::fail(const grpc::Status& status, const grpc::ClientContext& ctx, std::string_view call) const {
  if (has_errno_trailer(ctx)) throw nn::Error(errno_of(status, ctx), status.error_message());
  const std::string uri = endpoint.to_string();
  const std::string grpc_text =
      std::string(status_code_name(status.error_code())) + (status.error_message().empty() ? "" : ": " + status.error_message());
  std::string msg;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      msg = "cannot reach server at " + uri + ": " + std::string(call) + " failed (" + grpc_text + ")";
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: {
      const auto t = call == "Compute" || call == "ComputeSingle" || call == "Generate" || call.rfind("LoadByName", 0) == 0
                         ? opts.compute_timeout
                         : opts.call_timeout;
      msg = std::string(call) + " to server at " + uri + " timed out after " + seconds_text(t);
      break;
    }
    case grpc::StatusCode::UNIMPLEMENTED:
      msg = "server at " + uri + " does not implement " + std::string(call) + " (" + grpc_text + ")";
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      msg = "server at " + uri + " refused " + std::string(call) + " (" + grpc_text + "); check the auth token";
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      msg = std::string(call) + " to server at " + uri + " failed (" + grpc_text +
            "); a message over the " + std::to_string(opts.max_message_bytes) + "-byte limit?";
      break;
    default:
      msg = std::string(call) + " to server at " + uri + " failed without a WASI-NN errno (" + grpc_text + ")";
  }
  throw TransportError(msg, int(status.error_code()));
}

}  // namespace nnb::rpc
