// Server start-up (security checks, socket claiming, gRPC builder), the idle reaper and
// shutdown.
#include "rpc/server.h"

#include <grpcpp/security/server_credentials.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "rpc/server_health.h"
#include "rpc/server_services.h"
#include "rpc/server_state.h"

namespace nnb::rpc {

struct Server::Services {
  explicit Services(ServerState& st) : graph(st), graph_resource(st), context(st), nnbridge(st), health(st) {}
  WasiGraphService graph;
  WasiGraphResourceService graph_resource;
  WasiContextService context;
  NnbridgeService nnbridge;
  HealthService health;  // ours, behind the token (server_health.h), not gRPC's built-in one
};

namespace {

std::string read_pem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + flag + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN") == std::string::npos)
    throw std::runtime_error(std::string(flag) + " '" + path + "' is not a PEM file");
  return ss.str();
}

std::shared_ptr<grpc::ServerCredentials> make_credentials(const ServerOptions& o) {
  const bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (tls && (o.tls_cert_file.empty() || o.tls_key_file.empty()))
    throw std::runtime_error("TLS needs both --tls-cert and --tls-key");
  if (!tls && !o.tls_client_ca_file.empty()) throw std::runtime_error("--tls-client-ca needs --tls-cert and --tls-key");
  if (!tls) {
    if (!o.endpoint.is_loopback() && !o.insecure)
      throw std::runtime_error("refusing to serve plain-text gRPC on non-loopback address " + o.endpoint.to_string() +
                               " (a host counts as loopback only when it resolves, and only to 127.0.0.0/8 or ::1)"
                               ": anyone who can reach it could use the models. Give --tls-cert/--tls-key (and "
                               "--auth-token-file), bind 127.0.0.1 or a UNIX socket, or pass --insecure if the "
                               "network is trusted");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl(o.tls_client_ca_file.empty()
                                            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_key_cert_pairs.push_back({read_pem(o.tls_key_file, "--tls-key"), read_pem(o.tls_cert_file, "--tls-cert")});
  if (!o.tls_client_ca_file.empty()) ssl.pem_root_certs = read_pem(o.tls_client_ca_file, "--tls-client-ca");
  return grpc::SslServerCredentials(ssl);
}

// Is a server accepting connections on this UNIX socket path?
bool socket_is_live(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

Server::Server(std::shared_ptr<nn::Backend> backend, ServerOptions opts)
    : state_(std::make_shared<ServerState>(std::move(backend), std::move(opts))) {}

Server::~Server() { shutdown(); }

void Server::claim_unix_socket() {
  const std::string& path = state_->opts.endpoint.path;
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("UNIX socket path too long (" + std::to_string(path.size()) + " bytes, max " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + "): " + path);
  const std::string dir = path.substr(0, path.rfind('/'));
  struct stat st{};
  if (!dir.empty() && (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
    throw std::runtime_error("the socket's directory '" + dir + "' does not exist");
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error("'" + path + "' exists and is not a socket; refusing to replace it");
  // gRPC would silently unlink and steal the path, cutting off a running server's clients.
  if (socket_is_live(path))
    throw std::runtime_error("another server is already listening on " + path +
                             " (stop it first, or choose another --nn-rpc-uri)");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error("cannot remove stale socket " + path + ": " + std::strerror(errno));
  state_->log("replaced stale socket file " + path);
}

void Server::release_unix_socket() {
  if (state_->opts.endpoint.kind != Endpoint::Kind::Unix || socket_ino_ == 0) return;
  const std::string& path = state_->opts.endpoint.path;
  struct stat st{};
  // Only our own socket: another server may have replaced it since (after we were killed).
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == socket_ino_) ::unlink(path.c_str());
  socket_ino_ = 0;
}

void Server::start() {
  auto& st = *state_;
  const ServerOptions& o = st.opts;
  if (o.max_message_bytes < 1024) throw std::runtime_error("--max-message-mb is too small");
  if (o.max_contexts == 0 || o.max_contexts_per_client == 0 || o.max_sessions == 0)
    throw std::runtime_error("context and session caps must be >= 1");
  auto creds = make_credentials(o);
  if (!o.auth_token_file.empty()) {
    std::string warning;
    st.auth = Authenticator::from_file(o.auth_token_file, &warning);
    if (!warning.empty()) st.log(warning);
  }
  const bool is_unix = o.endpoint.kind == Endpoint::Kind::Unix;
  if (is_unix) claim_unix_socket();

  services_ = std::make_unique<Services>(st);
  grpc::ServerBuilder b;
  b.SetMaxReceiveMessageSize(int(std::min<size_t>(o.max_message_bytes, INT32_MAX)));
  b.SetMaxSendMessageSize(int(std::min<size_t>(o.max_message_bytes, INT32_MAX)));
  grpc::ResourceQuota quota("nnbridge-serve");
  quota.SetMaxThreads(o.max_rpc_threads);
  b.SetResourceQuota(quota);
  // Notice clients that vanished without closing (a VM suspended, a cable pulled) so their
  // sessions are freed; UNIX-socket peers that die are noticed at once anyway.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);  // clients may ping every 5 s
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  b.RegisterService(&services_->graph);
  b.RegisterService(&services_->graph_resource);
  b.RegisterService(&services_->context);
  b.RegisterService(&services_->nnbridge);
  b.RegisterService(&services_->health);
  int port = 0;
  b.AddListeningPort(o.endpoint.grpc_target(), creds, is_unix ? nullptr : &port);

  if (is_unix) {
    // The socket is born 0600 (no window in which others could connect), then opened up to
    // --socket-mode if asked.
    const mode_t old = ::umask(0177);
    server_ = b.BuildAndStart();
    ::umask(old);
  } else {
    server_ = b.BuildAndStart();
  }
  if (!server_ || (!is_unix && port == 0))
    throw std::runtime_error("cannot listen on " + o.endpoint.to_string() +
                             (is_unix ? "" : " (address in use or not local to this host?)"));
  if (is_unix) {
    struct stat sst{};
    if (::lstat(o.endpoint.path.c_str(), &sst) == 0) socket_ino_ = sst.st_ino;
    if (::chmod(o.endpoint.path.c_str(), o.socket_mode) != 0) {
      const std::string err = std::strerror(errno);
      shutdown();
      throw std::runtime_error("cannot chmod " + o.endpoint.path + ": " + err);
    }
    uri_ = o.endpoint.to_string();
  } else {
    Endpoint e = o.endpoint;
    e.port = port;
    uri_ = e.to_string();
  }
  reaper_ = std::thread([this] { reaper_loop(); });
  char mode[16];
  std::snprintf(mode, sizeof mode, "0%o", unsigned(o.socket_mode));
  std::string sec = is_unix ? std::string("socket mode ") + mode
                            : (o.tls_cert_file.empty() ? std::string("plain text") : std::string("TLS"));
  if (!o.tls_client_ca_file.empty()) sec += " + client certificates";
  if (st.auth.enabled()) sec += ", bearer token required";
  st.log("listening on " + uri_ + " (" + sec + ", " + std::to_string(o.preloads.size()) + " preloaded model" +
         (o.preloads.size() == 1 ? "" : "s") + ")");
}

void Server::reaper_loop() {
  const auto idle = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(state_->opts.idle_timeout_s));
  // Check a few times per timeout, at most once a second.
  const auto period = std::clamp<SteadyClock::duration>(idle / 4, std::chrono::milliseconds(100), std::chrono::seconds(1));
  uint64_t last_releases = 0;
  std::unique_lock<std::mutex> lk(stop_mu_);
  while (!stopping_) {
    if (stop_cv_.wait_for(lk, period, [&] { return stopping_; })) break;
    lk.unlock();
    state_->flush_log();  // "suppressed K similar lines" as soon as their second is over
    const size_t n = state_->sessions.reap(idle);
    if (n) state_->log("freed " + std::to_string(n) + " idle execution context" + (n == 1 ? "" : "s"));
    // Contexts were freed (sessions ended, generations finished): hand the memory back to the
    // system, else glibc keeps it cached in the per-thread arenas of a burst of clients.
    const uint64_t releases = state_->accounting->releases();
    if (releases != last_releases) ::malloc_trim(0);
    last_releases = releases;
    lk.lock();
  }
}

void Server::wait() {
  std::unique_lock<std::mutex> lk(stop_mu_);
  stop_cv_.wait(lk, [&] { return stopped_; });
}

void Server::shutdown() {
  std::call_once(shutdown_once_, [&] {
    {
      std::lock_guard<std::mutex> lk(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    if (server_) {
      // Running computations stop at their next prompt batch or token (AbortWhenGone): the
      // host is going away and nobody would read their results.
      state_->stopping = true;
      services_->health.set_serving(false);
      const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double>(state_->opts.shutdown_grace_s));
      // New calls are refused at once; in-flight ones are cancelled after the grace period
      // (Generate and context waits notice between tokens); returns when handlers are done.
      server_->Shutdown(std::chrono::system_clock::now() + grace);
      state_->sessions.clear_all();
      release_unix_socket();
      state_->flush_log(/*all=*/true);
      state_->log("stopped (" + std::to_string(state_->calls.load()) + " calls served)");
    }
    {
      std::lock_guard<std::mutex> lk(stop_mu_);
      stopped_ = true;
    }
    stop_cv_.notify_all();
  });
}

}  // namespace nnb::rpc
