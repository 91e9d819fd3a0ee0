// The elementwise functions of the language and their exact derivatives of every order.
#pragma once

#include <cstddef>
#include <vector>

#include "compiler/ir/IR.h"

namespace tp {

/// The `order`-th derivative of f at x (order 0 = f itself), for any order >= 0.
///
/// Every order is an exact formula, never a finite difference: sigmoid through
/// cached polynomials in s = sigmoid(x), tanh through tanh(x) = 2σ(2x) − 1
/// (so its polynomials are in tanh(x) as well, in another basis), erf and gelu
/// through Hermite polynomials, the rest in closed form. Kinks (relu, abs,
/// step) take the almost-everywhere derivative: relu' = step, abs' = sign
/// (0 at 0), and every derivative of step is 0. Never NaN where the function
/// is defined, however large |x| (tanh(±40), sigmoid(-800), softplus(-800),
/// gelu(±inf) are all exact limits; exp may overflow to inf); sqrt and log
/// follow their real domains (NaN below 0, ±inf at 0).
/// A negative order is a caller bug (throws InternalError).
double evalActivation(ir::Fn f, int order, double x);

/// c_0 .. c_{k+1} with σ^(k)(x) = Σ_a c_a s^a (1-s)^{k+1-a}, s = σ(x), for order k ≥ 1 (the
/// signed Eulerian numbers): the polynomials the JIT inlines for sigmoid, tanh and softplus.
const std::vector<double>& sigmoidDerivativeCoefficients(int order);

/// Applies evalActivation(f, order, ·) to n contiguous doubles (out may alias in).
void applyActivation(ir::Fn f, int order, const double* in, double* out, size_t n);

}  // namespace tp
