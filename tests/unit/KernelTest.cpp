// Kernels derived from programs against closed-form recursions written out here, independently of the runtime.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "TestUtil.h"
#include "compiler/driver/Pipeline.h"
#include "frontend/Lower.h"
#include "compiler/ir/Parametrization.h"
#include "runtime/GaussianExpectation.h"
#include "runtime/KernelLimit.h"

namespace tp {
namespace {

/// An L-hidden-layer MLP on x[d] with activation `act`, W1 ~ N(0, 1) (so h1 has
/// covariance x·x': inputs are used as given, no 1/d), hidden N(0, 1), readout N(0, 1),
/// squared loss, `backward: auto`, lr = 1.
ir::Program mlp(const std::string& act, int L, int d) {
  std::string s = "width n\ninput x[" + std::to_string(d) + "]\ntarget y\nparam W1[n, " + std::to_string(d) + "]\n";
  for (int l = 2; l <= L; ++l) s += "param W" + std::to_string(l) + "[n, n]\n";
  s += "param V[1, n]\nhyper lr = 1\noutput f\nforward:\n  h1 = W1 @ x\n  z1 = " + act + "(h1)\n";
  for (int l = 2; l <= L; ++l) {
    std::string i = std::to_string(l), p = std::to_string(l - 1);
    s += "  h" + i + " = W" + i + " @ z" + p + "\n  z" + i + " = " + act + "(h" + i + ")\n";
  }
  s += "  f = V @ z" + std::to_string(L) + "\n  loss = 0.5 * (f - y) ** 2\nbackward: auto\nupdate: sgd(lr)\n";
  Diagnostics diags("mlp.tp");
  auto p = frontend::compileSource(s, "mlp.tp", diags);
  if (!p) throw std::runtime_error(diags.format());
  return driver::runUntil(*p, "differentiated", {});
}

/// Σ and Θ of the recursion for one pair, with `dual(a, b, c)` = (E[φφ], E[φ'φ']).
template <class Dual>
std::pair<double, double> recursion(double a, double b, double c, int L, bool inputLayerTrains, Dual dual) {
  double theta = inputLayerTrains ? c : 0.0;
  for (int l = 0; l < L; ++l) {
    auto [sab, dab] = dual(a, b, c);
    double saa = dual(a, a, a).first, sbb = dual(b, b, b).first;
    theta = sab + theta * dab;  // the next layer's own term, plus the earlier ones through φ'
    a = saa, b = sbb, c = sab;
  }
  return {c, theta};
}

std::pair<double, double> reluDual(double a, double b, double c) {
  double cosT = std::clamp(c / std::sqrt(a * b), -1.0, 1.0), t = std::acos(cosT);
  return {std::sqrt(a * b) / (2 * M_PI) * (std::sin(t) + (M_PI - t) * cosT), (M_PI - t) / (2 * M_PI)};
}

/// Williams (1997) for erf and its derivative 2/√π e^{−x²}.
std::pair<double, double> erfDual(double a, double b, double c) {
  return {2 / M_PI * std::asin(2 * c / std::sqrt((1 + 2 * a) * (1 + 2 * b))),
          4 / M_PI / std::sqrt((1 + 2 * a) * (1 + 2 * b) - 4 * c * c)};
}

KernelMatrices kernelsOf(const ir::Program& p, const std::string& param, std::optional<Rational> c,
                         const std::vector<ExampleInputs>& xs, int order = 64) {
  passes::KernelDerivation d = passes::deriveKernels(p, ir::resolveParametrization(p, param, c));
  KernelEvalOptions o;
  o.order = order;
  o.threads = 2;
  o.tile = 7;  // not a divisor of the pair count: exercises partial tiles
  return kernelMatrices(d, xs, o);
}

TEST(Kernel, ReluAnchorsOfDesignMd) {
  // x1·x1 = x2·x2 = 1, x1·x2 = 0.6 (inputs used as given: W1 ~ N(0, 1), no 1/d).
  std::vector<ExampleInputs> xs = {{{"x", {1.0, 0.0}}, {"y", {0.0}}}, {{"x", {0.6, 0.8}}, {"y", {0.0}}}};
  const double nngp[] = {0.338774, 0.183358, 0.096914}, ntk[] = {0.550224, 0.386104, 0.244036};
  for (int L = 1; L <= 3; ++L) {
    KernelMatrices k = kernelsOf(mlp("relu", L, 2), "ntk", std::nullopt, xs);
    EXPECT_NEAR(k.nngp[0][0].at(0, 1), nngp[L - 1], 5e-7) << L;  // the anchors have 6 digits
    EXPECT_NEAR(k.ntk[0][0].at(0, 1), ntk[L - 1], 5e-7) << L;
    EXPECT_NEAR(k.nngp[0][0].at(1, 1), std::ldexp(1.0, -L), 1e-15) << L;
    EXPECT_NEAR(k.ntk[0][0].at(1, 1), (L + 1) * std::ldexp(1.0, -L), 1e-15) << L;  // not DESIGN.md's (L+1)/2
    EXPECT_EQ(k.quadratureError, 0.0);
  }
}

TEST(Kernel, DeepReluAndErfEqualTheirRecursions) {
  std::vector<ExampleInputs> xs = test::randomInputs(9, 5, 11);
  for (const char* act : {"relu", "erf"})
    for (int L = 1; L <= 5; ++L)
      for (bool sp : {false, true}) {
        // ntk trains every layer; sp with c = 1 keeps every layer but the input layer (its
        // update moves the output by n^(−1)); both have the same NNGP.
        KernelMatrices k = kernelsOf(mlp(act, L, 5), sp ? "sp" : "ntk", sp ? std::optional<Rational>(1) : std::nullopt, xs);
        for (size_t p = 0; p < xs.size(); ++p)
          for (size_t q = 0; q < xs.size(); ++q) {
            auto dot = [&](size_t i, size_t j) {
              double s = 0;
              for (size_t t = 0; t < 5; ++t) s += xs[i].at("x")[t] * xs[j].at("x")[t];
              return s;
            };
            auto [s, th] = std::string(act) == "relu"
                               ? recursion(dot(p, p), dot(q, q), dot(p, q), L, !sp, reluDual)
                               : recursion(dot(p, p), dot(q, q), dot(p, q), L, !sp, erfDual);
            // 1e-12 relative: both sides are the same closed forms in a different order of
            // operations; acos near ±1 on the diagonal loses a few more digits (absolute 1e-14).
            EXPECT_NEAR(k.nngp[0][0].at(p, q), s, 1e-12 * std::fabs(s) + 1e-14) << act << L << sp << p << q;
            EXPECT_NEAR(k.ntk[0][0].at(p, q), th, 1e-12 * std::fabs(th) + 1e-14) << act << L << sp << p << q;
          }
      }
}

TEST(Kernel, QuadratureKernelsAgreeWithAHigherOrderRule) {
  // tanh and gelu have no closed form: order-96 rule vs order-256 (a reference whose own error,
  // by the geometric decay of Gauss–Hermite on analytic integrands, is far below 1e-12).
  std::vector<ExampleInputs> xs = test::randomInputs(5, 3, 5);
  for (const char* act : {"tanh", "gelu"}) {
    ir::Program p = mlp(act, 3, 3);
    KernelMatrices lo = kernelsOf(p, "ntk", std::nullopt, xs, 96), hi = kernelsOf(p, "ntk", std::nullopt, xs, 256);
    EXPECT_GT(lo.quadratureError, 0.0);
    for (size_t i = 0; i < xs.size() * xs.size(); ++i) {
      double a = hi.nngp[0][0].entries[i], b = hi.ntk[0][0].entries[i];
      EXPECT_NEAR(lo.nngp[0][0].entries[i], a, 1e-10 * std::fabs(a)) << act;
      EXPECT_NEAR(lo.ntk[0][0].entries[i], b, 1e-10 * std::fabs(b)) << act;
    }
  }
}

TEST(Kernel, QuadratureKernelAgreesWithMonteCarlo) {
  // One tanh layer: NNGP = E[tanh(u) tanh(v)], NTK = x·x' E[tanh'(u) tanh'(v)] + NNGP, with
  // (u, v) ~ N(0, [[x·x, x·x'], [x·x', x'·x']]). Monte Carlo with 4e6 samples: tolerance 5 standard errors.
  std::vector<ExampleInputs> xs = {{{"x", {1.2, 0.0}}, {"y", {0.0}}}, {{"x", {0.3, -0.9}}, {"y", {0.0}}}};
  KernelMatrices k = kernelsOf(mlp("tanh", 1, 2), "ntk", std::nullopt, xs);
  double a = 1.44, b = 0.9, c = 0.36;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;
  const int N = 4000000;
  double s1 = 0, s2 = 0, t1 = 0, t2 = 0;
  for (int i = 0; i < N; ++i) {
    double z1 = z(rng), z2 = z(rng);
    double u = std::sqrt(a) * z1, v = c / std::sqrt(a) * z1 + std::sqrt(b - c * c / a) * z2;
    double nn = std::tanh(u) * std::tanh(v);
    double du = 1 - std::tanh(u) * std::tanh(u), dv = 1 - std::tanh(v) * std::tanh(v);
    double nt = nn + c * du * dv;
    s1 += nn, s2 += nn * nn, t1 += nt, t2 += nt * nt;
  }
  double mn = s1 / N, sn = std::sqrt((s2 / N - mn * mn) / N), mt = t1 / N, st = std::sqrt((t2 / N - mt * mt) / N);
  EXPECT_NEAR(k.nngp[0][0].at(0, 1), mn, 5 * sn);
  EXPECT_NEAR(k.ntk[0][0].at(0, 1), mt, 5 * st);
}

/// The kernels of an MLP evaluated one pair at a time on one thread, and in tiles of 64 on two,
/// must agree bit for bit.
void expectTilesAndThreadsInvariant(const std::string& act, int L, int d, int count, unsigned seed) {
  std::vector<ExampleInputs> xs = test::randomInputs(count, d, seed);
  ir::Program p = mlp(act, L, d);
  passes::KernelDerivation k = passes::deriveKernels(p, ir::resolveParametrization(p, "ntk", std::nullopt));
  KernelEvalOptions one, many;
  one.threads = 1;
  one.tile = 1;
  many.threads = 2;
  many.tile = 64;
  KernelMatrices a = kernelMatrices(k, xs, one), b = kernelMatrices(k, xs, many);
  EXPECT_EQ(a.ntk[0][0].entries, b.ntk[0][0].entries) << act;
  EXPECT_EQ(a.nngp[0][0].entries, b.nngp[0][0].entries) << act;
}

TEST(Kernel, ThreadsAndTilesDoNotChangeTheResult) {
  // tanh: quadrature expectations.
  expectTilesAndThreadsInvariant("tanh", 2, 4, 23, 2);
  // relu: the arc-cosine path runs in vector clones of the loops; partial tiles fall back to
  // their scalar epilogues. With -ffp-contract=off both perform the same IEEE operations.
  expectTilesAndThreadsInvariant("relu", 3, 5, 29, 3);
}

TEST(Kernel, SymmetricKernelsShareOneSlot) {
  // Backprop's NTK is symmetric by construction: K(B, A) is the slot of K(A, B).
  ir::Program p = mlp("relu", 2, 3);
  passes::KernelDerivation d = passes::deriveKernels(p, ir::resolveParametrization(p, "ntk", std::nullopt));
  EXPECT_GE(d.ntk[0][0].ab, 0);
  EXPECT_EQ(d.ntk[0][0].ba, d.ntk[0][0].ab);
  EXPECT_EQ(d.nngp[0][0].ba, d.nngp[0][0].ab);
  // Feedback alignment keeps it (B is independent of W2, so the input layer's term vanishes
  // on both sides); a straight-through backward pass (dh = dz, no tanh') does not: the
  // update of W1 for B moves f(A) by E[tanh'(h(A))]·x(A)·x(B), which depends on A alone.
  ir::Program fa = driver::runUntil(test::typedProgram("programs/feedback_alignment.tp"), "differentiated", {});
  passes::KernelDerivation e = passes::deriveKernels(fa, ir::resolveParametrization(fa, "ntk", std::nullopt));
  EXPECT_EQ(e.ntk[0][0].ba, e.ntk[0][0].ab);
  Diagnostics diags("st.tp");
  auto st = frontend::compileSource(
      "width n\ninput x[2]\ntarget y\nparam W1[n, 2]\nparam W2[1, n]\nhyper lr = 0.5\noutput f\n"
      "forward:\n  h = W1 @ x\n  z = tanh(h)\n  f = W2 @ z\n  loss = 0.5 * (f - y) ** 2\n"
      "backward:\n  df = f - y\n  dz = W2.T @ df\n  dh = dz\n"
      "update:\n  W2 -= lr * outer(df, z)\n  W1 -= lr * outer(dh, x)\n",
      "st.tp", diags);
  ASSERT_TRUE(st) << diags.format();
  ir::Program stp = driver::runUntil(*st, "differentiated", {});
  passes::KernelDerivation g = passes::deriveKernels(stp, ir::resolveParametrization(stp, "ntk", std::nullopt));
  ASSERT_GE(g.ntk[0][0].ba, 0);
  EXPECT_NE(g.ntk[0][0].ba, g.ntk[0][0].ab);
  EXPECT_EQ(g.nngp[0][0].ba, g.nngp[0][0].ab);
  std::vector<ExampleInputs> xs = test::randomInputs(4, 2, 5);
  xs[0]["x"] = {3.0, 0.5};  // a large |h| at A makes E[tanh'(h(A))] small
  KernelMatrices k = kernelMatrices(g, xs, {});
  double asymmetry = 0;
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < i; ++j) asymmetry = std::max(asymmetry, std::fabs(k.ntk[0][0].at(i, j) - k.ntk[0][0].at(j, i)));
  EXPECT_GT(asymmetry, 1e-2);
}

TEST(Kernel, HalfPlaneAngleIsAtan2) {
  // The vectorisable angle against libm's atan2 (correctly rounded to < 1 ulp): within
  // 2 ulp of π (4.4e-16 each), over magnitudes from 1e-9 to 1e3 and every octant.
  const double ulpPi = std::nextafter(M_PI, 4.0) - M_PI;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    double c = u(rng) * std::pow(10.0, 3 * u(rng)), r = std::fabs(u(rng)) * std::pow(10.0, 3 * u(rng));
    if (i % 3 == 0) r *= 1e-9;
    if (i % 3 == 1) c *= 1e-9;
    worst = std::max(worst, std::fabs(halfPlaneAngle(r, c) - std::atan2(r, c)));
  }
  EXPECT_LE(worst, 2 * ulpPi);
  // The reduction boundaries and the axes.
  for (double t : {std::tan(M_PI / 16), std::tan(3 * M_PI / 16), std::tan(M_PI / 8), 1.0})
    for (double sign : {1.0, -1.0}) {
      EXPECT_NEAR(halfPlaneAngle(t, sign), std::atan2(t, sign), 2 * ulpPi);
      EXPECT_NEAR(halfPlaneAngle(1.0, sign * t), std::atan2(1.0, sign * t), 2 * ulpPi);
    }
  EXPECT_EQ(halfPlaneAngle(0, 0), 0.0);
  EXPECT_EQ(halfPlaneAngle(0, 2), 0.0);
  EXPECT_EQ(halfPlaneAngle(0, -2), M_PI);
  EXPECT_EQ(halfPlaneAngle(3, 0), M_PI / 2);
}

}  // namespace
}  // namespace tp
