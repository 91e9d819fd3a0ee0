// The kernel-regime entry recursion compiled by the JIT: a tile's constants and sums in vector loops.
#pragma once

#include <memory>
#include <vector>

#include "compiler/codegen/Jit.h"
#include "compiler/passes/Kernels.h"
#include "runtime/KernelEval.h"

namespace tp::codegen {

/// Compiles the off-diagonal tile of a kernel program (the slots `offDiagonalSlots(program,
/// wanted)`) into one function. Runs of consecutive constant and sum slots become one loop
/// over the tile's pairs, kKernelLanes at a time in vector registers, each slot computed with
/// the interpreter's operations in its order (Σ coef·x·y term by term from +0) and stored to
/// its row; the other slots — input dot products, one- and two-dimensional expectations with
/// their closed forms and quadratures — are calls to `tpc_kernel_slot` (the runtime table),
/// which evaluates them as the interpreter does. So both backends agree bit for bit.
/// The returned runner calls into `jit`, which must outlive it.
std::shared_ptr<const KernelTileRunner> compileKernelTiles(const passes::KernelProgram& program,
                                                           const std::vector<passes::KernelEntry>& wanted, Jit& jit);

/// Pairs per vector in the generated loops (tile strides are rounded up to a multiple).
constexpr size_t kKernelLanes = 4;

}  // namespace tp::codegen
