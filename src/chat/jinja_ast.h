// The syntax tree of a template: expressions and statements, each with its source position
// so runtime errors can name where they happened.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace nnb::chat::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Arg {
  std::string name;  // empty: positional
  ExprPtr value;
};

enum class ExprKind : uint8_t {
  Literal,   // value
  Name,      // name
  List,      // items (tuple: a tuple expression)
  Dict,      // keys / items
  GetAttr,   // a.name
  GetItem,   // a[items[0]]
  Slice,     // a[items[0]:items[1]:items[2]] (null parts absent)
  Call,      // a(args)
  Filter,    // a | name(args)
  Test,      // a is [not] name(args)
  Unary,     // op a  ("-", "+", "not")
  Binary,    // a op b (arithmetic, "~", "and", "or")
  Compare,   // a ops[0] items[0] ops[1] items[1] ... (chained, Python-style)
  Cond,      // items[0] if a else items[1] (items[1] may be null)
};

struct Expr {
  ExprKind kind;
  SourcePos pos;
  Value value;                  // Literal
  std::string name;             // Name, GetAttr, Filter, Test; Unary/Binary operator
  ExprPtr a;                    // operand / object / condition
  std::vector<ExprPtr> items;   // List, Dict values, Compare operands, GetItem/Slice parts, Cond
  std::vector<ExprPtr> keys;    // Dict keys
  std::vector<std::string> ops; // Compare operators ("==", "in", "not in", ...)
  std::vector<Arg> args;        // Call, Filter, Test
  bool tuple = false, negated = false;
};

struct FilterCall {
  std::string name;
  std::vector<Arg> args;
  SourcePos pos;
};

enum class StmtKind : uint8_t {
  Text,         // text
  Output,       // {{ expr }}
  If,           // branches: conds[k] -> bodies[k]; else_body
  For,          // targets in expr [if cond]: body, else_body
  Set,          // targets (or ns.attr: target_attr) = expr
  SetBlock,     // {% set target | filters %}body{% endset %}
  Macro,        // name(params = defaults): body
  FilterBlock,  // {% filter filters %}body{% endfilter %}
  Break,
  Continue,
};

struct Stmt {
  StmtKind kind;
  SourcePos pos;
  std::string text;                  // Text; Macro name
  ExprPtr expr, cond;                // Output/Set/For iterable; For filter
  std::vector<ExprPtr> conds;        // If
  std::vector<Body> bodies;          // If branches
  Body body, else_body;
  std::vector<std::string> targets;  // For / Set names (several: tuple unpacking); Macro params
  std::string target_attr;           // Set: ns.attr
  bool unpack = false;               // For / Set: targets came as a tuple
  std::vector<ExprPtr> defaults;     // Macro: one per param (null: none)
  std::vector<FilterCall> filters;   // SetBlock / FilterBlock
};

}  // namespace nnb::chat::jinja
