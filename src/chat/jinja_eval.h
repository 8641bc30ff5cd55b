// The interpreter: walks the syntax tree with Jinja2's semantics (scoping: a for loop's body is
// its own scope, macros see their parameters and the template's top level; undefined values
// print as "" but raise when looked into) under the sandbox's budgets.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace nnb::chat::jinja {

// What one render may use. Each exceeded limit is a TemplateError naming it.
struct Limits {
  size_t max_output_bytes = 16u << 20;   // the rendering, and any one string built on the way
  uint64_t max_steps = 20'000'000;       // statements + expressions evaluated + items processed
  uint64_t max_alloc_bytes = 512u << 20; // bytes of strings/lists built over the whole render
  int max_depth = 300;                   // evaluation nesting (macro recursion included)
};

class Interp {
 public:
  explicit Interp(const Limits& limits) : limits_(limits) {}
  ~Interp();

  // Renders `body` with `globals` (a Dict value) as the outermost scope.
  std::string render(const Body& body, const Value& globals);

  // ---- for the built-in filters, tests, methods and globals ----
  void step(uint64_t n = 1);
  void charge_bytes(size_t n);       // counts toward max_alloc_bytes
  void check_string_size(size_t n);  // any one string is at most max_output_bytes
  size_t max_string_bytes() const { return limits_.max_output_bytes; }
  Value call(const Value& fn, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);  // a.name: attribute, then item
  Value getitem(const Value& obj, const Value& key);         // a[key]: item, then attribute
  List iterate(const Value& v);                               // for x in v
  Value new_namespace();                                      // tracked, so cycles are broken after the render

 private:
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    Scope* parent = nullptr;
  };
  enum class Flow { Normal, Break, Continue };

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  Value eval_binary(const Expr& e);
  bool compare(const std::string& op, const Value& a, const Value& b);
  CallArgs eval_args(const std::vector<Arg>& args);
  Flow exec(const Body& body);
  Flow exec_stmt(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Stmt& s, Value v);
  std::string capture(const Body& body);
  Value apply_filters(const std::vector<FilterCall>& filters, Value v);
  Value define_macro(const Stmt& s);
  void emit(const std::string& s);

  Value lookup(const std::string& name) const;

  Limits limits_;
  uint64_t steps_ = 0, alloc_ = 0;
  int depth_ = 0;
  std::string* out_ = nullptr;
  Scope* scope_ = nullptr;
  Scope* root_ = nullptr;
  std::vector<Value> namespaces_;
};

// Binds call arguments to parameter names, Python-style: returns one slot per name (nullopt
// when not given). Unknown keywords or too many positionals are a TemplateError naming `what`.
std::vector<std::optional<Value>> bind_args(const CallArgs& args, std::initializer_list<const char*> names,
                                            const std::string& what);

// Built-ins (jinja_filters.cpp, jinja_tests.cpp, jinja_methods.cpp).
Value call_filter(Interp& in, const std::string& name, const Value& v, CallArgs& args);
bool call_test(Interp& in, const std::string& name, const Value& v, CallArgs& args);
// obj.name as a bound method, or nullopt when obj's type has no method of that name; a method
// Python has but this renderer does not implement comes back as a callable that raises.
std::optional<Value> bound_method(const Value& obj, const std::string& name);

// Helpers shared by the built-ins.
std::string undefined_attr_message(const Value& obj, const std::string& name);
int64_t to_index(const Value& v, const char* what);  // an int argument (bools count), else TemplateError
Value slice_value(Interp& in, const Value& obj, const std::optional<int64_t>& start, const std::optional<int64_t>& stop,
                  const std::optional<int64_t>& step);

}  // namespace nnb::chat::jinja
