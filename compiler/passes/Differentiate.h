// Reverse-mode differentiation: replaces `Grad` placeholders with gradient computations.
#pragma once

#include "compiler/ir/IR.h"

namespace tp::passes {

/// Reverse-mode automatic differentiation of `loss` on the per-step IR.
///
/// `backward: auto` and `update: sgd(h)` leave `Grad(v)` placeholders (d loss /
/// d v for a forward value or a param). This pass sweeps the forward values
/// that `loss` depends on in reverse order, applying each op's vector–Jacobian
/// product, and replaces each placeholder by the accumulated adjoint. Matrix
/// params get sums of `Outer` terms (never a dense n×n gradient), so the
/// result stays in the form the normal-form pass expects.
/// Pre: stage typed. Post: stage differentiated, no `Grad` left, gradient
/// values nothing uses are dropped; every new value carries the location of
/// the forward value it differentiates.
ir::Program differentiate(const ir::Program& typed);

}  // namespace tp::passes
