// Unrolling: T training steps over batches of examples as one straight-line program.
#pragma once

#include "compiler/ir/IR.h"

namespace tp::passes {

/// The data schedule of LANGUAGE.md "Data".
struct Schedule {
  int steps = 1;          // T: updates applied; outputs are reported after 0..T of them
  int batch = 0;          // B examples a step (0: all training examples)
  int trainCount = 1;     // examples in the data's train split
  int evalCount = 1;      // examples in the eval split
  bool evalHasTargets = false;
};

/// Unrolls a differentiated per-step program along the schedule.
///
/// Step t (0 ≤ t ≤ T) runs forward and backward on the train examples
/// t·B … t·B+B−1 (cycling) with the params after t updates, and the forward
/// on every eval example; for t < T each update statement's expression is
/// averaged over the batch (`BatchMean`) and applied (`Update`), all from the
/// pre-step values. Results: each output on each eval example at each step,
/// and `loss` on each batch example at each step. Values no result depends on
/// are dropped. Pre: stage differentiated. Post: stage unrolled; every value
/// is tagged with its step and example. Throws UserError when an output needs
/// a target that the eval split does not give.
ir::Program unroll(const ir::Program& differentiated, const Schedule& schedule);

/// The effective batch size: B, or all training examples when B is 0.
int effectiveBatch(const Schedule& schedule);

}  // namespace tp::passes
