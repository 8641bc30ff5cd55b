// What the server and the client share: endpoint URIs, the bearer-token file, and the WasmEdge
// error convention (gRPC status UNKNOWN, message `failed to call host function "<fn>",
// errno=<N>`, trailing metadata `errno: "<N>"`, COMPAT §3).
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "nn/types.h"

namespace nnb::rpc {

// The metadata key carrying the WASI-NN errno of a failed call.
inline constexpr const char* kErrnoKey = "errno";
// The metadata key naming the caller's session (sent by nnbridge clients on every call).
inline constexpr const char* kSessionKey = "nnbridge-session";

struct Endpoint {
  enum class Kind { Unix, Tcp } kind = Kind::Unix;
  std::string path;  // Unix: absolute socket path
  std::string host;  // Tcp
  int port = 0;      // Tcp
  std::string grpc_target() const;  // "unix:///abs/path" or "host:port"
  // Unix sockets count as local; a TCP host only when every address it resolves to
  // (getaddrinfo) is loopback (127.0.0.0/8, ::1, ::ffff:127.x); an unresolvable name is not.
  bool is_loopback() const;
  std::string to_string() const;
};

// Whether a socket address is loopback (127.0.0.0/8, ::1, IPv4-mapped 127.x).
bool is_loopback_address(const sockaddr* a);

// Parses `unix:///abs/path.sock`, `unix:/abs/path`, `unix://$HOME/x.sock` ($HOME and ~
// expanded, as WasmEdge does), `HOST:PORT`, `[::1]:PORT`, `tcp://HOST:PORT`. Throws
// std::invalid_argument with a message naming the URI.
Endpoint parse_endpoint(std::string_view uri);

// Reads a bearer-token file (--auth-token-file of `serve`, `chat` and `bench --nn-rpc-uri`): its
// contents with surrounding whitespace (a trailing newline, a CR) trimmed. Throws
// std::runtime_error naming the file: when it cannot be opened or read (with the system's
// reason), and when it holds no token (empty, or only whitespace). When `mode` is given it
// receives the permission bits of the file actually read (fstat of the open file).
std::string read_token_file(const std::string& path, mode_t* mode = nullptr);

// The status a server returns for a failed call, WasmEdge-style. The errno trailer must be
// added to the ServerContext with add_errno_trailer().
grpc::Status error_status(std::string_view host_function, nn::Errno e, std::string_view detail = {});
void add_errno_trailer(grpc::ServerContext& ctx, nn::Errno e);

// The errno a client should report for a finished call: Success for an OK status; the trailer's
// value when present; otherwise RuntimeError (server down, crashed, unimplemented: never
// success, unlike WasmEdge 0.14.1's client).
nn::Errno errno_of(const grpc::Status& status, const grpc::ClientContext& ctx);

}  // namespace nnb::rpc
