// Parsing and validation of one GGUF image in memory. Every length, count and offset is checked
// against the bytes that remain BEFORE anything is allocated or looped over, so a damaged or
// hostile file yields a gguf::Error naming the problem, never a crash or a huge allocation.
#include <cstring>
#include <limits>
#include <set>

#include "engine/gguf/gguf_internal.h"

namespace nnb::gguf::detail {
namespace {

// Built by appending: GCC 12 warns falsely (-Wrestrict) about "'" + str + "'".
std::string sq(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 2);
  r += '\'';
  r.append(s);
  r += '\'';
  return r;
}

// Magic numbers of the formats GGUF replaced (llama.cpp's old .bin files), as they appear on
// disk: ggml wrote them as little-endian u32, so 'ggjt' reads "tjgg".
struct OldFormat {
  const char bytes[5];
  const char* name;
  bool versioned;
};
constexpr OldFormat kOldFormats[] = {
    {"lmgg", "ggml", false},
    {"fmgg", "ggmf", true},
    {"tjgg", "ggjt", true},
    {"algg", "ggla", true},  // old LoRA adapters
};

// Bounds-checked little-endian reader over the image.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, std::string_view what) : p_(data), size_(size), what_(what) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t left() const { return size_ - pos_; }

  [[noreturn]] void fail(const std::string& msg) const { throw Error(std::string(what_) + ": " + msg); }

  void need(size_t n, const char* thing) const {
    if (n > left())
      fail("unexpected end of file reading " + std::string(thing) + " at offset " + std::to_string(pos_) +
           " (needs " + std::to_string(n) + " bytes, file size " + std::to_string(size_) + ")" + context());
  }

  template <class T>
  T read(const char* thing) {
    need(sizeof(T), thing);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // the host is little endian, like the format
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* thing) {
    const size_t at = pos_;
    const uint64_t n = read<uint64_t>(thing);
    if (n > left())
      fail("string length " + std::to_string(n) + " at offset " + std::to_string(at) +
           " runs past the end of the file (size " + std::to_string(size_) + ")" + context());
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

  // Adds n to the file's array element total; false once it exceeds kMaxArrayElementsTotal.
  bool count_array_elements(uint64_t n) {
    if (n > kMaxArrayElementsTotal - array_elements_) return false;
    array_elements_ += n;
    return true;
  }

  // What is being read, appended to error messages.
  void set_context(std::string c) { ctx_ = std::move(c); }
  std::string context() const { return ctx_.empty() ? "" : " (" + ctx_ + ")"; }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string_view what_;
  std::string ctx_;
  uint64_t array_elements_ = 0;
};

Value read_value(Cursor& c, uint32_t type, int depth) {
  switch (ValueType(type)) {
    case ValueType::UINT8: return Value::make_u64(ValueType::UINT8, c.read<uint8_t>("a u8"));
    case ValueType::INT8: return Value::make_i64(ValueType::INT8, c.read<int8_t>("an i8"));
    case ValueType::UINT16: return Value::make_u64(ValueType::UINT16, c.read<uint16_t>("a u16"));
    case ValueType::INT16: return Value::make_i64(ValueType::INT16, c.read<int16_t>("an i16"));
    case ValueType::UINT32: return Value::make_u64(ValueType::UINT32, c.read<uint32_t>("a u32"));
    case ValueType::INT32: return Value::make_i64(ValueType::INT32, c.read<int32_t>("an i32"));
    case ValueType::UINT64: return Value::make_u64(ValueType::UINT64, c.read<uint64_t>("a u64"));
    case ValueType::INT64: return Value::make_i64(ValueType::INT64, c.read<int64_t>("an i64"));
    case ValueType::FLOAT32: return Value::make_f64(ValueType::FLOAT32, c.read<float>("an f32"));
    case ValueType::FLOAT64: return Value::make_f64(ValueType::FLOAT64, c.read<double>("an f64"));
    // ggml stores a bool as one byte and treats any nonzero byte as true.
    case ValueType::BOOL: return Value::make_bool(c.read<uint8_t>("a bool") != 0);
    case ValueType::STRING: return Value::make_string(c.read_string("a string length"));
    case ValueType::ARRAY: {
      const size_t at = c.pos();
      const uint32_t et = c.read<uint32_t>("an array element type");
      if (!is_valid_value_type(et))
        c.fail("array at offset " + std::to_string(at) + " has invalid element type " + std::to_string(et) + c.context());
      if (ValueType(et) == ValueType::ARRAY && depth + 1 >= kMaxArrayDepth)
        c.fail("arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels at offset " +
               std::to_string(at) + c.context());
      const uint64_t n = c.read<uint64_t>("an array length");
      // Every element takes at least min_encoded_size bytes: check before reserving memory.
      if (n > c.left() / min_encoded_size(et))
        c.fail("array of " + std::to_string(n) + " " + std::string(value_type_name(ValueType(et))) +
               " elements at offset " + std::to_string(at) + " runs past the end of the file (size " +
               std::to_string(c.size()) + ")" + c.context());
      if (!c.count_array_elements(n))
        c.fail("metadata arrays hold more than " + std::to_string(kMaxArrayElementsTotal) +
               " elements in all (array at offset " + std::to_string(at) + ")" + c.context());
      std::vector<Value> elems;
      elems.reserve(size_t(n));
      for (uint64_t i = 0; i < n; ++i) elems.push_back(read_value(c, et, depth + 1));
      return Value::make_array(ValueType(et), std::move(elems));
    }
  }
  c.fail("invalid value type " + std::to_string(type) + c.context());
}

// Checks the magic and returns the version (2 or 3); names older formats it recognizes.
uint32_t check_header(Cursor& c, const uint8_t* data, size_t size) {
  if (size < 4) c.fail("not a GGUF file (only " + std::to_string(size) + " bytes)");
  for (const auto& f : kOldFormats) {
    if (std::memcmp(data, f.bytes, 4) != 0) continue;
    std::string ver;
    if (f.versioned && size >= 8) {
      uint32_t v;
      std::memcpy(&v, data + 4, 4);
      ver = " v" + std::to_string(v);
    } else if (!f.versioned) {
      ver = " (unversioned)";
    }
    c.fail(std::string("pre-GGUF '") + f.name + "'" + ver +
           " file (old llama.cpp .bin format), not GGUF; convert it to GGUF");
  }
  if (c.read<uint32_t>("the magic") != kMagic) c.fail("not a GGUF file (bad magic)");
  const uint32_t version = c.read<uint32_t>("the version");
  if (version == 1) c.fail("GGUF v1 is not supported (only v2 and v3); re-convert the model");
  if (version == 2 || version == 3) return version;
  const uint32_t swapped = __builtin_bswap32(version);
  if (swapped >= 1 && swapped <= 3)
    c.fail("big-endian GGUF (version field " + std::to_string(version) + " = v" + std::to_string(swapped) +
           " byte-swapped) is not supported; only little-endian files can be read");
  c.fail("unsupported GGUF version " + std::to_string(version) + " (expected 2 or 3)");
}

uint64_t checked_mul(Cursor& c, uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) c.fail(what + " overflows 64 bits");
  return r;
}

TensorInfo read_tensor_info(Cursor& c, size_t index) {
  TensorInfo t;
  c.set_context("name of tensor " + std::to_string(index));
  t.name = c.read_string("a tensor name length");
  const std::string tn = "tensor " + sq(t.name);
  c.set_context(tn);
  if (t.name.size() > kMaxTensorName)
    c.fail(tn + ": name is " + std::to_string(t.name.size()) + " bytes, longer than ggml's limit of " +
           std::to_string(kMaxTensorName));

  const uint32_t n_dims = c.read<uint32_t>("the number of dimensions");
  if (n_dims < 1 || n_dims > uint32_t(kMaxDims))
    c.fail(tn + ": " + std::to_string(n_dims) + " dimensions (must be 1.." + std::to_string(kMaxDims) + ")");
  t.n_dims = int(n_dims);
  int64_t n_elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const int64_t ne = c.read<int64_t>("a dimension");
    if (ne < 1) c.fail(tn + ": dimension " + std::to_string(d) + " is " + std::to_string(ne) + " (must be >= 1)");
    if (__builtin_mul_overflow(n_elements, ne, &n_elements))
      c.fail(tn + ": element count overflows 64 bits");
    t.ne[d] = ne;
  }

  const uint32_t type = c.read<uint32_t>("the tensor type");
  const auto tt = type_traits(type);
  if (!tt) c.fail(tn + " has unknown ggml type " + std::to_string(type));
  if (!tt->supported)
    c.fail(tn + " has type " + std::string(tt->name) + ", which nnbridge cannot read");
  t.type = GgmlType(type);
  if (t.ne[0] % tt->block_size != 0)
    c.fail(tn + ": row length " + std::to_string(t.ne[0]) + " is not a multiple of the " + std::string(tt->name) +
           " block size " + std::to_string(tt->block_size));
  const uint64_t row_bytes = checked_mul(c, uint64_t(t.ne[0] / tt->block_size), tt->type_size, tn + ": row size");
  t.nbytes = checked_mul(c, row_bytes, uint64_t(t.n_rows()), tn + ": byte size");
  t.offset = c.read<uint64_t>("the tensor offset");  // relative for now; made absolute later
  c.set_context("");
  return t;
}

}  // namespace

ParsedPart parse_bytes(const uint8_t* data, size_t size, std::string_view what) {
  Cursor c(data, size, what);
  ParsedPart part;
  part.version = check_header(c, data, size);

  // v2 and v3 share this layout (v1 had 32-bit counts; v3 only added big-endian files).
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the metadata count");
  // Smallest possible entries: key length + type + 1-byte value; name length + n_dims + one
  // dimension + type + offset. Counts that cannot fit in the file are refused before reserving.
  constexpr uint64_t kMinKv = 8 + 4 + 1, kMinTensor = 8 + 4 + 8 + 4 + 8;
  if (n_kv > c.left() / kMinKv)
    c.fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file (size " + std::to_string(size) + ")");
  if (n_tensors > c.left() / kMinTensor)
    c.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file (size " + std::to_string(size) + ")");

  part.kv.reserve(size_t(n_kv));
  std::set<std::string, std::less<>> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    c.set_context("key of metadata entry " + std::to_string(i));
    std::string key = c.read_string("a key length");
    c.set_context("key " + sq(key));
    if (!keys.insert(key).second) c.fail("duplicate metadata key " + sq(key));
    const uint32_t type = c.read<uint32_t>("a value type");
    if (!is_valid_value_type(type))
      c.fail("metadata key " + sq(key) + " has invalid value type " + std::to_string(type));
    Value v = read_value(c, type, 0);
    part.kv.emplace_back(std::move(key), std::move(v));
  }
  c.set_context("");

  if (const Value* a = find_kv(part.kv, "general.alignment")) {
    if (a->type() != ValueType::UINT32)
      c.fail("general.alignment has type " + std::string(value_type_name(a->type())) + ", expected u32");
    const uint64_t al = *a->as_u64();
    if (al == 0 || (al & (al - 1)) != 0)
      c.fail("general.alignment " + std::to_string(al) + " is not a nonzero power of two");
    part.alignment = al;
  }

  part.tensors.reserve(size_t(n_tensors));
  std::set<std::string, std::less<>> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t = read_tensor_info(c, size_t(i));
    if (!names.insert(t.name).second) c.fail("duplicate tensor name " + sq(t.name));
    part.tensors.push_back(std::move(t));
  }

  // The data section starts at the first aligned offset after the tensor infos.
  const uint64_t al = part.alignment;
  part.data_offset = (uint64_t(c.pos()) + al - 1) / al * al;  // pos < size, so no overflow
  for (TensorInfo& t : part.tensors) {
    const std::string tn = "tensor " + sq(t.name);
    if (t.offset % al != 0)
      c.fail(tn + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(al));
    uint64_t begin, end;
    if (__builtin_add_overflow(part.data_offset, t.offset, &begin) || __builtin_add_overflow(begin, t.nbytes, &end) ||
        end > size)
      c.fail(tn + ": data (" + std::to_string(t.nbytes) + " bytes at offset " + std::to_string(part.data_offset) +
             " + " + std::to_string(t.offset) + ") is out of bounds: it runs past the end of the file (size " +
             std::to_string(size) + ")");
    t.offset = begin;
    t.data = data + begin;
  }
  return part;
}

}  // namespace nnb::gguf::detail
