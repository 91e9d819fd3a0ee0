// The elementwise functions of the language and their exact derivatives of every order.
#pragma once

#include <array>

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

/// The library's own e^y and e^y − 1 for y ≤ 0, and tanh, written with +, −, ×, ÷, floor,
/// copysign and bit operations only, so that the JIT emits them as vector code operation
/// for operation (compiler/codegen/ActivationCodegen) instead of calling the C library
/// lane by lane. Cody–Waite reduction y = k·ln 2 + r, |r| ≤ ln 2 / 2, then the degree-13
/// Taylor polynomial p of e^r − 1 (first omitted term < 5e-18); e^y = (1 + p)·2^k (in two
/// factors below 2^−1022, so that it underflows gracefully), e^y − 1 = p·2^k + (2^k − 1),
/// and tanh x = sign(x)·(−m)/(2 + m) with m = e^{−2|x|} − 1. Within a few ulp of the C
/// library (tests/unit/ActivationTest.cpp). NaN stays NaN; y below −746 gives 0 (e^y) and
/// −1 (e^y − 1). Every exponential of the activations has a non-positive argument
/// (e^{−|x|}, e^{−x²}) except exp itself, which stays the C library's.
double expNonPositive(double y);
double expm1NonPositive(double y);
double tanhFunction(double x);

/// The constants of expNonPositive, shared with the JIT.
namespace elementary {
inline constexpr double kInvLn2 = 0x1.71547652b82fep0;  // 1/ln 2
inline constexpr double kLn2Hi = 0x1.62e42fee00000p-1;  // ln 2, upper 32 bits: k·kLn2Hi is exact
inline constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;  // ln 2 − kLn2Hi
inline constexpr double kExpFloor = -746.0;              // e^y rounds to 0 below
inline constexpr double kExpm1Floor = -40.0;             // e^y − 1 rounds to −1 below
inline constexpr int kTaylorDegree = 13;
/// 1/i! for i = 0 .. kTaylorDegree (rounded once: i! is exact in a double up to 18!).
inline constexpr std::array<double, kTaylorDegree + 1> kTaylor = [] {
  std::array<double, kTaylorDegree + 1> c{};
  double factorial = 1;
  for (int i = 0; i <= kTaylorDegree; ++i) {
    if (i > 0) factorial *= i;
    c[static_cast<size_t>(i)] = 1.0 / factorial;
  }
  return c;
}();
}  // namespace elementary

/// Applies evalActivation(f, order, ·) to n contiguous doubles (out may alias in).
void applyActivation(ir::Fn f, int order, const double* in, double* out, size_t n);

}  // namespace tp
