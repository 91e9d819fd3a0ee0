// What a request will cost before it runs: the program staged at 1, 2 and 3 steps,
// extrapolated to T steps, and this machine's measured speeds (docs/reliability.md).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "compiler/driver/Pipeline.h"
#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"

namespace tp::driver {

/// The value at T of the quadratic through (1, f[0]), (2, f[1]), (3, f[2]). The Z-program
/// of T steps sums over every earlier update, so its size is quadratic in T (exactly, for
/// every example program: mlp2_tanh's 993, 2598, 5043 instructions at T = 1, 2, 3 predict
/// the 106 968 of T = 16); the unrolled program is linear, which the same fit finds.
double extrapolateSteps(const std::array<double, 3>& f, int steps);

/// An estimate of a request's time and memory, and what it counted.
struct Cost {
  double seconds = 0;
  double bytes = 0;
  double size = 0;      // the extrapolated program: Z-program instructions, or unrolled values
  std::string counted;  // e.g. "a Z-program of ~1.2e+06 instructions"
};

/// `simulate` (runsPerSeed 1) and `coordcheck` (2: trained and untrained) at these widths:
/// per seed, the matrix entries the unrolled program touches (products, rank-one updates),
/// its width-sized vector operations and the initial Gaussian draws.
Cost simulationCost(const ir::Program& typed, const PipelineOptions& options, const std::vector<int>& widths,
                    int seeds, int runsPerSeed, int threads);

/// `limit` in the feature-learning regime: deriving the Z-program, compiling it (jit) and
/// evaluating it over `particles` (0: only derive and compile, as `tpc compile` does).
Cost featureLimitCost(const ir::Program& typed, const PipelineOptions& options, const ir::Parametrization& pz,
                      size_t particles, bool jit, int threads);

}  // namespace tp::driver
