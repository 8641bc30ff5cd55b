// The CPU device: the device interface (device/device.h) over this folder's kernels, with the
// run-time ISA choice of vec_dot.h (scalar, AVX2, AVX-512; NNB_ISA forces one) and a thread
// pool of its own.
//
// Products: a batch of several rows goes through the GEMM kernels (vec_dot_gemm.h: each weight
// panel is unpacked once and used for every row), a single row (generation) through the
// per-row dot kernels, rows split dynamically over the pool; the products of one matmul() call
// run in one parallel region. Activations are quantized once per product to the weight type's
// dot-product format (Q8_0 / Q8_1 / Q8_K / F16 / BF16), exactly as ggml's CPU backend does.
// Nothing is allocated per token: buffers are sized at construction, or grown once.
#pragma once

#include <memory>

#include "engine/device/device.h"

namespace nnb {

// A CPU device for `model`, batches of up to max_rows rows, attention over up to max_keys
// positions, n_threads threads (<= 0: one per core); it runs layers from first_layer on (and
// copies only theirs for generation: matvec_weights.h).
std::unique_ptr<Device> make_cpu_device(const Model& model, int32_t max_rows, int32_t max_keys, int32_t n_threads,
                                        int32_t first_layer = 0);

}  // namespace nnb
