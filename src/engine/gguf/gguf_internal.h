// Internals shared by the gguf*.cpp files (not part of the public interface).
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/gguf/gguf.h"

namespace nnb::gguf::detail {

// Fields are copied to and from the file with memcpy, which is only right on a little-endian
// host (GGUF is little endian; big-endian GGUF files are refused).
static_assert(std::endian::native == std::endian::little, "the GGUF code assumes a little-endian host");

constexpr uint32_t kMagic = 0x46554747;      // "GGUF" read as a little-endian u32
constexpr size_t kMaxTensorName = 63;        // ggml's GGML_MAX_NAME (64) minus the NUL
constexpr int kMaxDims = 4;                  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;            // nested arrays deeper than this are refused
constexpr uint32_t kDefaultAlignment = 32;   // GGUF_DEFAULT_ALIGNMENT
// Each array element becomes a gguf::Value of about 90 bytes, so a file of n one-byte elements
// would need ~90n bytes of memory. Real vocabularies hold about a million elements in all;
// more than this many in one file is refused rather than risking a multi-GB allocation.
constexpr uint64_t kMaxArrayElementsTotal = uint64_t(1) << 24;

// One file of a (possibly split) model, parsed and validated on its own.
struct ParsedPart {
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;  // absolute start of the tensor data section
  std::vector<std::pair<std::string, Value>> kv;
  std::vector<TensorInfo> tensors;  // data points into the given buffer, split = 0
};

// Parses a GGUF image held in memory. `what` names it in error messages (a path or "buffer").
ParsedPart parse_bytes(const uint8_t* data, size_t size, std::string_view what);

// Smallest encoding of one value of type t (used to bound array counts before allocating);
// 0 for a number that is not a GGUF value type.
size_t min_encoded_size(uint32_t t);
bool is_valid_value_type(uint32_t t);

// Lookup in a key/value list in file order (linear: used only on a few keys).
const Value* find_kv(const std::vector<std::pair<std::string, Value>>& kv, std::string_view key);

}  // namespace nnb::gguf::detail
