// Semantic checks of a parsed .tp file and its lowering to the typed IR.
#pragma once

#include <optional>

#include "compiler/ir/IR.h"
#include "frontend/AST.h"

namespace tp::frontend {

/// Resolves declarations, checks every rule of LANGUAGE.md (names, single
/// assignment, shapes, roles, sections) and builds the per-step program at
/// stage `typed`. `backward: auto` and `update: sgd(h)` leave `Grad`
/// placeholders for the differentiate pass. Returns nothing on any error.
std::optional<ir::Program> lower(const File& file, Diagnostics& diags);

/// Folds a constant expression exactly (numbers, + - * /, unary -, integer
/// powers). Reports why not and returns nothing when it is not constant.
std::optional<Rational> foldConstant(const Expr& e, Diagnostics& diags);

/// Reads, parses and lowers a file in one call (`tpc check`, tests).
std::optional<ir::Program> compileFile(const std::string& path, Diagnostics& diags);
std::optional<ir::Program> compileSource(const std::string& source, const std::string& path, Diagnostics& diags);

}  // namespace tp::frontend
