// gguf::File typed metadata lookups and tensor lookup.
#include <limits>

#include "engine/gguf/gguf_internal.h"

namespace nnb::gguf {
namespace {

[[noreturn]] void type_error(std::string_view key, const Value& v, std::string_view expected) {
  std::string got(value_type_name(v.type()));
  if (v.is_array()) got += " of " + std::string(value_type_name(v.elem_type()));
  throw Error("metadata key '" + std::string(key) + "' has type " + got + ", expected " + std::string(expected));
}

// The array at `key` with every element converted by `conv`. `accepts` says which element
// types are the right kind; `conv` returns nullopt for a value out of the target's range.
template <class T, class Accepts, class Conv>
std::optional<std::vector<T>> get_array(const File& f, std::string_view key, std::string_view expected,
                                        Accepts accepts, Conv conv) {
  const Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_array() || !accepts(*v)) type_error(key, *v, expected);
  std::vector<T> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    std::optional<T> x = conv((*v)[i]);
    if (!x)
      throw Error("metadata key '" + std::string(key) + "' element " + std::to_string(i) + " = " +
                  (*v)[i].to_string() + " is out of range for " + std::string(expected));
    out.push_back(std::move(*x));
  }
  return out;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

}  // namespace

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->as_string()) type_error(key, *v, "string");
  return *v->as_string();
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) type_error(key, *v, "an integer");
  auto i = v->as_i64();
  if (!i) throw Error("metadata key '" + std::string(key) + "' = " + v->to_string() + " does not fit in i64");
  return i;
}

std::optional<uint32_t> File::get_u32(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) type_error(key, *v, "an integer");
  auto u = v->as_u64();
  if (!u || *u > std::numeric_limits<uint32_t>::max())
    throw Error("metadata key '" + std::string(key) + "' = " + v->to_string() + " is out of range for u32");
  return uint32_t(*u);
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto d = v->as_f64();
  if (!d) type_error(key, *v, "a number");
  return d;
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto b = v->as_bool();
  if (!b) type_error(key, *v, "bool");
  return b;
}

std::optional<std::vector<std::string>> File::get_string_array(std::string_view key) const {
  return get_array<std::string>(
      *this, key, "array of string", [](const Value& a) { return a.elem_type() == ValueType::STRING; },
      [](const Value& e) -> std::optional<std::string> {
    if (const std::string* s = e.as_string()) return *s;
    return std::nullopt;
  });
}

std::optional<std::vector<float>> File::get_f32_array(std::string_view key) const {
  return get_array<float>(
      *this, key, "array of f32",
      [](const Value& a) { return a.elem_type() == ValueType::FLOAT32 || a.elem_type() == ValueType::FLOAT64 ||
                                  is_integer_type(a.elem_type()); },
      [](const Value& e) -> std::optional<float> {
    if (auto d = e.as_f64()) return float(*d);
    return std::nullopt;
  });
}

std::optional<std::vector<int32_t>> File::get_i32_array(std::string_view key) const {
  return get_array<int32_t>(
      *this, key, "array of i32", [](const Value& a) { return is_integer_type(a.elem_type()); },
      [](const Value& e) -> std::optional<int32_t> {
    auto i = e.as_i64();
    if (!i || *i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max())
      return std::nullopt;
    return int32_t(*i);
  });
}

}  // namespace nnb::gguf
