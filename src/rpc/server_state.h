// What the service implementations share, and the frame every call runs in: authenticate,
// find the caller's session, run, and turn any failure into WasmEdge's error convention
// (status UNKNOWN, `failed to call host function "<fn>", errno=<N>`, trailer `errno: N`).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "nn/backend.h"
#include "rpc/server.h"
#include "rpc/server_auth.h"
#include "rpc/server_log.h"
#include "rpc/server_sessions.h"

namespace nnb::rpc {

struct ServerState {
  ServerState(std::shared_ptr<nn::Backend> b, ServerOptions o)
      : backend(std::move(b)),
        opts(std::move(o)),
        sessions(opts.max_sessions),
        accounting(std::make_shared<Accounting>(opts.max_contexts, opts.max_contexts_per_client)) {}

  // Writes one line (opts.log, else stderr), escaped, truncated and, for failure lines,
  // rate-limited (server_log.h).
  void log(const std::string& line) const;
  // Writes the "suppressed K similar lines" summaries that are due (the reaper calls it, so
  // they appear within about a second even when the server has gone quiet); all of them when
  // `all` (shutdown).
  void flush_log(bool all = false) const;
  // A slot for one more execution context of `s` over `model`; throws Error(Busy) at a cap.
  // The anonymous session (WasmEdge clients, who have no way to free a context) is exempt from
  // the per-client cap, and first gets its least recently used idle context reclaimed when the
  // server is full.
  std::unique_ptr<ContextSlot> reserve_context(Session& s, const std::string& model);

  const std::shared_ptr<nn::Backend> backend;
  const ServerOptions opts;
  Authenticator auth;
  SessionRegistry sessions;
  const std::shared_ptr<Accounting> accounting;
  std::atomic<uint64_t> calls{0};
  mutable LogLimiter log_limiter;
  std::atomic<bool> stopping{false};  // shutdown began: running computations stop
};

// Runs `body` for the call as WasmEdge host function `fn`: checks the bearer token
// (UNAUTHENTICATED), resolves the session from `nnbridge-session` metadata (a malformed id is
// InvalidArgument) and maps nn::Error / other exceptions to the error convention.
grpc::Status run_call(ServerState& st, grpc::ServerContext* call, const char* fn,
                      const std::function<void(Session&)>& body);

// The failure status for `fn` with errno `e` (trailer added, logged unless EndOfSequence).
grpc::Status fail_call(ServerState& st, grpc::ServerContext* call, const char* fn, nn::Errno e,
                       const std::string& detail);

// The session id a call names ("" when none). Throws nn::Error(InvalidArgument) when malformed.
std::string session_id_of(const grpc::ServerContextBase& call);
// Who an anonymous call comes from, as far as gRPC tells: "ipv4:ADDR" / "ipv6:[ADDR]" for TCP
// (the port left out: one client, several connections), "unix" for every UNIX-socket client.
std::string peer_of(const grpc::ServerContextBase& call);

// While alive, `ctx` stops computing (between prompt batches and tokens) once the call is
// cancelled (the client went away), its deadline passes, its session ends or the server stops.
class AbortWhenGone {
 public:
  AbortWhenGone(const ServerState& st, const Session& s, const grpc::ServerContextBase& call,
                nn::ExecutionContext& ctx);
  ~AbortWhenGone() { ctx_.set_abort_check({}); }
  AbortWhenGone(const AbortWhenGone&) = delete;
  AbortWhenGone& operator=(const AbortWhenGone&) = delete;

 private:
  nn::ExecutionContext& ctx_;
};
// The same test, for loops the server runs itself (Generate's token loop).
bool call_gone(const ServerState& st, const Session& s, const grpc::ServerContextBase& call);

// The context `handle` of `s`, locked for this call: calls on one context run one at a time,
// a second caller waits (until the first finishes or its own call is cancelled). Unknown
// handle: Error(InvalidArgument).
struct LockedContext {
  std::shared_ptr<ContextEntry> entry;
  std::unique_lock<std::timed_mutex> lock;
  LockedContext() = default;
  LockedContext(LockedContext&&) = default;
  nn::ExecutionContext& operator*() const { return *entry->ctx; }
  nn::ExecutionContext* operator->() const { return entry->ctx.get(); }
  ~LockedContext() {
    if (entry) entry->touch();
  }
};
LockedContext lock_context(Session& s, uint32_t handle, const grpc::ServerContext& call);

}  // namespace nnb::rpc
