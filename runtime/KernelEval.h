// Evaluating a kernel program over all pairs of examples: fused per entry, tiled, on several threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/passes/Kernels.h"

namespace tp {

/// The inputs of one example: name → coordinates (a scalar has one).
using ExampleInputs = std::map<std::string, std::vector<double>>;

/// A dense row-major P×P matrix.
struct KernelMatrix {
  size_t size = 0;
  std::vector<double> entries;
  double at(size_t p, size_t q) const { return entries[p * size + q]; }
};

struct KernelEvalOptions {
  int order = 64;    // Gauss–Hermite points per dimension where no closed form exists
  int threads = 1;
  size_t tile = 128;  // entries evaluated together, instruction by instruction
};

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
