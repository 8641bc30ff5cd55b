// Who owns what on the server. A Session is a handle scope: its own graph and context tables
// with random handles, so no client can name, use, free or observe another's objects. Named
// sessions (the `nnbridge-session` metadata) live while their Session stream is open; calls
// without the metadata share the anonymous session, whose idle contexts a reaper frees.
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
  explicit Session(std::string id) : id_(std::move(id)) {}
  const std::string& id() const { return id_; }
  bool anonymous() const { return id_.empty(); }

  nn::HandleTable<GraphEntry> graphs;
  nn::HandleTable<ContextEntry> contexts;

  // Frees every graph and context handle (in-flight calls finish on their own references).
  void clear() {
    contexts.clear();
    graphs.clear();
  }

 private:
  friend class SessionRegistry;
  const std::string id_;
  int streams_ = 0;  // open Session RPCs naming this id (guarded by the registry's mutex)
};

class SessionRegistry {
 public:
  // The session a call belongs to ("" = anonymous), created on first use.
  std::shared_ptr<Session> get(const std::string& id);
  // A Session stream opened / ended. When the last stream of an id ends, the session's
  // graphs and contexts are freed at once and the id is forgotten.
  std::shared_ptr<Session> attach(const std::string& id);
  void detach(const std::string& id);

  // Frees contexts (and then graphs no context uses) idle longer than `idle` in sessions
  // that no open stream keeps alive (the anonymous one, and named ids whose client never
  // opened or lost its stream); forgets such sessions once empty. Returns contexts freed.
  size_t reap(SteadyClock::duration idle);
  // Frees the anonymous context idle the longest, if it has been idle at least `min_idle`.
  bool evict_anonymous_lru(SteadyClock::duration min_idle);

  // Named sessions known now, plus the anonymous one if it holds anything.
  size_t count() const;
  std::vector<std::shared_ptr<Session>> all() const;
  void clear_all();

 private:
  mutable std::mutex mu_;
  std::shared_ptr<Session> anonymous_ = std::make_shared<Session>("");
  std::unordered_map<std::string, std::shared_ptr<Session>> named_;
};

}  // namespace nnb::rpc
