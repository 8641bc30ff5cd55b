#include "rpc/common.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

bool is_loopback_address(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr);
    return (ip >> 24) == 127;  // 127.0.0.0/8
  }
  if (a->sa_family == AF_INET6) {
    const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&ip)) return true;
    return IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127;  // ::ffff:127.x.y.z
  }
  return false;
}

bool Endpoint::is_loopback() const {
  if (kind == Kind::Unix) return true;
  // By the addresses the host resolves to, not by its spelling: "127.evil.example" is a name
  // that may resolve anywhere. Every address must be loopback (gRPC listens on all of them);
  // a name that does not resolve is not loopback either (it cannot be served anyway).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return false;
  bool all = true;
  for (const addrinfo* p = res; p; p = p->ai_next) all = all && p->ai_addr && is_loopback_address(p->ai_addr);
  ::freeaddrinfo(res);
  return all;
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

std::string read_token_file(const std::string& path, mode_t* mode) {
  const auto unreadable = [&path](int err) {
    return std::runtime_error("cannot read --auth-token-file '" + path + "': " + std::strerror(err));
  };
  // O_NONBLOCK: a FIFO without a writer must not hang start-up; only regular files are read,
  // and only so much of them (a token is a word, not a file of megabytes, nor /dev/zero).
  constexpr size_t kMaxBytes = 64 * 1024;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw unreadable(errno);
  std::string t;
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw unreadable(err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("cannot read --auth-token-file '" + path + "': not a regular file");
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      t.append(buf, size_t(n));
      if (t.size() > kMaxBytes) {
        ::close(fd);
        throw std::runtime_error("--auth-token-file '" + path + "' is larger than 64 KiB: not a token");
      }
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;  // e.g. EISDIR: a directory opens, but does not read
      ::close(fd);
      throw unreadable(err);
    }
  }
  ::close(fd);
  if (mode) *mode = st.st_mode & 07777;
  const char* ws = " \t\r\n";
  const size_t b = t.find_first_not_of(ws);
  if (b == std::string::npos)
    throw std::runtime_error("--auth-token-file '" + path + "' holds no token (it is empty or only whitespace)");
  return t.substr(b, t.find_last_not_of(ws) - b + 1);
}

grpc::Status error_status(std::string_view host_function, nn::Errno e, std::string_view detail) {
  std::string msg = "failed to call host function \"" + std::string(host_function) +
                    "\", errno=" + std::to_string(uint32_t(e));
  if (!detail.empty()) {
    // Details quote the client's own strings (a model name): a huge one must not be echoed
    // back whole. The message travels in HTTP/2 trailers, whose size is limited (8-16 KiB
    // by default): past it the client would get a transport error and no errno at all.
    constexpr size_t kMaxDetail = 1024;
    if (detail.size() <= kMaxDetail) msg += ": " + std::string(detail);
    else msg += ": " + std::string(detail.substr(0, kMaxDetail)) + "... (" + std::to_string(detail.size()) + " bytes)";
  }
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
