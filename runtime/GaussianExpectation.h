// Expectations of activation derivatives under 1-D and 2-D centred Gaussians: closed forms, else Gauss–Hermite.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "compiler/ir/IR.h"

namespace tp {

/// A Gaussian expectation and how it was obtained.
struct PairExpectation {
  double value;     ///< the expectation
  double error;     ///< 0 for a closed form; else the a-posteriori estimate |Q_n − Q_m| (see expectPair)
  bool closedForm;  ///< true when `value` came from an exact formula (up to rounding)
};

/// E[f^(fk)(u) · g^(gk)(v)] for (u, v) ~ N(0, [[varU, cov], [cov, varV]]),
/// with f^(k) the k-th derivative of evalActivation (kinks take its
/// almost-everywhere derivatives: relu' = step, abs' = sign).
///
/// Closed forms (error 0) cover every pair of:
///  - id, square, relu, step, abs at every derivative order (degree ≤ 2
///    polynomials, the arc-cosine kernels of Cho & Saul 2009 and their
///    mixtures with polynomials; abs and sign through abs(x) = relu(x) +
///    relu(−x) and sign(x) = step(x) − step(−x));
///  - erf and erf' (Williams 1997), also mixed with the previous group;
///  - exp, sin, cos at every order, through E[e^{λu+μv}] = e^{(λ²a + 2λμc + μ²b)/2};
///  - an affine function (id, id', square', square'') against any g whose
///    one-dimensional E[g^(gk)] and E[g^(gk+1)] have closed forms (Stein's
///    lemma E[u·h(v)] = cov·E[h'(v)]), and symmetrically.
/// A zero variance makes that variable exactly 0 (so step(0) = 0, as in
/// evalActivation), which reduces the pair to f^(fk)(0)·E[g^(gk)(v)].
///
/// Otherwise the tensor Gauss–Hermite rule of `order` points per dimension on
///   u = sqrt(varU)·z1,  v = (cov/sqrt(varU))·z1 + sqrt(max(varV − cov²/varU, 0))·z2,
/// returning Q_n (n = order) and error = |Q_n − Q_m| with m = n/2 (m = 2 when
/// n = 1). For analytic integrands the Gauss–Hermite error falls
/// geometrically in sqrt(n), so this overestimates the error of Q_n (tanh at
/// unit variance: Q_64 is good to ~1e-10, the estimate says ~2e-7). For a
/// kinked integrand without a closed form (relu or step against a smooth g
/// such as sigmoid) the error decays only like 1/n — about 1e-3 at order 64 —
/// and the estimate is then about the actual error, not a bound.
///
/// Throws std::invalid_argument for a negative or non-finite variance, a
/// covariance with |cov| > sqrt(varU·varV)·(1 + 1e-9) (within that slack,
/// which absorbs rounding in kernel recursions, it is clamped), a negative
/// derivative order, or an order outside 1..512.
PairExpectation expectPair(ir::Fn f, int fk, ir::Fn g, int gk, double varU, double varV, double cov,
                           int order = 64);

/// atan2(r, c) for r ≥ 0 (an angle in [0, π]), written without calls or
/// branches so that loops over it vectorise: one division and a Taylor
/// polynomial after reducing to |t| ≤ tan(π/16). Within 2 ulp(π) of
/// std::atan2 (tested).
double halfPlaneAngle(double r, double c);

/// Per-entry arguments of a batch of pair expectations, with the angle that
/// the arc-cosine closed forms share: r = sqrt(ab − c²), θ = halfPlaneAngle(r, c).
/// Pairs of functions on the same (u, v) evaluate it once.
struct PairGeometry {
  std::vector<double> varU, varV, cov, r, theta;
  /// Checks and clamps every covariance like expectPair (throws std::invalid_argument).
  void compute(const double* varU, const double* varV, const double* cov, size_t n);
  /// compute() with the variances already in varU and varV (n entries each).
  void computeFromVariances(const double* cov, size_t n);
};

/// expectPair with the function pair fixed: the dispatch to a closed form is
/// decided once, so that kernel recursions evaluating millions of entries pay
/// only for the formula (or the quadrature). Same results and exceptions.
class PreparedPair {
public:
  PreparedPair(ir::Fn f, int fk, ir::Fn g, int gk, int order = 64, bool allowClosedForm = true);
  /// The expectation, with the error estimate of expectPair.
  PairExpectation evaluate(double varU, double varV, double cov) const;
  /// The expectation only: a quadrature skips the coarse rule of the estimate.
  double value(double varU, double varV, double cov) const;
  /// value() for every entry of a geometry, into out[0 .. n).
  void values(const PairGeometry& g, double* out) const;
  /// True when positive variances get a closed form.
  bool closedForm() const { return kind_ != Kind::Quadrature; }

private:
  enum class Kind { Atoms, Waves, AffineLeft, AffineRight, Quadrature };
  PairExpectation degenerate(double varU, double varV) const;
  double closed(double a, double b, double c) const;
  ir::Fn f_, g_;
  int fk_, gk_, order_;
  bool allowClosedForm_;
  Kind kind_ = Kind::Quadrature;
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

/// The Gauss–Hermite estimate of expectPair, never a closed form (same
/// arguments, error estimate and exceptions). For cross-checks and tests.
PairExpectation expectPairQuadrature(ir::Fn f, int fk, ir::Fn g, int gk, double varU, double varV,
                                     double cov, int order = 64);

/// E[f^(k)(u)] for u ~ N(0, var): a closed form for every function of the
/// expectPair list (and f^(k)(0) when var = 0), else the `order`-point
/// Gauss–Hermite rule. Throws std::invalid_argument like expectPair.
double expectSingle(ir::Fn f, int k, double var, int order = 64);

}  // namespace tp
