// The estimates that admit or refuse a request before it runs (Budget.h), and the refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "TestUtil.h"
#include "compiler/driver/Budget.h"
#include "compiler/passes/ZProgram.h"
#include "runtime/Dataset.h"

namespace tp {
namespace {

TEST(Budget, ExtrapolationIsTheQuadraticThroughTheFirstThreeSteps) {
  auto f = [](double t) { return 7 - 3 * t + 2.5 * t * t; };
  for (int t : {0, 1, 4, 20, 1000}) EXPECT_DOUBLE_EQ(driver::extrapolateSteps({f(1), f(2), f(3)}, t), f(t)) << t;
  EXPECT_DOUBLE_EQ(driver::extrapolateSteps({5, 9, 13}, 101), 405);  // a line stays a line
}

/// The schedule of a program's example data at `steps` steps.
driver::PipelineOptions exampleSchedule(const ir::Program& program, const std::string& data, int steps) {
  Dataset d = readDataset(test::sourcePath(data), program.inputs);
  driver::PipelineOptions po;
  po.schedule.steps = steps;
  po.schedule.trainCount = static_cast<int>(d.train.count);
  po.schedule.evalCount = static_cast<int>(d.eval.count);
  po.schedule.evalHasTargets = d.evalGiven;
  return po;
}

TEST(Budget, TheZProgramSizeItPredictsIsTheSizeDerived) {
  // The estimate stages T = 1, 2, 3 only; the instruction count it extrapolates to T = 7 must be
  // the count of the Z-program actually derived at T = 7 (exact: the growth is quadratic).
  for (const char* name : {"mlp2_tanh", "mlp3_relu"}) {
    ir::Program program = test::typedProgram(std::string("programs/") + name + ".tp");
    driver::PipelineOptions po = exampleSchedule(program, std::string("programs/data/") + name + ".json", 7);
    ir::Parametrization pz = ir::resolveParametrization(program, "mup", std::nullopt);
    driver::Cost cost = driver::featureLimitCost(program, po, pz, 0, false, 1);
    passes::ZProgram z = passes::deriveZProgram(driver::runUntil(program, "netsor", po), pz);
    EXPECT_DOUBLE_EQ(cost.size, double(z.instrs.size())) << name;
    EXPECT_GT(cost.seconds, 0);
    EXPECT_GT(cost.bytes, 0);
  }
}

TEST(Budget, SimulationCostGrowsWithWidthSquaredAndSteps) {
  ir::Program program = test::typedProgram("programs/mlp2_tanh.tp");
  driver::PipelineOptions po = exampleSchedule(program, "programs/data/mlp2_tanh.json", 10);
  driver::Cost small = driver::simulationCost(program, po, {1024}, 1, 1, 1);
  driver::Cost wide = driver::simulationCost(program, po, {4096}, 1, 1, 1);
  // The n×n hidden matrix dominates: 16× the entries at 4× the width (within the n-linear rest).
  EXPECT_GT(wide.seconds / small.seconds, 12);
  EXPECT_LT(wide.seconds / small.seconds, 16.5);
  driver::PipelineOptions longer = po;
  longer.schedule.steps = 100;
  EXPECT_GT(driver::simulationCost(program, longer, {1024}, 1, 1, 1).seconds, 5 * small.seconds);
  // Seeds and the coordinate check's two runs per seed multiply it.
  EXPECT_DOUBLE_EQ(driver::simulationCost(program, po, {1024}, 3, 2, 1).seconds, 6 * small.seconds);
  // The unrolled program it extrapolates is the one built at T = 10.
  EXPECT_DOUBLE_EQ(small.size, double(driver::runUntil(program, "unrolled", po).values.size()));
}

TEST(Budget, RequestsBeyondTimeOrMemoryAreRefusedBeforeTheyStart) {
  // Each is refused (exit 2) in well under a second of work, with the estimate, the options
  // that size it and the remedy, and leaves no report.
  const std::string report = ::testing::TempDir() + "/refused_budget.json";
  const std::string tanh = "programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json";
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"limit " + tanh + " --steps 5000 --samples 4096", "GB for a Z-program of ~9.8e+09 instructions"},
      {"limit " + tanh + " --steps 40 --samples 4096 --max-minutes 0.01", "more than --max-minutes 0.01"},
      {"compile " + tanh + " --steps 5000 -o " + ::testing::TempDir() + "/refused.ll", "choose fewer --steps"},
      {"simulate " + tanh + " --steps 100000 --width 8192 --seeds 100", "raise --max-minutes"},
      {"coordcheck " + tanh + " --steps 1000 --widths 1024,2048,4096,8192 --seeds 100",
       "smaller --widths or --batch"},
  };
  // The machine is pinned at 64 GB, so the time refusals are not preceded by a memory refusal
  // on a small machine (the simulate case counts ~1.9 GB of unrolled program).
  ::setenv("TPC_MEMORY_BYTES", "64e9", 1);
  for (const Case& c : cases) {
    std::filesystem::remove(report);
    auto r = test::runTpc(c.args + " --json " + report);
    EXPECT_EQ(r.exitCode, 2) << r.out;
    EXPECT_NE(r.out.find("--steps"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(report)) << c.args;
  }
  ::unsetenv("TPC_MEMORY_BYTES");
  // An admitted request records the estimate it was admitted with.
  auto ok = test::runTpc("simulate " + tanh + " --steps 4 --width 64 --json " + report);
  ASSERT_EQ(ok.exitCode, 0) << ok.out;
  EXPECT_NE(test::readText(report).find("\"estimated_ms\""), std::string::npos);
}

TEST(Budget, AutomaticParticlesStayWithinTheTimeBudget) {
  // Without --samples, Monte Carlo picks K for standard errors of 1e-3 (here 2^18 or more), then
  // halves it while the pilot's time per particle says the run would exceed --max-minutes. With
  // 0.0001 min (6 ms), below any 2^14-particle pilot of this program (~3 300 particle
  // instructions at T = 3: ~5·10^7 lane operations, tens of ms), K falls to the pilot's 2^14.
  const std::string report = ::testing::TempDir() + "/time_budget.json";
  auto r = test::runTpc("limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 3 "
                        "--method montecarlo --max-minutes 0.0001 --json " + report);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(test::readText(report))["limit"]["particles"], 16384);
  EXPECT_NE(r.out.find("tpc: warning: a standard error of 0.001 needs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("more than fit in --max-minutes 0.0001; using 16384"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tp
