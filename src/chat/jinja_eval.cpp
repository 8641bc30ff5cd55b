#include "chat/jinja_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "chat/jinja_error.h"
#include "chat/jinja_text.h"

namespace nnb::chat::jinja {
namespace {

// Attaches a position to an error thrown without one (by a built-in or the value model).
template <class F>
auto at(SourcePos pos, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const TemplateError& e) {
    if (e.pos().line > 0) throw;
    throw TemplateError(e.what(), pos);
  }
}

[[noreturn]] void raise_undefined(const Value& v) { throw TemplateError(v.undefined_message()); }

std::string object_repr(const Value& obj) {
  if (obj.is_none()) return "'None'";
  return std::string("'") + type_name(obj) + " object'";
}

double as_double(const Value& v) {
  return v.type == Type::Float ? v.f : v.type == Type::Int ? double(v.i) : double(v.b);
}
int64_t as_int(const Value& v) { return v.type == Type::Int ? v.i : int64_t(v.b); }

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  throw TemplateError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

[[noreturn]] void overflow() { throw TemplateError("integer overflow (big integers are not supported)"); }
int64_t add_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t sub_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t mul_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

}  // namespace

std::string undefined_attr_message(const Value& obj, const std::string& name) {
  return object_repr(obj) + " has no attribute '" + name + "'";
}

int64_t to_index(const Value& v, const char* what) {
  if (v.type == Type::Int) return v.i;
  if (v.type == Type::Bool) return v.b;
  if (v.is_undefined()) raise_undefined(v);
  throw TemplateError(std::string(what) + ": expected an integer, got '" + type_name(v) + "'");
}

std::vector<std::optional<Value>> bind_args(const CallArgs& args, std::initializer_list<const char*> names,
                                            const std::string& what) {
  std::vector<std::optional<Value>> out(names.size());
  if (args.pos.size() > names.size())
    throw TemplateError(what + " takes at most " + std::to_string(names.size()) + " argument(s), " +
                        std::to_string(args.pos.size()) + " given");
  for (size_t k = 0; k < args.pos.size(); ++k) out[k] = args.pos[k];
  for (const auto& [kname, v] : args.kw) {
    size_t k = 0;
    for (const char* n : names) {
      if (kname == n) break;
      ++k;
    }
    if (k == names.size()) throw TemplateError(what + " got an unexpected keyword argument '" + kname + "'");
    if (out[k]) throw TemplateError(what + " got multiple values for argument '" + kname + "'");
    out[k] = v;
  }
  return out;
}

Value slice_value(Interp& in, const Value& obj, const std::optional<int64_t>& start, const std::optional<int64_t>& stop,
                  const std::optional<int64_t>& step_opt) {
  if (obj.is_undefined()) raise_undefined(obj);
  const int64_t step = step_opt.value_or(1);
  if (step == 0) throw TemplateError("slice step cannot be zero");
  std::vector<char32_t> cps;
  int64_t n;
  if (obj.type == Type::List) {
    n = int64_t(obj.list->size());
  } else if (obj.type == Type::String) {
    cps = text::decode(obj.str());
    n = int64_t(cps.size());
  } else {
    throw TemplateError(std::string("'") + type_name(obj) + "' object is not subscriptable");
  }
  // Python's slice index adjustment.
  const auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = adjust(start, step < 0 ? n - 1 : 0);
  const int64_t e = adjust(stop, step < 0 ? -1 : n);
  std::vector<int64_t> idx;
  for (int64_t k = b; step > 0 ? k < e : k > e; k += step) idx.push_back(k);
  in.step(idx.size());
  if (obj.type == Type::List) {
    List out;
    out.reserve(idx.size());
    for (int64_t k : idx) out.push_back((*obj.list)[size_t(k)]);
    return Value::make_list(std::move(out));
  }
  std::string out;
  for (int64_t k : idx) text::append_utf8(out, cps[size_t(k)]);
  return Value::string(std::move(out));
}

Interp::~Interp() {
  // Namespaces are the only mutable values, so the only way to a reference cycle
  // (ns.x = [ns]); emptying them after the render frees what the cycle would keep.
  for (Value& ns : namespaces_)
    if (ns.dict) *ns.dict = Dict();
}

void Interp::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps)
    throw TemplateError("template too expensive: more than " + std::to_string(limits_.max_steps) +
                        " evaluation steps (sandbox limit)");
}

void Interp::charge_bytes(size_t n) {
  alloc_ += n;
  if (alloc_ > limits_.max_alloc_bytes)
    throw TemplateError("template built more than " + std::to_string(limits_.max_alloc_bytes) +
                        " bytes of values (sandbox memory limit)");
}

void Interp::check_string_size(size_t n) {
  if (n > limits_.max_output_bytes)
    throw TemplateError("string longer than " + std::to_string(limits_.max_output_bytes) + " bytes (sandbox output limit)");
}

Value Interp::new_namespace() {
  Value v = Value::make_namespace();
  namespaces_.push_back(v);
  return v;
}

void Interp::emit(const std::string& s) {
  if (s.empty()) return;
  if (out_->size() + s.size() > limits_.max_output_bytes)
    throw TemplateError("output longer than " + std::to_string(limits_.max_output_bytes) + " bytes (sandbox output limit)");
  charge_bytes(s.size());
  out_->append(s);
}

Value Interp::lookup(const std::string& name) const {
  for (const Scope* s = scope_; s; s = s->parent) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

std::string Interp::render(const Body& body, const Value& globals) {
  Scope g;
  for (const auto& [k, v] : globals.dict->items()) g.vars[k] = v;
  Scope top;
  top.parent = &g;
  root_ = scope_ = &top;
  std::string out;
  out_ = &out;
  exec(body);
  out_ = nullptr;
  scope_ = root_ = nullptr;
  return out;
}

// ---- statements ----

Interp::Flow Interp::exec(const Body& body) {
  for (const StmtPtr& s : body) {
    const Flow f = exec_stmt(*s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec_stmt(const Stmt& s) {
  step();
  struct Guard {
    int& d;
    Guard(int& dd, int max, SourcePos pos) : d(dd) {
      if (++d > max)
        throw TemplateError("template nested or recursing too deeply (sandbox limit " + std::to_string(max) + ")", pos);
    }
    ~Guard() { --d; }
  } guard(depth_, limits_.max_depth, s.pos);
  switch (s.kind) {
    case StmtKind::Text: emit(s.text); return Flow::Normal;
    case StmtKind::Output: {
      const Value v = eval(*s.expr);
      emit(v.type == Type::String ? v.str() : at(s.pos, [&] { return to_str(v); }));
      return Flow::Normal;
    }
    case StmtKind::If:
      for (size_t k = 0; k < s.conds.size(); ++k)
        if (truthy(eval(*s.conds[k]))) return exec(s.bodies[k]);
      return exec(s.else_body);
    case StmtKind::For: return exec_for(s);
    case StmtKind::Set: exec_set(s, eval(*s.expr)); return Flow::Normal;
    case StmtKind::SetBlock: {
      Value v = Value::string(capture(s.body));
      exec_set(s, apply_filters(s.filters, std::move(v)));
      return Flow::Normal;
    }
    case StmtKind::FilterBlock: {
      const Value v = apply_filters(s.filters, Value::string(capture(s.body)));
      emit(at(s.pos, [&] { return to_str(v); }));
      return Flow::Normal;
    }
    case StmtKind::Macro: scope_->vars[s.text] = define_macro(s); return Flow::Normal;
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
  }
  return Flow::Normal;
}

std::string Interp::capture(const Body& body) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Value Interp::apply_filters(const std::vector<FilterCall>& filters, Value v) {
  for (const FilterCall& f : filters) {
    CallArgs args = eval_args(f.args);
    v = at(f.pos, [&] { return call_filter(*this, f.name, v, args); });
  }
  return v;
}

void Interp::exec_set(const Stmt& s, Value v) {
  if (!s.target_attr.empty()) {
    const Value ns = lookup(s.targets[0]);
    if (ns.type != Type::Namespace) throw TemplateError("cannot assign attribute on non-namespace object", s.pos);
    ns.dict->set(s.target_attr, std::move(v));
    return;
  }
  if (!s.unpack) {
    scope_->vars[s.targets[0]] = std::move(v);
    return;
  }
  const List items = at(s.pos, [&] { return iterate(v); });
  if (items.size() != s.targets.size())
    throw TemplateError("cannot unpack " + std::to_string(items.size()) + " values into " +
                        std::to_string(s.targets.size()) + " names", s.pos);
  for (size_t k = 0; k < items.size(); ++k) scope_->vars[s.targets[k]] = items[k];
}

Interp::Flow Interp::exec_for(const Stmt& s) {
  const Value seq = eval(*s.expr);
  List items = at(s.expr->pos, [&] { return iterate(seq); });
  Scope loop_scope;
  loop_scope.parent = scope_;
  Scope* saved = scope_;
  scope_ = &loop_scope;
  struct Restore {
    Scope*& s;
    Scope* v;
    ~Restore() { s = v; }
  } restore{scope_, saved};

  const auto bind = [&](const Value& item) {
    if (!s.unpack) {
      loop_scope.vars[s.targets[0]] = item;
      return;
    }
    const List parts = at(s.pos, [&] { return iterate(item); });
    if (parts.size() != s.targets.size())
      throw TemplateError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                          std::to_string(s.targets.size()) + " loop variables", s.pos);
    for (size_t k = 0; k < parts.size(); ++k) loop_scope.vars[s.targets[k]] = parts[k];
  };
  if (s.cond) {  // `for x in xs if c`: the loop (and loop.length) sees only the kept items
    List kept;
    for (const Value& item : items) {
      step();
      bind(item);
      if (truthy(eval(*s.cond))) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = int64_t(items.size());
  // One loop object per loop, updated in place each iteration (as Jinja2's LoopContext).
  Value loop = Value::make_dict();
  for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                          "previtem", "nextitem"})
    loop.put(key, Value::none());
  auto cycle_index = std::make_shared<int64_t>(0);
  loop.put("cycle", Value::callable("loop.cycle", [cycle_index](Interp&, CallArgs& a) {
    if (a.pos.empty()) throw TemplateError("no items for cycling given");
    return a.pos[size_t(*cycle_index) % a.pos.size()];
  }));
  Dict& ld = *loop.dict;
  Value* f_index = ld.find("index");
  Value* f_index0 = ld.find("index0");
  Value* f_revindex = ld.find("revindex");
  Value* f_revindex0 = ld.find("revindex0");
  Value* f_first = ld.find("first");
  Value* f_last = ld.find("last");
  Value* f_prev = ld.find("previtem");
  Value* f_next = ld.find("nextitem");
  *ld.find("length") = Value::integer(n);
  *ld.find("depth") = Value::integer(1);
  *ld.find("depth0") = Value::integer(0);
  uint16_t item_depth = 0;  // previtem/nextitem are assigned in place below: account for them once
  for (const Value& it : items) item_depth = std::max(item_depth, it.depth);
  if (item_depth + 1 > kMaxNesting) throw TemplateError("value nesting too deep (sandbox limit " + std::to_string(kMaxNesting) + ")", s.pos);
  loop.depth = std::max<uint16_t>(loop.depth, uint16_t(item_depth + 1));
  loop_scope.vars["loop"] = loop;
  for (int64_t k = 0; k < n; ++k) {
    step();
    // Each iteration starts from the outer values again: Jinja2 keeps nothing a previous
    // iteration set (only namespaces carry state across iterations).
    loop_scope.vars.clear();
    loop_scope.vars["loop"] = loop;
    bind(items[size_t(k)]);
    *cycle_index = k;
    *f_index = Value::integer(k + 1);
    *f_index0 = Value::integer(k);
    *f_revindex = Value::integer(n - k);
    *f_revindex0 = Value::integer(n - k - 1);
    *f_first = Value::boolean(k == 0);
    *f_last = Value::boolean(k == n - 1);
    *f_prev = k > 0 ? items[size_t(k - 1)] : Value::undefined("there is no previous item");
    *f_next = k + 1 < n ? items[size_t(k + 1)] : Value::undefined("there is no next item");
    const Flow f = exec(s.body);
    if (f == Flow::Break) break;
  }
  if (n == 0) return exec(s.else_body);
  return Flow::Normal;
}

Value Interp::define_macro(const Stmt& s) {
  const Stmt* m = &s;
  Scope* root = root_;
  return Value::callable(s.text, [m, root](Interp& in, CallArgs& args) {
    if (args.pos.size() > m->targets.size())
      throw TemplateError("macro '" + m->text + "' takes not more than " + std::to_string(m->targets.size()) +
                          " argument(s)");
    Scope local;
    local.parent = root;
    std::vector<bool> given(m->targets.size(), false);
    for (size_t k = 0; k < args.pos.size(); ++k) {
      local.vars[m->targets[k]] = args.pos[k];
      given[k] = true;
    }
    for (auto& [name, v] : args.kw) {
      size_t k = 0;
      while (k < m->targets.size() && m->targets[k] != name) ++k;
      if (k == m->targets.size()) throw TemplateError("macro '" + m->text + "' takes no keyword argument '" + name + "'");
      if (given[k]) throw TemplateError("macro '" + m->text + "' got multiple values for argument '" + name + "'");
      local.vars[name] = v;
      given[k] = true;
    }
    Scope* saved = in.scope_;
    in.scope_ = &local;
    struct Restore {
      Scope*& s;
      Scope* v;
      ~Restore() { s = v; }
    } restore{in.scope_, saved};
    for (size_t k = 0; k < m->targets.size(); ++k) {
      if (given[k]) continue;
      local.vars[m->targets[k]] = m->defaults[k] ? in.eval(*m->defaults[k])
                                                 : Value::undefined("'" + m->targets[k] + "' is undefined");
    }
    return Value::string(in.capture(m->body));
  });
}

// ---- expressions ----

CallArgs Interp::eval_args(const std::vector<Arg>& args) {
  CallArgs out;
  for (const Arg& a : args) {
    if (a.name.empty()) out.pos.push_back(eval(*a.value));
    else out.kw.emplace_back(a.name, eval(*a.value));
  }
  return out;
}

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) raise_undefined(fn);
  if (fn.type != Type::Callable) throw TemplateError(std::string("'") + type_name(fn) + "' object is not callable");
  return fn.fn->fn(*this, args);
}

Value Interp::eval(const Expr& e) {
  step();
  if (++depth_ > limits_.max_depth) {
    --depth_;
    throw TemplateError("template nested or recursing too deeply (sandbox limit " + std::to_string(limits_.max_depth) + ")",
                        e.pos);
  }
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{depth_};
  return eval_inner(e);
}

Value Interp::eval_inner(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Name: return lookup(e.name);
    case ExprKind::List: {
      List items;
      items.reserve(e.items.size());
      for (const ExprPtr& x : e.items) items.push_back(eval(*x));
      return at(e.pos, [&] { return Value::make_list(std::move(items), e.tuple); });
    }
    case ExprKind::Dict: {
      Value d = Value::make_dict();
      for (size_t k = 0; k < e.keys.size(); ++k) {
        const Value key = eval(*e.keys[k]);
        if (key.type != Type::String) throw TemplateError("unsupported: dict keys that are not strings", e.keys[k]->pos);
        Value v = eval(*e.items[k]);
        at(e.pos, [&] { d.put(key.str(), std::move(v)); });
      }
      return d;
    }
    case ExprKind::GetAttr: {
      const Value obj = eval(*e.a);
      return at(e.pos, [&] { return getattr(obj, e.name); });
    }
    case ExprKind::GetItem: {
      const Value obj = eval(*e.a);
      const Value key = eval(*e.items[0]);
      return at(e.pos, [&] { return getitem(obj, key); });
    }
    case ExprKind::Slice: {
      const Value obj = eval(*e.a);
      std::optional<int64_t> parts[3];
      for (int k = 0; k < 3; ++k) {
        if (!e.items[size_t(k)]) continue;
        const Value v = eval(*e.items[size_t(k)]);
        if (!v.is_none()) parts[k] = at(e.items[size_t(k)]->pos, [&] { return to_index(v, "slice index"); });
      }
      return at(e.pos, [&] { return slice_value(*this, obj, parts[0], parts[1], parts[2]); });
    }
    case ExprKind::Call: {
      const Value fn = eval(*e.a);
      CallArgs args = eval_args(e.args);
      return at(e.pos, [&] { return call(fn, args); });
    }
    case ExprKind::Filter: {
      const Value v = eval(*e.a);
      CallArgs args = eval_args(e.args);
      return at(e.pos, [&] { return call_filter(*this, e.name, v, args); });
    }
    case ExprKind::Test: {
      const Value v = eval(*e.a);
      CallArgs args = eval_args(e.args);
      const bool r = at(e.pos, [&] { return call_test(*this, e.name, v, args); });
      return Value::boolean(r != e.negated);
    }
    case ExprKind::Unary: {
      const Value v = eval(*e.a);
      if (e.name == "not") return Value::boolean(!truthy(v));
      return at(e.pos, [&] {
        if (v.is_undefined()) raise_undefined(v);
        if (v.type == Type::Float) return Value::number(e.name == "-" ? -v.f : v.f);
        if (v.type == Type::Int || v.type == Type::Bool) {
          const int64_t i = as_int(v);
          if (e.name == "+") return Value::integer(i);
          if (i == std::numeric_limits<int64_t>::min()) throw TemplateError("integer overflow (big integers are not supported)");
          return Value::integer(-i);
        }
        throw TemplateError("bad operand type for unary " + e.name + ": '" + type_name(v) + "'");
      });
    }
    case ExprKind::Binary: return eval_binary(e);
    case ExprKind::Compare: {
      Value left = eval(*e.a);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value right = eval(*e.items[k]);
        if (!at(e.pos, [&] { return compare(e.ops[k], left, right); })) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case ExprKind::Cond:
      if (truthy(eval(*e.a))) return eval(*e.items[0]);
      if (e.items[1]) return eval(*e.items[1]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
  }
  return Value::none();
}

bool Interp::compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "<") return less(a, b);
  if (op == ">") return less(b, a);
  if (op == "<=") return less(a, b) || equals(a, b);
  if (op == ">=") return less(b, a) || equals(a, b);
  bool found = false;
  switch (b.type) {
    case Type::Undefined: found = false; break;
    case Type::String:
      if (a.type != Type::String) {
        if (a.is_undefined()) raise_undefined(a);
        throw TemplateError(std::string("'in <string>' requires string as left operand, not ") + type_name(a));
      }
      found = b.str().find(a.str()) != std::string::npos;
      break;
    case Type::List:
      step(b.list->size());
      for (const Value& x : *b.list)
        if (equals(a, x)) {
          found = true;
          break;
        }
      break;
    case Type::Dict: found = a.type == Type::String && b.dict->find(a.str()) != nullptr; break;
    default: throw TemplateError(std::string("argument of type '") + type_name(b) + "' is not iterable");
  }
  return op == "in" ? found : !found;
}

Value Interp::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and") {
    Value l = eval(*e.a);
    return truthy(l) ? eval(*e.items[0]) : l;
  }
  if (op == "or") {
    Value l = eval(*e.a);
    return truthy(l) ? l : eval(*e.items[0]);
  }
  const Value a = eval(*e.a);
  const Value b = eval(*e.items[0]);
  return at(e.pos, [&]() -> Value {
    if (op == "~") {
      std::string s = to_str(a) + to_str(b);
      check_string_size(s.size());
      charge_bytes(s.size());
      return Value::string(std::move(s));
    }
    const bool nums = a.is_number() && b.is_number();
    const bool ints = nums && a.type != Type::Float && b.type != Type::Float;
    if (op == "+") {
      if (ints) {
        return Value::integer(add_checked(as_int(a), as_int(b)));
      }
      if (nums) return Value::number(as_double(a) + as_double(b));
      if (a.type == Type::String && b.type == Type::String) {
        check_string_size(a.str().size() + b.str().size());
        charge_bytes(a.str().size() + b.str().size());
        return Value::string(a.str() + b.str());
      }
      if (a.type == Type::List && b.type == Type::List) {
        step(a.list->size() + b.list->size());
        charge_bytes((a.list->size() + b.list->size()) * sizeof(Value));
        List r = *a.list;
        r.insert(r.end(), b.list->begin(), b.list->end());
        return Value::make_list(std::move(r), a.tuple && b.tuple);
      }
      if (a.type == Type::String && !b.is_undefined())
        throw TemplateError(std::string("can only concatenate str (not \"") + type_name(b) + "\") to str");
      type_error("+", a, b);
    }
    if (op == "-") {
      if (ints) {
        return Value::integer(sub_checked(as_int(a), as_int(b)));
      }
      if (nums) return Value::number(as_double(a) - as_double(b));
      type_error("-", a, b);
    }
    if (op == "*") {
      if (ints) {
        return Value::integer(mul_checked(as_int(a), as_int(b)));
      }
      if (nums) return Value::number(as_double(a) * as_double(b));
      const Value* seq = (a.type == Type::String || a.type == Type::List) ? &a : &b;
      const Value* cnt = seq == &a ? &b : &a;
      if ((seq->type == Type::String || seq->type == Type::List) && (cnt->type == Type::Int || cnt->type == Type::Bool)) {
        const int64_t times = std::max<int64_t>(0, as_int(*cnt));
        const size_t unit = seq->type == Type::String ? seq->str().size() : seq->list->size();
        if (unit != 0 && uint64_t(times) > limits_.max_output_bytes / unit) check_string_size(limits_.max_output_bytes + 1);
        const size_t total = unit * size_t(times);
        if (seq->type == Type::String) {
          check_string_size(total);
          charge_bytes(total);
          std::string r;
          r.reserve(total);
          for (int64_t k = 0; k < times; ++k) r += seq->str();
          return Value::string(std::move(r));
        }
        step(total);
        charge_bytes(total * sizeof(Value));
        List r;
        r.reserve(total);
        for (int64_t k = 0; k < times; ++k) r.insert(r.end(), seq->list->begin(), seq->list->end());
        return Value::make_list(std::move(r), seq->tuple);
      }
      type_error("*", a, b);
    }
    if (op == "/") {
      if (!nums) type_error("/", a, b);
      if (as_double(b) == 0) throw TemplateError("division by zero");
      return Value::number(as_double(a) / as_double(b));
    }
    if (op == "//" || op == "%") {
      if (a.type == Type::String && op == "%") throw TemplateError("unsupported: printf-style string formatting with '%'");
      if (!nums) type_error(op, a, b);
      if (as_double(b) == 0) throw TemplateError(op == "%" ? "modulo by zero" : "integer division or modulo by zero");
      if (ints) {
        const int64_t x = as_int(a), y = as_int(b);
        if (x == std::numeric_limits<int64_t>::min() && y == -1) throw TemplateError("integer overflow (big integers are not supported)");
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {  // Python floors
          --q;
          r += y;
        }
        return Value::integer(op == "//" ? q : r);
      }
      const double x = as_double(a), y = as_double(b);
      if (op == "//") return Value::number(std::floor(x / y));
      double r = std::fmod(x, y);
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return Value::number(r);
    }
    if (op == "**") {
      if (!nums) type_error("**", a, b);
      if (ints && as_int(b) >= 0) {
        int64_t base = as_int(a), exp = as_int(b), r = 1;
        while (exp > 0) {
          if (exp & 1) r = mul_checked(r, base);
          exp >>= 1;
          if (exp > 0) base = mul_checked(base, base);
        }
        return Value::integer(r);
      }
      return Value::number(std::pow(as_double(a), as_double(b)));
    }
    throw TemplateError("unsupported operator '" + op + "'");
  });
}

// ---- lookups ----

Value Interp::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (obj.type == Type::Namespace) {
    if (const Value* v = obj.dict->find(name)) return *v;
    return Value::undefined(undefined_attr_message(obj, name));
  }
  if (std::optional<Value> m = bound_method(obj, name)) return *m;
  if (obj.type == Type::Dict)
    if (const Value* v = obj.dict->find(name)) return *v;
  return Value::undefined(undefined_attr_message(obj, name));
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (key.type == Type::Int || key.type == Type::Bool) {
    if (obj.type == Type::List || obj.type == Type::String) {
      const int64_t k = as_int(key);
      if (obj.type == Type::List) {
        const int64_t n = int64_t(obj.list->size());
        const int64_t j = k < 0 ? k + n : k;
        if (j >= 0 && j < n) return (*obj.list)[size_t(j)];
      } else {
        const int64_t n = int64_t(text::length(obj.str()));
        const int64_t j = k < 0 ? k + n : k;
        if (j >= 0 && j < n) return slice_value(*this, obj, j, j + 1, 1);
      }
    }
    return Value::undefined(object_repr(obj) + " has no element " + std::to_string(as_int(key)));
  }
  if (key.type == Type::String) {
    if (obj.type == Type::Dict || obj.type == Type::Namespace) {
      if (const Value* v = obj.dict->find(key.str())) return *v;
    }
    if (obj.type != Type::Namespace)
      if (std::optional<Value> m = bound_method(obj, key.str())) return *m;
    return Value::undefined(undefined_attr_message(obj, key.str()));
  }
  if (key.is_undefined()) raise_undefined(key);
  return Value::undefined(object_repr(obj) + " has no element " + to_repr(key));
}

List Interp::iterate(const Value& v) {
  switch (v.type) {
    case Type::Undefined: return {};
    case Type::List: step(v.list->size()); return *v.list;
    case Type::Dict: {
      List keys;
      step(v.dict->size());
      for (const auto& kv : v.dict->items()) keys.push_back(Value::string(kv.first));
      return keys;
    }
    case Type::String: {
      List chars;
      const std::vector<char32_t> cps = text::decode(v.str());
      step(cps.size());
      for (char32_t c : cps) {
        std::string s;
        text::append_utf8(s, c);
        chars.push_back(Value::string(std::move(s)));
      }
      return chars;
    }
    default: throw TemplateError(std::string("'") + type_name(v) + "' object is not iterable");
  }
}

}  // namespace nnb::chat::jinja
