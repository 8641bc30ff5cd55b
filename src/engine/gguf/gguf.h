// GGUF reading (v2, v3; split files) and writing.
// The reader mmaps the file and hands out zero-copy views of tensor data. Every count, length
// and offset is checked against the file size before use, so a damaged file yields a
// gguf::Error with a specific message, never a crash or a huge allocation.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/quant/ggml_types.h"

namespace nnb::gguf {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

// One metadata value. Arrays hold their elements (arrays may nest).
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Scalars. Integer getters accept any integer type whose value fits; float getters accept
  // floats and integers. Return nullopt on a type mismatch.
  std::optional<int64_t> as_i64() const;
  std::optional<uint64_t> as_u64() const;
  std::optional<double> as_f64() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;

  // Arrays.
  ValueType elem_type() const { return elem_type_; }
  size_t size() const { return elems_.size(); }
  const Value& operator[](size_t i) const { return elems_[i]; }
  const std::vector<Value>& elems() const { return elems_; }

  // Short human-readable rendering (long arrays elided), for `nnbridge info`.
  std::string to_string(size_t max_elems = 8) const;

  // Construction (used by the reader and the writer).
  static Value make_u64(ValueType t, uint64_t v);  // any unsigned integer type
  static Value make_i64(ValueType t, int64_t v);   // any signed integer type
  static Value make_f64(ValueType t, double v);    // FLOAT32 / FLOAT64
  static Value make_bool(bool v);
  static Value make_string(std::string v);
  static Value make_array(ValueType elem_type, std::vector<Value> elems);

 private:
  ValueType type_ = ValueType::UINT8;
  ValueType elem_type_ = ValueType::UINT8;
  uint64_t u_ = 0;  // unsigned ints and bool
  int64_t i_ = 0;   // signed ints
  double f_ = 0;    // floats
  std::string s_;
  std::vector<Value> elems_;
};

struct TensorInfo {
  std::string name;
  GgmlType type;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // ggml order: ne[0] is the fastest-varying (row length)
  uint64_t offset = 0;                     // absolute offset of the data in its file
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;           // zero-copy view into the mmapped file
  int split = 0;                           // which file of a split model holds it

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

class File {
 public:
  // Opens and validates a GGUF file. For "name-00001-of-0000N.gguf" the other parts are opened
  // too and their tensors merged (metadata comes from the first part). Throws gguf::Error.
  static std::unique_ptr<File> open(const std::filesystem::path& path);
  // Same, for a buffer in memory (the fuzzer uses this); the buffer must outlive the File.
  static std::unique_ptr<File> parse(const uint8_t* data, size_t size, std::string_view what = "buffer");

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  int n_splits() const;
  uint64_t total_bytes() const;  // sum of the files' sizes

  // Metadata, in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed lookups: nullopt when absent; gguf::Error when present with an incompatible type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<uint32_t> get_u32(std::string_view key) const;  // also rejects negative / > u32
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // Whole arrays of one element kind (e.g. tokenizer.ggml.tokens / scores / token_type / merges).
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_f32_array(std::string_view key) const;
  std::optional<std::vector<int32_t>> get_i32_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;

 private:
  File() = default;
  struct Mapping;
  void parse_part(const uint8_t* data, size_t size, std::string_view what, int split, bool first);

  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::vector<std::unique_ptr<Mapping>> maps_;
};

// Writes GGUF v3 files (the model generator and tests use it).
class Writer {
 public:
  void set(std::string key, Value v);  // replaces an existing key, keeps insertion order
  void set_u32(std::string key, uint32_t v) { set(std::move(key), Value::make_u64(ValueType::UINT32, v)); }
  void set_i32(std::string key, int32_t v) { set(std::move(key), Value::make_i64(ValueType::INT32, v)); }
  void set_f32(std::string key, float v) { set(std::move(key), Value::make_f64(ValueType::FLOAT32, v)); }
  void set_bool(std::string key, bool v) { set(std::move(key), Value::make_bool(v)); }
  void set_string(std::string key, std::string v) { set(std::move(key), Value::make_string(std::move(v))); }
  void set_string_array(std::string key, const std::vector<std::string>& v);
  void set_f32_array(std::string key, const std::vector<float>& v);
  void set_i32_array(std::string key, const std::vector<int32_t>& v);

  // ne in ggml order; data is row_size(type, ne[0]) * rows bytes and is copied.
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, const void* data, size_t nbytes);

  void set_alignment(uint32_t a);  // also written as general.alignment
  // Serializes to bytes / writes to a file (throws gguf::Error on I/O failure).
  std::vector<uint8_t> to_bytes() const;
  void write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor { std::string name; GgmlType type; std::vector<int64_t> ne; std::vector<uint8_t> data; };
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace nnb::gguf
