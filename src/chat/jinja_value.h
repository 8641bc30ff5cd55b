// The value model templates compute with: Python's types as Jinja2 exposes them (none, bool,
// int, float, str, list, dict with insertion order, callables, namespace()) plus Jinja2's
// Undefined. Lists, dicts and namespaces are shared by reference, as in Python, so
// `{% set ns.x = ... %}` inside a loop reaches the namespace the template made outside it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nnb::chat::jinja {

struct Value;
class Dict;
struct Callable;
class Interp;

using List = std::vector<Value>;

constexpr int kMaxNesting = 200;

enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable, Namespace };

struct Value {
  Type type = Type::Undefined;
  bool b = false;
  bool tuple = false;  // a List made by a tuple expression or items(): printed as (a, b)
  // Nesting of lists and dicts (0 for scalars and namespaces). Lists and dicts cannot contain
  // themselves (the sandbox has no mutating methods; only namespaces are mutable and printing
  // or comparing does not recurse into them), so this bounds every recursion over a value.
  uint16_t depth = 0;
  int64_t i = 0;
  double f = 0;
  // String: the text. Undefined: why it is undefined ("'x' is undefined"), raised on misuse.
  std::shared_ptr<const std::string> s;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // Dict and Namespace
  std::shared_ptr<const Callable> fn;

  static Value undefined(std::string why);
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value make_list(List items = {}, bool tuple = false);  // throws past kMaxNesting
  static Value make_dict();
  void put(const std::string& key, Value v);  // Dict and Namespace: set an item, keep depth
  static Value make_namespace();
  static Value callable(std::string name, std::function<Value(Interp&, struct CallArgs&)> fn);

  bool is_undefined() const { return type == Type::Undefined; }
  bool is_none() const { return type == Type::None; }
  bool is_string() const { return type == Type::String; }
  bool is_number() const { return type == Type::Int || type == Type::Float || type == Type::Bool; }
  const std::string& str() const { return *s; }  // String only
  std::string undefined_message() const;
};

// Insertion-ordered string-keyed map (Python dict with str keys).
class Dict {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  size_t size() const { return items_.size(); }
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::unordered_map<std::string, size_t> index_;
};

// Arguments of a call: positional, then keyword, in source order.
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct Callable {
  std::string name;
  std::function<Value(Interp&, CallArgs&)> fn;
};

const char* type_name(const Value& v);  // Python's name: 'str', 'dict', 'NoneType', ...

bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// Python's <: numbers with numbers, str with str, lists element-wise; else a TemplateError.
bool less(const Value& a, const Value& b);

std::string to_str(const Value& v);   // str(v); Undefined prints as ""
std::string to_repr(const Value& v);  // repr(v), as inside a printed list
// json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys=sort_keys).
std::string to_json(const Value& v, int indent, bool sort_keys);

Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

}  // namespace nnb::chat::jinja
