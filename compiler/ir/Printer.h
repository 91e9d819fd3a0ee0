// Human-readable text form of IR programs (used by `tpc ir` and golden tests).
#pragma once

#include <string>

#include "compiler/ir/IR.h"

namespace tp::ir {

/// Shortest decimal that reads back to the same double.
std::string formatNumber(double x);

/// The whole program: declarations, then one value per line with its type and
/// source location, then updates and results.
std::string print(const Program& program);

}  // namespace tp::ir
