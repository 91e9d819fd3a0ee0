// Gauss–Hermite quadrature rules for expectations over a standard Gaussian, computed once per order.
#pragma once

#include <vector>

namespace tp {

/// An n-point Gauss–Hermite rule for the probabilists' weight: for Z ~ N(0, 1),
///   E f(Z) ≈ Σ_i weights[i] · f(nodes[i]),
/// exact when f is a polynomial of degree ≤ 2n − 1. The weights are positive
/// and sum to 1. Nodes are ascending and exactly symmetric (nodes[n−1−i] =
/// −nodes[i], with equal weights; for odd n the middle node is exactly 0).
/// Far-tail weights below the double range are stored as 0 (from order ~300 on).
struct GaussHermiteRule {
  std::vector<double> nodes;
  std::vector<double> weights;
};

/// The largest order gaussHermite accepts.
constexpr int kMaxGaussHermiteOrder = 512;

/// The Gauss–Hermite rule of `order` points, 1 ≤ order ≤ kMaxGaussHermiteOrder
/// (otherwise throws std::invalid_argument).
///
/// Each node and weight is a value computed to ~45 digits in 50-digit
/// arithmetic, rounded to double. A rule is computed on first use (order 512 takes well
/// under a second) and cached for the life of the process; the returned
/// reference stays valid and the cache is safe to use from any thread.
const GaussHermiteRule& gaussHermite(int order);

}  // namespace tp
