// Evaluating a kernel program over all pairs of examples: fused per entry, tiled, on several threads.
#pragma once

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "compiler/passes/Kernels.h"

namespace tp {

/// The kernel recursion left double precision: a variance overflowed or a covariance is not
/// finite (inputs or hyperparameters too large for doubles; the limit itself is finite).
struct KernelBreakdown : UserError {
  using UserError::UserError;
};

/// The inputs of one example: name → coordinates (a scalar has one).
using ExampleInputs = std::map<std::string, std::vector<double>>;

/// A dense row-major P×P matrix.
struct KernelMatrix {
  size_t size = 0;
  std::vector<double> entries;
  double at(size_t p, size_t q) const { return entries[p * size + q]; }
};

class PreparedKernelProgram;  // the interpreter's form of a program (KernelEval.cpp)
struct KernelScratch;         // its per-thread buffers

/// One tile of off-diagonal pairs in flight, as a compiled backend sees it:
/// slot i of pair j at buf[i·stride + j], j < count.
struct KernelTile {
  double* buf = nullptr;
  size_t count = 0, stride = 0;
  // What evaluateKernelSlot needs: the pairs (p, q), the diagonal slots, the interpreter's state.
  const size_t* ps = nullptr;
  const size_t* qs = nullptr;
  const double* diag = nullptr;
  const PreparedKernelProgram* program = nullptr;
  KernelScratch* scratch = nullptr;
  std::exception_ptr error;  // set when a slot failed
};

/// Evaluates slot `slot` of an off-diagonal tile exactly as the interpreter does; a compiled
/// backend calls it for the instructions it does not generate (input dot products,
/// expectations). Never throws: on failure it returns false and stores the exception
/// (UserError for a kernel that broke down) in tile.error.
bool evaluateKernelSlot(KernelTile& tile, int slot) noexcept;

/// A compiled evaluator of off-diagonal tiles (codegen/KernelCompile plugs in here).
struct KernelTileRunner {
  std::vector<bool> slots;  ///< the slots it computes: offDiagonalSlots(program, wanted)
  size_t lanes = 1;         ///< the tile stride must be a multiple of this (rows are read in vectors)
  std::function<bool(KernelTile&)> run;  ///< false: tile.error holds the exception
};

struct KernelEvalOptions {
  int order = 64;    // Gauss–Hermite points per dimension where no closed form exists
  int threads = 1;
  size_t tile = 128;  // entries evaluated together, instruction by instruction
  /// Off-diagonal tiles by compiled code (the JIT backend); null: the interpreter.
  /// Both give the same numbers, bit for bit.
  std::shared_ptr<const KernelTileRunner> compiled;
};

/// The slots that an off-diagonal run must evaluate to produce `wanted`: the
/// entries' slots and what their sums and covariances read (variances come
/// from the diagonal runs).
std::vector<bool> offDiagonalSlots(const passes::KernelProgram& program, const std::vector<passes::KernelEntry>& wanted);

/// The kernels asked for, and the largest a-posteriori quadrature error
/// estimate seen (0 when every expectation had a closed form).
struct KernelValues {
  std::vector<KernelMatrix> kernels;
  double quadratureError = 0;
};

/// Evaluates `program` on every pair (p, q), q ≤ p, of `examples` — first the
/// diagonal pairs (p, p), whose slots give the variances — and fills, for
/// each requested entry, K[p][q] from slot `ab` and K[q][p] from slot `ba`
/// (−1: zero). The loop runs instruction by instruction over tiles of
/// entries, tiles split between threads; results do not depend on the thread
/// count. Error estimates are computed on the diagonal pairs only.
/// Throws UserError when a variance or covariance is not finite or not
/// positive semi-definite (a kernel that overflowed).
KernelValues evaluateKernels(const passes::KernelProgram& program, const std::vector<ExampleInputs>& examples,
                             const std::vector<passes::KernelEntry>& wanted, const KernelEvalOptions& options = {});

}  // namespace tp
