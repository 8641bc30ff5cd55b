// Methods templates call on values: str.strip(), dict.items(), dict.get() ... Only methods
// without side effects exist: Hugging Face renders in Jinja2's immutable sandbox, where
// list.append or dict.update are refused too.
#include <algorithm>
#include <set>

#include "chat/jinja_error.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_text.h"

namespace nnb::chat::jinja {
namespace {

using Fn = std::function<Value(Interp&, CallArgs&)>;

Value method(const Value& obj, const std::string& name, Fn fn) {
  return Value::callable(std::string(type_name(obj)) + "." + name, std::move(fn));
}

// A method Python has that this renderer leaves out: calling it is a clear error.
Value unsupported(const Value& obj, const std::string& name) {
  const std::string full = std::string(type_name(obj)) + "." + name;
  return Value::callable(full, [full](Interp&, CallArgs&) -> Value {
    throw TemplateError("unsupported method '" + full + "' (not available in the sandbox)");
  });
}

bool prefix_match(const Value& prefix, const std::string& s, bool start, const std::string& what) {
  const auto one = [&](const Value& p) {
    if (p.type != Type::String) throw TemplateError(what + " arg must be str or a tuple of str");
    const std::string& x = p.str();
    return x.size() <= s.size() && (start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0);
  };
  if (prefix.type == Type::List) return std::any_of(prefix.list->begin(), prefix.list->end(), one);
  return one(prefix);
}

std::optional<Value> string_method(const Value& obj, const std::string& name) {
  static const std::set<std::string> kNames = {
      "strip", "lstrip", "rstrip", "split", "splitlines", "startswith", "endswith", "upper", "lower", "title",
      "capitalize", "replace", "find", "count", "join", "removeprefix", "removesuffix", "isspace", "isdigit", "isalpha",
      "isalnum", "islower", "isupper", "format", "format_map", "center", "ljust", "rjust", "zfill", "partition",
      "rpartition", "rsplit", "rfind", "index", "rindex", "encode", "expandtabs", "swapcase", "casefold", "translate",
      "isnumeric", "isdecimal", "isidentifier", "isprintable", "istitle"};
  if (!kNames.count(name)) return std::nullopt;  // the common case: a key lookup, no allocation
  const auto s = obj.s;  // shared: stays alive with the bound method
  const std::string what = "str." + name;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return method(obj, name, [s, l, r, what](Interp&, CallArgs& a) {
      const auto b = bind_args(a, {"chars"}, what);
      if (b[0] && !b[0]->is_none()) return Value::string(text::strip_chars(*s, to_str(*b[0]), l, r));
      return Value::string(text::strip(*s, l, r));
    });
  }
  if (name == "split") {
    return method(obj, name, [s, what](Interp& in, CallArgs& a) {
      const auto b = bind_args(a, {"sep", "maxsplit"}, what);
      const int64_t maxsplit = b[1] ? to_index(*b[1], "maxsplit") : -1;
      std::vector<std::string> parts;
      if (!b[0] || b[0]->is_none()) {
        parts = text::split_ws(*s, maxsplit);
      } else {
        if (b[0]->type != Type::String) throw TemplateError("must be str or None, not " + std::string(type_name(*b[0])));
        if (b[0]->str().empty()) throw TemplateError("empty separator");
        parts = text::split(*s, b[0]->str(), maxsplit);
      }
      in.step(parts.size());
      in.charge_bytes(s->size() + parts.size() * sizeof(Value));
      List out;
      for (auto& p : parts) out.push_back(Value::string(std::move(p)));
      return Value::make_list(std::move(out));
    });
  }
  if (name == "splitlines") {
    return method(obj, name, [s, what](Interp& in, CallArgs& a) {
      bind_args(a, {}, what);
      List out;
      for (auto& p : text::splitlines(*s)) out.push_back(Value::string(std::move(p)));
      in.step(out.size());
      return Value::make_list(std::move(out));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool start = name == "startswith";
    return method(obj, name, [s, start, what](Interp&, CallArgs& a) {
      const auto b = bind_args(a, {"prefix"}, what);
      if (!b[0]) throw TemplateError(what + " takes at least 1 argument");
      return Value::boolean(prefix_match(*b[0], *s, start, what));
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    return method(obj, name, [s, name, what](Interp&, CallArgs& a) {
      bind_args(a, {}, what);
      return Value::string(name == "upper" ? text::upper(*s) : name == "lower" ? text::lower(*s)
                           : name == "title" ? text::title(*s) : text::capitalize(*s));
    });
  }
  if (name == "replace") {
    return method(obj, name, [s, what](Interp& in, CallArgs& a) {
      const auto b = bind_args(a, {"old", "new", "count"}, what);
      if (!b[0] || !b[1] || b[0]->type != Type::String || b[1]->type != Type::String)
        throw TemplateError(what + " needs two strings");
      const int64_t count = b[2] ? to_index(*b[2], "count") : -1;
      std::optional<std::string> r = text::replace(*s, b[0]->str(), b[1]->str(), count, in.max_string_bytes());
      if (!r) in.check_string_size(SIZE_MAX);
      in.charge_bytes(r->size());
      return Value::string(std::move(*r));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return method(obj, name, [s, find, what](Interp&, CallArgs& a) {
      const auto b = bind_args(a, {"sub"}, what);
      if (!b[0] || b[0]->type != Type::String) throw TemplateError(what + " needs a string");
      const std::string& sub = b[0]->str();
      if (find) {
        const size_t k = s->find(sub);
        return Value::integer(k == std::string::npos ? -1 : int64_t(text::length(std::string_view(*s).substr(0, k))));
      }
      if (sub.empty()) return Value::integer(int64_t(text::length(*s)) + 1);
      int64_t n = 0;
      for (size_t k = s->find(sub); k != std::string::npos; k = s->find(sub, k + sub.size())) ++n;
      return Value::integer(n);
    });
  }
  if (name == "join") {
    return method(obj, name, [s, what](Interp& in, CallArgs& a) {
      const auto b = bind_args(a, {"iterable"}, what);
      if (!b[0]) throw TemplateError(what + " takes exactly one argument");
      std::string r;
      bool first = true;
      for (const Value& x : in.iterate(*b[0])) {
        if (x.type != Type::String) throw TemplateError(std::string("sequence item: expected str instance, ") + type_name(x) + " found");
        if (!first) r += *s;
        first = false;
        r += x.str();
        in.check_string_size(r.size());
      }
      in.charge_bytes(r.size());
      return Value::string(std::move(r));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const bool pre = name == "removeprefix";
    return method(obj, name, [s, pre, what](Interp&, CallArgs& a) {
      const auto b = bind_args(a, {"fix"}, what);
      if (!b[0] || b[0]->type != Type::String) throw TemplateError(what + " needs a string");
      const std::string& x = b[0]->str();
      if (!prefix_match(*b[0], *s, pre, what) || x.empty()) return Value::string(*s);
      return Value::string(pre ? s->substr(x.size()) : s->substr(0, s->size() - x.size()));
    });
  }
  if (name == "isspace" || name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "islower" ||
      name == "isupper") {
    return method(obj, name, [s, name, what](Interp&, CallArgs& a) {
      bind_args(a, {}, what);
      if (s->empty()) return Value::boolean(false);
      if (name == "isspace") {
        for (char32_t c : text::decode(*s))
          if (!text::is_space(c)) return Value::boolean(false);
        return Value::boolean(true);
      }
      if (name == "islower" || name == "isupper") {
        const bool cased = std::any_of(s->begin(), s->end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
        return Value::boolean(cased && *s == (name == "islower" ? text::lower(*s) : text::upper(*s)));
      }
      for (char c : *s) {  // ASCII classes (documented limitation)
        const auto u = static_cast<unsigned char>(c);
        const bool ok = name == "isdigit" ? std::isdigit(u) != 0 : name == "isalpha" ? std::isalpha(u) != 0 : std::isalnum(u) != 0;
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  static const char* const kLeftOut[] = {"format", "format_map", "center", "ljust", "rjust", "zfill", "partition",
                                         "rpartition", "rsplit", "rfind", "index", "rindex", "encode", "expandtabs",
                                         "swapcase", "casefold", "translate", "isnumeric", "isdecimal", "isidentifier",
                                         "isprintable", "istitle"};
  for (const char* n : kLeftOut)
    if (name == n) return unsupported(obj, name);
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& obj, const std::string& name) {
  static const std::set<std::string> kNames = {"items", "keys", "values", "get", "copy", "update",
                                               "pop", "popitem", "setdefault", "clear", "fromkeys"};
  if (!kNames.count(name)) return std::nullopt;  // the common case: message.role and the like
  const auto d = obj.dict;
  const std::string what = "dict." + name;
  if (name == "items" || name == "keys" || name == "values") {
    return method(obj, name, [d, name, what](Interp& in, CallArgs& a) {
      bind_args(a, {}, what);
      in.step(d->size());
      List out;
      for (const auto& [k, v] : d->items()) {
        if (name == "items") out.push_back(Value::make_list({Value::string(k), v}, true));
        else out.push_back(name == "keys" ? Value::string(k) : v);
      }
      return Value::make_list(std::move(out));
    });
  }
  if (name == "get") {
    return method(obj, name, [d, what](Interp&, CallArgs& a) {
      const auto b = bind_args(a, {"key", "default"}, what);
      if (!b[0]) throw TemplateError(what + " expected at least 1 argument");
      if (b[0]->type == Type::String)
        if (const Value* v = d->find(b[0]->str())) return *v;
      return b[1] ? *b[1] : Value::none();
    });
  }
  static const char* const kLeftOut[] = {"copy", "update", "pop", "popitem", "setdefault", "clear", "fromkeys"};
  for (const char* n : kLeftOut)
    if (name == n) return unsupported(obj, name);
  return std::nullopt;
}

std::optional<Value> list_method(const Value& obj, const std::string& name) {
  static const char* const kLeftOut[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
                                         "index", "count", "copy"};
  for (const char* n : kLeftOut)
    if (name == n) return unsupported(obj, name);
  return std::nullopt;
}

}  // namespace

std::optional<Value> bound_method(const Value& obj, const std::string& name) {
  switch (obj.type) {
    case Type::String: return string_method(obj, name);
    case Type::Dict: return dict_method(obj, name);
    case Type::List: return list_method(obj, name);
    default: return std::nullopt;
  }
}

}  // namespace nnb::chat::jinja
