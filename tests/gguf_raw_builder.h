// Byte-level GGUF builder for the gguf tests: writes fields exactly as given, so tests can make
// files that gguf::Writer (which validates) refuses to produce.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace nnb::test {

class RawGguf {
 public:
  std::vector<uint8_t> b;

  RawGguf& raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  RawGguf& u8(uint8_t v) { return raw(&v, 1); }
  RawGguf& u32(uint32_t v) { return raw(&v, 4); }
  RawGguf& u64(uint64_t v) { return raw(&v, 8); }
  RawGguf& i64(int64_t v) { return raw(&v, 8); }
  RawGguf& str(std::string_view s) { return u64(s.size()).raw(s.data(), s.size()); }

  // "GGUF", version, tensor count, metadata count.
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& kv_i32(std::string_view key, int32_t v) { return str(key).u32(5).u32(uint32_t(v)); }
  RawGguf& kv_str(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
  RawGguf& tensor(std::string_view name, std::vector<int64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(ne.size()));
    for (int64_t n : ne) i64(n);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t al) {
    b.resize((b.size() + al - 1) / al * al, 0);
    return *this;
  }
  RawGguf& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

}  // namespace nnb::test
