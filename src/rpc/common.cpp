#include "rpc/common.h"

#include <cstdlib>
#include <stdexcept>

namespace nnb::rpc {
namespace {

std::string expand_home(std::string p) {
  const char* home = std::getenv("HOME");
  if (!home) return p;
  if (p.rfind("$HOME", 0) == 0) return home + p.substr(5);
  if (p.rfind("${HOME}", 0) == 0) return home + p.substr(7);
  if (p.rfind("~/", 0) == 0) return home + p.substr(1);
  return p;
}

}  // namespace

std::string Endpoint::grpc_target() const {
  if (kind == Kind::Unix) return "unix://" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool Endpoint::is_loopback() const {
  if (kind == Kind::Unix) return true;
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string Endpoint::to_string() const { return kind == Kind::Unix ? "unix://" + path : grpc_target(); }

Endpoint parse_endpoint(std::string_view uri_in) {
  const std::string uri(uri_in);
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid --nn-rpc-uri '" + uri + "': " + why +
                                " (expected unix:///absolute/path.sock or HOST:PORT)");
  };
  Endpoint e;
  if (uri.rfind("unix:", 0) == 0) {
    std::string rest = uri.substr(5);
    if (rest.rfind("//", 0) == 0) rest = rest.substr(2);  // unix://<path>
    rest = expand_home(rest);
    if (rest.empty() || rest[0] != '/') fail("the socket path must be absolute");
    e.kind = Endpoint::Kind::Unix;
    e.path = rest;
    return e;
  }
  std::string hp = uri;
  if (hp.rfind("tcp://", 0) == 0) hp = hp.substr(6);
  else if (hp.find("://") != std::string::npos) fail("unknown scheme");
  std::string host, port;
  if (!hp.empty() && hp[0] == '[') {
    const size_t close = hp.find(']');
    if (close == std::string::npos || close + 1 >= hp.size() || hp[close + 1] != ':') fail("bad [IPv6]:PORT");
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    const size_t colon = hp.rfind(':');
    if (colon == std::string::npos) fail("missing :PORT");
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  if (host.empty()) fail("missing host");
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) fail("bad port '" + port + "'");
  e.kind = Endpoint::Kind::Tcp;
  e.host = host;
  e.port = int(p);
  return e;
}

grpc::Status error_status(std::string_view host_function, nn::Errno e, std::string_view detail) {
  std::string msg = "failed to call host function \"" + std::string(host_function) +
                    "\", errno=" + std::to_string(uint32_t(e));
  if (!detail.empty()) msg += ": " + std::string(detail);
  return grpc::Status(grpc::StatusCode::UNKNOWN, msg);
}

void add_errno_trailer(grpc::ServerContext& ctx, nn::Errno e) {
  ctx.AddTrailingMetadata(kErrnoKey, std::to_string(uint32_t(e)));
}

nn::Errno errno_of(const grpc::Status& status, const grpc::ClientContext& ctx) {
  if (status.ok()) return nn::Errno::Success;
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(kErrnoKey);
  if (it != md.end()) {
    const std::string v(it->second.data(), it->second.size());
    char* end = nullptr;
    const unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (!v.empty() && *end == '\0' && n != 0) return nn::errno_from_number(uint32_t(n));
  }
  return nn::Errno::RuntimeError;
}

}  // namespace nnb::rpc
