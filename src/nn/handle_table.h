// A thread-safe table from 32-bit handles to shared objects. Handles are drawn at random
// (never 0, never reused while live), so a client cannot guess another's handles; each
// scope (a client session) has its own table.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

namespace nnb::nn {

template <typename T>
class HandleTable {
 public:
  uint32_t insert(std::shared_ptr<T> obj) {
    std::lock_guard<std::mutex> lk(mu_);
    for (;;) {
      const uint32_t h = uint32_t(rng_());
      if (h != 0 && !items_.count(h)) {
        items_.emplace(h, std::move(obj));
        return h;
      }
    }
  }
  std::shared_ptr<T> get(uint32_t h) const {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = items_.find(h);
    return it == items_.end() ? nullptr : it->second;
  }
  // Removes and returns the object (nullptr when absent).
  std::shared_ptr<T> erase(uint32_t h) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = items_.find(h);
    if (it == items_.end()) return nullptr;
    auto obj = std::move(it->second);
    items_.erase(it);
    return obj;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lk(mu_);
    return items_.size();
  }
  void clear() {
    std::unordered_map<uint32_t, std::shared_ptr<T>> old;
    {
      std::lock_guard<std::mutex> lk(mu_);
      old.swap(items_);
    }  // destroyed outside the lock: destructors may be slow (freeing a KV cache)
  }
  std::vector<std::pair<uint32_t, std::shared_ptr<T>>> items() const {
    std::lock_guard<std::mutex> lk(mu_);
    return {items_.begin(), items_.end()};
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<T>> items_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace nnb::nn
