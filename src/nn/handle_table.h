// A thread-safe table from 32-bit handles to shared objects. Handles come from the kernel's
// cryptographic generator (getrandom), never 0 and never reused while live: seeing any number
// of its own handles tells a client nothing about the next one or another client's (a
// Mersenne Twister, used before, is predictable after 624 outputs). Each scope (a client
// session) has its own table.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "nn/secure_random.h"

namespace nnb::nn {

template <typename T>
class HandleTable {
 public:
  uint32_t insert(std::shared_ptr<T> obj) {
    std::lock_guard<std::mutex> lk(mu_);
    for (;;) {
      const uint32_t h = secure_random_u32();
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
};

}  // namespace nnb::nn
