// Structural checks of IR programs, run after every pipeline stage in tests and debug builds.
#pragma once

#include <string>

#include "compiler/ir/IR.h"

namespace tp::ir {

/// Every problem found, one per line; empty when the program is well formed:
/// operands precede their users, every type is what `inferType` gives, names,
/// updates, loss and results point at values of the right kind, and no
/// `Grad` placeholder survives differentiation.
std::string verify(const Program& program);

}  // namespace tp::ir
