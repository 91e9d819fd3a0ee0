// Driving the width-exponent analysis: how many steps to unroll, sweeps over exponents.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Parametrization.h"
#include "compiler/passes/Classify.h"
#include "compiler/passes/Unroll.h"
#include "runtime/CoordCheck.h"

namespace tp::driver {

/// The data-independent schedule the analysis unrolls: T steps, one example a step.
passes::Schedule analysisSchedule(int steps);

/// Classifies a typed program under a parametrization. With `steps` = 0 the
/// program is unrolled for 3 steps and then one more at a time (up to 8)
/// until every named value has the same exponents at the last two steps
/// (DESIGN.md §2: exponents settle after the readout's update reaches the
/// backward pass); an unstable verdict stops early, since more steps cannot
/// undo it.
passes::Classification classifyProgram(const ir::Program& typed, const ir::Parametrization& pz, int steps = 0);

/// One axis of `classify --sweep`: `c`, `P.a`, `P.b`, `P.c` or `P.a+b` (b moves, a stays)
/// from `lo` to `hi` in steps of `step`, all exact rationals.
struct SweepAxis {
  std::string name;
  std::string param;  // empty for the global c
  std::string field;  // "a", "b", "c", "a+b"
  std::vector<Rational> values;
};

/// Parses "W3.a+b=0:3/2:1/4" against the program. Throws std::invalid_argument with the reason.
SweepAxis parseSweepAxis(const std::string& text, const ir::Program& program);

/// The parametrization `spec` (as `--param` names it) at one point of a sweep:
/// a `c` axis replaces the global c as `--c` does (a param's own c is kept),
/// then each param axis sets its field.
ir::Parametrization sweepPoint(const ir::Program& program, const std::string& spec,
                               const std::optional<Rational>& cOverride, const std::vector<SweepAxis>& axes,
                               const std::vector<Rational>& point);

/// One comparison of `coordcheck`: a named value's init (step 0) or update
/// (step ≥ 1) exponent, derived and fitted.
struct CoordCheckRow {
  std::string name;
  int t = 0;
  std::string part;  // "init" or "update"
  passes::Exponent derived = passes::Exponent::zero();
  double fitted = 0;
  std::vector<double> sizes;  // mean |coordinate| per width
  std::string status;         // "pass", "fail" or "skipped"
  std::string note;           // why, when not a plain comparison
};

struct CoordCheckReport {
  std::vector<int> widths;
  double tolerance = 0;
  std::vector<CoordCheckRow> rows;
  int passed = 0, failed = 0, skipped = 0;
};

/// Measures a normal-form program over widths and compares every fitted
/// slope with the derived exponent: pass when they differ by at most
/// `tolerance`; a derived "-inf" passes only when the value is exactly zero at
/// every width; "inf" and overflowing values are skipped (not measurable).
CoordCheckReport coordCheck(const ir::Program& netsor, const ir::Parametrization& pz, const Dataset& data,
                            const CoordCheckOptions& options, double tolerance);

}  // namespace tp::driver
