// Tokens -> syntax tree. Everything Jinja2 would accept but this renderer does not implement
// (include, extends, call blocks, unknown filters or tests ...) is refused here with its
// position, so an unsupported template fails at load time rather than rendering wrongly.
#pragma once

#include <string_view>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace nnb::chat::jinja {

constexpr int kMaxParseDepth = 100;  // nested blocks + expressions; keeps parsing off the stack's edge

Body parse(std::string_view source);

bool is_known_filter(const std::string& name);  // jinja_filters.cpp
bool is_known_test(const std::string& name);    // jinja_tests.cpp

}  // namespace nnb::chat::jinja
