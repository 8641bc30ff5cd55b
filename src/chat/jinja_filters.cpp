// Jinja2's built-in filters, as Jinja2 3.1 defines them (argument names and defaults included),
// minus the ones no chat template needs (each such name is refused at parse time).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "chat/jinja_error.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_parser.h"
#include "chat/jinja_text.h"

namespace nnb::chat::jinja {
namespace {

const std::set<std::string>& filter_names() {
  static const std::set<std::string> names = {
      "abs",   "attr",  "capitalize", "count", "d",      "default", "dictsort", "e",         "escape",
      "first", "float", "forceescape", "indent", "int",  "items",   "join",     "last",      "length",
      "list",  "lower", "map",        "max",   "min",    "reject",  "rejectattr", "replace", "reverse",
      "round", "safe",  "select",     "selectattr", "sort", "string", "sum",    "title",     "tojson",
      "trim",  "unique", "upper"};
  return names;
}

std::string str_or(const std::optional<Value>& v, const std::string& dflt) {
  if (!v || v->is_none()) return dflt;
  return to_str(*v);
}
bool bool_or(const std::optional<Value>& v, bool dflt) { return v ? truthy(*v) : dflt; }

// Jinja's make_attrgetter: "a.b.0" looks up each part with item-then-attribute lookup.
Value attr_path(Interp& in, Value v, const std::string& path) {
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = digits && part.size() < 18 ? in.getitem(v, Value::integer(std::stoll(part))) : in.getitem(v, Value::string(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// The key unique/sort/min/max compare by: lower-cased strings unless case-sensitive.
Value sort_key(Interp& in, const Value& v, const std::optional<std::string>& attribute, bool case_sensitive) {
  Value k = attribute ? attr_path(in, v, *attribute) : v;
  if (!case_sensitive && k.type == Type::String) return Value::string(text::lower(k.str()));
  return k;
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&#34;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::optional<int64_t> parse_py_int(std::string s, int base) {
  s = text::strip(s, true, true);
  std::string t;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '_' && k > 0 && k + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[k - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[k + 1])))
      continue;
    t += s[k];
  }
  if (t.empty()) return std::nullopt;
  size_t k = (t[0] == '+' || t[0] == '-') ? 1 : 0;
  if (k == t.size()) return std::nullopt;
  for (size_t j = k; j < t.size(); ++j)
    if (!std::isalnum(static_cast<unsigned char>(t[j]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, base);
  if (errno != 0 || *end != 0) return std::nullopt;
  return v;
}

std::optional<double> parse_py_float(std::string s) {
  s = text::strip(s, true, true);
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-' || c == '_')) return std::nullopt;
  if (s.find('x') != std::string::npos || s.find('X') != std::string::npos) return std::nullopt;  // no hex floats
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != 0) return std::nullopt;
  return v;
}

double py_round(double x, int64_t ndigits) {
  const double m = std::pow(10.0, double(ndigits));
  if (!std::isfinite(m) || m == 0) return x;
  return std::nearbyint(x * m) / m;  // round-half-even, as Python's round() on exact halves
}

Value select_or_reject(Interp& in, const Value& v, CallArgs& args, bool by_attr, bool select, const std::string& fname) {
  if (!truthy(v)) return Value::make_list();  // Jinja2 yields nothing for a falsy value (None included)
  size_t off = by_attr ? 1 : 0;
  std::optional<std::string> attribute;
  if (by_attr) {
    if (args.pos.empty()) throw TemplateError(fname + " needs an attribute name");
    attribute = to_str(args.pos[0]);
  }
  std::optional<std::string> test;
  CallArgs test_args;
  if (args.pos.size() > off) {
    test = to_str(args.pos[off]);
    test_args.pos.assign(args.pos.begin() + long(off) + 1, args.pos.end());
    test_args.kw = args.kw;
    if (!is_known_test(*test)) throw TemplateError("unsupported test '" + *test + "'");
  }
  List out;
  for (const Value& item : in.iterate(v)) {
    in.step();
    const Value x = attribute ? attr_path(in, item, *attribute) : item;
    CallArgs a = test_args;
    const bool ok = test ? call_test(in, *test, x, a) : truthy(x);
    if (ok == select) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

}  // namespace

bool is_known_filter(const std::string& name) { return filter_names().count(name) != 0; }

Value call_filter(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  const std::string what = "filter '" + name + "'";
  if (name == "safe") {
    bind_args(args, {}, what);
    return v;
  }
  if (name == "default" || name == "d") {
    const auto a = bind_args(args, {"default_value", "boolean"}, what);
    const bool boolean = bool_or(a[1], false);
    if (v.is_undefined() || (boolean && !truthy(v))) return a[0] ? *a[0] : Value::string("");
    return v;
  }
  if (name == "length" || name == "count") {
    bind_args(args, {}, what);
    switch (v.type) {
      case Type::Undefined: return Value::integer(0);
      case Type::String: return Value::integer(int64_t(text::length(v.str())));
      case Type::List: return Value::integer(int64_t(v.list->size()));
      case Type::Dict: return Value::integer(int64_t(v.dict->size()));
      default: throw TemplateError(std::string("object of type '") + type_name(v) + "' has no len()");
    }
  }
  if (name == "trim") {
    const auto a = bind_args(args, {"chars"}, what);
    const std::string s = to_str(v);
    if (a[0] && !a[0]->is_none()) return Value::string(text::strip_chars(s, to_str(*a[0]), true, true));
    return Value::string(text::strip(s, true, true));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    bind_args(args, {}, what);
    const std::string s = to_str(v);
    return Value::string(name == "upper" ? text::upper(s) : name == "lower" ? text::lower(s)
                         : name == "capitalize" ? text::capitalize(s) : text::title(s));
  }
  if (name == "string") {
    bind_args(args, {}, what);
    return Value::string(to_str(v));
  }
  if (name == "escape" || name == "e" || name == "forceescape") {
    bind_args(args, {}, what);
    return Value::string(html_escape(to_str(v)));
  }
  if (name == "tojson") {
    const auto a = bind_args(args, {"ensure_ascii", "indent", "separators", "sort_keys"}, what);
    if (a[0] && truthy(*a[0])) throw TemplateError("unsupported: tojson(ensure_ascii=true)");
    if (a[2] && !a[2]->is_none()) throw TemplateError("unsupported: tojson(separators=...)");
    int indent = -1;
    if (a[1] && !a[1]->is_none()) {
      const int64_t n = to_index(*a[1], "tojson indent");
      indent = int(std::clamp<int64_t>(n, 0, 64));
    }
    std::string s = to_json(v, indent, bool_or(a[3], false));
    in.check_string_size(s.size());
    in.charge_bytes(s.size());
    return Value::string(std::move(s));
  }
  if (name == "int") {
    const auto a = bind_args(args, {"default", "base"}, what);
    const Value dflt = a[0] ? *a[0] : Value::integer(0);
    const int64_t base = a[1] ? to_index(*a[1], "int base") : 10;
    switch (v.type) {
      case Type::Int: return v;
      case Type::Bool: return Value::integer(v.b);
      case Type::Float:
        if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) throw TemplateError("cannot convert float to integer");
        return Value::integer(int64_t(v.f));
      case Type::String: {
        if (base >= 2 && base <= 36)
          if (auto i = parse_py_int(v.str(), int(base))) return Value::integer(*i);
        if (auto f = parse_py_float(v.str()); f && std::isfinite(*f) && std::fabs(*f) < 9.2e18) return Value::integer(int64_t(*f));
        return dflt;
      }
      default: return dflt;
    }
  }
  if (name == "float") {
    const auto a = bind_args(args, {"default"}, what);
    const Value dflt = a[0] ? *a[0] : Value::number(0.0);
    if (v.is_number()) return Value::number(v.type == Type::Float ? v.f : v.type == Type::Int ? double(v.i) : double(v.b));
    if (v.type == Type::String)
      if (auto f = parse_py_float(v.str())) return Value::number(*f);
    return dflt;
  }
  if (name == "abs") {
    bind_args(args, {}, what);
    if (v.type == Type::Float) return Value::number(std::fabs(v.f));
    if (v.type == Type::Int || v.type == Type::Bool) {
      const int64_t i = v.type == Type::Int ? v.i : v.b;
      if (i == INT64_MIN) throw TemplateError("integer overflow (big integers are not supported)");
      return Value::integer(i < 0 ? -i : i);
    }
    throw TemplateError(std::string("bad operand type for abs(): '") + type_name(v) + "'");
  }
  if (name == "round") {
    const auto a = bind_args(args, {"precision", "method"}, what);
    const int64_t precision = a[0] ? to_index(*a[0], "round precision") : 0;
    const std::string method = str_or(a[1], "common");
    if (!v.is_number()) throw TemplateError(std::string("type ") + type_name(v) + " doesn't define __round__ method");
    const double x = v.type == Type::Float ? v.f : v.type == Type::Int ? double(v.i) : double(v.b);
    if (method == "common") {
      if (v.type != Type::Float) return Value::integer(v.type == Type::Int ? v.i : v.b);
      return Value::number(py_round(x, precision));
    }
    if (method != "ceil" && method != "floor") throw TemplateError("method must be common, ceil or floor");
    const double m = std::pow(10.0, double(precision));
    return Value::number((method == "ceil" ? std::ceil(x * m) : std::floor(x * m)) / m);
  }
  if (name == "replace") {
    const auto a = bind_args(args, {"old", "new", "count"}, what);
    if (!a[0] || !a[1]) throw TemplateError(what + " needs old and new");
    const int64_t count = a[2] && !a[2]->is_none() ? to_index(*a[2], "replace count") : -1;
    const std::string s = to_str(v), o = to_str(*a[0]), n = to_str(*a[1]);
    std::optional<std::string> r = text::replace(s, o, n, count, in.max_string_bytes());
    if (!r) in.check_string_size(SIZE_MAX);  // the result would pass the limit: stopped while building it
    in.charge_bytes(r->size());
    return Value::string(std::move(*r));
  }
  if (name == "indent") {
    const auto a = bind_args(args, {"width", "first", "blank"}, what);
    std::string pad = "    ";
    if (a[0]) pad = a[0]->type == Type::String ? a[0]->str() : std::string(size_t(std::clamp<int64_t>(to_index(*a[0], "indent width"), 0, 1024)), ' ');
    const bool first = bool_or(a[1], false), blank = bool_or(a[2], false);
    const std::vector<std::string> lines = text::splitlines(to_str(v) + "\n");
    in.check_string_size((lines.size() + 1) * pad.size() + to_str(v).size());
    std::string r;
    if (blank) {
      for (size_t k = 0; k < lines.size(); ++k) {
        if (k) r += "\n" + pad;
        r += lines[k];
      }
    } else {
      r = lines.empty() ? "" : lines[0];
      for (size_t k = 1; k < lines.size(); ++k) {
        r += "\n";
        if (!lines[k].empty()) r += pad;
        r += lines[k];
      }
    }
    if (first) r = pad + r;
    in.charge_bytes(r.size());
    return Value::string(std::move(r));
  }
  if (name == "first" || name == "last") {
    bind_args(args, {}, what);
    const List items = in.iterate(v);
    if (items.empty()) return Value::undefined(std::string("No ") + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") {
    bind_args(args, {}, what);
    return Value::make_list(in.iterate(v));
  }
  if (name == "reverse") {
    bind_args(args, {}, what);
    if (v.type == Type::String) {
      std::vector<char32_t> cps = text::decode(v.str());
      std::reverse(cps.begin(), cps.end());
      return Value::string(text::encode(cps));
    }
    List items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "items") {
    bind_args(args, {}, what);
    if (v.is_undefined()) return Value::make_list();
    if (v.type != Type::Dict) throw TemplateError("Can only get item pairs from a mapping.");
    List out;
    in.step(v.dict->size());
    for (const auto& [k, x] : v.dict->items()) out.push_back(Value::make_list({Value::string(k), x}, true));
    return Value::make_list(std::move(out));
  }
  if (name == "dictsort") {
    const auto a = bind_args(args, {"case_sensitive", "by", "reverse"}, what);
    if (v.type != Type::Dict) throw TemplateError("dictsort: expected a mapping");
    const bool cs = bool_or(a[0], false), rev = bool_or(a[2], false);
    const std::string by = str_or(a[1], "key");
    if (by != "key" && by != "value") throw TemplateError("You can only sort by either \"key\" or \"value\"");
    List out;
    for (const auto& [k, x] : v.dict->items()) out.push_back(Value::make_list({Value::string(k), x}, true));
    in.step(out.size() * 8);
    const size_t idx = by == "key" ? 0 : 1;
    std::stable_sort(out.begin(), out.end(), [&](const Value& p, const Value& q) {
      const Value kp = sort_key(in, (*p.list)[idx], std::nullopt, cs), kq = sort_key(in, (*q.list)[idx], std::nullopt, cs);
      return rev ? less(kq, kp) : less(kp, kq);
    });
    return Value::make_list(std::move(out));
  }
  if (name == "join") {
    const auto a = bind_args(args, {"d", "attribute"}, what);
    const std::string sep = str_or(a[0], "");
    std::string r;
    bool firstp = true;
    for (const Value& item : in.iterate(v)) {
      if (!firstp) r += sep;
      firstp = false;
      r += to_str(a[1] && !a[1]->is_none() ? attr_path(in, item, to_str(*a[1])) : item);
      in.check_string_size(r.size());
    }
    in.charge_bytes(r.size());
    return Value::string(std::move(r));
  }
  if (name == "map") {
    List out;
    std::optional<std::string> attribute;
    Value dflt;
    bool has_default = false;
    std::optional<std::string> filter;
    CallArgs fargs;
    for (const auto& [k, x] : args.kw) {
      if (k == "attribute") attribute = to_str(x);
      else if (k == "default") {
        dflt = x;
        has_default = true;
      } else if (args.pos.empty()) {
        throw TemplateError(what + " got an unexpected keyword argument '" + k + "'");
      }
    }
    if (!args.pos.empty()) {
      filter = to_str(args.pos[0]);
      if (!is_known_filter(*filter)) throw TemplateError("unsupported filter '" + *filter + "'");
      fargs.pos.assign(args.pos.begin() + 1, args.pos.end());
      fargs.kw = args.kw;
    } else if (!attribute) {
      throw TemplateError("map needs a filter name or attribute=");
    }
    if (!truthy(v)) return Value::make_list();  // as select: a falsy value maps to nothing
    for (const Value& item : in.iterate(v)) {
      in.step();
      if (filter) {
        CallArgs a = fargs;
        out.push_back(call_filter(in, *filter, item, a));
      } else {
        Value x = attr_path(in, item, *attribute);
        out.push_back(x.is_undefined() && has_default ? dflt : x);
      }
    }
    return Value::make_list(std::move(out));
  }
  if (name == "select" || name == "reject") return select_or_reject(in, v, args, false, name == "select", what);
  if (name == "selectattr" || name == "rejectattr") return select_or_reject(in, v, args, true, name == "selectattr", what);
  if (name == "attr") {
    const auto a = bind_args(args, {"name"}, what);
    if (!a[0]) throw TemplateError(what + " needs a name");
    return in.getattr(v, to_str(*a[0]));
  }
  if (name == "unique") {
    const auto a = bind_args(args, {"case_sensitive", "attribute"}, what);
    const bool cs = bool_or(a[0], false);
    std::optional<std::string> attribute;
    if (a[1] && !a[1]->is_none()) attribute = to_str(*a[1]);
    List out, seen;
    for (const Value& item : in.iterate(v)) {
      const Value k = sort_key(in, item, attribute, cs);
      in.step(seen.size() + 1);
      if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
      seen.push_back(k);
      out.push_back(item);
    }
    return Value::make_list(std::move(out));
  }
  if (name == "sort" || name == "min" || name == "max") {
    const bool is_sort = name == "sort";
    const auto a = is_sort ? bind_args(args, {"reverse", "case_sensitive", "attribute"}, what)
                           : bind_args(args, {"case_sensitive", "attribute"}, what);
    const bool rev = is_sort && bool_or(a[0], false);
    const bool cs = bool_or(a[is_sort ? 1 : 0], false);
    const std::optional<Value>& attr_v = a[is_sort ? 2 : 1];
    std::optional<std::string> attribute;
    if (attr_v && !attr_v->is_none()) attribute = to_str(*attr_v);
    List items = in.iterate(v);
    in.step(items.size() * 8);
    std::vector<std::pair<Value, Value>> keyed;
    for (const Value& x : items) keyed.emplace_back(sort_key(in, x, attribute, cs), x);
    const auto lt = [](const std::pair<Value, Value>& p, const std::pair<Value, Value>& q) { return less(p.first, q.first); };
    if (is_sort) {
      if (rev) std::stable_sort(keyed.begin(), keyed.end(), [&](auto& p, auto& q) { return less(q.first, p.first); });
      else std::stable_sort(keyed.begin(), keyed.end(), lt);
      List out;
      for (auto& kv : keyed) out.push_back(kv.second);
      return Value::make_list(std::move(out));
    }
    if (keyed.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    const auto it = name == "min" ? std::min_element(keyed.begin(), keyed.end(), lt) : std::max_element(keyed.begin(), keyed.end(), lt);
    return it->second;
  }
  if (name == "sum") {
    const auto a = bind_args(args, {"attribute", "start"}, what);
    Value total = a[1] ? *a[1] : Value::integer(0);
    for (const Value& item : in.iterate(v)) {
      const Value x = a[0] && !a[0]->is_none() ? attr_path(in, item, to_str(*a[0])) : item;
      if (!x.is_number() || !total.is_number()) throw TemplateError(std::string("unsupported operand type(s) for +: '") + type_name(total) + "' and '" + type_name(x) + "'");
      if (total.type == Type::Float || x.type == Type::Float) {
        const auto d = [](const Value& y) { return y.type == Type::Float ? y.f : y.type == Type::Int ? double(y.i) : double(y.b); };
        total = Value::number(d(total) + d(x));
      } else {
        int64_t r = 0;
        const int64_t p = total.type == Type::Int ? total.i : total.b, q = x.type == Type::Int ? x.i : x.b;
        if (__builtin_add_overflow(p, q, &r)) throw TemplateError("integer overflow (big integers are not supported)");
        total = Value::integer(r);
      }
    }
    return total;
  }
  throw TemplateError("unsupported filter '" + name + "'");
}

}  // namespace nnb::chat::jinja
