// Who owns what on the server. A Session is a handle scope: its own graph and context tables
// with random handles, so no client can name, use, free or observe another's objects. Named
// sessions (the `nnbridge-session` metadata) live while their Session stream is open, at most
// --max-sessions of them. Calls without the metadata (WasmEdge clients) belong to an anonymous
// session per peer: one per client IP address on TCP; every client of a UNIX socket is the
// same peer (gRPC does not tell us the connecting process). Anonymous sessions cannot free
// anything, so a reaper frees their idle contexts and graphs, and a full table evicts its least
// recently used entries instead of refusing everyone.
// Accounting counts live execution contexts per session, per model and in total, and refuses
// new ones past the caps (Busy).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "nn/backend.h"
#include "nn/handle_table.h"

namespace nnb::rpc {

using SteadyClock = std::chrono::steady_clock;

class Accounting;

// One reserved context slot; destroying it gives the slot back. Held by the object that owns
// the execution context, declared so that it is destroyed after the context itself: the
// counts say how many contexts are really alive (memory held), not how many handles exist.
class ContextSlot {
 public:
  ContextSlot(std::shared_ptr<Accounting> acc, std::string session, std::string model)
      : acc_(std::move(acc)), session_(std::move(session)), model_(std::move(model)) {}
  ~ContextSlot();
  ContextSlot(const ContextSlot&) = delete;
  ContextSlot& operator=(const ContextSlot&) = delete;

 private:
  std::shared_ptr<Accounting> acc_;
  std::string session_, model_;
};

class Accounting : public std::enable_shared_from_this<Accounting> {
 public:
  Accounting(size_t max_total, size_t max_per_session) : max_total_(max_total), max_per_session_(max_per_session) {}
  // A slot for a new context of `session` over `model`, or nullptr when a cap is reached.
  // per_session_cap=false: only the total cap applies (the anonymous session, which stands
  // for any number of WasmEdge clients that cannot be told apart).
  std::unique_ptr<ContextSlot> reserve(const std::string& session, const std::string& model, bool per_session_cap);
  size_t total() const;
  size_t by_model(const std::string& model) const;
  std::string why_full(const std::string& session) const;  // for the Busy message
  uint64_t releases() const { return releases_.load(std::memory_order_relaxed); }  // ever freed

 private:
  friend class ContextSlot;
  void release(const std::string& session, const std::string& model);

  const size_t max_total_, max_per_session_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> by_session_, by_model_;
  std::atomic<uint64_t> releases_{0};
};

struct GraphEntry {
  explicit GraphEntry(std::shared_ptr<nn::Graph> g) : graph(std::move(g)) { touch(); }
  void touch() { last_used_ns = SteadyClock::now().time_since_epoch().count(); }
  std::shared_ptr<nn::Graph> graph;
  std::atomic<int64_t> last_used_ns{0};
};

// Member order matters: destroyed bottom-up, the context goes before its graph, and the slot
// is returned only after both are gone.
struct ContextEntry {
  ContextEntry(std::unique_ptr<ContextSlot> s, std::shared_ptr<nn::Graph> g, std::unique_ptr<nn::ExecutionContext> c)
      : slot(std::move(s)), graph(std::move(g)), ctx(std::move(c)) { touch(); }
  void touch() { last_used_ns = SteadyClock::now().time_since_epoch().count(); }
  std::unique_ptr<ContextSlot> slot;
  std::shared_ptr<nn::Graph> graph;
  std::unique_ptr<nn::ExecutionContext> ctx;
  // Calls on one context are serialized here (a second caller waits; see server_wasi.cpp).
  std::timed_mutex mu;
  std::atomic<int64_t> last_used_ns{0};
};

class Session {
 public:
  // `id`: the client's session id, or for an anonymous session "@" + its peer ("@unix",
  // "@ipv4:10.0.0.7"), which no client id can be ('@' is outside their alphabet).
  Session(std::string id, bool anonymous) : id_(std::move(id)), anonymous_(anonymous) {}
  const std::string& id() const { return id_; }
  bool anonymous() const { return anonymous_; }
  // Set when the session ends (its last stream closed, or the server stops): computations
  // running for it stop at their next step, as nobody can read their results any more.
  bool closed() const { return closed_.load(std::memory_order_relaxed); }

  nn::HandleTable<GraphEntry> graphs;
  nn::HandleTable<ContextEntry> contexts;

  // Frees every graph and context handle (in-flight calls finish on their own references).
  void clear() {
    contexts.clear();
    graphs.clear();
  }
  // The least recently used graph handle goes (its contexts keep their own reference).
  void evict_lru_graph();

 private:
  friend class SessionRegistry;
  const std::string id_;
  const bool anonymous_;
  std::atomic<bool> closed_{false};
  int streams_ = 0;  // open Session RPCs naming this id (guarded by the registry's mutex)
};

class SessionRegistry {
 public:
  explicit SessionRegistry(size_t max_sessions) : max_sessions_(max_sessions) {}
  // The session a call belongs to: its named session (id non-empty), else the anonymous
  // session of `peer`; created on first use. A new named session past --max-sessions is
  // refused with Error(Busy).
  std::shared_ptr<Session> get(const std::string& id, const std::string& peer);
  // A Session stream opened / ended. When the last stream of an id ends, the session's
  // graphs and contexts are freed at once and the id is forgotten. attach refuses as get.
  std::shared_ptr<Session> attach(const std::string& id);
  void detach(const std::string& id);

  // Frees contexts (and then graphs no context uses) idle longer than `idle` in sessions
  // that no open stream keeps alive (the anonymous one, and named ids whose client never
  // opened or lost its stream); forgets such sessions once empty. Returns contexts freed.
  size_t reap(SteadyClock::duration idle);
  // Frees one anonymous context idle at least `min_idle` to make room for `requester`: its
  // own least recently used one if it has any, else that of the anonymous peer holding the
  // most contexts (a client hoarding contexts loses them first). False when none qualifies.
  bool evict_anonymous_lru(const Session& requester, SteadyClock::duration min_idle);

  // Named sessions known now, plus anonymous ones that hold anything.
  size_t count() const;
  std::vector<std::shared_ptr<Session>> all() const;
  // Ends every session (marks them closed, frees their handles): the server is stopping.
  void clear_all();

 private:
  std::shared_ptr<Session> named_locked(const std::string& id);  // under mu_

  const size_t max_sessions_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>> named_, anonymous_;
};

}  // namespace nnb::rpc
