// Template source -> tokens, with Jinja2's whitespace rules applied here (as Jinja2's own lexer
// does): "-" strips whitespace beside a tag, trim_blocks drops the newline after a block or
// comment tag, lstrip_blocks drops the indentation before one ("+" opts a tag out), comments
// vanish, newlines are normalized to \n and one trailing newline is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_error.h"

namespace nnb::chat::jinja {

enum class Tok : uint8_t { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok kind;
  std::string text;  // Text: the data; Name: the name; String: the unescaped value; Op: the operator
  int64_t ival = 0;
  double fval = 0;
  SourcePos pos;
};

struct LexOptions {
  bool trim_blocks = true, lstrip_blocks = true;
};

std::vector<Token> lex(std::string_view source, const LexOptions& opts = {});

}  // namespace nnb::chat::jinja
