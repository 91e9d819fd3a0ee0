// The finite-width simulator: runs an unrolled program over seeds and summarises its results.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"
#include "runtime/Dataset.h"
#include "runtime/Interpreter.h"
#include "runtime/Progress.h"

namespace tp {

/// Mean, variance over seeds and standard error of the mean, per coordinate.
struct Summary {
  std::vector<double> mean, variance, stderror;
};

struct StepSummary {
  int t = 0;
  Summary loss;                                          // one coordinate: the batch-mean loss
  std::map<std::string, std::vector<Summary>> outputs;   // per output, per eval example
};

struct SimulationOptions {
  int width = 0;
  int seeds = 1;
  uint64_t seed = 0;
  int threads = 1;
  ProgressFn progress;  // seeds done (fractions within a seed by steps), of `seeds`
};

struct SimulationResult {
  int width = 0;
  int seeds = 0;
  std::vector<StepSummary> steps;
};

/// The finite-width scaling of every param under a parametrization:
/// entries N(0, v·n^(−2(a+b))), updates scaled by n^(−c−2a) (LANGUAGE.md
/// "Semantics of a step"); hypers at their declared values.
FiniteWidthSetup finiteWidthSetup(const ir::Program& program, const ir::Parametrization& pz, int width, int threads);

/// Bytes the dense params of a program take at this width (one copy).
double paramBytes(const ir::Program& program, int width);

/// Runs the unrolled program once per seed (seed, seed+1, ...) at the width
/// of `setup` and summarises every result over the seeds. `setup.input` is
/// set from `data`.
SimulationResult simulate(const ir::Program& unrolled, const Dataset& data, FiniteWidthSetup setup,
                          const SimulationOptions& options);

}  // namespace tp
