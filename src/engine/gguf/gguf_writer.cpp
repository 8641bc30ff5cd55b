// gguf::Writer: GGUF v3 output. The header (metadata + tensor infos) is built in memory; tensor
// data is streamed to the destination one tensor at a time, each padded to the alignment, so
// writing a large model never needs a second copy of it.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "engine/gguf/gguf_internal.h"

namespace nnb::gguf {
namespace {

// Where serialized bytes go: a byte vector or a FILE*.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void put(const void* p, size_t n) = 0;
  void zeros(size_t n) {
    static const uint8_t z[64] = {};
    while (n) {
      const size_t k = std::min(n, sizeof z);
      put(z, k);
      n -= k;
    }
  }
};

class VectorSink : public Sink {
 public:
  explicit VectorSink(std::vector<uint8_t>& out) : out_(out) {}
  void put(const void* p, size_t n) override {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }

 private:
  std::vector<uint8_t>& out_;
};

class FileSink : public Sink {
 public:
  FileSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  void put(const void* p, size_t n) override {
    if (n && std::fwrite(p, 1, n, f_) != n) throw Error(path_ + ": write failed: " + std::strerror(errno));
  }

 private:
  std::FILE* f_;
  std::string path_;
};

template <class T>
void put_le(std::vector<uint8_t>& b, T v) {  // the host is little endian, like the format
  const size_t n = b.size();
  b.resize(n + sizeof(T));
  std::memcpy(b.data() + n, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& b, const std::string& s) {
  put_le<uint64_t>(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

// The value's payload (its type tag is written by the caller, as GGUF does for array elements).
void put_value(std::vector<uint8_t>& b, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: put_le<uint8_t>(b, uint8_t(*v.as_u64())); break;
    case ValueType::INT8: put_le<int8_t>(b, int8_t(*v.as_i64())); break;
    case ValueType::UINT16: put_le<uint16_t>(b, uint16_t(*v.as_u64())); break;
    case ValueType::INT16: put_le<int16_t>(b, int16_t(*v.as_i64())); break;
    case ValueType::UINT32: put_le<uint32_t>(b, uint32_t(*v.as_u64())); break;
    case ValueType::INT32: put_le<int32_t>(b, int32_t(*v.as_i64())); break;
    case ValueType::UINT64: put_le<uint64_t>(b, *v.as_u64()); break;
    case ValueType::INT64: put_le<int64_t>(b, *v.as_i64()); break;
    case ValueType::FLOAT32: put_le<float>(b, float(*v.as_f64())); break;
    case ValueType::FLOAT64: put_le<double>(b, *v.as_f64()); break;
    case ValueType::BOOL: put_le<uint8_t>(b, *v.as_bool() ? 1 : 0); break;
    case ValueType::STRING: put_string(b, *v.as_string()); break;
    case ValueType::ARRAY:
      put_le<uint32_t>(b, uint32_t(v.elem_type()));
      put_le<uint64_t>(b, v.size());
      for (const Value& e : v.elems()) put_value(b, e);
      break;
  }
}

uint64_t pad_to(uint64_t n, uint64_t al) { return (n + al - 1) / al * al; }

bool valid_alignment(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace

void Writer::set(std::string key, Value v) {
  // general.alignment drives the layout, so it must stay consistent with alignment_.
  if (key == "general.alignment") {
    const auto a = v.as_u64();
    if (v.type() != ValueType::UINT32 || !a || !valid_alignment(*a))
      throw Error("general.alignment must be a u32 power of two, got " + v.to_string());
    alignment_ = uint32_t(*a);
  }
  for (auto& [k, old] : kv_) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(v));
}

void Writer::set_string_array(std::string key, const std::vector<std::string>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (const auto& s : v) e.push_back(Value::make_string(s));
  set(std::move(key), Value::make_array(ValueType::STRING, std::move(e)));
}

void Writer::set_f32_array(std::string key, const std::vector<float>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (float x : v) e.push_back(Value::make_f64(ValueType::FLOAT32, x));
  set(std::move(key), Value::make_array(ValueType::FLOAT32, std::move(e)));
}

void Writer::set_i32_array(std::string key, const std::vector<int32_t>& v) {
  std::vector<Value> e;
  e.reserve(v.size());
  for (int32_t x : v) e.push_back(Value::make_i64(ValueType::INT32, x));
  set(std::move(key), Value::make_array(ValueType::INT32, std::move(e)));
}

void Writer::set_alignment(uint32_t a) { set_u32("general.alignment", a); }

void Writer::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, const void* data, size_t nbytes) {
  const std::string tn = "add_tensor '" + name + "': ";
  // The same rules the reader enforces, so the writer cannot produce a file the reader refuses.
  if (name.size() > detail::kMaxTensorName) throw Error(tn + "name longer than " + std::to_string(detail::kMaxTensorName) + " bytes");
  for (const auto& t : tensors_)
    if (t.name == name) throw Error(tn + "duplicate tensor name");
  if (ne.empty() || ne.size() > size_t(detail::kMaxDims)) throw Error(tn + std::to_string(ne.size()) + " dimensions (must be 1..4)");
  const auto tt = type_traits(uint32_t(type));
  if (!tt) throw Error(tn + "unknown ggml type " + std::to_string(uint32_t(type)));
  int64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] < 1) throw Error(tn + "dimension " + std::to_string(d) + " is " + std::to_string(ne[d]));
    if (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows)) throw Error(tn + "size overflows");
  }
  if (ne[0] % tt->block_size != 0)
    throw Error(tn + "row length " + std::to_string(ne[0]) + " is not a multiple of the " + std::string(tt->name) +
                " block size " + std::to_string(tt->block_size));
  uint64_t expected;
  if (__builtin_mul_overflow(uint64_t(ne[0] / tt->block_size) * tt->type_size, uint64_t(rows), &expected))
    throw Error(tn + "size overflows");
  if (expected != nbytes)
    throw Error(tn + "got " + std::to_string(nbytes) + " bytes of data, the shape needs " + std::to_string(expected));
  if (nbytes && !data) throw Error(tn + "no data");
  const auto* b = static_cast<const uint8_t*>(data);
  tensors_.push_back({std::move(name), type, std::move(ne), std::vector<uint8_t>(b, b + nbytes)});
}

namespace {

// Serializes header, metadata and tensor infos (padded to the alignment), then streams every
// tensor with its padding.
template <class KV, class Tensors>
void serialize(const KV& kv, const Tensors& tensors, uint64_t al, Sink& out) {
  std::vector<uint8_t> h;
  put_le<uint32_t>(h, detail::kMagic);
  put_le<uint32_t>(h, 3);
  put_le<uint64_t>(h, tensors.size());
  put_le<uint64_t>(h, kv.size());
  for (const auto& [k, v] : kv) {
    put_string(h, k);
    put_le<uint32_t>(h, uint32_t(v.type()));
    put_value(h, v);
  }
  uint64_t offset = 0;  // relative to the data section
  for (const auto& t : tensors) {
    put_string(h, t.name);
    put_le<uint32_t>(h, uint32_t(t.ne.size()));
    for (int64_t n : t.ne) put_le<int64_t>(h, n);
    put_le<uint32_t>(h, uint32_t(t.type));
    put_le<uint64_t>(h, offset);
    offset += pad_to(t.data.size(), al);
  }
  h.resize(pad_to(h.size(), al), 0);
  out.put(h.data(), h.size());
  for (const auto& t : tensors) {
    out.put(t.data.data(), t.data.size());
    out.zeros(pad_to(t.data.size(), al) - t.data.size());
  }
}

}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  serialize(kv_, tensors_, alignment_, sink);
  return out;
}

void Writer::write(const std::filesystem::path& path) const {
  // Written under a temporary name and renamed, so a failed write never leaves a truncated
  // file that looks like a model.
  const std::string p = path.string();
  const std::string tmp = p + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(p + ": cannot create: " + std::strerror(errno));
  try {
    FileSink sink(f, p);
    serialize(kv_, tensors_, alignment_, sink);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fclose(f) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw Error(p + ": write failed: " + std::strerror(e));
  }
  if (std::rename(tmp.c_str(), p.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw Error(p + ": cannot rename from " + tmp + ": " + std::strerror(e));
  }
}

}  // namespace nnb::gguf
