// gguf::Value: construction, typed access and rendering of one metadata value.
#include <charconv>
#include <cmath>
#include <limits>

#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_internal.h"

namespace nnb::gguf {
namespace {

bool is_unsigned_type(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

// Largest value an unsigned type holds / range of a signed type, so constructors refuse values
// that would be silently truncated when written.
uint64_t unsigned_max(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return 0xff;
    case ValueType::UINT16: return 0xffff;
    case ValueType::UINT32: return 0xffffffffu;
    default: return std::numeric_limits<uint64_t>::max();
  }
}
std::pair<int64_t, int64_t> signed_range(ValueType t) {
  switch (t) {
    case ValueType::INT8: return {-128, 127};
    case ValueType::INT16: return {-32768, 32767};
    case ValueType::INT32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

void append_escaped(std::string& out, const std::string& s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {  // other control bytes; UTF-8 (>= 0x80) is kept as is
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form for floats
  out.append(buf, r.ptr);
}

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

bool Value::is_integer() const { return is_unsigned_type(type_) || is_signed_type(type_); }

std::optional<int64_t> Value::as_i64() const {
  if (is_signed_type(type_)) return i_;
  if (is_unsigned_type(type_) && u_ <= uint64_t(std::numeric_limits<int64_t>::max())) return int64_t(u_);
  return std::nullopt;
}

std::optional<uint64_t> Value::as_u64() const {
  if (is_unsigned_type(type_)) return u_;
  if (is_signed_type(type_) && i_ >= 0) return uint64_t(i_);
  return std::nullopt;
}

std::optional<double> Value::as_f64() const {
  if (is_float()) return f_;
  if (is_unsigned_type(type_)) return double(u_);
  if (is_signed_type(type_)) return double(i_);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type_ == ValueType::BOOL) return u_ != 0;
  return std::nullopt;
}

const std::string* Value::as_string() const { return type_ == ValueType::STRING ? &s_ : nullptr; }

Value Value::make_u64(ValueType t, uint64_t v) {
  if (!is_unsigned_type(t)) throw Error("make_u64: " + std::string(value_type_name(t)) + " is not an unsigned integer type");
  if (v > unsigned_max(t))
    throw Error("make_u64: value " + std::to_string(v) + " does not fit in " + std::string(value_type_name(t)));
  Value r;
  r.type_ = t;
  r.u_ = v;
  return r;
}

Value Value::make_i64(ValueType t, int64_t v) {
  if (!is_signed_type(t)) throw Error("make_i64: " + std::string(value_type_name(t)) + " is not a signed integer type");
  auto [lo, hi] = signed_range(t);
  if (v < lo || v > hi)
    throw Error("make_i64: value " + std::to_string(v) + " does not fit in " + std::string(value_type_name(t)));
  Value r;
  r.type_ = t;
  r.i_ = v;
  return r;
}

Value Value::make_f64(ValueType t, double v) {
  if (t != ValueType::FLOAT32 && t != ValueType::FLOAT64)
    throw Error("make_f64: " + std::string(value_type_name(t)) + " is not a float type");
  Value r;
  r.type_ = t;
  // Store an f32 exactly as it will be written, so a written and re-read value compares equal.
  r.f_ = t == ValueType::FLOAT32 ? double(float(v)) : v;
  return r;
}

Value Value::make_bool(bool v) {
  Value r;
  r.type_ = ValueType::BOOL;
  r.u_ = v ? 1 : 0;
  return r;
}

Value Value::make_string(std::string v) {
  Value r;
  r.type_ = ValueType::STRING;
  r.s_ = std::move(v);
  return r;
}

Value Value::make_array(ValueType elem_type, std::vector<Value> elems) {
  if (!detail::is_valid_value_type(uint32_t(elem_type)))
    throw Error("make_array: invalid element type " + std::to_string(uint32_t(elem_type)));
  for (size_t i = 0; i < elems.size(); ++i) {
    if (elems[i].type_ != elem_type)
      throw Error("make_array: element " + std::to_string(i) + " has type " +
                  std::string(value_type_name(elems[i].type_)) + ", the array holds " +
                  std::string(value_type_name(elem_type)));
  }
  Value r;
  r.type_ = ValueType::ARRAY;
  r.elem_type_ = elem_type;
  r.elems_ = std::move(elems);
  return r;
}

std::string Value::to_string(size_t max_elems) const {
  std::string out;
  switch (type_) {
    case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
      append_number(out, u_);
      break;
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
      append_number(out, i_);
      break;
    case ValueType::FLOAT32:
      append_number(out, float(f_));
      break;
    case ValueType::FLOAT64:
      append_number(out, f_);
      break;
    case ValueType::BOOL:
      out = u_ ? "true" : "false";
      break;
    case ValueType::STRING:
      append_escaped(out, s_);
      break;
    case ValueType::ARRAY: {
      out += '[';
      const size_t shown = std::min(max_elems, elems_.size());
      for (size_t i = 0; i < shown; ++i) {
        if (i) out += ", ";
        out += elems_[i].to_string(max_elems);
      }
      if (shown < elems_.size()) {
        if (shown) out += ", ";
        out += "... " + std::to_string(elems_.size() - shown) + " more";
      }
      out += "] (" + std::to_string(elems_.size()) + " x " + std::string(value_type_name(elem_type_)) + ")";
      break;
    }
  }
  return out;
}

namespace detail {

bool is_valid_value_type(uint32_t t) { return t <= uint32_t(ValueType::FLOAT64); }

size_t min_encoded_size(uint32_t t) {
  switch (ValueType(t)) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;       // the length
    case ValueType::ARRAY: return 4 + 8;    // element type + count
  }
  return 0;
}

const Value* find_kv(const std::vector<std::pair<std::string, Value>>& kv, std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace detail
}  // namespace nnb::gguf
