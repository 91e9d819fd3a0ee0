// Tensor-Program normal form: every matrix product is with an initial weight.
#pragma once

#include "compiler/ir/IR.h"

namespace tp::passes {

/// Rewrites an unrolled program into normal form (stage netsor; TP4 App. H).
///
/// An updated weight is never formed: `Update(P, E)` applied to a vector
/// becomes `P x − Scale(P) · (E x)`, and `E` — batch means, sums and scalar
/// multiples of `outer(u, v)` — is applied term by term, `outer(u, v) x =
/// u · dot(v, x)` and `outer(u, v)ᵀ y = v · dot(u, y)`. Updates of vector
/// params (biases) become `P − Scale(P) · E`. Each matrix expression is applied
/// to each vector once. The values that replace a matrix product keep its
/// label, step and example; the correction terms carry the source location of
/// the update statement that made them, so later passes can cite it.
/// Pre: stage unrolled. Post: stage netsor (no `Update`, `Outer` or
/// matrix-valued values except params); same results, same values at any width.
ir::Program normalForm(const ir::Program& unrolled);

}  // namespace tp::passes
