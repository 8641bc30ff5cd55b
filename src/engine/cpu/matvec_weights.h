// A model's weight matrices as the CPU's mat-vec products (generation, batches below the GEMM
// threshold) read them: copied once into anonymous memory with transparent huge pages, in a
// packed layout where one pays (vec_dot_packed.h: Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) and verbatim
// otherwise.
// Made when the first CPU context of a model needs them, kept with the model (Model::derived),
// shared by every CPU context using it.
//
// Why a copy: generation streams every weight once per token; from the file's mapping (4 KiB
// page-cache pages) one thread reached 61-96 tokens/s on the 220M F16 / Q8_0 / Q6_K models,
// from huge pages 72-136 (+18-20 %: 512x fewer TLB misses, prefetchers not stopped every 4 KiB);
// the packed layouts add the kernels' own gain. A verbatim copy serves the prompt GEMMs too, and
// the file's pages under it are handed back (the resident size stays about the model's); a
// packed one sits beside the stored matrix, which the GEMMs, embedding rows and GPU uploads
// read: one extra copy of those matrices. Copies are made only when they fit in half of
// MemAvailable (else the packed ones alone, else none, said once on stderr), and never with
// NNB_REPACK=0 (weights read in place, as before).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "engine/cpu/row_prefetch.h"
#include "engine/cpu/vec_dot_packed.h"
#include "engine/model/model.h"

namespace nnb {

class MatvecWeights {
 public:
  struct View {
    const PackedFormat* format;  // nullptr: the stored layout, read by the type's vec_dot kernel
    const uint8_t* data;         // row r at data + r * row_bytes
    size_t row_bytes;
  };
  // The copies of the model's matrices from layer first_layer on (and the output), or nullptr
  // when none are made (see above). One set per (model, first_layer).
  static std::shared_ptr<const MatvecWeights> for_model(const Model& model, int32_t first_layer = 0);

  // m's copy, or nullptr (not one of the model's mat-vec matrices, or not copied).
  const View* find(const Matrix& m) const {
    auto it = views_.find(&m);
    return it == views_.end() ? nullptr : &it->second;
  }
  size_t bytes() const { return bytes_; }

  MatvecWeights(const MatvecWeights&) = delete;
  MatvecWeights& operator=(const MatvecWeights&) = delete;
  ~MatvecWeights();

 private:
  MatvecWeights() = default;
  static std::shared_ptr<const MatvecWeights> make(const Model& model, int32_t first_layer);
  std::unordered_map<const Matrix*, View> views_;
  void* mem_ = nullptr;  // one anonymous mapping for all of them
  size_t bytes_ = 0;
};

// m's rows as the mat-vec kernels read them: its copy c, packed in panels (the format) or
// verbatim, or without a copy the stored rows; stored_dot is the one-row kernel for rows in m's
// own type (verbatim or stored).
RowStream row_stream(const Matrix& m, const MatvecWeights::View* c, VecDotFn stored_dot);

}  // namespace nnb
