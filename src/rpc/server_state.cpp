#include "rpc/server_state.h"

#include <cctype>
#include <cstdio>

#include "rpc/common.h"

namespace nnb::rpc {

using nn::Errno;

namespace {

void emit(const ServerOptions& o, const std::string& line) {
  if (o.log) return o.log(line);
  std::fprintf(stderr, "nnbridge serve: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace

void ServerState::log(const std::string& line) const {
  // Lines quote client strings (names, configs, error details): escaped and cut here, once,
  // whoever wrote the line.
  std::vector<std::string> summaries;
  const bool write = log_limiter.admit(LogLimiter::kind_of(line), LogLimiter::Clock::now(), summaries);
  // Summaries quote the head of a line (its kind): escaped like the line itself.
  for (const auto& s : summaries) emit(opts, log_escape(s, kLogLineMax));
  if (write) emit(opts, log_escape(line, kLogLineMax));
}

void ServerState::flush_log(bool all) const {
  for (const auto& s : log_limiter.due(LogLimiter::Clock::now(), all)) emit(opts, log_escape(s, kLogLineMax));
}

std::unique_ptr<ContextSlot> ServerState::reserve_context(Session& s, const std::string& model) {
  if (auto slot = accounting->reserve(s.id(), model, !s.anonymous())) return slot;
  if (s.anonymous()) {
    // WasmEdge clients never free contexts (the protocol has no call for it): when the server
    // is full, an anonymous context idle for half the idle timeout (at most 5 s) makes room —
    // the caller's own oldest, else the biggest holder's: a script running one wasmedge after
    // another never starves, a client between two of its calls keeps its context.
    const auto min_idle = std::chrono::duration<double>(std::min(opts.idle_timeout_s / 2, 5.0));
    if (sessions.evict_anonymous_lru(s, std::chrono::duration_cast<SteadyClock::duration>(min_idle)))
      if (auto slot = accounting->reserve(s.id(), model, false)) return slot;
  }
  throw nn::Error(Errno::Busy, "too many execution contexts: " + accounting->why_full(s.id()));
}

std::string session_id_of(const grpc::ServerContextBase& call) {
  const auto& md = call.client_metadata();
  auto it = md.find(kSessionKey);
  if (it == md.end()) return {};
  std::string id(it->second.data(), it->second.size());
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) ok = ok && (std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.');
  if (!ok)
    throw nn::Error(Errno::InvalidArgument,
                    "malformed nnbridge-session metadata (1-128 characters of [A-Za-z0-9._-] expected)");
  return id;
}

std::string peer_of(const grpc::ServerContextBase& call) {
  const std::string p = call.peer();
  if (p.rfind("ipv4:", 0) == 0) return p.substr(0, p.rfind(':'));
  if (p.rfind("ipv6:", 0) == 0) {
    const size_t close = p.find(']');
    return close == std::string::npos ? p.substr(0, p.rfind(':')) : p.substr(0, close + 1);
  }
  return "unix";
}

bool call_gone(const ServerState& st, const Session& s, const grpc::ServerContextBase& call) {
  return st.stopping.load(std::memory_order_relaxed) || s.closed() || call.IsCancelled() ||
         std::chrono::system_clock::now() > call.deadline();
}

AbortWhenGone::AbortWhenGone(const ServerState& st, const Session& s, const grpc::ServerContextBase& call,
                             nn::ExecutionContext& ctx)
    : ctx_(ctx) {
  ctx_.set_abort_check([&st, &s, &call] { return call_gone(st, s, call); });
}

grpc::Status fail_call(ServerState& st, grpc::ServerContext* call, const char* fn, Errno e, const std::string& detail) {
  if (e != Errno::EndOfSequence)
    st.log(std::string(fn) + " failed: errno=" + std::to_string(uint32_t(e)) + " (" +
           std::string(nn::errno_name(e)) + ")" + (detail.empty() ? "" : ": " + detail));
  add_errno_trailer(*call, e);
  return error_status(fn, e, detail);
}

grpc::Status run_call(ServerState& st, grpc::ServerContext* call, const char* fn,
                      const std::function<void(Session&)>& body) {
  st.calls.fetch_add(1, std::memory_order_relaxed);
  if (!st.auth.check(*call)) {
    // Same errno trailer convention as every failure, under the precise status code.
    add_errno_trailer(*call, Errno::RuntimeError);
    st.log(std::string(fn) + " refused: missing or wrong bearer token (peer " + call->peer() + ")");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "failed to call host function \"" + std::string(fn) +
                            "\", errno=5: missing or wrong `authorization: Bearer` token");
  }
  try {
    auto session = st.sessions.get(session_id_of(*call), peer_of(*call));
    body(*session);
    return grpc::Status::OK;
  } catch (const nn::Error& e) {
    return fail_call(st, call, fn, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return fail_call(st, call, fn, Errno::RuntimeError, "out of memory");
  } catch (const std::exception& e) {
    return fail_call(st, call, fn, Errno::RuntimeError, e.what());
  }
}

LockedContext lock_context(Session& s, uint32_t handle, const grpc::ServerContext& call) {
  LockedContext lc;
  auto entry = s.contexts.get(handle);
  if (!entry)
    throw nn::Error(Errno::InvalidArgument, "unknown execution context handle " + std::to_string(handle));
  entry->touch();  // a call is arriving: the reaper must not count this context as idle
  lc.lock = std::unique_lock<std::timed_mutex>(entry->mu, std::defer_lock);
  // Wait for a concurrent call on the same context, but give up if our own caller goes away.
  while (!lc.lock.try_lock_for(std::chrono::milliseconds(50)))
    if (call.IsCancelled())
      throw nn::Error(Errno::Busy, "cancelled while another call was running on this context");
  // The reaper or an eviction may have freed the handle while we waited: never run on an
  // orphaned context whose results nobody could read.
  if (s.contexts.get(handle) != entry)
    throw nn::Error(Errno::InvalidArgument,
                    "execution context handle " + std::to_string(handle) + " was freed (idle timeout)");
  lc.entry = std::move(entry);
  return lc;
}

}  // namespace nnb::rpc
