// The elementwise functions and their derivatives as LLVM IR, operation for operation as runtime/Activation.
#pragma once

#include <vector>

#include <llvm/IR/IRBuilder.h>

#include "compiler/ir/IR.h"

namespace tp::codegen {

/// Emits evalActivation(f, order, x) inline, for x a double or a vector of doubles (lane by
/// lane): the IEEE operations of runtime/Activation.cpp in the same order, so every lane
/// equals the interpreter's value bit for bit. tanh and every exponential of a non-positive
/// argument (expNonPositive, expm1NonPositive) are vector code; the other transcendental
/// functions are calls to the C library (exp, log1p, erf, erfc, sin, cos, log, pow: the
/// names `libmFunctions` lists), one per lane; sqrt, fabs, floor and copysign are LLVM
/// intrinsics (exact, as in C).
llvm::Value* emitActivation(llvm::IRBuilder<>& ir, ir::Fn f, int order, llvm::Value* x);

/// Calls the C library function `name` (arguments and result double) on every lane of its
/// arguments (a scalar argument is used for every lane). The declaration is marked as
/// reading no memory, so repeated calls on one value are computed once.
llvm::Value* emitLibmCall(llvm::IRBuilder<>& ir, const char* name, const std::vector<llvm::Value*>& args);

/// The C library functions emitActivation and emitLibmCall may call.
const std::vector<const char*>& libmFunctions();

}  // namespace tp::codegen
