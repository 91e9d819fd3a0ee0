// The parser of the .tp language: tokens to an AST, with the grammar on every function.
#pragma once

#include <string_view>

#include "frontend/AST.h"
#include "frontend/Lexer.h"

namespace tp::frontend {

/// Parses a whole file. Syntax errors are reported to `diags` (parsing resumes
/// at the next line), so the returned tree is meaningful only without errors.
File parse(std::string_view source, const std::string& path, Diagnostics& diags);

}  // namespace tp::frontend
