#include "rpc/server_sessions.h"

#include <set>

namespace nnb::rpc {

ContextSlot::~ContextSlot() { acc_->release(session_, model_); }

std::unique_ptr<ContextSlot> Accounting::reserve(const std::string& session, const std::string& model,
                                                 bool per_session_cap) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto& mine = by_session_[session];
    if (total_ >= max_total_ || (per_session_cap && mine >= max_per_session_)) {
      if (mine == 0) by_session_.erase(session);
      return nullptr;
    }
    ++total_;
    ++mine;
    ++by_model_[model];
  }
  return std::make_unique<ContextSlot>(shared_from_this(), session, model);
}

void Accounting::release(const std::string& session, const std::string& model) {
  std::lock_guard<std::mutex> lk(mu_);
  --total_;
  if (--by_session_[session] == 0) by_session_.erase(session);
  if (--by_model_[model] == 0) by_model_.erase(model);
  releases_.fetch_add(1, std::memory_order_relaxed);
}

size_t Accounting::total() const {
  std::lock_guard<std::mutex> lk(mu_);
  return total_;
}

size_t Accounting::by_model(const std::string& model) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_model_.find(model);
  return it == by_model_.end() ? 0 : it->second;
}

std::string Accounting::why_full(const std::string& session) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = by_session_.find(session);
  const size_t mine = it == by_session_.end() ? 0 : it->second;
  if (mine >= max_per_session_)
    return "this client already has " + std::to_string(mine) + " execution contexts (--max-contexts-per-client " +
           std::to_string(max_per_session_) + ")";
  return "the server has " + std::to_string(total_) + " execution contexts (--max-contexts " +
         std::to_string(max_total_) + ")";
}

void Session::evict_lru_graph() {
  uint32_t victim = 0;
  int64_t oldest = INT64_MAX;
  for (auto& [h, g] : graphs.items())
    if (const int64_t t = g->last_used_ns.load(); t < oldest) oldest = t, victim = h;
  if (victim) graphs.erase(victim);
}

std::shared_ptr<Session> SessionRegistry::named_locked(const std::string& id) {
  auto it = named_.find(id);
  if (it != named_.end()) return it->second;
  if (named_.size() >= max_sessions_)
    throw nn::Error(nn::Errno::Busy, "too many sessions: the server has " + std::to_string(named_.size()) +
                                         " (--max-sessions " + std::to_string(max_sessions_) + ")");
  return named_[id] = std::make_shared<Session>(id, false);
}

std::shared_ptr<Session> SessionRegistry::get(const std::string& id, const std::string& peer) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!id.empty()) return named_locked(id);
  // Anonymous peers are few (client addresses) and forgotten by the reaper once empty.
  auto& s = anonymous_[peer];
  if (!s) s = std::make_shared<Session>("@" + peer, true);
  return s;
}

std::shared_ptr<Session> SessionRegistry::attach(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto s = named_locked(id);
  ++s->streams_;
  return s;
}

void SessionRegistry::detach(const std::string& id) {
  std::shared_ptr<Session> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = named_.find(id);
    if (it == named_.end()) return;
    if (--it->second->streams_ > 0) return;
    gone = std::move(it->second);
    named_.erase(it);
  }
  gone->closed_ = true;  // its running computations stop at their next step
  gone->clear();         // outside the lock: freeing KV caches takes time
}

size_t SessionRegistry::reap(SteadyClock::duration idle) {
  const int64_t cutoff = (SteadyClock::now() - idle).time_since_epoch().count();
  std::vector<std::shared_ptr<Session>> victims;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [peer, s] : anonymous_) victims.push_back(s);
    for (auto& [id, s] : named_)
      if (s->streams_ == 0) victims.push_back(s);
  }
  size_t freed = 0;
  for (auto& s : victims) {
    std::set<const nn::Graph*> in_use;
    for (auto& [h, e] : s->contexts.items()) {
      // A context some call holds is in use however old its timestamp: skip it.
      std::unique_lock<std::timed_mutex> busy(e->mu, std::try_to_lock);
      if (busy.owns_lock() && e->last_used_ns.load() < cutoff) {
        s->contexts.erase(h);  // under the context's lock: see lock_context's re-check
        ++freed;
      } else {
        in_use.insert(e->graph.get());
      }
    }
    for (auto& [h, g] : s->graphs.items())
      if (g->last_used_ns.load() < cutoff && !in_use.count(g->graph.get())) s->graphs.erase(h);
  }
  victims.clear();
  // Forget stream-less sessions that hold nothing. use_count()==1 under the lock means no call
  // is using the session object right now (calls take their reference under it).
  std::lock_guard<std::mutex> lk(mu_);
  for (auto* table : {&named_, &anonymous_})
    for (auto it = table->begin(); it != table->end();) {
      const auto& s = it->second;
      if (s->streams_ == 0 && s.use_count() == 1 && s->contexts.size() == 0 && s->graphs.size() == 0)
        it = table->erase(it);
      else
        ++it;
    }
  return freed;
}

bool SessionRegistry::evict_anonymous_lru(const Session& requester, SteadyClock::duration min_idle) {
  const int64_t cutoff = (SteadyClock::now() - min_idle).time_since_epoch().count();
  std::vector<std::shared_ptr<Session>> peers;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [peer, s] : anonymous_) peers.push_back(s);
  }
  // The victim's owner: the requester if it has an idle context, else the biggest holder.
  struct Pick {
    std::shared_ptr<Session> owner;
    uint32_t handle = 0;
    std::shared_ptr<ContextEntry> entry;
  };
  Pick best;
  bool best_is_own = false;
  size_t best_count = 0;
  int64_t best_time = cutoff;
  for (auto& s : peers) {
    const auto items = s->contexts.items();
    const bool own = s.get() == &requester;
    for (auto& [h, e] : items) {
      const int64_t t = e->last_used_ns.load();
      if (t >= cutoff) continue;  // in use recently: its client is between two calls
      const bool better = !best.entry || (own != best_is_own ? own
                                          : items.size() != best_count ? items.size() > best_count
                                                                       : t < best_time);
      if (better) best = {s, h, e}, best_is_own = own, best_count = items.size(), best_time = t;
    }
  }
  if (!best.entry) return false;
  // Erase while holding the context's lock, and only if no call touched it meanwhile: a call
  // that fetched it before the erase finds it gone once it gets the lock (lock_context).
  std::unique_lock<std::timed_mutex> busy(best.entry->mu, std::try_to_lock);
  if (!busy.owns_lock() || best.entry->last_used_ns.load() >= cutoff) return false;
  return best.owner->contexts.erase(best.handle) != nullptr;
}

size_t SessionRegistry::count() const {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = named_.size();
  for (auto& [peer, s] : anonymous_) n += s->contexts.size() > 0 || s->graphs.size() > 0;
  return n;
}

std::vector<std::shared_ptr<Session>> SessionRegistry::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (auto* table : {&anonymous_, &named_})
    for (auto& [id, s] : *table) out.push_back(s);
  return out;
}

void SessionRegistry::clear_all() {
  std::vector<std::shared_ptr<Session>> every;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto* table : {&anonymous_, &named_}) {
      for (auto& [id, s] : *table) every.push_back(std::move(s));
      table->clear();
    }
  }
  for (auto& s : every) {
    s->closed_ = true;
    s->clear();
  }
}

}  // namespace nnb::rpc
