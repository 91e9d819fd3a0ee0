// The finite-width simulator against a direct hand-written computation of the same network.
#include <gtest/gtest.h>

#include <cmath>

#include "TestUtil.h"
#include "compiler/ir/Parametrization.h"
#include "runtime/Simulator.h"

namespace tp {
namespace {

/// mlp1_tanh by hand: h = W1 x, z = tanh h, f = W2 z, loss = ½(f − y)², explicit SGD
/// with the batch mean, W ← W − n^(−c−2a)·lr·mean_b(grad), from the same initial weights.
struct HandMlp1 {
  size_t n, d;
  std::vector<double> W1, W2;  // n×d and 1×n, row-major
  double s1, s2, lr;           // update scales n^(−c−2a) of W1 and W2

  double forward(const std::vector<double>& x, std::vector<double>* z) const {
    z->assign(n, 0.0);
    double f = 0;
    for (size_t i = 0; i < n; ++i) {
      double h = 0;
      for (size_t k = 0; k < d; ++k) h += W1[i * d + k] * x[k];
      (*z)[i] = std::tanh(h);
      f += W2[i] * (*z)[i];
    }
    return f;
  }

  void step(const std::vector<std::vector<double>>& xs, const std::vector<double>& ys) {
    std::vector<double> g1(n * d, 0.0), g2(n, 0.0);
    double inv = 1.0 / static_cast<double>(xs.size());
    for (size_t b = 0; b < xs.size(); ++b) {
      std::vector<double> z;
      double df = forward(xs[b], &z) - ys[b];
      for (size_t i = 0; i < n; ++i) {
        g2[i] += inv * df * z[i];
        double dh = W2[i] * df * (1 - z[i] * z[i]);
        for (size_t k = 0; k < d; ++k) g1[i * d + k] += inv * dh * xs[b][k];
      }
    }
    for (size_t i = 0; i < n; ++i) {
      W2[i] -= s2 * lr * g2[i];
      for (size_t k = 0; k < d; ++k) W1[i * d + k] -= s1 * lr * g1[i * d + k];
    }
  }
};

void checkAgainstHand(int width, int steps, int batch, const std::string& param) {
  ir::Program typed = test::typedProgram("programs/mlp1_tanh.tp");
  Dataset data = readDataset(test::sourcePath("programs/data/mlp1_tanh.json"), typed.inputs);
  driver::PipelineOptions o;
  o.schedule = {steps, batch, static_cast<int>(data.train.count), static_cast<int>(data.eval.count), false};
  ir::Program unrolled = driver::runUntil(typed, "unrolled", o);
  ir::Parametrization pz = ir::resolveParametrization(typed, param, std::nullopt);

  FiniteWidthSetup setup;
  setup.width = width;
  setup.hypers["lr"] = typed.findHyper("lr")->value;
  double n = width;
  for (const auto& p : typed.params) {
    const ir::Exponents& e = pz.params.at(p.name);
    setup.scaling[p.name] = {std::sqrt(toDouble(p.variance)) * std::pow(n, -toDouble(e.a + e.b)),
                             std::pow(n, -toDouble(e.c + 2 * e.a)), p.zeroInit};
  }
  const uint64_t seed = 42;
  SimulationResult sim = simulate(unrolled, data, setup, {width, 1, seed, 2, {}});

  auto init = sampleParams(typed, setup, seed);
  HandMlp1 hand{static_cast<size_t>(width), 2, init.at("W1").values(), init.at("W2").values(),
                setup.scaling.at("W1").updateScale, setup.scaling.at("W2").updateScale, setup.hypers.at("lr")};
  int B = batch > 0 ? batch : static_cast<int>(data.train.count);
  ASSERT_EQ(sim.steps.size(), static_cast<size_t>(steps + 1));
  for (int t = 0; t <= steps; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    std::vector<std::vector<double>> xs;
    std::vector<double> ys;
    double loss = 0;
    for (int b = 0; b < B; ++b) {
      size_t e = static_cast<size_t>((t * B + b) % static_cast<int>(data.train.count));
      xs.push_back(data.train.value("x", e));
      ys.push_back(data.train.value("y", e)[0]);
      std::vector<double> z;
      double f = hand.forward(xs.back(), &z);
      loss += 0.5 * (f - ys.back()) * (f - ys.back()) / B;
    }
    // Agreement to rounding: both sum the same terms, possibly in another order.
    EXPECT_NEAR(sim.steps[static_cast<size_t>(t)].loss.mean[0], loss, 1e-12 * (1 + std::fabs(loss)));
    for (size_t e = 0; e < data.eval.count; ++e) {
      std::vector<double> z;
      double f = hand.forward(data.eval.value("x", e), &z);
      EXPECT_NEAR(sim.steps[static_cast<size_t>(t)].outputs.at("f")[e].mean[0], f, 1e-12 * (1 + std::fabs(f)));
    }
    if (t < steps) hand.step(xs, ys);
  }
}

TEST(Simulator, MatchesAHandWrittenNetworkFullBatch) { checkAgainstHand(7, 3, 0, "mup"); }
TEST(Simulator, MatchesAHandWrittenNetworkWithCyclingBatches) { checkAgainstHand(5, 4, 1, "sp"); }
TEST(Simulator, MatchesAHandWrittenNetworkUnderNtk) { checkAgainstHand(9, 2, 2, "ntk"); }

TEST(Simulator, SamplesDoNotDependOnThreadCount) {
  ir::Program typed = test::typedProgram("programs/mlp2_tanh.tp");
  FiniteWidthSetup setup;
  setup.width = 300;
  for (const auto& p : typed.params) setup.scaling[p.name] = {1.0, 1.0, false};
  setup.threads = 1;
  auto a = sampleParams(typed, setup, 3);
  setup.threads = 4;
  auto b = sampleParams(typed, setup, 3);
  for (const auto& [name, t] : a) EXPECT_EQ(t.values(), b.at(name).values()) << name;
  auto c = sampleParams(typed, setup, 4);
  EXPECT_NE(a.at("W2").values(), c.at("W2").values());
}

TEST(Simulator, ZeroInitialisedParamsStartAtZero) {
  ir::Program typed = test::typedProgram("programs/mlp2_zero_readout.tp");
  FiniteWidthSetup setup;
  setup.width = 16;
  for (const auto& p : typed.params) setup.scaling[p.name] = {1.0, 1.0, p.zeroInit};
  auto params = sampleParams(typed, setup, 1);
  for (const auto& p : typed.params) {
    bool allZero = true;
    for (double x : params.at(p.name).values()) allZero = allZero && x == 0.0;
    EXPECT_EQ(allZero, p.zeroInit) << p.name;
  }
}

}  // namespace
}  // namespace tp
