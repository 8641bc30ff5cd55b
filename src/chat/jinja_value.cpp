#include "chat/jinja_value.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja_error.h"
#include "chat/jinja_text.h"

namespace nnb::chat::jinja {

Value Value::undefined(std::string why) {
  Value v;
  v.s = std::make_shared<const std::string>(std::move(why));
  return v;
}
Value Value::none() {
  Value v;
  v.type = Type::None;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.type = Type::Bool;
  v.b = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.type = Type::Int;
  v.i = i;
  return v;
}
Value Value::number(double f) {
  Value v;
  v.type = Type::Float;
  v.f = f;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.type = Type::String;
  v.s = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::make_list(List items, bool tuple) {
  Value v;
  v.type = Type::List;
  v.tuple = tuple;
  uint16_t d = 0;
  for (const Value& x : items) d = std::max(d, x.depth);
  if (d + 1 > kMaxNesting) throw TemplateError("value nesting too deep (sandbox limit " + std::to_string(kMaxNesting) + ")");
  v.depth = uint16_t(d + 1);
  v.list = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::make_dict() {
  Value v;
  v.type = Type::Dict;
  v.depth = 1;
  v.dict = std::make_shared<Dict>();
  return v;
}
Value Value::make_namespace() {
  Value v;
  v.type = Type::Namespace;
  v.dict = std::make_shared<Dict>();
  return v;
}
Value Value::callable(std::string name, std::function<Value(Interp&, CallArgs&)> fn) {
  Value v;
  v.type = Type::Callable;
  v.fn = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

void Value::put(const std::string& key, Value v) {
  if (type == Type::Dict) {
    if (v.depth + 1 > kMaxNesting) throw TemplateError("value nesting too deep (sandbox limit " + std::to_string(kMaxNesting) + ")");
    depth = std::max<uint16_t>(depth, uint16_t(v.depth + 1));
  }
  dict->set(key, std::move(v));
}

std::string Value::undefined_message() const { return s && !s->empty() ? *s : "value is undefined"; }

const Value* Dict::find(std::string_view key) const {
  const auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
Value* Dict::find(std::string_view key) {
  const auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
void Dict::set(const std::string& key, Value v) {
  if (Value* old = find(key)) {
    *old = std::move(v);
    return;
  }
  index_.emplace(key, items_.size());
  items_.emplace_back(key, std::move(v));
}

const char* type_name(const Value& v) {
  switch (v.type) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List: return v.tuple ? "tuple" : "list";
    case Type::Dict: return "dict";
    case Type::Callable: return "function";
    case Type::Namespace: return "Namespace";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.type) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return v.b;
    case Type::Int: return v.i != 0;
    case Type::Float: return v.f != 0;
    case Type::String: return !v.s->empty();
    case Type::List: return !v.list->empty();
    case Type::Dict: return v.dict->size() != 0;
    case Type::Callable:
    case Type::Namespace: return true;
  }
  return false;
}

namespace {

double as_double(const Value& v) {
  return v.type == Type::Float ? v.f : v.type == Type::Int ? double(v.i) : double(v.b);
}
int64_t as_int(const Value& v) { return v.type == Type::Int ? v.i : int64_t(v.b); }

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type == Type::Float || b.type == Type::Float) return as_double(a) == as_double(b);
    return as_int(a) == as_int(b);
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Type::Undefined:
    case Type::None: return true;
    case Type::String: return *a.s == *b.s;
    case Type::List:
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equals((*a.list)[k], (*b.list)[k])) return false;
      return true;
    case Type::Dict:
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : a.dict->items()) {
        const Value* o = b.dict->find(k);
        if (!o || !equals(v, *o)) return false;
      }
      return true;
    case Type::Callable: return a.fn == b.fn;
    case Type::Namespace: return a.dict == b.dict;
    default: return false;
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type == Type::Float || b.type == Type::Float) return as_double(a) < as_double(b);
    return as_int(a) < as_int(b);
  }
  if (a.type == Type::String && b.type == Type::String) return *a.s < *b.s;  // UTF-8 order = code point order
  if (a.type == Type::List && b.type == Type::List) {
    const List &x = *a.list, &y = *b.list;
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (!equals(x[k], y[k])) return less(x[k], y[k]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) throw TemplateError(a.undefined_message());
  if (b.is_undefined()) throw TemplateError(b.undefined_message());
  throw TemplateError(std::string("'<' not supported between instances of '") + type_name(a) + "' and '" + type_name(b) + "'");
}

namespace {

void append_str(std::string& out, const Value& v, bool repr) {
  switch (v.type) {
    case Type::Undefined: out += repr ? "Undefined" : ""; return;
    case Type::None: out += "None"; return;
    case Type::Bool: out += v.b ? "True" : "False"; return;
    case Type::Int: out += std::to_string(v.i); return;
    case Type::Float: out += text::format_float(v.f); return;
    case Type::String: out += repr ? text::py_repr(*v.s) : *v.s; return;
    case Type::List: {
      out += v.tuple ? '(' : '[';
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        append_str(out, (*v.list)[k], true);
      }
      if (v.tuple && v.list->size() == 1) out += ',';
      out += v.tuple ? ')' : ']';
      return;
    }
    case Type::Dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.dict->items()) {
        if (!first) out += ", ";
        first = false;
        out += text::py_repr(k);
        out += ": ";
        append_str(out, x, true);
      }
      out += '}';
      return;
    }
    case Type::Callable: out += "<function " + v.fn->name + ">"; return;
    case Type::Namespace: out += "<Namespace>"; return;  // not recursed into: namespaces may hold cycles
  }
}

void append_json(std::string& out, const Value& v, int indent, bool sort_keys, int level) {
  const auto newline = [&](int lvl) {
    out += '\n';
    out.append(size_t(indent) * size_t(lvl), ' ');
  };
  switch (v.type) {
    case Type::None: out += "null"; return;
    case Type::Bool: out += v.b ? "true" : "false"; return;
    case Type::Int: out += std::to_string(v.i); return;
    case Type::Float:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
      else out += text::format_float(v.f);
      return;
    case Type::String: out += text::json_quote(*v.s); return;
    case Type::List: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(level + 1);
        append_json(out, (*v.list)[k], indent, sort_keys, level + 1);
      }
      if (indent >= 0) newline(level);
      out += ']';
      return;
    }
    case Type::Dict: {
      if (v.dict->size() == 0) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict->items()) items.push_back(&kv);
      if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(level + 1);
        out += text::json_quote(kv->first);
        out += ": ";
        append_json(out, kv->second, indent, sort_keys, level + 1);
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    default:
      throw TemplateError(std::string("Object of type ") + type_name(v) + " is not JSON serializable");
  }
}

template <class J>
Value convert(const J& j, int depth) {
  if (depth > kMaxNesting) throw TemplateError("JSON input nested too deeply (limit " + std::to_string(kMaxNesting) + ")");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      return u <= uint64_t(INT64_MAX) ? Value::integer(int64_t(u)) : Value::number(double(u));
    }
    case nlohmann::json::value_t::number_float: return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(convert(x, depth + 1));
      return Value::make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.put(it.key(), convert(it.value(), depth + 1));
      return d;
    }
    default: return Value::none();  // binary / discarded: not produced by the JSON parser
  }
}

}  // namespace

std::string to_str(const Value& v) {
  if (v.type == Type::String) return *v.s;
  std::string out;
  append_str(out, v, false);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  append_str(out, v, true);
  return out;
}

std::string to_json(const Value& v, int indent, bool sort_keys) {
  std::string out;
  append_json(out, v, indent, sort_keys, 0);
  return out;
}

Value from_json(const nlohmann::json& j) { return convert(j, 0); }
Value from_json(const nlohmann::ordered_json& j) { return convert(j, 0); }

}  // namespace nnb::chat::jinja
