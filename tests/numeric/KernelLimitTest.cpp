// `tpc limit` (kernel method) against finite-width simulation extrapolated over widths, on every
// example program that is in the kernel regime under `ntk` or under `sp` with c = 1.
//
// Setup: T = 2 full-batch steps with the program's own data; simulations at n = 128 (S = 1600
// seeds) and n = 512 (S = 400 seeds). Finite-width corrections to the kernel regime are O(1/n)
// (the NTK moves by O(1/√n) per coordinate but its mean by O(1/n)), so the Richardson
// combination X∞ = (4·X(512) − X(128))/3 removes them to O(1/n²) ≈ 4e-6. Its standard error
// is σ∞ = sqrt(16·σ512² + σ128²)/3 from the seed-to-seed spread; the tolerance is 4σ∞ (plus
// 1e-9 for limits that are exactly 0 with σ = 0). Means use the per-seed spread of the
// outputs; variances the normal-theory standard error var·sqrt(2/(S−1)) (the outputs are
// Gaussian in the limit).
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/driver/Analysis.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Parametrization.h"
#include "ExampleProgram.h"
#include "runtime/KernelLimit.h"
#include "runtime/Simulator.h"

namespace tp {
namespace {

class KernelLimitVsSimulation : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelLimitVsSimulation, AgreesWithExtrapolatedSimulation) {
  const std::string name = GetParam();
  test::ExampleProgram example = test::loadExample(name, 2);
  const ir::Program& typed = example.typed;
  const Dataset& data = example.data;
  const driver::PipelineOptions& po = example.options;
  ir::Program differentiated = driver::runUntil(typed, "differentiated", po);
  ir::Program unrolled = driver::runUntil(typed, "unrolled", po);
  int compared = 0;
  for (const auto& [param, c] : std::vector<std::pair<std::string, std::optional<Rational>>>{
           {"ntk", std::nullopt}, {"sp", Rational(1)}}) {
    ir::Parametrization pz = ir::resolveParametrization(typed, param, c);
    passes::Classification cl = driver::classifyProgram(typed, pz);
    if (cl.regime != "kernel" && cl.regime != "trivial") continue;
    passes::KernelDerivation d = passes::deriveKernels(differentiated, pz);
    KernelLimitOptions ko;
    ko.eval.threads = 2;
    KernelLimitResult limit = kernelLimit(differentiated, d, data, po.schedule, ko);
    auto run = [&](int width, int seeds) {
      SimulationOptions so;
      so.width = width;
      so.seeds = seeds;
      so.threads = 2;
      return simulate(unrolled, data, finiteWidthSetup(typed, pz, width, 2), so);
    };
    const int s1 = 1600, s2 = 400;
    SimulationResult small = run(128, s1), large = run(512, s2);
    for (size_t t = 0; t < limit.steps.size(); ++t)
      for (const auto& [out, perExample] : limit.steps[t].outputs)
        for (size_t e = 0; e < perExample.size(); ++e)
          for (size_t k = 0; k < perExample[e].mean.size(); ++k) {
            const Summary& a = small.steps[t].outputs.at(out)[e];
            const Summary& b = large.steps[t].outputs.at(out)[e];
            double mean = (4 * b.mean[k] - a.mean[k]) / 3;
            double meanSe = std::sqrt(16 * b.stderror[k] * b.stderror[k] + a.stderror[k] * a.stderror[k]) / 3;
            double var = (4 * b.variance[k] - a.variance[k]) / 3;
            double varSe = std::sqrt(16 * std::pow(b.variance[k], 2) * 2 / (s2 - 1) +
                                     std::pow(a.variance[k], 2) * 2 / (s1 - 1)) / 3;
            const Summary& lim = perExample[e];
            EXPECT_NEAR(lim.mean[k], mean, 4 * meanSe + 1e-9)
                << name << " " << param << " t=" << t << " eval " << e << " coordinate " << k << " ("
                << limit.method << ")";
            EXPECT_NEAR(lim.variance[k], var, 4 * varSe + 1e-9 + 4 * lim.stderror[k])
                << name << " " << param << " variance t=" << t << " eval " << e << " coordinate " << k;
            ++compared;
          }
  }
  std::cout << name << ": " << compared << " (step, example, coordinate) comparisons\n";
}

INSTANTIATE_TEST_SUITE_P(ExamplePrograms, KernelLimitVsSimulation,
                         ::testing::Values("mlp1_tanh", "mlp1_tanh_auto", "mlp1_relu", "mlp1_bias", "mlp2_tanh",
                                           "mlp2_tanh_auto", "mlp2_linear", "mlp3_linear", "mlp2_zero_readout", "mlp2_custom_param",
                                           "mlp3_relu", "residual", "rnn_shared", "softmax_ce", "feedback_alignment"));

}  // namespace
}  // namespace tp
