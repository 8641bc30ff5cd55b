// The Vulkan device: the device interface (device/device.h) as compute shaders on a GPU (or on
// Mesa's lavapipe, which runs the same shaders on the CPU and is how CI tests them).
//
// Weights are uploaded once per model and GPU and shared by every context using them (the host
// keeps only the mmap); the activations and the KV cache live in device memory; a forward pass
// is recorded into one command buffer and submitted once (when the logits are read, or at its
// end), with no host round trip between layers. What the host does: the embedding rows (read
// from the mmapped file and uploaded with the batch's positions, cells and attention jobs).
//
// Weight types: the 15 the CPU engine computes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS); matrix products dequantize in the shader and
// multiply with f32 activations. A model with another type is refused at context creation,
// naming the tensor and its type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device/device.h"
#include "engine/vulkan/vk_gpu.h"

namespace nnb {

// A Vulkan device on GPU `index` (vk::list_devices()) for `model`, batches of up to max_rows
// rows, a KV cache of kv_cells cells, computing layers [0, n_layers) (and the output when that
// is all of them: the rest runs on another device, --n-gpu-layers). Throws vk::Error (no
// Vulkan, no such device, a weight type without shaders, out of memory) naming the problem.
std::unique_ptr<Device> make_vulkan_device(const Model& model, uint32_t index, int32_t max_rows, int32_t kv_cells,
                                           int32_t n_layers = INT32_MAX);

namespace vk {

// The matrix shaders: matvec (one or a few batch rows), matmat (tiles of 64 weight rows x 32
// batch rows); Auto picks by the number of batch rows and the kind of device.
enum class MatKernel { Auto, Vec, Mat };

// For tests: y[t][r] = dot(W row r, x[t]) for M weight rows of K values of `type` (ggml's row
// layout, rows back to back) and n activation rows of K floats, on GPU `index` with the given
// shader (Vec with subgroup sums when the device has them and `subgroups`, else shared-memory
// sums), the matrix split in chunks of rows_per_chunk rows (0: as for a model). Returns [n][M].
std::vector<float> test_product(uint32_t index, GgmlType type, const void* w, int64_t K, int64_t M, const float* x,
                                int32_t n, MatKernel kernel, bool subgroups = true, int64_t rows_per_chunk = 0);

}  // namespace vk

}  // namespace nnb
