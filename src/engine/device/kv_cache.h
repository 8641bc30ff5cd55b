// The key/value cache of one context, shared by the context's sequences. Kept in f32 by default
// (llama.cpp's golden runs use an f32 cache, which makes results comparable), in f16
// (KvType::F16, llama.cpp's default cache type): half the memory, and half the bytes attention
// reads every token — with several sequences generating at once, or long contexts, as many as
// the weights —, or in 8 bits (KvType::Q8_0, llama.cpp's `-ctk q8_0 -ctv q8_0`): int8 values
// with one scale per 32 of a head's dimensions, rounded as ggml's quantize_row_q8_0 (the scale
// through fp16), so the values attention reads are those of llama.cpp's q8_0 cache; 72 bytes
// per 64 values against 256 in f32. The CPU device converts on store and on load; the Vulkan
// device keeps f32 only.
//
// Layouts are chosen for the attention kernels (ops.h), which stream them front to back:
//   K, per layer and KV head: blocks of 16 positions, each block [head_dim][16] (the 16
//      positions of one dimension side by side), so 16 scores are one vector of multiply-adds
//      over the head dimension, without horizontal sums;
//   V, per layer and KV head: [position][head_dim], rows read in order (16 rows per block).
//   K in Q8_0, per block [head_dim / 4][16][4] instead: 4 dimensions of the 16 positions in 64
//      bytes, the operand of an int8 dot-product instruction (4 products per 32-bit lane);
//   Q8_0 scales (f32, each the fp16 value ggml stores), per layer and KV head, in a separate
//   area: K's per block [head_dim / 32][16] (the 16 positions' scales of one chunk of 32
//   dimensions side by side, as the keys), V's per cell [head_dim / 32].
//
// Sequences: a block table ("paged" cache, as vLLM's PagedAttention). The storage is a pool of
// physical blocks of 16 cells; block b occupies the same place in every layer and head (K block
// b of a head at k_head() + b*16*head_dim, its V rows at v_head() + b*16*head_dim). A sequence
// is the list of physical blocks holding its positions 0, 16, 32, ... in order, so position p
// of a sequence is lane p%16 of its block p/16, and the attention kernels walk that list instead
// of one contiguous range (their inner loops over a block are unchanged). Why blocks rather
// than llama.cpp's cells with per-sequence masks: attention then reads only its own sequence's
// keys (masked cells of other sequences would be read and thrown away), and K already comes in
// blocks of 16 positions, so one table entry per 16 positions is all the indirection needed.
//
// Sharing: blocks are reference-counted. fork() gives a sequence another's first n positions by
// sharing their blocks, the partial last block included; a write into a shared block copies it
// first (copy-on-write, all layers and heads), so whichever sequence writes first gets its own
// copy and the other keeps the original. Dropping or truncating a sequence releases its blocks.
// A sequence's next block is the one right after its last when that is free, so its blocks form
// runs that attention reads as one stream (8 sequences whose blocks alternate one by one read at
// 9 GB/s where contiguous ones read at 13-17, one thread); a new run starts at block 0 when it is
// free — one sequence alone gets blocks 0, 1, 2, ..., the contiguous layout of a single-sequence
// cache — else in the middle of the longest run of free blocks, leaving room on both sides. The
// storage is mapped anonymous pages: blocks cost memory only once written, wherever they are.
//
// Capacity: `capacity` cells (rounded up to whole blocks) shared by all sequences; one sequence
// holds at most `capacity` positions. Cells are handed out a block at a time, so k sequences may
// leave up to 15 cells each unused in their last blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "engine/quant/ggml_types.h"
#include "engine/quant/quants.h"

namespace nnb {

// Element type of the cached keys and values.
enum class KvType : uint8_t { F32, F16, Q8_0 };
inline const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : t == KvType::Q8_0 ? "q8_0" : "f32"; }
// "f32", "f16" or "q8_0"; anything else: std::invalid_argument naming the choices.
inline KvType parse_kv_type(const std::string& s) {
  for (KvType t : {KvType::F32, KvType::F16, KvType::Q8_0})
    if (s == kv_type_name(t)) return t;
  throw std::invalid_argument("KV cache type '" + s + "': f32, f16 or q8_0");
}

// A decode would need more positions than the context holds (per sequence, or blocks of the
// shared pool).
struct ContextFullError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class KvCache {
 public:
  static constexpr int32_t kBlock = 16;
  // Sequence ids are 0 .. kMaxSeq-1 (a bound on the table of sequences, not on their number
  // in use, which the blocks bound).
  static constexpr int32_t kMaxSeq = 1 << 16;

  static constexpr int32_t kQ8Chunk = 32;  // dimensions per Q8_0 scale
  static constexpr int32_t kQ8MaxHeadDim = 512;  // the attention kernels' bound (ops_impl.h)
  // Whether a cache of type t can hold heads of head_dim dimensions: Q8_0 needs whole chunks of
  // 32, at most kQ8MaxHeadDim; the other types take any.
  static bool holds(KvType t, int32_t head_dim) {
    return t != KvType::Q8_0 || (head_dim % kQ8Chunk == 0 && head_dim <= kQ8MaxHeadDim);
  }

  // Throws std::invalid_argument for a head dimension the type cannot hold (holds()).
  KvCache(int32_t n_layer, int32_t capacity, int32_t n_head_kv, int32_t head_dim, KvType type = KvType::F32)
      : type_(type),
        elem_(type == KvType::F16 ? 2 : type == KvType::Q8_0 ? 1 : 4),
        capacity_(capacity),
        cap16_((capacity + kBlock - 1) / kBlock * kBlock),
        n_head_kv_(n_head_kv),
        head_dim_(head_dim),
        n_layer_(n_layer),
        per_layer_(size_t(cap16_) * size_t(n_head_kv) * size_t(head_dim)),
        refs_(size_t(cap16_ / kBlock), 0) {
    // Anonymous pages, mapped here rather than calloc'd: zeroed pages are materialized only when
    // written, so a large context costs memory only for the positions it uses and creating one
    // stays fast; and freeing unmaps them at once. calloc gives neither for sure: once glibc has
    // freed one mmap'd block it raises its mmap threshold to that size, and later caches come
    // from the heap arenas — zeroed by memset, and kept there after free (a server's RSS grew
    // ~10 MB with every burst of 32 clients that way).
    if (!holds(type, head_dim))
      throw std::invalid_argument("KV cache type q8_0 needs a head dimension that is a multiple of 32, at most 512 (this "
                                  "model's is " + std::to_string(head_dim) + "): use f16 or f32");
    // The scales after the values, 64-byte aligned.
    const size_t values = (2 * size_t(n_layer) * per_layer_ * elem_ + 63) / 64 * 64;
    const size_t len = values + scale_floats() * sizeof(float) + 64;
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = std::unique_ptr<uint8_t[], Unmap>(static_cast<uint8_t*>(p), Unmap{len});
    scales_ = type == KvType::Q8_0 ? reinterpret_cast<float*>(data_.get() + values) : nullptr;
    free_.reserve(size_t(n_blocks()));
    for (int32_t b = n_blocks() - 1; b >= 0; --b) free_.push_back(b);
  }

  KvType type() const { return type_; }
  size_t elem_bytes() const { return elem_; }
  int32_t capacity() const { return capacity_; }
  int32_t width() const { return n_head_kv_ * head_dim_; }
  int32_t head_dim() const { return head_dim_; }
  int32_t n_head_kv() const { return n_head_kv_; }
  int32_t capacity16() const { return cap16_; }
  int32_t n_blocks() const { return cap16_ / kBlock; }
  int32_t n_free_blocks() const { return int32_t(free_.size()); }

  // ---- sequences ---------------------------------------------------------------------------
  static bool valid_seq(int32_t seq) { return seq >= 0 && seq < kMaxSeq; }
  // Positions held by a sequence (0 for one never used or dropped).
  int32_t n_pos(int32_t seq) const { return seq >= 0 && size_t(seq) < seqs_.size() ? seqs_[size_t(seq)].n_pos : 0; }
  // Physical block of each of the sequence's blocks of 16 positions (nullptr when it has none).
  const int32_t* block_table(int32_t seq) const {
    return seq >= 0 && size_t(seq) < seqs_.size() && !seqs_[size_t(seq)].blocks.empty() ? seqs_[size_t(seq)].blocks.data()
                                                                                         : nullptr;
  }
  // References to physical block b (tests).
  int32_t block_refs(int32_t b) const { return refs_[size_t(b)]; }

  // Sequence 0: the single-sequence API of Context.
  int32_t n_used() const { return n_pos(0); }
  void truncate(int32_t n) { truncate(0, n); }

  // Keeps positions 0 .. n-1 of seq (n >= n_pos: no change); blocks past them are released.
  void truncate(int32_t seq, int32_t n) {
    if (seq < 0 || size_t(seq) >= seqs_.size()) return;
    Seq& s = seqs_[size_t(seq)];
    if (n < s.n_pos) s.n_pos = std::max(n, 0);
    const size_t keep = size_t((s.n_pos + kBlock - 1) / kBlock);
    while (s.blocks.size() > keep) {
      release(s.blocks.back());
      s.blocks.pop_back();
    }
  }
  void drop_sequence(int32_t seq) { truncate(seq, 0); }

  // dst := the first n_prefix positions of src (dst's own positions are dropped first). Shares
  // src's blocks, so it takes no free block: the partial last block is copied by whichever
  // sequence writes into it first. Throws std::invalid_argument for bad ids or n_prefix.
  void fork(int32_t src, int32_t dst, int32_t n_prefix) {
    if (!valid_seq(src) || !valid_seq(dst))
      throw std::invalid_argument("fork: sequence id outside 0.." + std::to_string(kMaxSeq - 1));
    if (n_prefix < 0 || n_prefix > n_pos(src))
      throw std::invalid_argument("fork: prefix of " + std::to_string(n_prefix) + " positions, sequence " +
                                  std::to_string(src) + " holds " + std::to_string(n_pos(src)));
    if (src == dst) return truncate(src, n_prefix);
    drop_sequence(dst);
    Seq& d = seq_slot(dst);
    if (n_prefix == 0) return;
    const Seq& s = seqs_[size_t(src)];  // exists: it holds n_prefix > 0 positions
    const size_t nb = size_t((n_prefix + kBlock - 1) / kBlock);
    for (size_t i = 0; i < nb; ++i) {
      d.blocks.push_back(s.blocks[i]);
      ++refs_[size_t(s.blocks[i])];
    }
    d.n_pos = n_prefix;
  }

  // Free blocks that writing positions n_pos(seq) .. n_pos(seq)+n_new-1 takes: new blocks, plus
  // a copy of the last block when it is shared (an upper bound when several sequences sharing
  // one block all write to it in the same batch: the last writer needs no copy).
  int32_t blocks_needed(int32_t seq, int32_t n_new) const {
    if (n_new <= 0) return 0;
    const int32_t have = n_pos(seq);
    const int32_t* bt = block_table(seq);
    int32_t nb = (have + n_new + kBlock - 1) / kBlock - (have + kBlock - 1) / kBlock;
    if (have % kBlock != 0 && refs_[size_t(bt[have / kBlock])] > 1) ++nb;
    return nb;
  }

  // The physical cell (block * 16 + lane) for position pos of seq, ready to be written: takes a
  // free block when pos starts a new one, copies a shared block first. Positions must be
  // reserved in order (pos / 16 <= the blocks the sequence has). Throws ContextFullError when
  // no block is free (callers check blocks_needed() first, so that a refused batch leaves the
  // cache unchanged).
  int32_t reserve_cell(int32_t seq, int32_t pos) {
    if (!valid_seq(seq) || pos < 0 || pos >= capacity_)
      throw std::out_of_range("KV cell: sequence " + std::to_string(seq) + " position " + std::to_string(pos));
    Seq& s = seq_slot(seq);
    const size_t b = size_t(pos / kBlock);
    if (b > s.blocks.size()) throw std::logic_error("KV cell reserved out of order");
    if (b == s.blocks.size()) {
      s.blocks.push_back(take_block(s.blocks.empty() ? -1 : s.blocks.back()));
    } else if (refs_[size_t(s.blocks[b])] > 1) {
      const int32_t copy = take_block(b > 0 ? s.blocks[b - 1] : -1);
      copy_block(s.blocks[b], copy);
      if (copy_hook_) copy_hook_(s.blocks[b], copy);
      release(s.blocks[b]);
      s.blocks[b] = copy;
    }
    return s.blocks[b] * kBlock + pos % kBlock;
  }
  // Called after the cache copies a shared block (copy-on-write), so that a device keeping its
  // own copy of the storage copies it too.
  void set_copy_hook(std::function<void(int32_t from, int32_t to)> hook) { copy_hook_ = std::move(hook); }

  // Records that seq now holds positions 0 .. n-1 (after its cells were reserved and written).
  void set_n_pos(int32_t seq, int32_t n) { seq_slot(seq).n_pos = n; }

  // ---- storage -----------------------------------------------------------------------------
  // Elements are of type(): float, ggml_fp16_t for F16, int8_t for Q8_0.
  // K of one KV head: the physical blocks, each [head_dim][16] (Q8_0: [head_dim/4][16][4]).
  void* k_head(int layer, int32_t h) { return data_.get() + (layer_offset(layer, 0) + head_offset(h)) * elem_; }
  const void* k_head(int layer, int32_t h) const {
    return data_.get() + (layer_offset(layer, 0) + head_offset(h)) * elem_;
  }
  // V of one KV head: [cell][head_dim].
  void* v_head(int layer, int32_t h) { return data_.get() + (layer_offset(layer, 1) + head_offset(h)) * elem_; }
  const void* v_head(int layer, int32_t h) const {
    return data_.get() + (layer_offset(layer, 1) + head_offset(h)) * elem_;
  }

  // Q8_0's scales of one KV head (nullptr for the other types): K's blocks, each [head_dim/32][16],
  // and V's cells, each [head_dim/32] (see the header).
  const float* k_scales(int layer, int32_t h) const { return scales_ ? scales_ + scale_offset(layer, 0, h) : nullptr; }
  const float* v_scales(int layer, int32_t h) const { return scales_ ? scales_ + scale_offset(layer, 1, h) : nullptr; }

  // Stores the K and V rows (n_head_kv * head_dim elements each, heads in order) in a cell: of
  // type() for F32 and F16, f32 for Q8_0 (quantized here).
  void store_cell(int layer, int32_t cell, const void* k, const void* v) {
    if (type_ == KvType::F16) store_rows(layer, cell, static_cast<const ggml_fp16_t*>(k), static_cast<const ggml_fp16_t*>(v));
    else if (type_ == KvType::Q8_0) store_q8(layer, cell, static_cast<const float*>(k), static_cast<const float*>(v));
    else store_rows(layer, cell, static_cast<const float*>(k), static_cast<const float*>(v));
  }
  // Sequence 0, position pos (tests): reserves the cell and stores the f32 rows, converted to
  // type(); n_used() is not changed.
  void store(int layer, int32_t pos, const float* k, const float* v) {
    const int32_t cell = reserve_cell(0, pos);
    if (type_ != KvType::F16) return store_cell(layer, cell, k, v);
    std::vector<ggml_fp16_t> k16(static_cast<size_t>(width())), v16(static_cast<size_t>(width()));
    for (size_t i = 0; i < k16.size(); ++i) k16[i] = fp32_to_fp16(k[i]), v16[i] = fp32_to_fp16(v[i]);
    store_cell(layer, cell, k16.data(), v16.data());
  }

  // Element d of K / V for head h at position pos of a sequence, as f32 (tests, debugging).
  float k_at(int layer, int32_t h, int32_t pos, int32_t d, int32_t seq = 0) const {
    const size_t b = size_t(seqs_.at(size_t(seq)).blocks.at(size_t(pos / kBlock)));
    const size_t lane = size_t(pos % kBlock);
    if (scales_)
      return element(k_head(layer, h), b * size_t(head_dim_) * kBlock + q8_k_index(d, lane)) *
             k_scales(layer, h)[(b * size_t(n_chunks()) + size_t(d / kQ8Chunk)) * kBlock + lane];
    return element(k_head(layer, h), (b * size_t(head_dim_) + size_t(d)) * kBlock + lane);
  }
  float v_at(int layer, int32_t h, int32_t pos, int32_t d, int32_t seq = 0) const {
    const size_t cell = size_t(seqs_.at(size_t(seq)).blocks.at(size_t(pos / kBlock))) * kBlock + size_t(pos % kBlock);
    const float x = element(v_head(layer, h), cell * size_t(head_dim_) + size_t(d));
    return scales_ ? x * v_scales(layer, h)[cell * size_t(n_chunks()) + size_t(d / kQ8Chunk)] : x;
  }

  size_t bytes() const { return 2 * size_t(n_layer_) * per_layer_ * elem_ + scale_floats() * sizeof(float); }

 private:
  struct Unmap {
    size_t len;
    void operator()(uint8_t* p) const { ::munmap(p, len); }
  };
  struct Seq {
    std::vector<int32_t> blocks;
    int32_t n_pos = 0;
  };
  size_t layer_offset(int layer, int kv) const { return (2 * size_t(layer) + size_t(kv)) * per_layer_; }
  size_t head_offset(int32_t h) const { return size_t(h) * size_t(cap16_) * size_t(head_dim_); }
  int32_t n_chunks() const { return head_dim_ / kQ8Chunk; }
  // Q8_0 K: dimension d of the position in lane `lane` within a block ([head_dim/4][16][4]).
  static size_t q8_k_index(int32_t d, size_t lane) { return (size_t(d / 4) * kBlock + lane) * 4 + size_t(d % 4); }
  // Q8_0 scales: per layer, K / V and head, cap16 * head_dim / 32 floats.
  size_t scale_floats() const {
    return type_ == KvType::Q8_0 ? 2 * size_t(n_layer_) * size_t(n_head_kv_) * size_t(cap16_) * size_t(n_chunks()) : 0;
  }
  size_t scale_offset(int layer, int kv, int32_t h) const {
    return ((2 * size_t(layer) + size_t(kv)) * size_t(n_head_kv_) + size_t(h)) * size_t(cap16_) * size_t(n_chunks());
  }

  Seq& seq_slot(int32_t seq) {
    if (size_t(seq) >= seqs_.size()) seqs_.resize(size_t(seq) + 1);
    Seq& s = seqs_[size_t(seq)];
    // Room for every block at once: appending a block while generating allocates nothing.
    if (s.blocks.capacity() == 0) s.blocks.reserve(size_t(n_blocks()));
    return s;
  }
  // A free block to follow block `after` of a sequence (-1: its first): see the header.
  int32_t take_block(int32_t after) {
    if (free_.empty()) throw ContextFullError("context full: no free KV block");
    const int32_t b = after >= 0 && after + 1 < n_blocks() && refs_[size_t(after) + 1] == 0 ? after + 1 : run_start();
    const auto it = std::lower_bound(free_.begin(), free_.end(), b, std::greater<int32_t>());
    free_.erase(it);  // *it == b: b is free
    refs_[size_t(b)] = 1;
    return b;
  }
  // Where a new run of blocks starts: block 0 when free, else the middle of the longest run of
  // free blocks (the lowest of equal ones). free_ is not empty.
  int32_t run_start() const {
    if (refs_[0] == 0) return 0;
    int32_t best = -1, best_len = 0, start = -1, len = 0;
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {  // ascending
      if (len > 0 && *it == start + len) {
        ++len;
      } else {
        start = *it;
        len = 1;
      }
      if (len > best_len) best = start, best_len = len;
    }
    return best + best_len / 2;
  }
  void release(int32_t b) {
    if (--refs_[size_t(b)] == 0)
      free_.insert(std::upper_bound(free_.begin(), free_.end(), b, std::greater<int32_t>()), b);
  }
  void copy_block(int32_t from, int32_t to) {
    const size_t n = size_t(kBlock) * size_t(head_dim_) * elem_;  // bytes of a block of one head
    for (int l = 0; l < n_layer_; ++l)
      for (int32_t h = 0; h < n_head_kv_; ++h) {
        uint8_t* k = static_cast<uint8_t*>(k_head(l, h));
        uint8_t* v = static_cast<uint8_t*>(v_head(l, h));
        std::memcpy(k + size_t(to) * n, k + size_t(from) * n, n);
        std::memcpy(v + size_t(to) * n, v + size_t(from) * n, n);
        if (scales_) {  // a block's scales: 16 * head_dim/32 floats of K and of V
          const size_t m = size_t(kBlock) * size_t(n_chunks());
          float* ks = scales_ + scale_offset(l, 0, h);
          float* vs = scales_ + scale_offset(l, 1, h);
          std::memcpy(ks + size_t(to) * m, ks + size_t(from) * m, m * sizeof(float));
          std::memcpy(vs + size_t(to) * m, vs + size_t(from) * m, m * sizeof(float));
        }
      }
  }
  // A head's K and V rows quantized as llama.cpp's q8_0 cache stores them (ggml-cpu's
  // quantize_row_q8_0, the x86 rules: quantize_row_activation), the blocks' int8 values and
  // fp16 scales put in this cache's layout.
  void store_q8(int layer, int32_t cell, const float* k, const float* v) {
    const size_t b = size_t(cell / kBlock), lane = size_t(cell % kBlock), nc = size_t(n_chunks());
    q8_.resize(nc);
    for (int32_t h = 0; h < n_head_kv_; ++h) {
      int8_t* kh = static_cast<int8_t*>(k_head(layer, h)) + b * size_t(head_dim_) * kBlock;
      float* ks = scales_ + scale_offset(layer, 0, h) + b * nc * kBlock + lane;
      quantize_row_activation(GgmlType::Q8_0, k + size_t(h) * size_t(head_dim_), q8_.data(), head_dim_);
      for (size_t c = 0; c < nc; ++c) {
        ks[c * kBlock] = fp16_to_fp32(q8_[c].d);
        for (int32_t i = 0; i < kQ8Chunk; ++i) kh[q8_k_index(int32_t(c) * kQ8Chunk + i, lane)] = q8_[c].qs[i];
      }
      int8_t* vh = static_cast<int8_t*>(v_head(layer, h)) + size_t(cell) * size_t(head_dim_);
      float* vs = scales_ + scale_offset(layer, 1, h) + size_t(cell) * nc;
      quantize_row_activation(GgmlType::Q8_0, v + size_t(h) * size_t(head_dim_), q8_.data(), head_dim_);
      for (size_t c = 0; c < nc; ++c) {
        vs[c] = fp16_to_fp32(q8_[c].d);
        std::memcpy(vh + c * kQ8Chunk, q8_[c].qs, size_t(kQ8Chunk));
      }
    }
  }
  template <class T>
  void store_rows(int layer, int32_t cell, const T* k, const T* v) {
    const size_t blk = size_t(cell / kBlock) * size_t(head_dim_) * kBlock, lane = size_t(cell % kBlock);
    for (int32_t h = 0; h < n_head_kv_; ++h) {
      T* kh = static_cast<T*>(k_head(layer, h)) + blk + lane;
      const T* kr = k + size_t(h) * size_t(head_dim_);
      for (int32_t d = 0; d < head_dim_; ++d) kh[size_t(d) * kBlock] = kr[d];
      T* vh = static_cast<T*>(v_head(layer, h)) + size_t(cell) * size_t(head_dim_);
      std::memcpy(vh, v + size_t(h) * size_t(head_dim_), size_t(head_dim_) * sizeof(T));
    }
  }
  float element(const void* base, size_t i) const {
    if (type_ == KvType::F16) return fp16_to_fp32(static_cast<const ggml_fp16_t*>(base)[i]);
    if (type_ == KvType::Q8_0) return float(static_cast<const int8_t*>(base)[i]);
    return static_cast<const float*>(base)[i];
  }

  KvType type_;
  size_t elem_;  // bytes per element
  int32_t capacity_;
  int32_t cap16_;
  int32_t n_head_kv_;
  int32_t head_dim_;
  int32_t n_layer_;
  size_t per_layer_;
  std::unique_ptr<uint8_t[], Unmap> data_;
  float* scales_ = nullptr;  // Q8_0: inside data_'s mapping, after the values
  std::vector<block_q8_0> q8_;  // Q8_0: one head row's blocks while storing
  std::vector<int32_t> refs_;  // per physical block
  std::vector<int32_t> free_;  // free physical blocks, descending
  std::vector<Seq> seqs_;      // by sequence id
  std::function<void(int32_t, int32_t)> copy_hook_;
};

}  // namespace nnb
