// One loaded Model per file, shared by every graph and context that uses it (one mmap), and
// freed when the last of them lets go. Loading is serialized per file, so two clients asking
// for the same model at once load it once; a failed load is not remembered, so the next
// request tries again (and fails again with the same error while the file stays bad).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/model/model.h"

namespace nnb::ggml {

class ModelCache {
 public:
  // The model at `path`, loading it if no live graph or context holds it. Throws nn::Error:
  // ModelNotFound when the file does not exist, InvalidArgument (with the engine's message)
  // when it is not a usable GGUF model, RuntimeError when memory runs out.
  std::shared_ptr<const Model> get(const std::filesystem::path& path);
  // Number of models currently alive (held by some graph or context).
  size_t live_models() const;

 private:
  struct Slot {
    std::mutex load_mu;  // held while this file loads
    std::weak_ptr<const Model> model;  // written under load_mu and mu_; read under either
  };
  mutable std::mutex mu_;  // guards slots_ (never held while loading)
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

// Loads a model file outside any cache (in-memory builders), translating engine exceptions
// into nn::Error as ModelCache::get does.
std::shared_ptr<const Model> load_model_file(const std::filesystem::path& path);

}  // namespace nnb::ggml
