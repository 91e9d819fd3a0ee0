// The NNGP: the covariance of a program's initial outputs in the infinite-width limit.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"

namespace tp {

/// The inputs of one example: name → coordinates (a scalar has one).
using ExampleInputs = std::map<std::string, std::vector<double>>;

/// Per output: its covariance over the examples, `[p][q]` (a vector output
/// has independent, identically distributed coordinates: the same matrix).
struct NngpResult {
  std::map<std::string, std::vector<std::vector<double>>> kernels;
};

/// Derives the NNGP of the outputs at initialisation by the Master Theorem
/// (TP1; DESIGN.md §1) from the forward section of a typed program.
///
/// Every width vector of the forward pass is `s · φ^(k)(G)` or `s · G` for a
/// Gaussian G, a linear combination of *fields*: an input layer's `W x`
/// (Cov = v · n^(−2(a+b)) · x·x'), a bias (v · n^(−2(a+b))), a hidden `W y`
/// (v · n^(1−2(a+b)) · E[Z^y Z^y'], one family per matrix, the same for every
/// use of a shared matrix); a readout row gives an output coordinate with
/// v · n^(1−2(a+b)) · E[Z^y Z^y']. A power of n that vanishes makes the term 0
/// (a readout with a + b > 1/2: f_0 = 0). Pairs of forms are integrated by
/// `expectPair` (closed forms, else Gauss–Hermite of `order`).
/// Throws UserError when a forward value is outside this class (a product of
/// two width vectors, a nonlinearity of a nonlinearity, a width reduction) or
/// a power of n diverges (an unstable parametrization).
NngpResult nngpKernels(const ir::Program& typed, const ir::Parametrization& pz,
                       const std::vector<ExampleInputs>& examples, int order = 64);

}  // namespace tp
