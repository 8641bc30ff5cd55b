// Decoding of the guest-memory structures of `wasi_ephemeral_nn` (COMPAT §1): strings, the
// `load` builder array and the 20-byte tensor struct. Every read is bounds-checked through
// GuestMemory; anything outside the guest's memory throws nn::Error(InvalidArgument), which
// the bindings return as errno 1. The returned spans point into guest memory and are valid
// only until guest code runs again (the memory may grow and move).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "nn/types.h"
#include "wasm/runtime.h"

namespace nnb::wasm::nnabi {

// Exactly `len` bytes at `ptr` (a name or a config; no NUL is looked for).
std::string_view read_string(GuestMemory& mem, uint32_t ptr, uint32_t len, const char* what);

// `count` consecutive {u32 ptr, u32 len} pairs at `ptr`, each resolved to its bytes.
std::vector<std::span<const uint8_t>> read_builders(GuestMemory& mem, uint32_t ptr, uint32_t count);

// The tensor struct at `ptr`: +0 dims_ptr, +4 dims_len (count of u32), +8 type (only the low
// byte is meaningful: old crates write one byte and leave padding garbage), +12 data_ptr,
// +16 data_len. `dims` is copied (guest memory need not be aligned); `view.dims` points into it.
struct GuestTensor {
  std::vector<uint32_t> dims;
  nn::TensorView view;
};
inline constexpr uint32_t kTensorStructSize = 20;
void read_tensor(GuestMemory& mem, uint32_t ptr, GuestTensor& out);

// Fails with InvalidArgument unless [ptr, ptr+len) lies in guest memory. Used to check out-
// pointers BEFORE a call that has effects (a load that must not leak a graph, a compute).
void check_range(GuestMemory& mem, uint32_t ptr, uint32_t len, const char* what);

}  // namespace nnb::wasm::nnabi
