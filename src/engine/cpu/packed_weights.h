// A model's matrices of the types with a packed format (vec_dot_packed.h: Q4_0, Q4_K) repacked
// for the CPU's mat-vec kernels: made once per model when the first CPU context needs them,
// shared by every CPU context using the model and freed with the last. The stored weights stay
// mapped for everything else (prompt GEMMs, embedding rows, GPU uploads), so packing costs one
// extra copy of those matrices: it is skipped when that copy would take more than half of
// MemAvailable, when the CPU has no packed kernel, and with NNB_REPACK=0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "engine/cpu/vec_dot_packed.h"
#include "engine/model/model.h"

namespace nnb {

class PackedWeights {
 public:
  struct View {
    const PackedFormat* format;
    const uint8_t* data;  // row r at data + r * format->row_bytes(K)
  };
  // The model's packed matrices, or nullptr when nothing is packed (see above).
  static std::shared_ptr<const PackedWeights> for_model(const Model& model);

  // m's packed form, or nullptr (no packed format for its type, or not one of the model's matrices).
  const View* find(const Matrix& m) const {
    auto it = views_.find(&m);
    return it == views_.end() ? nullptr : &it->second;
  }
  size_t bytes() const { return bytes_; }

  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights();

 private:
  PackedWeights() = default;
  std::unordered_map<const Matrix*, View> views_;
  void* mem_ = nullptr;  // one anonymous mapping for all of them
  size_t bytes_ = 0;
};

}  // namespace nnb
