// The upstreams that serve one model name, and which one takes the next request: the least
// busy (fewest requests in flight) among those whose last check or request succeeded. A
// request that fails before its first token marks its upstream down and is retried on another
// one; the health checker (OpenAIBackend) brings a down upstream back once GET {base}/models
// answers again. When every upstream is down they are still tried, least recently failed
// first: a stale mark must not refuse a request that would succeed.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nnb::openai {

struct Upstream {
  std::string base_url;  // "http://host:8000/v1", no trailing '/'
  std::string model_id;  // the upstream's name of the model ("model" in requests)
  std::string api_key;   // "" when the upstream needs none
};

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;

  UpstreamPool(std::string name, std::vector<Upstream> upstreams);

  const std::string& name() const { return name_; }
  size_t size() const { return ups_.size(); }
  const Upstream& upstream(size_t i) const { return ups_[i]; }

  // A request on upstream `index` while alive; its end is counted when it is destroyed.
  class Lease {
   public:
    Lease(UpstreamPool* pool, size_t index) : pool_(pool), index_(index) {}
    Lease(Lease&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)), index_(o.index_) {}
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        release();
        pool_ = std::exchange(o.pool_, nullptr);
        index_ = o.index_;
      }
      return *this;
    }
    ~Lease() { release(); }
    size_t index() const { return index_; }
    const Upstream& upstream() const { return pool_->ups_[index_]; }

   private:
    void release();
    UpstreamPool* pool_;
    size_t index_;
  };

  // The upstream for the next try, none of `tried`; nullopt when all have been tried.
  std::optional<Lease> acquire(const std::vector<size_t>& tried);
  void mark_down(size_t index, const std::string& why);
  void mark_up(size_t index);
  bool is_up(size_t index) const;
  size_t in_flight(size_t index) const;
  std::string last_error(size_t index) const;

 private:
  struct State {
    bool up = true;
    size_t in_flight = 0;
    Clock::time_point failed_at{};
    std::string last_error;
  };

  std::string name_;
  std::vector<Upstream> ups_;
  mutable std::mutex mu_;
  std::vector<State> state_;
};

}  // namespace nnb::openai
