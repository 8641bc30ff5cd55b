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

std::shared_ptr<Session> SessionRegistry::get(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  if (id.empty()) return anonymous_;
  auto& s = named_[id];
  if (!s) s = std::make_shared<Session>(id);
  return s;
}

std::shared_ptr<Session> SessionRegistry::attach(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& s = named_[id];
  if (!s) s = std::make_shared<Session>(id);
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
  gone->clear();  // outside the lock: freeing KV caches takes time
}

size_t SessionRegistry::reap(SteadyClock::duration idle) {
  const int64_t cutoff = (SteadyClock::now() - idle).time_since_epoch().count();
  std::vector<std::shared_ptr<Session>> victims;
  {
    std::lock_guard<std::mutex> lk(mu_);
    victims.push_back(anonymous_);
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
  // Forget stream-less named sessions that hold nothing. use_count()==1 under the lock means
  // no call is using the session object right now (calls take their reference under it).
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = named_.begin(); it != named_.end();) {
    const auto& s = it->second;
    if (s->streams_ == 0 && s.use_count() == 1 && s->contexts.size() == 0 && s->graphs.size() == 0)
      it = named_.erase(it);
    else
      ++it;
  }
  return freed;
}

bool SessionRegistry::evict_anonymous_lru(SteadyClock::duration min_idle) {
  const int64_t cutoff = (SteadyClock::now() - min_idle).time_since_epoch().count();
  uint32_t victim = 0;
  std::shared_ptr<ContextEntry> entry;
  int64_t oldest = cutoff;
  for (auto& [h, e] : anonymous_->contexts.items()) {
    const int64_t t = e->last_used_ns.load();
    if (t < oldest) {
      oldest = t;
      victim = h;
      entry = e;
    }
  }
  if (!entry) return false;
  // Erase while holding the context's lock, and only if no call touched it meanwhile: a call
  // that fetched it before the erase finds it gone once it gets the lock (lock_context).
  std::unique_lock<std::timed_mutex> busy(entry->mu, std::try_to_lock);
  if (!busy.owns_lock() || entry->last_used_ns.load() >= cutoff) return false;
  return anonymous_->contexts.erase(victim) != nullptr;
}

size_t SessionRegistry::count() const {
  std::lock_guard<std::mutex> lk(mu_);
  const bool anon_used = anonymous_->contexts.size() > 0 || anonymous_->graphs.size() > 0;
  return named_.size() + (anon_used ? 1 : 0);
}

std::vector<std::shared_ptr<Session>> SessionRegistry::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<Session>> out{anonymous_};
  for (auto& [id, s] : named_) out.push_back(s);
  return out;
}

void SessionRegistry::clear_all() {
  std::vector<std::shared_ptr<Session>> every;
  {
    std::lock_guard<std::mutex> lk(mu_);
    every.push_back(anonymous_);
    for (auto& [id, s] : named_) every.push_back(std::move(s));
    named_.clear();
  }
  for (auto& s : every) s->clear();
}

}  // namespace nnb::rpc
