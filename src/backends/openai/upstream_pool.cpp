#include "backends/openai/upstream_pool.h"

#include <algorithm>
#include <tuple>

namespace nnb::openai {

UpstreamPool::UpstreamPool(std::string name, std::vector<Upstream> upstreams)
    : name_(std::move(name)), ups_(std::move(upstreams)), state_(ups_.size()) {}

void UpstreamPool::Lease::release() {
  if (!pool_) return;
  std::lock_guard<std::mutex> lk(pool_->mu_);
  --pool_->state_[index_].in_flight;
  pool_ = nullptr;
}

std::optional<UpstreamPool::Lease> UpstreamPool::acquire(const std::vector<size_t>& tried) {
  std::lock_guard<std::mutex> lk(mu_);
  std::optional<size_t> best;
  // Up before down; then the fewest in flight; down ones by their oldest failure; ties to
  // the first listed, so that an idle fleet answers from a predictable upstream.
  auto key = [&](size_t i) {
    const State& s = state_[i];
    return std::make_tuple(!s.up, s.in_flight, s.up ? Clock::time_point{} : s.failed_at, i);
  };
  for (size_t i = 0; i < ups_.size(); ++i) {
    if (std::find(tried.begin(), tried.end(), i) != tried.end()) continue;
    if (!best || key(i) < key(*best)) best = i;
  }
  if (!best) return std::nullopt;
  ++state_[*best].in_flight;
  return Lease(this, *best);
}

void UpstreamPool::mark_down(size_t index, const std::string& why) {
  std::lock_guard<std::mutex> lk(mu_);
  state_[index].up = false;
  state_[index].failed_at = Clock::now();
  state_[index].last_error = why;
}

void UpstreamPool::mark_up(size_t index) {
  std::lock_guard<std::mutex> lk(mu_);
  state_[index].up = true;
}

bool UpstreamPool::is_up(size_t index) const {
  std::lock_guard<std::mutex> lk(mu_);
  return state_[index].up;
}

size_t UpstreamPool::in_flight(size_t index) const {
  std::lock_guard<std::mutex> lk(mu_);
  return state_[index].in_flight;
}

std::string UpstreamPool::last_error(size_t index) const {
  std::lock_guard<std::mutex> lk(mu_);
  return state_[index].last_error;
}

}  // namespace nnb::openai
