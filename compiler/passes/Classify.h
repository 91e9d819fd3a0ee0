// Regime classification from width exponents: stable, nontrivial, kernel or feature learning.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/passes/Exponents.h"

namespace tp::passes {

/// One param seen as a layer: its update's effect on the forward pass.
struct LayerVerdict {
  std::string param;
  /// TP4's r_l generalised: the forward change its updates make is Θ(n^(−r_l)) ("inf": never updated).
  Exponent r = Exponent::infinite();
  /// The width vectors its products make move by Θ(1).
  bool featureLearning = false;
};

/// The exponents of one named value at one step (the largest over examples).
struct StepExponents {
  int t = 0;
  ValueExponents e;
};

struct Classification {
  bool stable = false;
  bool nontrivial = false;
  std::string regime;  // unstable | trivial | kernel | feature_learning
  /// The largest change of a forward width vector is Θ(n^(−r)); TP4's r on MLPs.
  Exponent r = Exponent::infinite();
  std::vector<LayerVerdict> layers;
  /// Per named value (first-appearance order): its exponents at every step.
  std::vector<std::pair<std::string, std::vector<StepExponents>>> values;
  /// Why: the value, step and source line behind each verdict.
  std::vector<std::string> reasons;
  int steps = 0;  // training steps analysed
};

/// Classifies a normal-form program from its exponents (TP4 Def. 3.1 and
/// Thm 3.3, generalised in DESIGN.md §2). Forward width vectors are the named
/// values of the forward section; outputs are the program's results.
/// 1. Stable: every forward width vector is exactly Θ(1) at initialisation,
///    every output O(1), and no forward vector or output changes by more than
///    Θ(1) at any step.
/// 2. Nontrivial: some output changes by Θ(1).
/// 3. Feature learning: stable, nontrivial and some forward width vector
///    changes by Θ(1); kernel regime when stable and nontrivial otherwise.
/// Pre: `exponents` from `analyzeExponents(netsor, ...)`.
Classification classify(const ir::Program& netsor, const std::vector<ValueExponents>& exponents);

}  // namespace tp::passes
