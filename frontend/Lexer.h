// The lexer of the .tp language: characters to tokens, with source locations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/Diagnostics.h"

namespace tp::frontend {

enum class Tok {
  Ident,       // name, possibly with ' suffixes: tanh''
  Number,      // 3, 0.25, 1e-3
  Newline,
  End,
  LParen, RParen, LBracket, RBracket, Comma, Colon, Tilde, Dot,
  Assign,      // =
  MinusAssign, // -=
  Plus, Minus, Star, Slash, StarStar, At,
};
const char* tokName(Tok t);

struct Token {
  Tok kind = Tok::End;
  std::string text;
  SourceLoc loc;
};

/// Splits source text into tokens. `#` comments are dropped; every line ends
/// with a Newline token and the file with End. Malformed numbers and stray
/// characters are reported and skipped.
std::vector<Token> lex(std::string_view source, Diagnostics& diags);

}  // namespace tp::frontend
