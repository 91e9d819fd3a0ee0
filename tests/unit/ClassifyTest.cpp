// The width-exponent classification against TP4's theorem on MLPs, and on the example programs.
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "TestUtil.h"
#include "compiler/driver/Analysis.h"

namespace tp {
namespace {

using passes::Classification;

/// The sanitizer build (10–20× slower) checks every 10th tuple of the grids
/// (and no coverage counts); the normal build checks them all.
#ifdef TPC_SANITIZED
constexpr int kStride = 10;
#else
constexpr int kStride = 1;
#endif
using passes::Exponent;

/// An MLP with `hidden` tanh layers, `backward: auto`, squared loss.
ir::Program mlp(int hidden) {
  std::string src = "width n\ninput x[2]\ntarget y\nparam W1[n, 2] ~ N(0, 1/2)\n";
  for (int l = 2; l <= hidden; ++l) src += "param W" + std::to_string(l) + "[n, n]\n";
  src += "param W" + std::to_string(hidden + 1) + "[1, n]\nhyper lr = 0.5\noutput f\nforward:\n";
  src += "  h1 = W1 @ x\n  z1 = tanh(h1)\n";
  for (int l = 2; l <= hidden; ++l) {
    std::string s = std::to_string(l), p = std::to_string(l - 1);
    src += "  h" + s + " = W" + s + " @ z" + p + "\n  z" + s + " = tanh(h" + s + ")\n";
  }
  src += "  f = W" + std::to_string(hidden + 1) + " @ z" + std::to_string(hidden) + "\n";
  src += "  loss = 0.5 * (f - y) ** 2\nbackward: auto\nupdate: sgd(lr)\n";
  Diagnostics diags("mlp.tp");
  auto p = frontend::compileSource(src, "mlp.tp", diags);
  if (!p) throw std::runtime_error(diags.format());
  return *p;
}

/// TP4 Thm 3.3 (DESIGN.md §1). A param's own c_l is the global c after the
/// symmetry (a, b, c) → (a+θ, b−θ, c−2θ) with θ = (c − c_l)/2, so every
/// "2a_l + c" of the theorem reads "2a_l + c_l".
struct Tp4 {
  bool stable, nontrivial;
  std::string regime;
  Rational r;
  std::vector<Rational> rl;        // l = 1..L
  std::vector<bool> featuresMove;  // l = 1..L
};

Tp4 theorem(const std::vector<ir::Exponents>& e) {
  size_t L = e.size() - 1;
  const ir::Exponents& out = e[L];
  Rational A = out.a + out.b, C = 2 * out.a + out.c;
  Tp4 t;
  for (size_t l = 0; l < L; ++l) t.rl.push_back(std::min(A, C) + 2 * e[l].a + e[l].c - 1 + (l == 0 ? 1 : 0));
  t.r = *std::min_element(t.rl.begin(), t.rl.end());
  Rational running = t.rl[0];
  for (size_t l = 0; l < L; ++l) {
    running = std::min(running, t.rl[l]);
    t.featuresMove.push_back(running == 0);
  }
  t.stable = e[0].a + e[0].b == 0 && A >= Rational(1, 2) && t.r >= 0 && C >= 1 && A + t.r >= 1;
  for (size_t l = 1; l < L; ++l) t.stable = t.stable && e[l].a + e[l].b == Rational(1, 2);
  t.nontrivial = A + t.r == 1 || C == 1;
  t.regime = !t.stable ? "unstable" : !t.nontrivial ? "trivial" : t.r == 0 ? "feature_learning" : "kernel";
  return t;
}

std::string describe(const std::vector<ir::Exponents>& e) {
  std::string s;
  for (size_t l = 0; l < e.size(); ++l)
    s += "W" + std::to_string(l + 1) + "(a=" + toString(e[l].a) + " b=" + toString(e[l].b) + " c=" + toString(e[l].c) + ") ";
  return s;
}

/// Random abc tuples: a+b of each layer is its stable value 60% of the time
/// (so that every regime is well represented), otherwise off by ±1/2 or more.
std::vector<ir::Exponents> drawTuple(std::mt19937& rng, int hidden, bool perLayerC) {
  auto pick = [&](std::vector<Rational> xs) { return xs[std::uniform_int_distribution<size_t>(0, xs.size() - 1)(rng)]; };
  auto stableProb = [&] { return std::uniform_real_distribution<double>(0, 1)(rng) < 0.6; };
  std::vector<Rational> as = {Rational(-1, 2), 0, Rational(1, 2), 1};
  std::vector<Rational> cs = {-1, Rational(-1, 2), 0, Rational(1, 2), 1};
  Rational c = pick(cs);
  std::vector<ir::Exponents> e;
  for (int l = 0; l <= hidden; ++l) {
    ir::Exponents x;
    x.a = pick(as);
    Rational ab;
    if (l == 0) ab = stableProb() ? Rational(0) : pick({Rational(-1, 2), Rational(1, 2)});
    else if (l < hidden) ab = stableProb() ? Rational(1, 2) : pick({Rational(0), Rational(1)});
    else ab = pick({Rational(0), Rational(1, 2), Rational(1, 2), Rational(1), Rational(3, 2)});
    x.b = ab - x.a;
    x.c = perLayerC ? pick(cs) : c;
    e.push_back(x);
  }
  return e;
}

/// μP moved along the per-layer symmetry (a, b, c_l) → (a+θ, b−θ, c_l−2θ):
/// every such tuple trains exactly like μP, so it must learn features.
std::vector<ir::Exponents> drawMupEquivalent(std::mt19937& rng, int hidden) {
  std::vector<Rational> thetas = {Rational(-1, 2), 0, Rational(1, 4), Rational(1, 2), 1};
  std::vector<ir::Exponents> e;
  for (int l = 0; l <= hidden; ++l) {
    Rational a = l == 0 ? Rational(-1, 2) : (l < hidden ? Rational(0) : Rational(1, 2));
    Rational theta = thetas[std::uniform_int_distribution<size_t>(0, thetas.size() - 1)(rng)];
    e.push_back({a + theta, Rational(1, 2) - theta, -2 * theta});
  }
  return e;
}

TEST(Classify, ReproducesTp4OnAGridOfMlpParametrizations) {
  std::mt19937 rng(2020);
  std::map<std::string, int> regimes;
  int checked = 0;
  for (int hidden = 1; hidden <= 3; ++hidden) {
    ir::Program program = mlp(hidden);
    for (int k = 0; k < 800; ++k) {
      std::vector<ir::Exponents> e = k < 700 ? drawTuple(rng, hidden, k % 2 == 1) : drawMupEquivalent(rng, hidden);
      if (k % kStride != 0) continue;
      ir::Parametrization pz;
      pz.name = "grid";
      for (int l = 0; l <= hidden; ++l) pz.params["W" + std::to_string(l + 1)] = e[static_cast<size_t>(l)];
      Classification got = driver::classifyProgram(program, pz);
      Tp4 want = theorem(e);
      ++checked;
      ++regimes[want.regime];
      ASSERT_EQ(got.regime, want.regime) << describe(e);
      ASSERT_EQ(got.stable, want.stable) << describe(e);
      if (!want.stable) continue;
      ASSERT_EQ(got.nontrivial, want.nontrivial) << describe(e);
      ASSERT_EQ(got.r, Exponent::of(want.r)) << describe(e);
      for (int l = 0; l < hidden; ++l) {
        ASSERT_EQ(got.layers[static_cast<size_t>(l)].r, Exponent::of(want.rl[static_cast<size_t>(l)])) << describe(e) << " layer " << l + 1;
        ASSERT_EQ(got.layers[static_cast<size_t>(l)].featureLearning, want.featuresMove[static_cast<size_t>(l)])
            << describe(e) << " layer " << l + 1;
      }
    }
  }
  EXPECT_EQ(checked, 2400 / kStride);
  std::cout << "TP4 grid: " << checked << " tuples;";
  for (const auto& [r, count] : regimes) std::cout << " " << r << " " << count;
  std::cout << "\n";
  // The grid exercises every regime, not just the unstable corner.
  for (const char* r : {"unstable", "trivial", "kernel", "feature_learning"}) EXPECT_GT(regimes[r], 50 / kStride) << r;
}

/// Checks one tuple against the theorem; returns the theorem's regime.
std::string expectTp4(const ir::Program& program, const std::vector<ir::Exponents>& e) {
  ir::Parametrization pz;
  pz.name = "grid";
  for (size_t l = 0; l < e.size(); ++l) pz.params["W" + std::to_string(l + 1)] = e[l];
  Classification got = driver::classifyProgram(program, pz);
  Tp4 want = theorem(e);
  EXPECT_EQ(got.regime, want.regime) << describe(e);
  if (want.stable) {
    EXPECT_EQ(got.r, Exponent::of(want.r)) << describe(e);
    EXPECT_EQ(got.layers[0].r, Exponent::of(want.rl[0])) << describe(e);
  }
  return want.regime;
}

TEST(Classify, ReproducesTp4OnEveryTupleOfAOneHiddenLayerGrid) {
  // Every combination: a_l ∈ {−1/2, 0, 1/2, 1}, a_1+b_1 ∈ {−1/2, 0, 1/2},
  // a_2+b_2 ∈ {0, 1/2, 1, 3/2}, and each layer's own c_l ∈ {−1, −1/2, 0, 1/2, 1}.
  ir::Program program = mlp(1);
  std::vector<Rational> as = {Rational(-1, 2), 0, Rational(1, 2), 1};
  std::vector<Rational> cs = {-1, Rational(-1, 2), 0, Rational(1, 2), 1};
  std::map<std::string, int> regimes;
  int checked = 0, index = 0;
  for (const auto& a1 : as)
    for (const Rational& ab1 : {Rational(-1, 2), Rational(0), Rational(1, 2)})
      for (const auto& a2 : as)
        for (const Rational& ab2 : {Rational(0), Rational(1, 2), Rational(1), Rational(3, 2)})
          for (const auto& c1 : cs)
            for (const auto& c2 : cs) {
              if (index++ % kStride != 0) continue;
              ++regimes[expectTp4(program, {{a1, ab1 - a1, c1}, {a2, ab2 - a2, c2}})];
              ++checked;
              if (HasFailure()) return;
            }
  EXPECT_EQ(checked, 4800 / kStride);
  std::cout << "TP4 one-hidden-layer grid: " << checked << " tuples;";
  for (const auto& [r, count] : regimes) std::cout << " " << r << " " << count;
  std::cout << "\n";
  if (kStride == 1) {  // a strided sample of this regular grid can miss a regime
    for (const char* r : {"unstable", "trivial", "kernel", "feature_learning"}) EXPECT_GE(regimes[r], 20) << r;
  }
}

}  // namespace
}  // namespace tp
