// The kernel-regime limit: NNGP and NTK on the data, and the outputs' training dynamics (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/passes/Kernels.h"
#include "compiler/passes/Unroll.h"
#include "runtime/Dataset.h"
#include "runtime/KernelEval.h"
#include "runtime/Simulator.h"

namespace tp {

/// The kernels of a derivation on a list of examples: `nngp[k][l]`, `ntk[k][r]` (see KernelDerivation).
struct KernelMatrices {
  std::vector<std::vector<KernelMatrix>> nngp, ntk;
  double quadratureError = 0;
};

/// The kernels kernelMatrices evaluates, in its order: every NNGP entry, then every NTK entry.
std::vector<passes::KernelEntry> kernelEntries(const passes::KernelDerivation& d);

KernelMatrices kernelMatrices(const passes::KernelDerivation& d, const std::vector<ExampleInputs>& examples,
                              const KernelEvalOptions& options);

/// NNGP of the program's output at initialisation on `examples`, per output
/// name (coordinates are independent and identically distributed: one P×P
/// matrix, `[p][q]`). For tests and `tpc limit`. The program must be differentiated.
std::map<std::string, std::vector<std::vector<double>>> nngpKernels(const ir::Program& differentiated,
                                                                   const ir::Parametrization& pz,
                                                                   const std::vector<ExampleInputs>& examples,
                                                                   int order = 64);

struct KernelLimitOptions {
  KernelEvalOptions eval;
  int samples = 4096;  // Monte Carlo draws of f_0 when the loss gradient is not affine in the outputs
  uint64_t seed = 0;
};

/// The limit's outputs per step, in the shape of a simulation (StepSummary:
/// mean, variance over the initialisation, standard error where sampled).
struct KernelLimitResult {
  /// "exact": Gaussian outputs propagated exactly (the loss gradient is affine
  /// in the outputs, e.g. squared loss); "deterministic": f_0 = 0 and the
  /// trajectory is one path; "montecarlo": `samples` draws of f_0 from the
  /// NNGP, each trained by the kernel dynamics.
  std::string method;
  int samples = 0;
  std::vector<StepSummary> steps;
  KernelMatrices evalKernels;  // on the evaluation examples
  double quadratureError = 0;
  /// "montecarlo": directions of the NNGP over all examples with no variance (duplicate or
  /// collinear examples), dropped by the pivoted Cholesky factor f_0 is drawn with.
  int droppedDirections = 0;
};

/// A Cholesky pivot below this fraction of the largest variance is a zero direction.
inline constexpr double kCholeskyTolerance = 1e-13;

/// Evaluates f_{t+1}(x) = f_t(x) − (1/|B_t|) Σ_{x' ∈ B_t} K(x, x') s(f_t(x'), x')
/// for t < steps on the training and evaluation examples (LANGUAGE.md's data
/// schedule), where s is the program's own seed expression (its loss
/// gradient). Loss at step t is the mean over step t's batch of E[loss].
/// `program` is the differentiated per-step program `d` was derived from.
/// Throws UserError when the seed or the loss depend on anything but the
/// outputs, inputs, targets and hypers.
KernelLimitResult kernelLimit(const ir::Program& program, const passes::KernelDerivation& d, const Dataset& data,
                              const passes::Schedule& schedule, const KernelLimitOptions& options);

}  // namespace tp
