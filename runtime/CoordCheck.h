// The coordinate check: measured sizes of every named value over a ladder of widths.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"
#include "runtime/Dataset.h"
#include "runtime/Progress.h"

namespace tp {

/// Mean |coordinate| of one named value at one step, averaged over its
/// examples and the seeds: of the value, of the value with the initial params
/// (`init`), and of their difference (`update`).
struct CoordSize {
  double total = 0, init = 0, update = 0;
  bool finite = true;  // false when a run overflowed
};

/// Sizes per width, for every (name, step) of the program.
struct CoordMeasurement {
  std::vector<int> widths;
  /// (name, step) → one CoordSize per width.
  std::map<std::pair<std::string, int>, std::vector<CoordSize>> sizes;
};

struct CoordCheckOptions {
  std::vector<int> widths;
  int seeds = 4;
  uint64_t seed = 0;
  int threads = 1;
  ProgressFn progress;  // runs done, weighted by width² (a run's cost), of all widths and seeds
};

/// Runs a normal-form program at each width and seed twice from the same
/// initial weights: as it is, and with every `Scale` set to 0 (the network
/// that never trains, evaluated on the same examples), so `update` is the
/// change training made. Pre: stage netsor.
CoordMeasurement measureCoordinates(const ir::Program& netsor, const ir::Parametrization& pz, const Dataset& data,
                                    const CoordCheckOptions& options);

/// Least-squares slope of log y against log x (the fitted exponent).
double logLogSlope(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace tp
