// The NNGP derived from programs against hand-written closed-form recursions and finite-width simulation.
#include <gtest/gtest.h>

#include <cmath>

#include "TestUtil.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/driver/Pipeline.h"
#include "runtime/KernelLimit.h"
#include "runtime/Simulator.h"

namespace tp {
namespace {

/// E[relu(u) relu(v)] for (u, v) ~ N(0, [[a, c], [c, b]]) (Cho & Saul 2009), written out here
/// independently of runtime/GaussianExpectation.
double arcCosine1(double a, double b, double c) {
  double cosT = std::clamp(c / std::sqrt(a * b), -1.0, 1.0), t = std::acos(cosT);
  return std::sqrt(a * b) / (2 * M_PI) * (std::sin(t) + (M_PI - t) * cosT);
}

ir::Program differentiated(const ir::Program& typed) { return driver::runUntil(typed, "differentiated", {}); }

std::vector<ExampleInputs> evalExamples(const Dataset& data) {
  std::vector<ExampleInputs> out;
  for (size_t e = 0; e < data.eval.count; ++e) {
    ExampleInputs in;
    for (const auto& [name, column] : data.eval.columns) in[name] = column[e];
    out.push_back(in);
  }
  return out;
}

TEST(Nngp, DeepReluMatchesTheArcCosineRecursion) {
  // mlp3_relu under ntk: h1 = W1 x (Var 1/4 · x·x'), then two He layers (Var 2) and a readout (Var 1).
  ir::Program typed = test::typedProgram("programs/mlp3_relu.tp");
  Dataset data = readDataset(test::sourcePath("programs/data/mlp3_relu.json"), typed.inputs);
  std::vector<ExampleInputs> xs = evalExamples(data);
  auto r = nngpKernels(differentiated(typed), ir::resolveParametrization(typed, "ntk", std::nullopt), xs);
  const auto& k = r.at("f");
  size_t P = xs.size();
  for (size_t p = 0; p < P; ++p)
    for (size_t q = 0; q < P; ++q) {
      auto dot = [&](size_t i, size_t j) {
        double s = 0;
        for (size_t d = 0; d < 4; ++d) s += xs[i].at("x")[d] * xs[j].at("x")[d];
        return s / 4;
      };
      double a = dot(p, p), b = dot(q, q), c = dot(p, q);
      for (int layer = 0; layer < 2; ++layer) {  // W2, W3: Var 2
        double na = 2 * arcCosine1(a, a, a), nb = 2 * arcCosine1(b, b, b), nc = 2 * arcCosine1(a, b, c);
        a = na, b = nb, c = nc;
      }
      double want = arcCosine1(a, b, c);  // readout, Var 1
      EXPECT_NEAR(k[p][q], want, 1e-12 * std::fabs(want)) << p << "," << q;
    }
}

TEST(Nngp, VanishesWhenTheReadoutIsSmallerThanTheClt) {
  ir::Program typed = test::typedProgram("programs/mlp2_tanh.tp");
  Dataset data = readDataset(test::sourcePath("programs/data/mlp2_tanh.json"), typed.inputs);
  auto r = nngpKernels(differentiated(typed), ir::resolveParametrization(typed, "mup", std::nullopt), evalExamples(data));
  for (const auto& row : r.at("f"))
    for (double x : row) EXPECT_EQ(x, 0.0);  // μP readout: a + b = 1 > 1/2, f_0 → 0
}

TEST(Nngp, UnsupportedFormsAreClearErrors) {
  Diagnostics diags("prod.tp");
  auto p = frontend::compileSource(
      "width n\ninput x[2]\nparam W1[n, 2]\nparam W2[1, n]\noutput f\nforward:\n  h = W1 @ x\n"
      "  z = tanh(h) * h\n  f = W2 @ z\n",
      "prod.tp", diags);
  ASSERT_TRUE(p) << diags.format();
  try {
    nngpKernels(differentiated(*p), ir::resolveParametrization(*p, "ntk", std::nullopt), {ExampleInputs{{"x", {1.0, 0.5}}}});
    FAIL() << "expected an error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("prod.tp:8:"), std::string::npos) << e.what();
  }
}

TEST(Nngp, MatchesTheVarianceOfSimulatedInitialOutputs) {
  // mlp1_bias under ntk (bias field, tanh): Var f_0(ξ) over 4000 seeds at n = 1024. The estimate of a
  // variance from S Gaussian samples has relative s.d. sqrt(2/S) = 2.2%; the finite-width bias is
  // O(1/n) = 0.1%. Tolerance 4 s.d. = 9%.
  ir::Program typed = test::typedProgram("programs/mlp1_bias.tp");
  Dataset data = readDataset(test::sourcePath("programs/data/mlp1_bias.json"), typed.inputs);
  ir::Parametrization pz = ir::resolveParametrization(typed, "ntk", std::nullopt);
  // Train examples too: more points to compare.
  std::vector<ExampleInputs> xs;
  for (size_t e = 0; e < data.train.count; ++e) xs.push_back({{"x", data.train.columns.at("x")[e]}});
  auto r = nngpKernels(differentiated(typed), pz, xs);
  driver::PipelineOptions o;
  o.schedule = {0, 0, static_cast<int>(data.train.count), static_cast<int>(data.train.count), false};
  Dataset asEval = data;
  asEval.eval = data.train;
  ir::Program unrolled = driver::runUntil(typed, "unrolled", o);
  SimulationOptions so;
  so.width = 1024;
  so.seeds = 4000;
  SimulationResult sim = simulate(unrolled, asEval, finiteWidthSetup(typed, pz, 1024, 1), so);
  for (size_t e = 0; e < xs.size(); ++e) {
    double var = sim.steps[0].outputs.at("f")[e].variance[0];
    EXPECT_NEAR(var, r.at("f")[e][e], 0.09 * r.at("f")[e][e]) << "example " << e;
  }
}

}  // namespace
}  // namespace tp
