#include "wasm/wasi_nn_abi.h"

#include <string>

namespace nnb::wasm::nnabi {

namespace {

[[noreturn]] void out_of_bounds(const char* what, uint64_t ptr, uint64_t len, uint64_t mem_size) {
  throw nn::Error(nn::Errno::InvalidArgument, std::string(what) + " [" + std::to_string(ptr) + ", +" +
                                                  std::to_string(len) + ") lies outside guest memory (" +
                                                  std::to_string(mem_size) + " bytes)");
}

uint32_t u32_at(GuestMemory& mem, uint32_t ptr, const char* what) {
  uint32_t v = 0;
  if (!mem.read_u32(ptr, &v)) out_of_bounds(what, ptr, 4, mem.size());
  return v;
}

}  // namespace

void check_range(GuestMemory& mem, uint32_t ptr, uint32_t len, const char* what) {
  if (!mem.range(ptr, len)) out_of_bounds(what, ptr, len, mem.size());
}

std::string_view read_string(GuestMemory& mem, uint32_t ptr, uint32_t len, const char* what) {
  auto r = mem.range(ptr, len);
  if (!r) out_of_bounds(what, ptr, len, mem.size());
  return {reinterpret_cast<const char*>(r->data()), r->size()};
}

std::vector<std::span<const uint8_t>> read_builders(GuestMemory& mem, uint32_t ptr, uint32_t count) {
  // count * 8 can exceed 32 bits; check the whole array before trusting count for reserve().
  const uint64_t bytes = uint64_t(count) * 8;
  if (bytes > mem.size() || uint64_t(ptr) + bytes > mem.size()) out_of_bounds("builder array", ptr, bytes, mem.size());
  std::vector<std::span<const uint8_t>> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t at = ptr + 8 * i;
    const uint32_t bptr = u32_at(mem, at, "builder entry");
    const uint32_t blen = u32_at(mem, at + 4, "builder entry");
    auto r = mem.range(bptr, blen);
    if (!r) out_of_bounds("builder bytes", bptr, blen, mem.size());
    out.emplace_back(r->data(), r->size());
  }
  return out;
}

void read_tensor(GuestMemory& mem, uint32_t ptr, GuestTensor& out) {
  auto s = mem.range(ptr, kTensorStructSize);
  if (!s) out_of_bounds("tensor struct", ptr, kTensorStructSize, mem.size());
  const uint32_t dims_ptr = u32_at(mem, ptr + 0, "tensor struct");
  const uint32_t dims_len = u32_at(mem, ptr + 4, "tensor struct");
  const uint32_t type = (*s)[8];  // low byte only (COMPAT §1)
  const uint32_t data_ptr = u32_at(mem, ptr + 12, "tensor struct");
  const uint32_t data_len = u32_at(mem, ptr + 16, "tensor struct");

  const uint64_t dims_bytes = uint64_t(dims_len) * 4;
  if (uint64_t(dims_ptr) + dims_bytes > mem.size()) out_of_bounds("tensor dims", dims_ptr, dims_bytes, mem.size());
  out.dims.resize(dims_len);
  for (uint32_t i = 0; i < dims_len; ++i) out.dims[i] = u32_at(mem, dims_ptr + 4 * i, "tensor dims");

  auto d = mem.range(data_ptr, data_len);
  if (!d) out_of_bounds("tensor data", data_ptr, data_len, mem.size());
  out.view.dims = out.dims;
  out.view.type = type;
  out.view.data = std::span<const uint8_t>(d->data(), d->size());
}

}  // namespace nnb::wasm::nnabi
