// Jinja2's built-in tests (`x is defined`, `select('equalto', y)` ...), as Jinja2 3.1 defines them.
#include <set>

#include "chat/jinja_error.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_parser.h"
#include "chat/jinja_text.h"

namespace nnb::chat::jinja {
namespace {

const std::set<std::string>& test_names() {
  static const std::set<std::string> names = {
      "boolean", "callable", "defined", "divisibleby", "eq",       "equalto", "escaped", "even",   "false",
      "float",   "ge",       "greaterthan", "gt",     "in",        "integer", "iterable", "le",    "lessthan",
      "lower",   "lt",       "mapping", "ne",         "none",      "number",  "odd",      "sameas", "sequence",
      "string",  "true",     "undefined", "upper",    "==",        "!=",      "<",        "<=",     ">",  ">="};
  return names;
}

const Value& one_arg(const CallArgs& args, const std::string& name) {
  const auto a = bind_args(args, {"other"}, "test '" + name + "'");
  if (!args.pos.empty()) return args.pos[0];
  if (!args.kw.empty()) return args.kw[0].second;
  (void)a;
  throw TemplateError("test '" + name + "' needs an argument");
}

}  // namespace

bool is_known_test(const std::string& name) { return test_names().count(name) != 0; }

bool call_test(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  const auto no_args = [&] { bind_args(args, {}, "test '" + name + "'"); };
  if (name == "defined") return no_args(), !v.is_undefined();
  if (name == "undefined") return no_args(), v.is_undefined();
  if (name == "none") return no_args(), v.is_none();
  if (name == "boolean") return no_args(), v.type == Type::Bool;
  if (name == "true") return no_args(), v.type == Type::Bool && v.b;
  if (name == "false") return no_args(), v.type == Type::Bool && !v.b;
  if (name == "integer") return no_args(), v.type == Type::Int;
  if (name == "float") return no_args(), v.type == Type::Float;
  if (name == "number") return no_args(), v.is_number();
  if (name == "string") return no_args(), v.type == Type::String;
  if (name == "mapping") return no_args(), v.type == Type::Dict;
  if (name == "callable") return no_args(), v.type == Type::Callable;
  if (name == "escaped") return no_args(), false;
  // Undefined iterates as empty and has a length, so Jinja2 calls it iterable and a sequence.
  if (name == "iterable" || name == "sequence")
    return no_args(), v.type == Type::String || v.type == Type::List || v.type == Type::Dict || v.is_undefined();
  if (name == "lower" || name == "upper") {
    no_args();
    if (v.type != Type::String) throw TemplateError(std::string("test '") + name + "' needs a string");
    const std::string& s = v.str();
    const bool has_cased = std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    return has_cased && s == (name == "lower" ? text::lower(s) : text::upper(s));
  }
  if (name == "odd" || name == "even") {
    no_args();
    const int64_t i = to_index(v, "test 'odd'/'even'");
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = to_index(one_arg(args, name), "divisibleby");
    if (d == 0) throw TemplateError("integer division or modulo by zero");
    return d == -1 || to_index(v, "divisibleby") % d == 0;
  }
  if (name == "sameas") {
    const Value& o = one_arg(args, name);
    if (v.type != o.type) return false;
    switch (v.type) {
      case Type::List: return v.list == o.list;
      case Type::Dict:
      case Type::Namespace: return v.dict == o.dict;
      case Type::Callable: return v.fn == o.fn;
      case Type::String: return v.s == o.s;
      default: return equals(v, o);  // None, bools, small ints: singletons in Python
    }
  }
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, one_arg(args, name));
  if (name == "ne" || name == "!=") return !equals(v, one_arg(args, name));
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, one_arg(args, name));
  if (name == "gt" || name == "greaterthan" || name == ">") return less(one_arg(args, name), v);
  if (name == "le" || name == "<=") {
    const Value& o = one_arg(args, name);
    return less(v, o) || equals(v, o);
  }
  if (name == "ge" || name == ">=") {
    const Value& o = one_arg(args, name);
    return less(o, v) || equals(v, o);
  }
  if (name == "in") {
    const Value& o = one_arg(args, name);
    switch (o.type) {
      case Type::String:
        if (v.type != Type::String) throw TemplateError("'in <string>' requires string as left operand");
        return o.str().find(v.str()) != std::string::npos;
      case Type::List:
        in.step(o.list->size());
        for (const Value& x : *o.list)
          if (equals(v, x)) return true;
        return false;
      case Type::Dict: return v.type == Type::String && o.dict->find(v.str());
      case Type::Undefined: return false;
      default: throw TemplateError(std::string("argument of type '") + type_name(o) + "' is not iterable");
    }
  }
  throw TemplateError("unsupported test '" + name + "'");
}

}  // namespace nnb::chat::jinja
