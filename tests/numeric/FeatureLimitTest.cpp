// The feature-learning limit (`tpc limit`, Z-program evaluators) of the one-hidden-layer
// μP tanh network against its mean-field limit computed from scratch (MeanFieldReference.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "MeanFieldReference.h"

namespace {

using json = nlohmann::json;
using namespace tp::test::meanfield;

const std::string kBinary = kSource + "/build/tpc";
constexpr int kSteps = 4;

/// `tpc limit` on mlp1_tanh with extra arguments; the JSON report.
json limitReport(const std::string& args) {
  std::string cmd = "'" + kBinary + "' limit '" + kProgram + "' --data '" + kData + "' --steps " +
                    std::to_string(kSteps) + " " + args + " --json -";
  int status = 0;
  std::string out = capture(cmd, status);
  EXPECT_EQ(status, 0) << cmd;
  return json::parse(out);
}

double output(const json& report, int t, int e) { return report["limit"]["steps"][t]["outputs"]["f"][e].get<double>(); }

/// The reference at orders where it has converged: it agrees with a higher-order rule to
/// ~4e-10 (MeanFieldTest), far below the tolerances here.
const Limit& reference() {
  static const Limit lim = meanFieldLimit(loadModel(), {300, 200, 130}, kSteps);
  return lim;
}

TEST(FeatureLimit, QuadratureEqualsTheMeanFieldLimit) {
  // tanh is analytic, so the tensor Gauss–Hermite rule converges geometrically in the order,
  // but slowly here (tanh of a sum of Gaussians with poles near the real axis after training):
  // measured max differences 1.4e-6 / 2.5e-7 / 2.9e-7 at orders 64 / 80 / 96 per base Gaussian.
  // At order 80 the outputs and losses must equal the reference to 1e-6 (the bound),
  // and the report's own error estimate (order 80 vs 53) must stay small.
  json r = limitReport("--param mup --method quadrature --order 80");
  EXPECT_EQ(r["classification"]["regime"], "feature_learning");
  EXPECT_EQ(r["limit"]["method"], "quadrature");
  EXPECT_EQ(r["limit"]["base_gaussians"], 3);
  const Limit& ref = reference();
  double worst = 0;
  for (int t = 0; t <= kSteps; ++t) {
    for (size_t e = 0; e < ref.f[static_cast<size_t>(t)].size(); ++e)
      worst = std::max(worst, std::fabs(output(r, t, static_cast<int>(e)) - ref.f[static_cast<size_t>(t)][e]));
    worst = std::max(worst, std::fabs(r["limit"]["steps"][t]["loss"].get<double>() - ref.loss[static_cast<size_t>(t)]));
  }
  std::printf("quadrature order 80 vs reference: max |difference| %.2e, reported error estimate %.2e\n", worst,
              r["limit"]["quadrature_error"].get<double>());
  EXPECT_LT(worst, 1e-6);
  EXPECT_LT(r["limit"]["quadrature_error"].get<double>(), 1e-4);
  // The outputs move: f_0 = 0 (μP's f_0 → 0) and the last step is far from it.
  EXPECT_EQ(output(r, 0, 0), 0.0);
  EXPECT_GT(std::fabs(output(r, kSteps, 0)), 0.1);
}

TEST(FeatureLimit, ZeroInitialisedReadoutEqualsTheMeanFieldLimit) {
  // mlp1_tanh with `W2[1, n] ~ 0`: f_0 = 0 exactly, the first step moves only the readout
  // (dh ∝ V_0 = 0), the input layer from step 2 on. The Z-program then has only W1's two
  // columns as base Gaussians; the reference integrates over them with V_0 = 0 a point mass.
  // Quadrature converges geometrically here too: measured max differences 8.9e-7 / 2.7e-7 /
  // 3.1e-8 / 4.3e-9 at orders 80 / 96 / 128 / 160. At order 128 (16384 nodes) it must be
  // within the 1e-6.
  std::string src = readFile(kProgram);
  const std::string decl = "param  W2[1, n]";
  size_t at = src.find(decl);
  ASSERT_NE(at, std::string::npos);
  src.insert(at + decl.size(), " ~ 0");
  std::string program = testing::TempDir() + "/mlp1_tanh_zero_readout.tp";
  std::ofstream(program) << src;
  std::string cmd = "'" + kBinary + "' limit '" + program + "' --data '" + kData + "' --steps " +
                    std::to_string(kSteps) + " --param mup --method quadrature --order 128 --json -";
  int status = 0;
  json r = json::parse(capture(cmd, status));
  ASSERT_EQ(status, 0) << cmd;
  EXPECT_EQ(r["limit"]["base_gaussians"], 2);
  Limit ref = meanFieldLimit(loadModel(program), {300, 200, 2}, kSteps);
  double worst = 0;
  for (int t = 0; t <= kSteps; ++t) {
    for (size_t e = 0; e < ref.f[static_cast<size_t>(t)].size(); ++e)
      worst = std::max(worst, std::fabs(output(r, t, static_cast<int>(e)) - ref.f[static_cast<size_t>(t)][e]));
    worst = std::max(worst, std::fabs(r["limit"]["steps"][t]["loss"].get<double>() - ref.loss[static_cast<size_t>(t)]));
  }
  std::printf("zero readout, quadrature order 128 vs reference: max |difference| %.2e\n", worst);
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(output(r, 0, 0), 0.0);
  EXPECT_GT(std::fabs(output(r, kSteps, 0)), 0.05);
}

TEST(FeatureLimit, MeanFieldEqualsMup) {
  // TP4's symmetry (a, b, c) → (a + θ, b − θ, c − 2θ): mf and mup are the same training, so
  // their Z-programs compute the same numbers (up to rounding in a different order of products).
  json mup = limitReport("--param mup --method quadrature --order 40");
  json mf = limitReport("--param mf --method quadrature --order 40");
  for (int t = 0; t <= kSteps; ++t)
    for (int e = 0; e < 2; ++e) EXPECT_NEAR(output(mup, t, e), output(mf, t, e), 1e-12);
}

TEST(FeatureLimit, MonteCarloAgreesWithinItsStandardError) {
  // 2^18 particles: each output's standard error is about 1e-3; 4 standard errors allow for
  // the 10 compared numbers (a 4σ excursion among them has probability < 1e-3), plus the
  // O(1/K) bias of a recursion through particle means (about 4e-6 here).
  json r = limitReport("--param mup --method montecarlo --samples 262144 --seed 3");
  EXPECT_EQ(r["limit"]["method"], "montecarlo");
  const Limit& ref = reference();
  for (int t = 1; t <= kSteps; ++t)
    for (int e = 0; e < 2; ++e) {
      double se = r["limit"]["steps"][t]["stderr"]["f"][e].get<double>();
      EXPECT_GT(se, 1e-5);
      EXPECT_LT(se, 1e-2);
      EXPECT_NEAR(output(r, t, e), ref.f[static_cast<size_t>(t)][static_cast<size_t>(e)], 4 * se + 1e-5)
          << "t = " << t << ", example " << e;
    }
  // Deterministic given the seed.
  json again = limitReport("--param mup --method montecarlo --samples 262144 --seed 3");
  EXPECT_EQ(output(r, kSteps, 0), output(again, kSteps, 0));
}

}  // namespace
