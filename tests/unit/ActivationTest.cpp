// Checks every activation derivative against finite differences, closed forms and extreme inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "runtime/Activation.h"

namespace tp {
namespace {

using ir::Fn;

const std::vector<Fn> kAllFns = {Fn::Id,  Fn::Relu,     Fn::Tanh,   Fn::Sigmoid, Fn::Gelu,
                                 Fn::Erf, Fn::Sin,      Fn::Cos,    Fn::Exp,     Fn::Softplus,
                                 Fn::Square, Fn::Abs,   Fn::Step,   Fn::Sqrt,    Fn::Log};

std::string label(Fn f, int order, double x) {
  return "fn #" + std::to_string(static_cast<int>(f)) + " order " + std::to_string(order) + " at x = " +
         std::to_string(x);
}

/// 20 test points. On the real line: -2.85, -2.55, ..., 2.85, which stay 0.15
/// away from the kinks of relu, abs and step at 0. For sqrt and log, whose
/// domain is x > 0: 0.2, 0.4, ..., 4.0.
std::vector<double> testPoints(Fn f) {
  std::vector<double> xs;
  bool positive = f == Fn::Sqrt || f == Fn::Log;
  for (int i = 0; i < 20; ++i) xs.push_back(positive ? 0.2 + 0.2 * i : -2.85 + 0.3 * i);
  return xs;
}

/// Compares f^(k) with the central difference of f^(k-1).
///
/// Error of (g(x+h) - g(x-h)) / 2h against g'(x): truncation h²/6·|g'''| plus
/// rounding ≈ ε·|g|/h. With h = 1e-5 both are ≈ 2e-11 times the size of
/// neighbouring derivatives. On these grids a derivative is at most ~100 times
/// its neighbour (worst case log near 0.2, where each order multiplies by
/// k/x ≤ 30), so the error stays below ~1e-8·max(1, |f^(k)|). A tolerance of
/// 1e-6 relative to that leaves margin, while a wrong coefficient or sign in a
/// formula gives an O(1) relative error.
void expectMatchesFiniteDifference(Fn f, int order, const std::vector<double>& xs, double relTol) {
  const double h = 1e-5;
  for (double x : xs) {
    double fd = (evalActivation(f, order - 1, x + h) - evalActivation(f, order - 1, x - h)) / (2 * h);
    double exact = evalActivation(f, order, x);
    EXPECT_NEAR(exact, fd, relTol * std::max(1.0, std::fabs(exact))) << label(f, order, x);
  }
}

TEST(Activation, DerivativesMatchFiniteDifferences) {
  for (Fn f : kAllFns)
    for (int order = 1; order <= 4; ++order) expectMatchesFiniteDifference(f, order, testPoints(f), 1e-6);
}

TEST(Activation, HighOrdersBeyondPrecomputedTableMatchFiniteDifferences) {
  // Orders 11..16 cross the precomputed polynomial table (12) into the
  // on-demand one. A k-th derivative varies on the scale d/k, with d the
  // distance to the nearest complex singularity (π/2 for tanh), so next to
  // f^(k) its neighbours f^(k-1) and f^(k+2) are ~d/k and ~(k/d)² times as
  // large, and near a zero of f^(k) the comparison is against max(1, |f^(k)|)
  // only. The finite difference itself is then good to ~3e-7 (observed); 1e-5
  // still catches a wrong coefficient (O(1)). The formula values are checked
  // to 1e-11 against high-precision references in the next test.
  const std::vector<double> xs = {-1.7, -0.9, -0.35, 0.2, 0.55, 1.3, 2.1};
  for (Fn f : {Fn::Tanh, Fn::Sigmoid, Fn::Softplus, Fn::Erf, Fn::Gelu})
    for (int order = 11; order <= 16; ++order) expectMatchesFiniteDifference(f, order, xs, 1e-5);
}

TEST(Activation, HighOrdersMatchHighPrecisionReference) {
  // References: mpmath.diff at 50 digits. The formulas lose about a factor
  // (π/2)^k ≈ 1e4 (k = 20) over machine precision to cancellation between
  // terms, so 1e-11 relative is the budget.
  struct Case {
    Fn f;
    int order;
    double x, expected;
  };
  const std::vector<Case> cases = {
      {Fn::Tanh, 15, 1.3, -1932822.1530689836},
      {Fn::Tanh, 20, -0.4, 165796768465284.13},
      {Fn::Tanh, 18, 6.0, 1.920105805326519},
      {Fn::Sigmoid, 16, -1.7, -13964.234638876552},
      {Fn::Sigmoid, 19, 2.5, -131368.61341256609},
      {Fn::Sigmoid, 14, -12.0, 5.526803347661578e-6},
      {Fn::Softplus, 17, 0.8, -77188.385617453933},
      {Fn::Erf, 14, 0.9, 2519340.9308313124},
      {Fn::Erf, 20, -2.2, -8619600994.3511055},
      {Fn::Gelu, 13, -0.6, -11835.495137645303},
      {Fn::Gelu, 18, 1.9, -1344651.2621483997},
  };
  for (const Case& c : cases)
    EXPECT_NEAR(evalActivation(c.f, c.order, c.x), c.expected, 1e-11 * std::fabs(c.expected))
        << label(c.f, c.order, c.x);
}

TEST(Activation, ClosedForms) {
  const double sqrtPi = std::sqrt(std::numbers::pi);
  const double t = std::tanh(0.3);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 1, 0.3), 1 - t * t);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 2, 0.3), -2 * t * (1 - t * t));
  // tanh^(k)(0) are the signed tangent numbers; 11 and 13 are beyond the precomputed table.
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 3, 0.0), -2);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 5, 0.0), 16);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 7, 0.0), -272);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 11, 0.0), -353792);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 13, 0.0), 22368256);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Tanh, 14, 0.0), 0);

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sigmoid, 0, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sigmoid, 1, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sigmoid, 2, 0.0), 0);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sigmoid, 3, 0.0), -0.125);  // s(1-s)(1-6s+6s²) at s = 1/2
  const double s = 1 / (1 + std::exp(-1.2));
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sigmoid, 2, 1.2), s * (1 - s) * (1 - 2 * s));

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Gelu, 0, 0.0), 0);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Gelu, 1, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Gelu, 0, 1.0), 0.5 * (1 + std::erf(1 / std::numbers::sqrt2)));
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Gelu, 2, 0.0), 2 / std::sqrt(2 * std::numbers::pi));  // 2φ(0)
  EXPECT_NEAR(evalActivation(Fn::Gelu, 0, -1.0), -0.15865525393145707, 1e-15);  // -Φ(-1)

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Erf, 0, 0.5), std::erf(0.5));
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Erf, 1, 0.0), 2 / sqrtPi);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Erf, 2, 0.0), 0);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Erf, 3, 0.0), -4 / sqrtPi);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Erf, 2, 0.7), -2 * 0.7 * 2 / sqrtPi * std::exp(-0.49));

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Softplus, 0, 0.0), std::log(2.0));
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Softplus, 0, 800.0), 800);
  EXPECT_TRUE(std::isfinite(evalActivation(Fn::Softplus, 0, -800.0)));
  EXPECT_GE(evalActivation(Fn::Softplus, 0, -800.0), 0);
  EXPECT_NEAR(evalActivation(Fn::Softplus, 0, -30.0), std::exp(-30.0), 1e-25);
  for (double x : {-3.0, -0.4, 0.0, 2.5})
    for (int k = 1; k <= 5; ++k)
      EXPECT_DOUBLE_EQ(evalActivation(Fn::Softplus, k, x), evalActivation(Fn::Sigmoid, k - 1, x));

  for (int k = 0; k <= 9; ++k) {
    const double sinCycle[4] = {std::sin(1.0), std::cos(1.0), -std::sin(1.0), -std::cos(1.0)};
    EXPECT_DOUBLE_EQ(evalActivation(Fn::Sin, k, 1.0), sinCycle[k % 4]) << k;
    EXPECT_DOUBLE_EQ(evalActivation(Fn::Cos, k, 1.0), sinCycle[(k + 1) % 4]) << k;
    EXPECT_DOUBLE_EQ(evalActivation(Fn::Exp, k, 1.0), std::numbers::e) << k;
  }

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sqrt, 0, 4.0), 2);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sqrt, 1, 4.0), 0.25);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sqrt, 2, 4.0), -1.0 / 32);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Sqrt, 3, 4.0), 3.0 / 256);  // (3/8) x^{-5/2}
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Log, 1, 2.0), 0.5);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Log, 3, 2.0), 0.25);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Log, 5, 2.0), 24.0 / 32);

  EXPECT_DOUBLE_EQ(evalActivation(Fn::Id, 0, -1.5), -1.5);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Id, 1, -1.5), 1);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Id, 2, -1.5), 0);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Square, 0, -3.0), 9);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Square, 1, -3.0), -6);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Square, 2, -3.0), 2);
  EXPECT_DOUBLE_EQ(evalActivation(Fn::Square, 3, -3.0), 0);
}

TEST(Activation, KinksTakeTheAlmostEverywhereDerivative) {
  EXPECT_EQ(evalActivation(Fn::Relu, 0, -2.0), 0);
  EXPECT_EQ(evalActivation(Fn::Relu, 0, 2.0), 2);
  EXPECT_EQ(evalActivation(Fn::Relu, 1, -2.0), 0);
  EXPECT_EQ(evalActivation(Fn::Relu, 1, 0.0), 0);
  EXPECT_EQ(evalActivation(Fn::Relu, 1, 2.0), 1);
  EXPECT_EQ(evalActivation(Fn::Relu, 2, 2.0), 0);
  EXPECT_EQ(evalActivation(Fn::Step, 0, 0.0), 0);
  EXPECT_EQ(evalActivation(Fn::Step, 0, 1e-300), 1);
  EXPECT_EQ(evalActivation(Fn::Step, 1, 0.5), 0);
  EXPECT_EQ(evalActivation(Fn::Abs, 0, -2.0), 2);
  EXPECT_EQ(evalActivation(Fn::Abs, 1, -2.0), -1);
  EXPECT_EQ(evalActivation(Fn::Abs, 1, 0.0), 0);
  EXPECT_EQ(evalActivation(Fn::Abs, 1, 2.0), 1);
  EXPECT_EQ(evalActivation(Fn::Abs, 2, 2.0), 0);
}

TEST(Activation, NoNaNAtExtremeInputs) {
  const double inf = std::numeric_limits<double>::infinity();
  for (Fn f : kAllFns) {
    std::vector<double> xs = {40, 800, 1e300, inf};
    if (f != Fn::Sqrt && f != Fn::Log) xs.insert(xs.end(), {-40, -800, -1e300, -inf});
    for (double x : xs) {
      if ((f == Fn::Sin || f == Fn::Cos) && std::isinf(x)) continue;  // sin(±inf) is NaN by definition
      for (int order = 0; order <= 8; ++order)
        EXPECT_FALSE(std::isnan(evalActivation(f, order, x))) << label(f, order, x);
    }
  }
  // The stable forms keep the right values, not just non-NaN ones.
  EXPECT_EQ(evalActivation(Fn::Tanh, 0, -40), -1);
  EXPECT_GE(evalActivation(Fn::Tanh, 1, 40), 0);
  EXPECT_NEAR(evalActivation(Fn::Tanh, 1, 20), 4 * std::exp(-40.0), 1e-30);
  EXPECT_EQ(evalActivation(Fn::Sigmoid, 0, -800), 0);
  EXPECT_EQ(evalActivation(Fn::Sigmoid, 0, 800), 1);
  EXPECT_NEAR(evalActivation(Fn::Sigmoid, 1, -40), std::exp(-40.0), 1e-30);
  EXPECT_EQ(evalActivation(Fn::Gelu, 0, -800), 0);
  EXPECT_EQ(evalActivation(Fn::Gelu, 0, 800), 800);
  EXPECT_EQ(evalActivation(Fn::Gelu, 1, 800), 1);
  EXPECT_EQ(evalActivation(Fn::Erf, 0, -40), -1);
}

TEST(Activation, DomainsOfSqrtAndLog) {
  EXPECT_TRUE(std::isnan(evalActivation(Fn::Sqrt, 0, -1.0)));
  EXPECT_TRUE(std::isnan(evalActivation(Fn::Sqrt, 1, -1.0)));
  EXPECT_TRUE(std::isnan(evalActivation(Fn::Log, 0, -1.0)));
  EXPECT_TRUE(std::isnan(evalActivation(Fn::Log, 2, -1.0)));
  EXPECT_EQ(evalActivation(Fn::Sqrt, 1, 0.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(evalActivation(Fn::Log, 0, 0.0), -std::numeric_limits<double>::infinity());
}

TEST(Activation, NegativeOrderIsAnInternalError) {
  EXPECT_THROW(evalActivation(Fn::Tanh, -1, 0.0), InternalError);
}

TEST(Activation, ApplyMatchesEvalIncludingInPlace) {
  std::vector<double> xs;
  for (int i = 0; i < 101; ++i) xs.push_back(-5 + 0.1 * i);
  for (Fn f : kAllFns)
    for (int order = 0; order <= 14; ++order) {
      std::vector<double> out(xs.size()), inPlace = xs;
      applyActivation(f, order, xs.data(), out.data(), xs.size());
      applyActivation(f, order, inPlace.data(), inPlace.data(), inPlace.size());
      for (size_t i = 0; i < xs.size(); ++i) {
        double expected = evalActivation(f, order, xs[i]);
        if (std::isnan(expected)) {  // sqrt and log below 0
          EXPECT_TRUE(std::isnan(out[i]) && std::isnan(inPlace[i])) << label(f, order, xs[i]);
          continue;
        }
        EXPECT_EQ(out[i], expected) << label(f, order, xs[i]);
        EXPECT_EQ(inPlace[i], expected) << label(f, order, xs[i]);
      }
    }
}

TEST(Activation, HighOrderCacheIsThreadSafe) {
  // Threads race to extend the on-demand tables (orders above 12); every one
  // must see the same values as a single thread computing them afterwards.
  const int kThreads = 8, kMaxOrder = 30;
  std::vector<std::vector<double>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = kMaxOrder; k >= 13; --k) {
        seen[t].push_back(evalActivation(Fn::Tanh, k, 0.37));
        seen[t].push_back(evalActivation(Fn::Sigmoid, k, -0.61));
      }
    });
  for (std::thread& th : threads) th.join();
  std::vector<double> expected;
  for (int k = kMaxOrder; k >= 13; --k) {
    expected.push_back(evalActivation(Fn::Tanh, k, 0.37));
    expected.push_back(evalActivation(Fn::Sigmoid, k, -0.61));
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(seen[t], expected);
}

}  // namespace
}  // namespace tp

namespace tp {
namespace {

/// |a − b| in units in the last place of b (b ≠ 0).
double ulps(double a, double b) { return std::fabs(a - b) / (std::nextafter(std::fabs(b), INFINITY) - std::fabs(b)); }

TEST(Activation, OwnExponentialsAndTanhAreWithinAFewUlpOfTheCLibrary) {
  // expNonPositive, expm1NonPositive and tanhFunction (the vectorisable versions both
  // backends use) against glibc's, which is within 1 ulp of the true values: a log-spaced
  // and a uniform sweep over every scale the activations meet. The bounds are the error
  // analysis plus glibc's own (≤ 1 ulp): e^y from the reduction and Horner sum (≤ 1 ulp) and
  // the product (½); e^y − 1 adds the final sum (½) and, for small |y|, p's rounding relative
  // to a small result (1); tanh adds 2 + m and the quotient (½ each) to expm1's. Measured on
  // the development machine: 1, 2 and 3 ulp (printed).
  double worstExp = 0, worstExpm1 = 0, worstTanh = 0;
  std::vector<double> points;
  for (int i = 0; i <= 20000; ++i) points.push_back(-std::pow(10.0, -12.0 + 15.0 * i / 20000.0));  // −1e−12 .. −1e3
  for (int i = 0; i <= 20000; ++i) points.push_back(-40.0 * i / 20000.0);
  for (double y : points) {
    if (y > -700) worstExp = std::max(worstExp, ulps(expNonPositive(y), std::exp(y)));
    if (y > -36) worstExpm1 = std::max(worstExpm1, ulps(expm1NonPositive(y), std::expm1(y)));
    double x = -y / 2;
    worstTanh = std::max({worstTanh, ulps(tanhFunction(x), std::tanh(x)), ulps(tanhFunction(-x), std::tanh(-x))});
  }
  EXPECT_LE(worstExp, 2.5);
  EXPECT_LE(worstExpm1, 3.0);
  EXPECT_LE(worstTanh, 4.0);
  std::printf("max ulp vs glibc: exp %.2f, expm1 %.2f, tanh %.2f\n", worstExp, worstExpm1, worstTanh);
  // The edges: exact values and limits, NaN kept, graceful underflow.
  EXPECT_EQ(expNonPositive(0.0), 1.0);
  EXPECT_EQ(expNonPositive(-0.0), 1.0);
  EXPECT_EQ(expm1NonPositive(0.0), 0.0);
  EXPECT_EQ(expNonPositive(-INFINITY), 0.0);
  EXPECT_EQ(expm1NonPositive(-INFINITY), -1.0);
  EXPECT_EQ(tanhFunction(0.0), 0.0);
  EXPECT_TRUE(std::signbit(tanhFunction(-0.0)));
  EXPECT_EQ(tanhFunction(40.0), 1.0);
  EXPECT_EQ(tanhFunction(-INFINITY), -1.0);
  EXPECT_TRUE(std::isnan(expNonPositive(NAN)) && std::isnan(expm1NonPositive(NAN)) && std::isnan(tanhFunction(NAN)));
  double tiny = expNonPositive(-740.0);  // subnormal: e^−740 ≈ 4.2e−322
  EXPECT_GT(tiny, 0.0);
  EXPECT_NEAR(tiny, std::exp(-740.0), 1e-323);
  EXPECT_EQ(expNonPositive(-800.0), 0.0);
}

}  // namespace
}  // namespace tp
