// The key/value cache of one context. Kept in f32 (llama.cpp's golden runs use an f32 cache,
// which makes results comparable; it is also what the attention loops read fastest without
// conversions).
//
// Layouts are chosen for the attention kernels (ops.h), which stream them front to back:
//   K, per layer and KV head: blocks of 16 positions, each block [head_dim][16] (the 16
//      positions of one dimension side by side), so 16 scores are one vector of multiply-adds
//      over the head dimension, without horizontal sums;
//   V, per layer and KV head: [position][head_dim], rows read in order.
// The capacity is rounded up to a multiple of 16; slots past n_used() are never used unmasked.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace nnb {

class KvCache {
 public:
  static constexpr int32_t kBlock = 16;

  KvCache(int32_t n_layer, int32_t capacity, int32_t n_head_kv, int32_t head_dim)
      : capacity_(capacity),
        cap16_((capacity + kBlock - 1) / kBlock * kBlock),
        n_head_kv_(n_head_kv),
        head_dim_(head_dim),
        n_layer_(n_layer),
        per_layer_(size_t(cap16_) * size_t(n_head_kv) * size_t(head_dim)) {
    // calloc: zeroed pages are only materialized when written, so a large context costs
    // memory only for the positions actually used (and creating a context stays fast).
    data_.reset(static_cast<float*>(std::calloc(2 * size_t(n_layer) * per_layer_ + 16, sizeof(float))));
    if (!data_) throw std::bad_alloc();
  }

  int32_t capacity() const { return capacity_; }
  int32_t n_used() const { return n_used_; }
  int32_t width() const { return n_head_kv_ * head_dim_; }
  int32_t head_dim() const { return head_dim_; }
  int32_t n_head_kv() const { return n_head_kv_; }
  int32_t capacity16() const { return cap16_; }
  void truncate(int32_t n) { n_used_ = n < n_used_ ? (n < 0 ? 0 : n) : n_used_; }
  void set_used(int32_t n) { n_used_ = n; }

  // K of one KV head: cap16/16 blocks of [head_dim][16].
  float* k_head(int layer, int32_t h) { return data_.get() + layer_offset(layer, 0) + head_offset(h); }
  const float* k_head(int layer, int32_t h) const { return data_.get() + layer_offset(layer, 0) + head_offset(h); }
  // V of one KV head: [cap16][head_dim].
  float* v_head(int layer, int32_t h) { return data_.get() + layer_offset(layer, 1) + head_offset(h); }
  const float* v_head(int layer, int32_t h) const { return data_.get() + layer_offset(layer, 1) + head_offset(h); }

  // Stores the K and V rows (n_head_kv * head_dim floats each, heads in order) of position pos.
  void store(int layer, int32_t pos, const float* k, const float* v) {
    const size_t blk = size_t(pos / kBlock) * size_t(head_dim_) * kBlock, lane = size_t(pos % kBlock);
    for (int32_t h = 0; h < n_head_kv_; ++h) {
      float* kh = k_head(layer, h) + blk + lane;
      const float* kr = k + size_t(h) * size_t(head_dim_);
      for (int32_t d = 0; d < head_dim_; ++d) kh[size_t(d) * kBlock] = kr[d];
      float* vh = v_head(layer, h) + size_t(pos) * size_t(head_dim_);
      const float* vr = v + size_t(h) * size_t(head_dim_);
      for (int32_t d = 0; d < head_dim_; ++d) vh[d] = vr[d];
    }
  }

  // Element d of K for head h at position pos (tests, debugging).
  float k_at(int layer, int32_t h, int32_t pos, int32_t d) const {
    return k_head(layer, h)[(size_t(pos / kBlock) * size_t(head_dim_) + size_t(d)) * kBlock + size_t(pos % kBlock)];
  }
  float v_at(int layer, int32_t h, int32_t pos, int32_t d) const {
    return v_head(layer, h)[size_t(pos) * size_t(head_dim_) + size_t(d)];
  }

  size_t bytes() const { return 2 * size_t(n_layer_) * per_layer_ * sizeof(float); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  size_t layer_offset(int layer, int kv) const { return (2 * size_t(layer) + size_t(kv)) * per_layer_; }
  size_t head_offset(int32_t h) const { return size_t(h) * size_t(cap16_) * size_t(head_dim_); }

  int32_t capacity_;
  int32_t cap16_;
  int32_t n_head_kv_;
  int32_t head_dim_;
  int32_t n_layer_;
  size_t per_layer_;
  int32_t n_used_ = 0;
  std::unique_ptr<float[], Free> data_;
};

}  // namespace nnb
