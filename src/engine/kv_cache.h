// The key/value cache of one context: per layer, K and V rows of n_embd_kv floats for each
// position. Kept in f32 (llama.cpp's golden runs use an f32 cache, which makes results
// comparable; it is also what the attention loops read fastest without conversions).
#pragma once

#include <cstdint>
#include <vector>

namespace nnb {

class KvCache {
 public:
  KvCache(int32_t n_layer, int32_t capacity, int32_t n_embd_kv)
      : capacity_(capacity), width_(n_embd_kv), k_(size_t(n_layer)), v_(size_t(n_layer)) {
    for (auto& l : k_) l.assign(size_t(capacity) * size_t(n_embd_kv), 0.0f);
    for (auto& l : v_) l.assign(size_t(capacity) * size_t(n_embd_kv), 0.0f);
  }

  int32_t capacity() const { return capacity_; }
  int32_t n_used() const { return n_used_; }
  int32_t width() const { return width_; }
  void truncate(int32_t n) { n_used_ = n < n_used_ ? (n < 0 ? 0 : n) : n_used_; }
  void set_used(int32_t n) { n_used_ = n; }

  float* k(int layer, int32_t pos) { return k_[size_t(layer)].data() + size_t(pos) * size_t(width_); }
  float* v(int layer, int32_t pos) { return v_[size_t(layer)].data() + size_t(pos) * size_t(width_); }
  const float* k(int layer, int32_t pos) const { return k_[size_t(layer)].data() + size_t(pos) * size_t(width_); }
  const float* v(int layer, int32_t pos) const { return v_[size_t(layer)].data() + size_t(pos) * size_t(width_); }
  size_t bytes() const { return 2 * k_.size() * size_t(capacity_) * size_t(width_) * sizeof(float); }

 private:
  int32_t capacity_;
  int32_t width_;
  int32_t n_used_ = 0;
  std::vector<std::vector<float>> k_, v_;
};

}  // namespace nnb
