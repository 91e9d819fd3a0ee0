// The abstract syntax tree of a .tp file, as the parser builds it (names unresolved, no types).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"

namespace tp::frontend {

struct Expr {
  enum class Kind {
    Number,     // text
    Name,       // text (may carry ' suffixes)
    Unary,      // op '-', args[0]
    Binary,     // op one of + - * / @ ^ (^ is **), args[0], args[1]
    Call,       // text = function name (with ' suffixes), args
    Transpose,  // args[0] .T
  };
  Kind kind = Kind::Number;
  std::string text;
  char op = 0;
  std::vector<std::unique_ptr<Expr>> args;
  SourceLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

/// A dimension as written: the width's name or a positive integer.
struct DimSyntax {
  std::string text;
  bool isNumber = false;
  SourceLoc loc;
};

struct Decl {
  enum class Kind { Width, Input, Target, Param, Hyper, Output };
  Kind kind = Kind::Width;
  std::vector<std::string> names;  // one, or several for `output`
  std::vector<SourceLoc> nameLocs;
  std::vector<DimSyntax> dims;     // [k], [n, k] ...
  bool hasShape = false;
  // `~ N(mean, variance)` or `~ 0`.
  enum class Init { Default, Normal, Zero } init = Init::Default;
  ExprPtr mean, variance;
  SourceLoc initLoc;
  ExprPtr value;  // hyper
  SourceLoc loc;
};

/// `name = expr` (forward, backward) or `name -= expr` (update).
struct Statement {
  std::string target;
  SourceLoc targetLoc;
  bool minusAssign = false;
  ExprPtr value;
  SourceLoc loc;
};

/// A line of a parametrization block: `W1: a = -1/2, b = 1/2` or `c = 0`.
struct ExponentLine {
  std::string param;  // empty for the block-wide `c = ...`
  SourceLoc loc;
  struct Entry {
    std::string key;
    ExprPtr value;
    SourceLoc loc;
  };
  std::vector<Entry> entries;
};

struct Section {
  enum class Kind { Forward, Backward, Update, Parametrization };
  Kind kind = Kind::Forward;
  std::string name;  // parametrization name
  bool autoBackward = false;
  std::optional<std::string> sgdHyper;
  SourceLoc sgdLoc;
  std::vector<Statement> statements;
  std::vector<ExponentLine> exponents;
  SourceLoc loc;
};

struct File {
  std::string path;
  std::vector<Decl> decls;
  std::vector<Section> sections;
};

/// Prints the tree in an indented S-expression form with locations (`tpc ir --stage parsed`).
std::string printAst(const File& file);

}  // namespace tp::frontend
