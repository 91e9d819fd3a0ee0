// Gauss–Hermite nodes and weights by Newton's method on the Hermite recurrence, in 50-digit arithmetic.
#include "runtime/Quadrature.h"

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include "compiler/ir/Diagnostics.h"

namespace tp {

namespace {

using Real = boost::multiprecision::cpp_bin_float_50;

/// The orthonormal probabilists' Hermite polynomials h_k = He_k / sqrt(k!),
/// evaluated in 50-digit arithmetic by the recurrence of He_k (Abramowitz &
/// Stegun 22.7.14) rescaled:
///   h_{k+1}(x) = (x·h_k(x) − sqrt(k)·h_{k−1}(x)) / sqrt(k+1),   h_{−1} = 0, h_0 = 1.
/// The normalisation keeps the magnitudes modest (|h_n(x)| ≤ 1.09·e^{x²/4},
/// Cramér's inequality, A&S 22.14.17) and the weights a one-liner.
/// With He_n' = n·He_{n−1} (A&S 22.8.8), h_n' = sqrt(n)·h_{n−1}.
class Hermite {
public:
  explicit Hermite(int n) : n_(n), sqrtN_(sqrt(Real(n))) {
    for (int k = 0; k < n; ++k) {
      Real next = sqrt(Real(k + 1));
      inv_.push_back(1 / next);
      ratio_.push_back(sqrt(Real(k)) / next);
    }
  }

  /// h_n(x) and h_{n−1}(x).
  std::pair<Real, Real> eval(const Real& x) const {
    Real prev = 0, cur = 1;
    for (int k = 0; k < n_; ++k) {
      Real next = x * cur * inv_[k] - prev * ratio_[k];
      prev = cur;
      cur = next;
    }
    return {cur, prev};
  }

  /// The Newton step h_n(x) / h_n'(x).
  Real newtonStep(const Real& x) const {
    auto [hn, hn1] = eval(x);
    return hn / (sqrtN_ * hn1);
  }

  /// The Christoffel number of a root x of h_n (Szegő, "Orthogonal
  /// Polynomials", §3.4): λ = (k_n / k_{n−1}) / (h_n'(x)·h_{n−1}(x)) with
  /// leading coefficients k_n = 1/sqrt(n!), i.e. 1 / (n·h_{n−1}(x)²). For an
  /// orthonormal family of a probability measure the λ sum to 1.
  Real weight(const Real& x) const {
    Real hn1 = eval(x).second;
    return 1 / (n_ * hn1 * hn1);
  }

private:
  int n_;
  Real sqrtN_;
  std::vector<Real> inv_, ratio_;
};

/// The number of roots of He_n below x. He_n is, up to a positive factor,
/// the characteristic polynomial of the n×n Jacobi matrix J with zero diagonal
/// and off-diagonal sqrt(1), …, sqrt(n−1) (Golub & Welsch 1969), so this is a
/// Sturm count: by Sylvester's law of inertia, the number of positive pivots
/// d_k of the LDLᵀ factorisation of x·I − J (d_1 = x, d_{k+1} = x − k/d_k) is
/// the number of eigenvalues of J below x. Kahan's analysis
/// ("Accurate eigenvalues of a symmetric tri-diagonal matrix", 1966) shows the
/// count is exact for a matrix within a few ulps of J, so bisection on it finds
/// every root to ~1e-15 absolute, with no overflow and no way to skip a root.
int rootsBelow(int n, double x) {
  int count = 0;
  double d = x;
  for (int k = 1;; ++k) {
    if (d == 0.0) d = 1e-300;  // a zero pivot counts as positive (x exactly a root of He_k)
    if (d > 0) ++count;
    if (k == n) return count;
    d = x - k / d;
  }
}

/// The n-point rule:
///  1. Bisect the Sturm count for each positive root, from the bracket
///     [0, 2·sqrt(n)] (Gershgorin: every row of J sums to at most
///     sqrt(k−1) + sqrt(k) < 2·sqrt(n) in absolute value), down to the
///     rounding level of double.
///  2. Newton in 50-digit arithmetic: starting ~1e-15 away, two or three
///     quadratically convergent steps reach the working precision.
///  3. Weights from the Christoffel formula at the refined root; mirror.
GaussHermiteRule computeRule(int n) {
  const Hermite exact(n);
  const int half = n / 2;      // positive roots; odd n adds the root 0
  const int below0 = n - half;  // roots ≤ 0 (counted as below any tiny positive x)
  std::vector<Real> roots;      // refined positive roots of He_n, ascending
  for (int i = 0; i < half; ++i) {
    // Step 1: the (below0 + i)-th root (0-based, ascending) is the x at which
    // rootsBelow(x) steps from below0 + i to below0 + i + 1.
    double lo = 0.0, hi = 2.0 * std::sqrt(static_cast<double>(n));
    while (true) {
      double mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) break;
      (rootsBelow(n, mid) > below0 + i ? hi : lo) = mid;
    }
    // Step 2: stop once the step is below 1e-25; the root is then good to
    // about (1e-25)² in exact arithmetic, i.e. to the working precision.
    Real r = 0.5 * (lo + hi);
    for (int it = 0; it < 10; ++it) {
      Real dr = exact.newtonStep(r);
      r -= dr;
      if (abs(dr) <= Real(1e-25) * abs(r)) break;
    }
    roots.push_back(r);
  }

  // Step 3. The roots are strictly increasing and positive unless Newton
  // jumped to a neighbouring root, which would show up as a repeated root.
  GaussHermiteRule rule;
  rule.nodes.resize(n);
  rule.weights.resize(n);
  for (int i = 0; i < half; ++i) {
    if (!(roots[i] > 0) || (i > 0 && !(roots[i] > roots[i - 1])))
      throw InternalError("gaussHermite: root search failed at order " + std::to_string(n));
    double x = static_cast<double>(roots[i]);
    double w = static_cast<double>(exact.weight(roots[i]));
    rule.nodes[n - half + i] = x;      // positive half, ascending
    rule.nodes[half - 1 - i] = -x;     // its mirror
    rule.weights[n - half + i] = rule.weights[half - 1 - i] = w;
  }
  if (n % 2 == 1) {
    rule.nodes[half] = 0.0;
    rule.weights[half] = static_cast<double>(exact.weight(Real(0)));
  }
  return rule;
}

}  // namespace

const GaussHermiteRule& gaussHermite(int order) {
  if (order < 1 || order > kMaxGaussHermiteOrder)
    throw std::invalid_argument("gaussHermite: order " + std::to_string(order) + " outside 1.." +
                                std::to_string(kMaxGaussHermiteOrder));
  // std::map never moves its elements, so references handed out stay valid.
  // The rule is computed outside the lock so that other orders can be read
  // meanwhile; if two threads race on one order, the first insertion wins.
  static std::mutex mu;
  static std::map<int, GaussHermiteRule> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(order);
    if (it != cache.end()) return it->second;
  }
  GaussHermiteRule rule = computeRule(order);
  std::lock_guard<std::mutex> lock(mu);
  return cache.try_emplace(order, std::move(rule)).first->second;
}

}  // namespace tp
