// Checks Gauss–Hermite rules and Gaussian expectations against exact moments, split references, Monte Carlo and NTK anchors.
#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/Activation.h"
#include "runtime/GaussianExpectation.h"
#include "runtime/Quadrature.h"
#include "runtime/Random.h"

namespace tp {
namespace {

using ir::Fn;
constexpr double kEps = std::numeric_limits<double>::epsilon();

// ---------------------------------------------------------------------------
// Gauss–Hermite rules
// ---------------------------------------------------------------------------

TEST(Quadrature, SmallRulesHaveKnownNodesAndWeights) {
  // He_1 = x, He_2 = x² − 1, He_3 = x³ − 3x; weights 1/(n·h_{n−1}²).
  const GaussHermiteRule& r1 = gaussHermite(1);
  EXPECT_EQ(r1.nodes, std::vector<double>{0.0});
  EXPECT_EQ(r1.weights, std::vector<double>{1.0});
  const GaussHermiteRule& r2 = gaussHermite(2);
  EXPECT_EQ(r2.nodes, (std::vector<double>{-1.0, 1.0}));
  EXPECT_EQ(r2.weights, (std::vector<double>{0.5, 0.5}));
  const GaussHermiteRule& r3 = gaussHermite(3);
  EXPECT_EQ(r3.nodes, (std::vector<double>{-std::sqrt(3.0), 0.0, std::sqrt(3.0)}));
  EXPECT_DOUBLE_EQ(r3.weights[0], 1.0 / 6);
  EXPECT_DOUBLE_EQ(r3.weights[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r3.weights[2], 1.0 / 6);
}

/// Checks weights, symmetry and E[Z^m] for every m ≤ 2n − 1.
void expectExactMoments(int n) {
  SCOPED_TRACE("order " + std::to_string(n));
  const GaussHermiteRule& rule = gaussHermite(n);
  ASSERT_EQ(rule.nodes.size(), static_cast<size_t>(n));
  ASSERT_EQ(rule.weights.size(), static_cast<size_t>(n));

  // Each weight is rounded once (ε/2 relative) and the sum of n positive terms
  // adds a random-walk error of ~sqrt(n)·ε/2 ≈ 1.6e-15 at n = 200.
  double sum = 0;
  for (double w : rule.weights) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-14);

  for (int i = 0; i < n; ++i) {
    EXPECT_GT(rule.weights[i], 0.0);  // the smallest at n = 200 is ~1e-150, still normal
    EXPECT_EQ(rule.nodes[n - 1 - i], -rule.nodes[i]);
    EXPECT_EQ(rule.weights[n - 1 - i], rule.weights[i]);
    if (i > 0) {
      EXPECT_LT(rule.nodes[i - 1], rule.nodes[i]);
    }
  }

  // E[Z^{2k}] = (2k−1)!! overflows double by 2k ≈ 300, so the sum is carried
  // scaled: t_i = w_i·x_i^{2k}/(2k−1)!!, updated by x_i²/(2k−1), must sum to 1.
  // Error budget: the node's rounding (ε/2) is raised to the power 2k, and
  // each update rounds twice, so every term is off by at most ~2k·1.5ε;
  // 2k·4ε leaves margin (observed up to 2k·1.75ε over all orders 1..512).
  // Odd moments cancel between mirrored nodes, up to the summation's rounding
  // of Σ|t_i| (n·ε).
  std::vector<double> t = rule.weights;
  for (int k = 1; 2 * k <= 2 * n - 1; ++k) {
    double even = 0, odd = 0, oddAbs = 0;
    for (int i = 0; i < n; ++i) {
      double x = rule.nodes[i];
      odd += t[i] * x;  // Σ w·x^{2k−1} / (2k−3)!!
      oddAbs += std::fabs(t[i] * x);
      t[i] *= x * x / (2 * k - 1);
      even += t[i];
    }
    EXPECT_NEAR(even, 1.0, 2 * k * 4 * kEps) << "E[Z^" << 2 * k << "]";
    EXPECT_NEAR(odd, 0.0, n * kEps * oddAbs) << "E[Z^" << 2 * k - 1 << "]";
  }
}

TEST(Quadrature, IntegratesGaussianMomentsExactlyUpToDegree2nMinus1) {
  expectExactMoments(20);
  expectExactMoments(200);
}

TEST(Quadrature, IsNotExactAtDegree2n) {
  // The n-point Gauss rule is exact below degree 2n and no further: Z^{2n} −
  // He_n(Z)² has degree < 2n and He_n vanishes at the nodes, so
  // Q[Z^{2n}] = E[Z^{2n}] − E[He_n²] = (2n−1)!! − n!. This pins the rule to n
  // points of a Gauss rule rather than any rule of high enough degree.
  for (int n : {3, 8, 20}) {
    const GaussHermiteRule& rule = gaussHermite(n);
    double q = 0;
    for (int i = 0; i < n; ++i) q += rule.weights[i] * std::pow(rule.nodes[i], 2 * n);
    double doubleFactorial = 1, factorial = 1;
    for (int j = 1; j <= n; ++j) {
      doubleFactorial *= 2 * j - 1;
      factorial *= j;
    }
    EXPECT_NEAR(q / doubleFactorial, 1 - factorial / doubleFactorial, 1e-13) << "order " << n;
  }
}

TEST(Quadrature, LargestOrderIsValid) {
  // Weights of the outermost nodes (|x| ≳ 38) underflow double and are 0.
  const GaussHermiteRule& rule = gaussHermite(kMaxGaussHermiteOrder);
  double sum = 0;
  for (double w : rule.weights) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-14);
  EXPECT_EQ(rule.nodes.front(), -rule.nodes.back());
  EXPECT_TRUE(std::is_sorted(rule.nodes.begin(), rule.nodes.end()));
}

TEST(Quadrature, RejectsOrdersOutsideRange) {
  EXPECT_THROW(gaussHermite(0), std::invalid_argument);
  EXPECT_THROW(gaussHermite(-3), std::invalid_argument);
  EXPECT_THROW(gaussHermite(kMaxGaussHermiteOrder + 1), std::invalid_argument);
}

TEST(Quadrature, RulesAreComputedOnceAndSharedAcrossThreads) {
  std::vector<const GaussHermiteRule*> seen(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([&seen, t] { seen[t] = &gaussHermite(t % 2 ? 37 : 41); });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(seen[t], &gaussHermite(t % 2 ? 37 : 41));
  EXPECT_EQ(gaussHermite(37).nodes.size(), 37u);
}

// ---------------------------------------------------------------------------
// References for the expectations
// ---------------------------------------------------------------------------

/// ∫_lo^hi h on panels no wider than `width`, each by 20-point Gauss–Legendre
/// (Boost.Math).
template <class H>
double panels(const H& h, double lo, double hi, double width) {
  int count = std::max(1, static_cast<int>(std::ceil((hi - lo) / width)));
  double total = 0;
  for (int i = 0; i < count; ++i)
    total += boost::math::quadrature::gauss<double, 20>::integrate(h, lo + (hi - lo) * i / count,
                                                                   lo + (hi - lo) * (i + 1) / count);
  return total;
}

/// E[f^(fk)(u) g^(gk)(v)] in polar coordinates of the Cholesky variables:
/// z = r(cos t, sin t), u = sqrt(a)·r·cos t, v = sqrt(b)·r·cos(t − ψ) with
/// ψ = atan2(sqrt(ab − c²), c) (exactly 0 or π when c² = ab), and density
/// e^{−r²/2} r dr dt / 2π. Every kink of the functions here is at u = 0 or
/// v = 0, i.e. at the four angles ±π/2 and ψ ± π/2,
/// so splitting the angle there leaves an integrand that is analytic in t on
/// each sector and in r on [0, ∞). Composite Gauss–Legendre then converges
/// geometrically: in t on panels of 0.2 rad (the steepest integrand, erf(2r
/// cos t) with weight r e^{−r²/2}, turns over ~0.1 rad where the weight still
/// matters), in r on [0, 9] in panels of 1.5 (the cut drops
/// ∫_9^∞ r⁵ e^{−r²/2} ≈ 1e-14 for the fastest-growing integrand, square ×
/// square). Independent of expectPair's code: no closed forms and no
/// Gauss–Hermite.
double referencePair(Fn f, int fk, Fn g, int gk, double a, double b, double c) {
  const double pi = std::numbers::pi, sa = std::sqrt(a), sb = std::sqrt(b);
  const double psi = std::atan2(std::sqrt(std::max(a * b - c * c, 0.0)), c);
  std::vector<double> cuts = {0.0, 2 * pi};
  for (double t : {pi / 2, 3 * pi / 2, psi + pi / 2, psi + 3 * pi / 2}) cuts.push_back(std::fmod(t, 2 * pi));
  std::sort(cuts.begin(), cuts.end());
  auto radial = [&](double t) {
    const double cu = sa * std::cos(t), cv = sb * std::cos(t - psi);
    auto h = [&](double r) {
      double fu = evalActivation(f, fk, cu * r);
      return fu == 0 ? 0.0 : fu * evalActivation(g, gk, cv * r) * r * std::exp(-0.5 * r * r);
    };
    return panels(h, 0.0, 9.0, 1.5);
  };
  double total = 0;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    if (cuts[i + 1] > cuts[i]) total += panels(radial, cuts[i], cuts[i + 1], 0.2);
  return total / (2 * pi);
}

/// E[f^(k)(u)], u ~ N(0, var), by Gauss–Legendre panels on [−12, 0] and
/// [0, 12] (wide enough for exp at var 3.7, whose integrand peaks at z ≈ 1.9).
double referenceSingle(Fn f, int k, double var) {
  auto h = [&](double z) {
    return evalActivation(f, k, std::sqrt(var) * z) * std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi);
  };
  return panels(h, -12.0, 0.0, 1.0) + panels(h, 0.0, 12.0, 1.0);
}

struct MonteCarlo {
  double mean, standardError;
};

/// E[f^(fk)(u) g^(gk)(v)] from `samples` independent draws.
MonteCarlo monteCarloPair(Fn f, int fk, Fn g, int gk, double a, double b, double c, int samples, uint64_t seed) {
  Rng rng(seed);
  const double sa = std::sqrt(a), mu = c / sa, s = std::sqrt(std::max(b - c * c / a, 0.0));
  double sum = 0, sumSq = 0;
  for (int i = 0; i < samples; ++i) {
    double z1 = rng.normal(), z2 = rng.normal();
    double y = evalActivation(f, fk, sa * z1) * evalActivation(g, gk, mu * z1 + s * z2);
    sum += y;
    sumSq += y * y;
  }
  double mean = sum / samples, var = (sumSq / samples - mean * mean) * samples / (samples - 1.0);
  return {mean, std::sqrt(var / samples)};
}

struct FnOrder {
  Fn f;
  int k;
};

std::string name(FnOrder fo) { return std::string(ir::fnName(fo.f)) + "^(" + std::to_string(fo.k) + ")"; }

/// A covariance (a, b, c = ρ·sqrt(ab)).
struct Cov {
  double a, b, rho;
  double c() const { return rho * std::sqrt(a * b); }
};

std::string label(FnOrder f, FnOrder g, Cov cov) {
  return name(f) + " x " + name(g) + " at a = " + std::to_string(cov.a) + ", b = " + std::to_string(cov.b) +
         ", rho = " + std::to_string(cov.rho);
}

/// Uncorrelated, moderate and near-degenerate correlations of both signs
/// (|ρ| = 1 − 1e-4 and exactly 1), unequal variances in both orders.
///
/// At |ρ| = 1 the step and sign kernels move like sqrt(1 − |ρ|), so one ulp
/// of c changes them by sqrt(ε) ≈ 1e-8: there the variances are chosen so that
/// c = ±sqrt(ab) is exact in double (ab = 1), and the correlation is exactly
/// ±1 for both the formulas and the reference. At |ρ| = 0.9999 the same
/// sensitivity is only ε/sqrt(1 − ρ²) ≈ 1e-14.
const std::vector<Cov> kCovariances = {{1, 1, 0},          {1, 1, 0.6},  {0.5, 2, -0.7}, {2, 0.5, 0.9999},
                                       {4, 0.25, -0.9999}, {2, 0.5, 1}, {0.25, 4, -1}};

// ---------------------------------------------------------------------------
// Closed forms
// ---------------------------------------------------------------------------

TEST(GaussianExpectation, PiecewiseClosedFormsMatchPolarReference) {
  // Every atom pair of the closed forms, in both orders, with mirrored atoms
  // (abs, sign), a vanishing derivative (relu'') and the derivative-order
  // mapping. Gauss–Hermite would converge like 1/n on these kinked integrands
  // (see KinkedQuadratureReportsItsSlowConvergence), hence the polar reference, which splits
  // at the kinks and converges geometrically (observed agreement: 3e-15).
  // The closed forms are good to a few ulps, except that acos-type terms near
  // |ρ| = 1 lose ~ε/sqrt(1 − ρ²) ≈ 1e-14. All values are O(1) (a, b ≤ 4), so
  // 1e-10·max(1, |ref|) is generous and still far below the effect of any
  // wrong coefficient or sign.
  const std::vector<FnOrder> fns = {{Fn::Id, 0},   {Fn::Id, 1},   {Fn::Square, 0}, {Fn::Relu, 0},
                                    {Fn::Relu, 1}, {Fn::Relu, 2}, {Fn::Step, 0},   {Fn::Abs, 0},
                                    {Fn::Abs, 1},  {Fn::Erf, 0},  {Fn::Erf, 1}};
  double worst = 0;
  for (FnOrder f : fns)
    for (FnOrder g : fns)
      for (Cov cov : kCovariances) {
        PairExpectation e = expectPair(f.f, f.k, g.f, g.k, cov.a, cov.b, cov.c());
        double ref = referencePair(f.f, f.k, g.f, g.k, cov.a, cov.b, cov.c());
        EXPECT_TRUE(e.closedForm) << label(f, g, cov);
        EXPECT_EQ(e.error, 0.0) << label(f, g, cov);
        EXPECT_NEAR(e.value, ref, 1e-10 * std::max(1.0, std::fabs(ref))) << label(f, g, cov);
        worst = std::max(worst, std::fabs(e.value - ref) / std::max(1.0, std::fabs(ref)));
      }
  std::printf("piecewise closed forms: max deviation from reference %.3g\n", worst);
}

TEST(GaussianExpectation, SmoothClosedFormsMatchOrder400Quadrature) {
  // Polynomials, erf, erf' and the exponentials are entire, so Gauss–Hermite
  // at order 400 converges to rounding for these variances ≤ 4 (observed
  // 1e-15; the largest value, E[e^u e^v] = e^{2.25}, is compared relatively).
  // 1e-10·max(1, |ref|) leaves five orders of margin.
  const std::vector<FnOrder> fns = {{Fn::Id, 0},  {Fn::Id, 1},  {Fn::Square, 0}, {Fn::Square, 1},
                                    {Fn::Erf, 0}, {Fn::Erf, 1}, {Fn::Exp, 0},    {Fn::Sin, 0},
                                    {Fn::Sin, 1}, {Fn::Cos, 0}, {Fn::Cos, 3}};
  auto family = [](Fn f) { return f == Fn::Exp || f == Fn::Sin || f == Fn::Cos ? 1 : 0; };
  auto affine = [](FnOrder fo) { return fo.f == Fn::Id || (fo.f == Fn::Square && fo.k >= 1); };
  double worst = 0;
  int closed = 0;
  for (FnOrder f : fns)
    for (FnOrder g : fns) {
      // Closed: two of the same family, or an affine function against an
      // exponential (Stein's lemma).
      bool expectClosed = family(f.f) == family(g.f) || affine(f) || affine(g);
      for (Cov cov : kCovariances) {
        PairExpectation e = expectPair(f.f, f.k, g.f, g.k, cov.a, cov.b, cov.c());
        ASSERT_EQ(e.closedForm, expectClosed) << label(f, g, cov);
        if (!e.closedForm) continue;
        ++closed;
        double ref = expectPairQuadrature(f.f, f.k, g.f, g.k, cov.a, cov.b, cov.c(), 400).value;
        EXPECT_NEAR(e.value, ref, 1e-10 * std::max(1.0, std::fabs(ref))) << label(f, g, cov);
        worst = std::max(worst, std::fabs(e.value - ref) / std::max(1.0, std::fabs(ref)));
      }
    }
  EXPECT_GT(closed, 0);
  std::printf("smooth closed forms (%d cases): max deviation from order-400 quadrature %.3g\n", closed, worst);
}

TEST(GaussianExpectation, ArcCosineAndErfKernelsAgreeWithMonteCarlo) {
  // A check of the formulas that involves no quadrature at all: 10^6
  // samples, within 5 standard errors (a false alarm has probability 6e-7
  // per comparison; the seed is fixed, so the test is deterministic).
  const Cov cov = {1.5, 0.8, 0.45};
  for (auto [f, fk, g, gk] : {std::tuple{Fn::Relu, 0, Fn::Relu, 0}, std::tuple{Fn::Step, 0, Fn::Step, 0},
                              std::tuple{Fn::Relu, 0, Fn::Step, 0}, std::tuple{Fn::Erf, 0, Fn::Erf, 0},
                              std::tuple{Fn::Erf, 1, Fn::Erf, 1}, std::tuple{Fn::Step, 0, Fn::Erf, 0}}) {
    PairExpectation e = expectPair(f, fk, g, gk, cov.a, cov.b, cov.c());
    MonteCarlo mc = monteCarloPair(f, fk, g, gk, cov.a, cov.b, cov.c(), 1000000, 17);
    EXPECT_TRUE(e.closedForm);
    EXPECT_NEAR(e.value, mc.mean, 5 * mc.standardError) << label({f, fk}, {g, gk}, cov);
  }
}

TEST(GaussianExpectation, SingleExpectationsMatchReference) {
  // 1-D: closed forms against Gauss–Legendre split at the kink (converges
  // geometrically; observed agreement ~1e-15); the others are the order-64
  // Gauss–Hermite rule itself.
  const std::vector<FnOrder> closed = {{Fn::Id, 0},   {Fn::Id, 1},  {Fn::Square, 0}, {Fn::Relu, 0},
                                       {Fn::Relu, 1}, {Fn::Step, 0}, {Fn::Abs, 0},   {Fn::Abs, 1},
                                       {Fn::Erf, 0},  {Fn::Erf, 1}, {Fn::Exp, 2},    {Fn::Sin, 1},
                                       {Fn::Cos, 0},  {Fn::Cos, 2}};
  for (double var : {0.3, 1.0, 3.7})
    for (FnOrder f : closed) {
      double ref = referenceSingle(f.f, f.k, var);
      EXPECT_NEAR(expectSingle(f.f, f.k, var), ref, 1e-12 * std::max(1.0, std::fabs(ref)))
          << name(f) << " var " << var;
    }
  const GaussHermiteRule& rule = gaussHermite(64);
  double q = 0;
  for (size_t i = 0; i < rule.nodes.size(); ++i)
    q += rule.weights[i] * evalActivation(Fn::Tanh, 1, std::sqrt(0.7) * rule.nodes[i]);
  EXPECT_DOUBLE_EQ(expectSingle(Fn::Tanh, 1, 0.7), q);
  EXPECT_EQ(expectSingle(Fn::Sigmoid, 0, 0.0), 0.5);  // var = 0: the value at 0
  EXPECT_EQ(expectSingle(Fn::Relu, 1, 0.0), 0.0);     // step(0) = 0, as evalActivation
}

// ---------------------------------------------------------------------------
// Quadrature
// ---------------------------------------------------------------------------

TEST(GaussianExpectation, SmoothQuadratureConvergesAndMatchesMonteCarlo) {
  // Gauss–Hermite on an integrand analytic in the strip |Im z| < d converges
  // like exp(−2d·sqrt(n)) (observed: the log-error falls by π per unit of
  // sqrt(n) for tanh at unit variance). tanh(sqrt(a)·z) has poles at
  // |Im z| = π/(2 sqrt(a)), so order 64 reaches 1e-10 only for a ≲ 0.95
  // (at a = b = 1, ρ = 0.6 it is 1.3e-10; see the next test). gelu is entire
  // and converges to rounding by order 64 at every variance used here. The
  // Monte Carlo check (10^6 samples, 5 standard errors) confirms the value is
  // the expectation and not a converged wrong one.
  struct Case {
    Fn f;
    Cov cov;
  };
  const std::vector<Case> cases = {{Fn::Tanh, {0.5, 0.5, 0.6}}, {Fn::Tanh, {0.8, 0.6, 0.9}},
                                   {Fn::Tanh, {0.5, 0.9, -0.8}}, {Fn::Gelu, {1, 1, 0.6}},
                                   {Fn::Gelu, {2, 0.5, 0.9}},    {Fn::Gelu, {0.5, 1.8, -0.8}}};
  double worst = 0;
  uint64_t seed = 1;
  for (const Case& k : cases) {
    const Cov& cov = k.cov;
    PairExpectation q64 = expectPair(k.f, 0, k.f, 0, cov.a, cov.b, cov.c());
    PairExpectation q400 = expectPair(k.f, 0, k.f, 0, cov.a, cov.b, cov.c(), 400);
    EXPECT_FALSE(q64.closedForm);
    EXPECT_NEAR(q64.value, q400.value, 1e-10) << label({k.f, 0}, {k.f, 0}, cov);
    // The estimate compares with order 32, so it is at least the actual error.
    EXPECT_GE(q64.error + 1e-15, std::fabs(q64.value - q400.value)) << label({k.f, 0}, {k.f, 0}, cov);
    worst = std::max(worst, std::fabs(q64.value - q400.value));
    MonteCarlo mc = monteCarloPair(k.f, 0, k.f, 0, cov.a, cov.b, cov.c(), 1000000, seed++);
    EXPECT_NEAR(q400.value, mc.mean, 5 * mc.standardError) << label({k.f, 0}, {k.f, 0}, cov);
    std::printf("%s: Q64 − Q400 = %.2g (estimate %.2g), Q400 − MC = %.2g SE\n",
                label({k.f, 0}, {k.f, 0}, cov).c_str(), q64.value - q400.value, q64.error,
                (q400.value - mc.mean) / mc.standardError);
  }
  std::printf("tanh/gelu: max |Q64 − Q400| = %.3g\n", worst);
}

TEST(GaussianExpectation, TanhQuadratureConvergesAtTheRateSetByItsPoles) {
  // The rate quoted above, as a bound with margin: |Q_n − Q_400| ≤
  // 100·exp(−π·sqrt(n/a)) with a the larger variance (observed factor ≤ 5).
  // At unit variance this is 1.3e-10 at n = 64 and 4e-15 at n = 128.
  for (Cov cov : {Cov{1, 1, 0.6}, Cov{2, 0.5, 0.9}, Cov{0.5, 1.8, -0.8}}) {
    double q400 = expectPair(Fn::Tanh, 0, Fn::Tanh, 0, cov.a, cov.b, cov.c(), 400).value;
    for (int n : {32, 64, 128}) {
      double q = expectPair(Fn::Tanh, 0, Fn::Tanh, 0, cov.a, cov.b, cov.c(), n).value;
      double bound = 100 * std::exp(-std::numbers::pi * std::sqrt(n / std::max(cov.a, cov.b)));
      EXPECT_LE(std::fabs(q - q400), std::max(bound, 1e-15))
          << label({Fn::Tanh, 0}, {Fn::Tanh, 0}, cov) << " n " << n;
    }
  }
}

TEST(GaussianExpectation, KinkedQuadratureReportsItsSlowConvergence) {
  // relu × sigmoid has no closed form and a kink at u = 0, so Gauss–Hermite
  // converges only like 1/n (observed: the error quarters when n quadruples,
  // 1.4e-3 at the default order 64). With an error C/n of fixed sign,
  // Q_{n/2} − Q_n = C/n is the error of Q_n itself, so the estimate should
  // match the actual error (against the polar reference) to within the
  // higher-order terms: we require a factor 1.5 either way (observed ≤ 1.05).
  const Cov cov = {1.2, 0.9, 0.5};
  double ref = referencePair(Fn::Relu, 0, Fn::Sigmoid, 0, cov.a, cov.b, cov.c());
  for (int order : {16, 64, 256}) {
    PairExpectation e = expectPair(Fn::Relu, 0, Fn::Sigmoid, 0, cov.a, cov.b, cov.c(), order);
    double actual = std::fabs(e.value - ref);
    EXPECT_FALSE(e.closedForm);
    EXPECT_GE(1.5 * e.error, actual) << "order " << order;
    EXPECT_LE(e.error, 1.5 * actual) << "order " << order;
    std::printf("relu x sigmoid order %d: actual error %.3g, estimate %.3g\n", order, actual, e.error);
  }
}

// ---------------------------------------------------------------------------
// Degenerate covariances and argument checks
// ---------------------------------------------------------------------------

TEST(GaussianExpectation, DegenerateCovariancesAreFinite) {
  // Zero variance: the variable is exactly 0.
  EXPECT_EQ(expectPair(Fn::Relu, 0, Fn::Relu, 0, 0, 1, 0).value, 0.0);
  EXPECT_EQ(expectPair(Fn::Step, 0, Fn::Step, 0, 1, 0, 0).value, 0.0);  // step(0) = 0
  EXPECT_DOUBLE_EQ(expectPair(Fn::Cos, 0, Fn::Cos, 0, 0, 2, 0).value, std::exp(-1.0));
  EXPECT_DOUBLE_EQ(expectPair(Fn::Sigmoid, 0, Fn::Sigmoid, 0, 0, 0, 0).value, 0.25);
  PairExpectation tanhFixed = expectPair(Fn::Tanh, 1, Fn::Tanh, 1, 0, 1, 0);
  EXPECT_FALSE(tanhFixed.closedForm);
  EXPECT_DOUBLE_EQ(tanhFixed.value, expectSingle(Fn::Tanh, 1, 1.0));
  EXPECT_EQ(expectPair(Fn::Tanh, 0, Fn::Log, 0, 0, 1, 0).value, 0.0);  // tanh(0)·E[log v] = 0, not NaN

  // |c| = sqrt(ab): every closed form is finite and continuous there (the
  // reference comparison above checks the values; here the limit from inside).
  const std::vector<FnOrder> fns = {{Fn::Id, 0},   {Fn::Square, 0}, {Fn::Relu, 0}, {Fn::Step, 0},
                                    {Fn::Abs, 1},  {Fn::Erf, 0},    {Fn::Erf, 1},  {Fn::Cos, 1}};
  for (FnOrder f : fns)
    for (FnOrder g : fns)
      for (double sign : {1.0, -1.0}) {
        double a = 1.7, b = 0.6, c = sign * std::sqrt(a * b);
        PairExpectation edge = expectPair(f.f, f.k, g.f, g.k, a, b, c);
        PairExpectation inside = expectPair(f.f, f.k, g.f, g.k, a, b, c * (1 - 1e-12));
        EXPECT_TRUE(std::isfinite(edge.value)) << name(f) << " x " << name(g);
        // Near the edge the kernels vary like sqrt(1 − ρ) ≈ 1e-6 here.
        EXPECT_NEAR(edge.value, inside.value, 1e-5) << name(f) << " x " << name(g);
      }

  // A few ulps past the Cauchy–Schwarz bound is clamped, not rejected.
  EXPECT_EQ(expectPair(Fn::Relu, 0, Fn::Relu, 0, 2, 2, 2 * (1 + 1e-14)).value,
            expectPair(Fn::Relu, 0, Fn::Relu, 0, 2, 2, 2).value);
}

TEST(GaussianExpectation, RejectsInvalidArguments) {
  EXPECT_THROW(expectPair(Fn::Relu, 0, Fn::Relu, 0, -1, 1, 0), std::invalid_argument);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(expectPair(Fn::Relu, 0, Fn::Relu, 0, 1, nan, 0), std::invalid_argument);
  EXPECT_THROW(expectPair(Fn::Relu, 0, Fn::Relu, 0, 1, 1, 1.001), std::invalid_argument);
  EXPECT_THROW(expectPair(Fn::Relu, -1, Fn::Relu, 0, 1, 1, 0), std::invalid_argument);
  EXPECT_THROW(expectPair(Fn::Tanh, 0, Fn::Tanh, 0, 1, 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(expectPair(Fn::Tanh, 0, Fn::Tanh, 0, 1, 1, 0, 513), std::invalid_argument);
  EXPECT_THROW(expectSingle(Fn::Tanh, 0, -0.5), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// The NNGP / NTK anchors of DESIGN.md §5
// ---------------------------------------------------------------------------

TEST(GaussianExpectation, ReluNtkAnchors) {
  // NTK parametrization, σ_w² = 1, no bias, ReLU; inputs scaled by 1/d with
  // x·x/d = 1 and x₁·x₂/d = 0.6, so Σ⁰ = Θ⁰ = [[1, .6], [.6, 1]]. Per layer
  // (Jacot et al. 2018, Thm 1, with σ_w² = 1):
  //   Σ^{l+1}(x, y) = E[relu(u) relu(v)],   (u, v) ~ N(0, Σ^l restricted to x, y)
  //   Θ^{l+1}(x, y) = Σ^{l+1}(x, y) + Θ^l(x, y)·E[step(u) step(v)].
  // On the diagonal E[relu(u)²] = a/2 and E[step(u)²] = 1/2, so Σ^L = 2^{−L}
  // and Θ^L = (L + 1)·2^{−L}. (DESIGN.md writes "(L+1)/2", which agrees only at
  // L = 1; its off-diagonal anchors are those of this recursion.)
  const double nngp[] = {0.338774, 0.183358, 0.096914};
  const double ntk[] = {0.550224, 0.386104, 0.244036};
  double s11 = 1, s22 = 1, s12 = 0.6, t11 = 1, t22 = 1, t12 = 0.6;
  for (int L = 1; L <= 3; ++L) {
    auto relu = [](double a, double b, double c) { return expectPair(Fn::Relu, 0, Fn::Relu, 0, a, b, c).value; };
    auto step = [](double a, double b, double c) { return expectPair(Fn::Step, 0, Fn::Step, 0, a, b, c).value; };
    double n11 = relu(s11, s11, s11), n22 = relu(s22, s22, s22), n12 = relu(s11, s22, s12);
    t11 = n11 + t11 * step(s11, s11, s11);
    t22 = n22 + t22 * step(s22, s22, s22);
    t12 = n12 + t12 * step(s11, s22, s12);
    s11 = n11, s22 = n22, s12 = n12;
    // The anchors are given to 6 decimals: agreement within half a unit of
    // the last digit.
    EXPECT_NEAR(s12, nngp[L - 1], 5e-7) << "NNGP, L = " << L;
    EXPECT_NEAR(t12, ntk[L - 1], 5e-7) << "NTK, L = " << L;
    EXPECT_NEAR(s11, std::ldexp(1.0, -L), 1e-14) << "L = " << L;
    EXPECT_NEAR(s22, std::ldexp(1.0, -L), 1e-14) << "L = " << L;
    EXPECT_NEAR(t11, (L + 1) * std::ldexp(1.0, -L), 1e-14) << "L = " << L;
    EXPECT_NEAR(t22, (L + 1) * std::ldexp(1.0, -L), 1e-14) << "L = " << L;
    std::printf("L = %d: NNGP %.9f (diag %.17g), NTK %.9f (diag %.17g)\n", L, s12, s11, t12, t11);
  }
}

}  // namespace
}  // namespace tp
