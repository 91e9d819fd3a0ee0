// Z-programs of n×n matrices (Gaussian families, Gram–Schmidt pivots, Ż) and the exact cubature rule.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/passes/ZProgram.h"
#include "runtime/Dataset.h"
#include "runtime/ZEval.h"
#include "TestUtil.h"

namespace tp {
namespace {

struct Derived {
  ir::Program netsor;
  passes::ZProgram z;
};

Derived derive(const std::string& name, const std::string& dataText, int steps) {
  ir::Program typed = test::typedProgram("programs/" + name + ".tp");
  Dataset data = parseDataset(dataText, name + ".json", typed.inputs);
  driver::PipelineOptions po;
  po.schedule = {steps, 0, static_cast<int>(data.train.count), static_cast<int>(data.eval.count), data.evalGiven};
  ir::Program netsor = driver::runUntil(typed, "netsor", po);
  passes::ZProgram z = passes::deriveZProgram(netsor, ir::resolveParametrization(typed, "mup", std::nullopt));
  return {std::move(netsor), std::move(z)};
}

const char* kLinearData = R"({"train": {"x": [[1.0, 0.5, -1.4]], "y": [1.0]}, "eval": {"x": [[1.0, 1.0, 1.0]]}})";

TEST(ZProgram, AHiddenMatrixHasAFamilyForItselfAndOneForItsTranspose) {
  Derived d = derive("mlp2_linear", kLinearData, 1);
  int forward = 0, backward = 0;
  for (const passes::ZBase& b : d.z.bases)
    if (b.field) {
      EXPECT_EQ(b.param, "W2");
      EXPECT_EQ(b.variance, 1.0);
      (b.transposed ? backward : forward)++;
    }
  // Step 0: W2 h1 for the training and the eval example; W2ᵀ dh2 once. Step 1: W2 h1 again
  // for the eval example (the training example's step-1 forward pass is not needed: T = 1).
  EXPECT_EQ(backward, 1);
  EXPECT_GE(forward, 3);
  std::string text = passes::printZProgram(d.z, d.netsor);
  EXPECT_NE(text.find("field 0 of W2 ~ N(0, 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("field 0 of W2.T ~ N(0, 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("pivot"), std::string::npos);
  // Linear nonlinearities: averages of products of two Gaussian combinations.
  EXPECT_EQ(passes::meanDegree(d.z), 2);
}

TEST(ZProgram, MeanDegreeIsNegativeForANonlinearProgram) {
  Derived d = derive("mlp2_tanh", kLinearData, 1);
  EXPECT_EQ(passes::meanDegree(d.z), -1);
}

TEST(ZProgram, TheExactRuleIntegratesPolynomialsUpToDegreeThree) {
  passes::ZProgram z;
  z.bases = {{"U", 0, 0.5}, {"U", 1, 2.0}, {"V", 0, 1.0}};
  Particles p = exactParticles(z);
  ASSERT_EQ(p.count, 6u);
  auto expect = [&](auto f) {
    double total = 0;
    for (size_t k = 0; k < p.count; ++k) total += p.weights[k] * f(p.bases[0][k], p.bases[1][k], p.bases[2][k]);
    return total;
  };
  EXPECT_NEAR(expect([](double, double, double) { return 1.0; }), 1.0, 1e-15);
  EXPECT_NEAR(expect([](double a, double, double) { return a * a; }), 0.5, 1e-15);
  EXPECT_NEAR(expect([](double, double b, double) { return b * b; }), 2.0, 1e-15);
  EXPECT_NEAR(expect([](double a, double b, double) { return (a + b) * (a - 2 * b); }), 0.5 - 4.0, 1e-14);
  EXPECT_NEAR(expect([](double a, double b, double c) { return a * b * c + a * a * c + b * b * b; }), 0.0, 1e-15);
  // Not degree 4: E[a²b²] = 1 but the rule has no point off the axes.
  EXPECT_NEAR(expect([](double a, double b, double) { return a * a * b * b; }), 0.0, 1e-15);
}

TEST(ZProgram, AVectorAlreadySpannedGetsNoNewField) {
  // Two identical eval examples: the second W2 h1 lies in the first's direction, so its pivot
  // is 0 and both outputs are the same function of the same fields (equal up to rounding),
  // even after training moved both.
  const char* data = R"({"train": {"x": [[1.0, 0.5, 0.2]], "y": [1.0]}, "eval": {"x": [[0.3, -1.0, 2.0], [0.3, -1.0, 2.0]]}})";
  ir::Program typed = test::typedProgram("programs/mlp2_tanh.tp");
  Dataset dataset = parseDataset(data, "d.json", typed.inputs);
  Derived d = derive("mlp2_tanh", data, 2);
  std::vector<std::vector<double>> values = runZProgram(d.z, monteCarloParticles(d.z, 4096, 1), dataset);
  std::vector<double> byExample[2];
  for (size_t i = 0; i < d.z.results.size(); ++i)
    if (d.z.results[i].result.kind == ir::Result::Kind::Output)
      byExample[d.z.results[i].result.example].push_back(values[i][0]);
  ASSERT_EQ(byExample[0].size(), 3u);
  for (size_t t = 0; t < 3; ++t) EXPECT_NEAR(byExample[0][t], byExample[1][t], 1e-12) << "t=" << t;
  EXPECT_GT(std::fabs(byExample[0][2]), 0.05);
}

TEST(ZProgram, MonteCarloDoesNotDependOnTheThreadCount) {
  // The full run and the 16 group runs are independent tasks: any assignment to threads
  // gives the same numbers, bit for bit; another seed gives other ones.
  const char* data = R"({"train": {"x": [[1.0, 0.5, 0.2], [0.1, -1.0, 0.4]], "y": [1.0, -0.5]}})";
  ir::Program typed = test::typedProgram("programs/mlp2_tanh.tp");
  Dataset dataset = parseDataset(data, "d.json", typed.inputs);
  Derived d = derive("mlp2_tanh", data, 2);
  FeatureLimitOptions fo;
  fo.method = "montecarlo";
  fo.samples = 4096;
  auto run = [&](int threads, uint64_t seed) {
    fo.threads = threads;
    fo.seed = seed;
    return featureLimit(d.z, d.netsor, dataset, fo).steps;
  };
  std::vector<StepSummary> one = run(1, 7), two = run(2, 7), three = run(3, 7), other = run(2, 8);
  for (size_t t = 0; t < one.size(); ++t) {
    const Summary& a = one[t].outputs.at("f")[1];
    EXPECT_EQ(a.mean, two[t].outputs.at("f")[1].mean);
    EXPECT_EQ(a.stderror, two[t].outputs.at("f")[1].stderror);
    EXPECT_EQ(a.mean, three[t].outputs.at("f")[1].mean);
    EXPECT_EQ(one[t].loss.mean, three[t].loss.mean);
    if (t > 0) {
      EXPECT_NE(a.mean, other[t].outputs.at("f")[1].mean);
    }
  }
}

}  // namespace
}  // namespace tp
