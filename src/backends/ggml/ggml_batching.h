// The batchers of one GgmlBackend (continuous batching, `serve --batch-parallel`): one shared
// engine Context with its slots (engine/runtime/batcher.h) per model, device, layers on the
// device and thread count, made when a context of that kind first generates and kept while any
// context holds a slot of it. Contexts asking for different threads or devices cannot share a
// forward pass, so they get different batchers (each with its own KV budget).
// Header-only: small, and the backend's library lists no more sources for it.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/ggml/ggml_runtime.h"
#include "engine/model/model.h"
#include "engine/runtime/batcher.h"

namespace nnb::ggml {

class BatcherRegistry {
 public:
  // The batcher for `want` (its n_threads, device and n_gpu_layers; n_ctx is the slot's, not
  // the batcher's), with the KV budget and limits of `rt`.
  std::shared_ptr<Batcher> get(const std::shared_ptr<const Model>& model, const GgmlBackendOptions& rt,
                               const ContextParams& want);

 private:
  struct Entry {
    const Model* model;  // alive while the batcher is: the batcher owns a reference to it
    std::string device;
    int32_t n_gpu_layers, n_threads;
    std::weak_ptr<Batcher> batcher;
  };
  std::mutex mu_;
  std::vector<Entry> entries_;
};

inline std::shared_ptr<BatcherRegistry> make_batcher_registry() { return std::make_shared<BatcherRegistry>(); }

inline std::shared_ptr<Batcher> BatcherRegistry::get(const std::shared_ptr<const Model>& model,
                                                     const GgmlBackendOptions& rt, const ContextParams& want) {
  std::lock_guard<std::mutex> lk(mu_);
  std::erase_if(entries_, [](const Entry& e) { return e.batcher.expired(); });
  for (const Entry& e : entries_)
    if (e.model == model.get() && e.device == want.device && e.n_gpu_layers == want.n_gpu_layers &&
        e.n_threads == want.n_threads)
      if (auto b = e.batcher.lock()) return b;
  BatcherParams p;
  p.context.n_ctx = rt.batch_kv_cells > 0 ? rt.batch_kv_cells : rt.batch_parallel * kDefaultCellsPerSlot;
  p.context.n_batch = 512;
  p.context.n_threads = want.n_threads;
  p.context.device = want.device;
  p.context.n_gpu_layers = want.n_gpu_layers;
  p.context.kv_type = want.kv_type;
  p.max_slots = rt.batch_parallel;
  p.prompt_chunk = rt.batch_prompt_chunk;
  p.gather_wait = std::chrono::microseconds(rt.batch_wait_us);
  auto b = Batcher::make(*model, std::move(p), model);
  entries_.push_back(Entry{model.get(), want.device, want.n_gpu_layers, want.n_threads, b});
  return b;
}

}  // namespace nnb::ggml
