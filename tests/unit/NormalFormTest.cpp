// The normal form computes exactly what the unrolled program computes, without forming updated weights.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "TestUtil.h"
#include "compiler/ir/Verifier.h"
#include "compiler/passes/NormalForm.h"
#include "runtime/Simulator.h"

namespace tp {
namespace {

/// Every example program, its data and the named parametrizations it is documented with.
std::vector<std::string> examplePrograms() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(test::sourcePath("programs")))
    if (e.path().extension() == ".tp") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<double> allResults(const ir::Program& p, const Dataset& data, const FiniteWidthSetup& setup) {
  SimulationOptions so;
  so.width = setup.width;
  so.seeds = 1;
  so.seed = 7;
  SimulationResult r = simulate(p, data, setup, so);
  std::vector<double> out;
  for (const auto& st : r.steps) {
    out.insert(out.end(), st.loss.mean.begin(), st.loss.mean.end());
    for (const auto& [name, perExample] : st.outputs)
      for (const auto& s : perExample) out.insert(out.end(), s.mean.begin(), s.mean.end());
  }
  return out;
}

TEST(NormalForm, ComputesTheSameResultsAsTheUnrolledProgram) {
  // Same seed, same weights: the two programs differ only in the order of
  // floating-point operations (W_t x formed as W_0 x minus rank-one terms), so
  // they agree to rounding: 1e-9 relative on results of order 1 after 3 steps.
  for (const auto& name : examplePrograms()) {
    ir::Program typed = test::typedProgram("programs/" + name + ".tp");
    Dataset data = readDataset(test::sourcePath("programs/data/" + name + ".json"), typed.inputs);
    driver::PipelineOptions o;
    o.schedule = {3, 1, static_cast<int>(data.train.count), static_cast<int>(data.eval.count), data.evalGiven};
    ir::Program unrolled = driver::runUntil(typed, "unrolled", o);
    ir::Program netsor = passes::normalForm(unrolled);
    EXPECT_EQ(ir::verify(netsor), "") << name;
    for (const char* param : {"mup", "ntk"}) {
      ir::Parametrization pz = ir::resolveParametrization(typed, param, std::nullopt);
      FiniteWidthSetup setup = finiteWidthSetup(typed, pz, 24, 1);
      std::vector<double> a = allResults(unrolled, data, setup), b = allResults(netsor, data, setup);
      ASSERT_EQ(a.size(), b.size()) << name;
      for (size_t i = 0; i < a.size(); ++i)
        EXPECT_NEAR(a[i], b[i], 1e-9 * (1 + std::fabs(a[i]))) << name << " " << param << " result " << i;
    }
  }
}

TEST(NormalForm, MultipliesOnlyInitialWeights) {
  ir::Program typed = test::typedProgram("programs/rnn_shared.tp");
  driver::PipelineOptions o;
  o.schedule = {2, 2, 3, 1, false};
  ir::Program netsor = driver::runUntil(typed, "netsor", o);
  int products = 0, scales = 0;
  for (const auto& v : netsor.values) {
    EXPECT_NE(v.op, ir::Op::Update);
    EXPECT_NE(v.op, ir::Op::Outer);
    if (v.op == ir::Op::MatVec || v.op == ir::Op::MatTVec) {
      ++products;
      EXPECT_EQ(netsor.at(v.operands[0]).op, ir::Op::Param);
    }
    scales += v.op == ir::Op::Scale;
  }
  EXPECT_GT(products, 0);
  EXPECT_EQ(scales, 3);  // one per updated param
}

}  // namespace
}  // namespace tp
