#include "backends/ggml/ggml_model_cache.h"

#include <new>
#include <system_error>

#include "nn/types.h"

namespace nnb::ggml {

using nn::Errno;
using nn::Error;

std::shared_ptr<const Model> load_model_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(Errno::ModelNotFound, "model file not found: " + path.string());
  try {
    return std::shared_ptr<const Model>(Model::load(path));
  } catch (const std::bad_alloc&) {
    throw Error(Errno::RuntimeError, "out of memory loading model " + path.string());
  } catch (const std::exception& e) {
    // The file may have vanished between the check and the open.
    if (!std::filesystem::exists(path, ec))
      throw Error(Errno::ModelNotFound, "model file not found: " + path.string());
    throw Error(Errno::InvalidArgument, "cannot load model " + path.string() + ": " + e.what());
  }
}

std::shared_ptr<const Model> ModelCache::get(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(Errno::ModelNotFound, "model file not found: " + path.string());
  // Different spellings of one file share one model.
  auto canon = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path.string() : canon.string();

  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Drop slots nobody uses (no live model, nobody loading): keeps the map small when
    // `load` is called with many different paths over time.
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (it->first != key && it->second.use_count() == 1 && it->second->model.expired())
        it = slots_.erase(it);
      else
        ++it;
    }
    auto& s = slots_[key];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  std::lock_guard<std::mutex> load_lk(slot->load_mu);
  if (auto m = slot->model.lock()) return m;
  auto m = load_model_file(path);  // throws: nothing is remembered, the next call retries
  {
    // slot->model is read under mu_ elsewhere (pruning, live_models): write it under both.
    std::lock_guard<std::mutex> lk(mu_);
    slot->model = m;
  }
  return m;
}

size_t ModelCache::live_models() const {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = 0;
  for (const auto& [key, slot] : slots_) n += slot->model.expired() ? 0 : 1;
  return n;
}

}  // namespace nnb::ggml
