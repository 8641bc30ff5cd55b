#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

namespace nnb::chat::jinja {
namespace {

ExprPtr make(ExprKind k, SourcePos pos) {
  auto e = std::make_unique<Expr>();
  e->kind = k;
  e->pos = pos;
  return e;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Body parse_template() {
    Body b = subparse({});
    if (cur().kind != Tok::Eof) fail("unexpected '" + describe(cur()) + "'");
    return b;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().kind == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == Tok::Name && cur().text == n; }
  [[noreturn]] void fail(const std::string& what) const { throw TemplateError(what, cur().pos); }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::Text: return "text";
      case Tok::VarBegin: return "{{";
      case Tok::VarEnd: return "}}";
      case Tok::BlockBegin: return "{%";
      case Tok::BlockEnd: return "%}";
      case Tok::Eof: return "end of template";
      case Tok::String: return "string";
      default: return t.text;
    }
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name() {
    if (cur().kind != Tok::Name) fail("expected a name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != Tok::BlockEnd) fail("expected '%}', got '" + describe(cur()) + "'");
    next();
  }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& pp) : p(pp) {
      if (++p.depth_ > kMaxParseDepth)
        p.fail("template nested too deeply (sandbox limit " + std::to_string(kMaxParseDepth) + " levels)");
    }
    ~DepthGuard() { --p.depth_; }
  };

  // ---- statements ----
  // Parses until EOF or a "{% name" with name in `ends` (left current: the name).
  Body subparse(std::initializer_list<const char*> ends) {
    Body body;
    for (;;) {
      const Token& tk = cur();
      if (tk.kind == Tok::Eof) {
        if (ends.size() != 0) {
          const char* want = *ends.begin();  // name the closing tag ('endif' rather than 'elif')
          for (const char* e : ends)
            if (std::string_view(e).rfind("end", 0) == 0) want = e;
          fail(std::string("unexpected end of template, expected '") + want + "'");
        }
        return body;
      }
      if (tk.kind == Tok::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->pos = tk.pos;
        s->text = tk.text;
        body.push_back(std::move(s));
        next();
        continue;
      }
      if (tk.kind == Tok::VarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->pos = tk.pos;
        next();
        s->expr = parse_tuple(true, false);
        if (cur().kind != Tok::VarEnd) fail("expected '}}', got '" + describe(cur()) + "'");
        next();
        body.push_back(std::move(s));
        continue;
      }
      if (tk.kind != Tok::BlockBegin) fail("unexpected '" + describe(tk) + "'");
      next();
      if (cur().kind == Tok::Name)
        for (const char* e : ends)
          if (cur().text == e) return body;
      body.push_back(parse_statement());
    }
  }

  StmtPtr parse_statement() {
    DepthGuard g(*this);
    if (cur().kind != Tok::Name) fail("expected a tag name, got '" + describe(cur()) + "'");
    const std::string tag = cur().text;
    const SourcePos pos = cur().pos;
    auto s = std::make_unique<Stmt>();
    s->pos = pos;
    next();
    if (tag == "if") {
      s->kind = StmtKind::If;
      for (;;) {
        s->conds.push_back(parse_tuple(false, false));
        expect_block_end();
        s->bodies.push_back(subparse({"elif", "else", "endif"}));
        const std::string t = cur().text;
        next();
        if (t == "elif") continue;
        if (t == "else") {
          expect_block_end();
          s->else_body = subparse({"endif"});
          next();
        }
        break;
      }
      expect_block_end();
    } else if (tag == "for") {
      s->kind = StmtKind::For;
      parse_targets(*s);
      if (!is_name("in")) fail("expected 'in', got '" + describe(cur()) + "'");
      next();
      s->expr = parse_tuple(false, false, true);
      if (is_name("if")) {
        next();
        s->cond = parse_expression(true);
      }
      if (is_name("recursive")) fail("unsupported: recursive for loops");
      expect_block_end();
      ++loop_depth_;
      s->body = subparse({"endfor", "else"});
      --loop_depth_;
      if (cur().text == "else") {
        next();
        expect_block_end();
        s->else_body = subparse({"endfor"});
      }
      next();
      expect_block_end();
    } else if (tag == "set") {
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == ".") {
        s->targets.push_back(expect_name());
        next();
        s->target_attr = expect_name();
      } else {
        parse_targets(*s);
      }
      if (is_op("=")) {
        next();
        s->kind = StmtKind::Set;
        s->expr = parse_tuple(true, false);
        expect_block_end();
      } else {
        if (s->unpack || !s->target_attr.empty()) fail("a block set needs one plain name");
        s->kind = StmtKind::SetBlock;
        while (is_op("|")) {
          next();
          s->filters.push_back(parse_filter_call());
        }
        expect_block_end();
        s->body = subparse({"endset"});
        next();
        expect_block_end();
      }
    } else if (tag == "macro") {
      s->kind = StmtKind::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        if (!s->targets.empty()) expect_op(",");
        if (is_op(")")) break;
        s->targets.push_back(expect_name());
        if (is_op("=")) {
          next();
          s->defaults.push_back(parse_expression(true));
        } else {
          if (!s->defaults.empty() && s->defaults.back()) fail("non-default argument follows default argument");
          s->defaults.push_back(nullptr);
        }
      }
      next();
      expect_block_end();
      const int saved = loop_depth_;
      loop_depth_ = 0;  // break/continue do not cross a macro
      s->body = subparse({"endmacro"});
      loop_depth_ = saved;
      next();
      if (cur().kind == Tok::Name) next();  // {% endmacro name %}
      expect_block_end();
    } else if (tag == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->filters.push_back(parse_filter_call());
      while (is_op("|")) {
        next();
        s->filters.push_back(parse_filter_call());
      }
      expect_block_end();
      s->body = subparse({"endfilter"});
      next();
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) throw TemplateError("'" + tag + "' outside of a loop", pos);
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
    } else if (tag == "elif" || tag == "else" || tag.rfind("end", 0) == 0) {
      throw TemplateError("unexpected '" + tag + "'", pos);
    } else {
      throw TemplateError("unsupported tag '" + tag + "'", pos);
    }
    return s;
  }

  // for/set targets: a name, or names separated by commas (optionally in parentheses).
  void parse_targets(Stmt& s) {
    const bool paren = is_op("(");
    if (paren) next();
    s.targets.push_back(expect_name());
    while (is_op(",")) {
      next();
      s.unpack = true;
      if (cur().kind != Tok::Name) break;  // trailing comma
      s.targets.push_back(expect_name());
    }
    if (paren) {
      s.unpack = true;
      expect_op(")");
    }
  }

  FilterCall parse_filter_call() {
    FilterCall f;
    f.pos = cur().pos;
    f.name = expect_name();
    if (!is_known_filter(f.name)) throw TemplateError("unsupported filter '" + f.name + "'", f.pos);
    if (is_op("(")) f.args = parse_call_args();
    return f;
  }

  // ---- expressions ----
  bool tuple_end(bool for_iter) const {
    const Tok k = cur().kind;
    if (k == Tok::VarEnd || k == Tok::BlockEnd || k == Tok::Eof || is_op(")")) return true;
    return for_iter && (is_name("if") || is_name("recursive"));
  }

  ExprPtr parse_tuple(bool with_condexpr, bool explicit_parens, bool for_iter = false) {
    const SourcePos pos = cur().pos;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (tuple_end(for_iter)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("expected an expression, got '" + describe(cur()) + "'");
    }
    auto e = make(ExprKind::List, pos);
    e->tuple = true;
    e->items = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    ExprPtr e = parse_or();
    while (is_name("if")) {
      auto c = make(ExprKind::Cond, cur().pos);
      next();
      c->a = parse_or();
      c->items.push_back(std::move(e));
      if (is_name("else")) {
        next();
        DepthGuard g(*this);
        c->items.push_back(parse_condexpr());
      } else {
        c->items.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, SourcePos pos) {
    auto e = make(ExprKind::Binary, pos);
    e->name = op;
    e->a = std::move(l);
    e->items.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const SourcePos p = cur().pos;
      next();
      l = binary("or", std::move(l), parse_and(), p);
    }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const SourcePos p = cur().pos;
      next();
      l = binary("and", std::move(l), parse_not(), p);
    }
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this);
      auto e = make(ExprKind::Unary, cur().pos);
      e->name = "not";
      next();
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    const SourcePos pos = cur().pos;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    for (;;) {
      std::string op;
      if (cur().kind == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
                                    cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().kind == Tok::Name && peek().text == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare, pos);
        cmp->a = std::move(first);
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      const SourcePos p = cur().pos;
      next();
      l = binary(op, std::move(l), parse_concat(), p);
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      const SourcePos p = cur().pos;
      next();
      l = binary("~", std::move(l), parse_math2(), p);
    }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      const SourcePos p = cur().pos;
      next();
      l = binary(op, std::move(l), parse_pow(), p);
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      const SourcePos p = cur().pos;
      next();
      l = binary("**", std::move(l), parse_unary(true), p);
    }
    return l;
  }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(ExprKind::Unary, cur().pos);
      node->name = cur().text;
      next();
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& tk = cur();
    const SourcePos pos = tk.pos;
    if (tk.kind == Tok::Name) {
      const std::string& n = tk.text;
      ExprPtr e;
      if (n == "true" || n == "True" || n == "false" || n == "False") {
        e = make(ExprKind::Literal, pos);
        e->value = Value::boolean(n[0] == 't' || n[0] == 'T');
      } else if (n == "none" || n == "None") {
        e = make(ExprKind::Literal, pos);
        e->value = Value::none();
      } else {
        e = make(ExprKind::Name, pos);
        e->name = n;
      }
      next();
      return e;
    }
    if (tk.kind == Tok::String) {
      std::string v;
      while (cur().kind == Tok::String) {  // adjacent literals concatenate
        v += cur().text;
        next();
      }
      auto e = make(ExprKind::Literal, pos);
      e->value = Value::string(std::move(v));
      return e;
    }
    if (tk.kind == Tok::Int || tk.kind == Tok::Float) {
      auto e = make(ExprKind::Literal, pos);
      e->value = tk.kind == Tok::Int ? Value::integer(tk.ival) : Value::number(tk.fval);
      next();
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(true, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = make(ExprKind::List, pos);
      while (!is_op("]")) {
        if (!e->items.empty()) expect_op(",");
        if (is_op("]")) break;
        e->items.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    if (is_op("{")) {
      next();
      auto e = make(ExprKind::Dict, pos);
      while (!is_op("}")) {
        if (!e->keys.empty()) expect_op(",");
        if (is_op("}")) break;
        e->keys.push_back(parse_expression(true));
        expect_op(":");
        e->items.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    fail("unexpected '" + describe(tk) + "'");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".")) {
        const SourcePos pos = cur().pos;
        next();
        if (cur().kind == Tok::Name) {
          auto e = make(ExprKind::GetAttr, pos);
          e->name = cur().text;
          e->a = std::move(node);
          node = std::move(e);
          next();
        } else if (cur().kind == Tok::Int) {
          auto e = make(ExprKind::GetItem, pos);
          auto lit = make(ExprKind::Literal, cur().pos);
          lit->value = Value::integer(cur().ival);
          e->a = std::move(node);
          e->items.push_back(std::move(lit));
          node = std::move(e);
          next();
        } else {
          fail("expected an attribute name after '.'");
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard g(*this);
    const SourcePos pos = cur().pos;
    next();  // [
    ExprPtr parts[3];
    bool slice = false;
    if (!is_op(":")) parts[0] = parse_expression(true);
    if (is_op(":")) {
      slice = true;
      next();
      if (!is_op("]") && !is_op(":")) parts[1] = parse_expression(true);
      if (is_op(":")) {
        next();
        if (!is_op("]")) parts[2] = parse_expression(true);
      }
    }
    if (is_op(",")) fail("unsupported: tuple subscripts");
    expect_op("]");
    auto e = make(slice ? ExprKind::Slice : ExprKind::GetItem, pos);
    e->a = std::move(node);
    if (slice)
      for (auto& p : parts) e->items.push_back(std::move(p));
    else
      e->items.push_back(std::move(parts[0]));
    return e;
  }

  std::vector<Arg> parse_call_args() {
    DepthGuard g(*this);
    expect_op("(");
    std::vector<Arg> args;
    bool kw_seen = false;
    while (!is_op(")")) {
      if (!args.empty()) expect_op(",");
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail("unsupported: *args / **kwargs in calls");
      Arg a;
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == "=") {
        a.name = cur().text;
        next();
        next();
        kw_seen = true;
      } else if (kw_seen) {
        fail("positional argument follows keyword argument");
      }
      a.value = parse_expression(true);
      args.push_back(std::move(a));
    }
    next();
    return args;
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, node->pos);  // errors from the call point at the callee
    e->a = std::move(node);
    e->args = parse_call_args();
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        next();
        FilterCall f = parse_filter_call();
        auto e = make(ExprKind::Filter, f.pos);
        e->name = std::move(f.name);
        e->args = std::move(f.args);
        e->a = std::move(node);
        node = std::move(e);
      } else if (is_name("is")) {
        next();
        auto e = make(ExprKind::Test, cur().pos);
        if (is_name("not")) {
          e->negated = true;
          next();
        }
        e->pos = cur().pos;
        e->name = expect_name();
        if (!is_known_test(e->name)) throw TemplateError("unsupported test '" + e->name + "'", e->pos);
        if (is_op("(")) {
          e->args = parse_call_args();
        } else if ((cur().kind == Tok::Name || cur().kind == Tok::String || cur().kind == Tok::Int ||
                    cur().kind == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("cannot chain multiple tests with 'is'");
          DepthGuard g(*this);
          Arg a;
          a.value = parse_postfix(parse_primary());
          e->args.push_back(std::move(a));
        }
        e->a = std::move(node);
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0, loop_depth_ = 0;
};

}  // namespace

Body parse(std::string_view source) { return Parser(lex(source)).parse_template(); }

}  // namespace nnb::chat::jinja
