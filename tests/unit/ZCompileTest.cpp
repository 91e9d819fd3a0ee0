// The JIT backend of Z-programs computes the interpreter's numbers, bit for bit, on every example.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/driver/Analysis.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/passes/ZProgram.h"
#include "compiler/codegen/ZCompile.h"
#include "runtime/Dataset.h"
#include "runtime/ZEval.h"
#include "TestUtil.h"

namespace tp {
namespace {

TEST(ZCompile, EqualsTheInterpreterOnEveryExampleAndEvaluator) {
  // Both backends do the same IEEE operations in the same order (means in chunks of
  // kMeanChunk, no reassociation, no fused multiply-add, the same activation functions),
  // so the results are equal, not merely close. 6003 particles: two chunks, the second
  // partial and ending inside a vector of 4 and of 8. Quadrature (order 6) where the program
  // has no n×n matrix, exact where linear.
  codegen::Jit session;
  int programs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::sourcePath("programs"))) {
    if (entry.path().extension() != ".tp") continue;
    std::string name = entry.path().stem().string();
    ir::Program typed = test::typedProgram("programs/" + name + ".tp");
    ir::Parametrization pz = ir::resolveParametrization(typed, "mup", std::nullopt);
    if (driver::classifyProgram(typed, pz).regime != "feature_learning") continue;
    Dataset data = readDataset(test::sourcePath("programs/data/" + name + ".json"), typed.inputs);
    driver::PipelineOptions po;
    po.schedule = {2, 0, static_cast<int>(data.train.count), static_cast<int>(data.eval.count), data.evalGiven};
    ir::Program netsor = driver::runUntil(typed, "netsor", po);
    passes::ZProgram z = passes::deriveZProgram(netsor, pz);
    // The host's particles per iteration, and the other of four and eight (AVX2 and AVX-512
    // registers; LLVM splits eight in two halves on a host without AVX-512): the same numbers.
    const unsigned otherLanes = codegen::particleLanes() == 8 ? 4 : 8;
    codegen::CompiledZProgram compiled(z, session), other(z, session, 1, otherLanes);
    std::vector<Particles> rules = {monteCarloParticles(z, 6003, 3)};
    bool fields = false;
    for (const passes::ZBase& b : z.bases) fields = fields || b.field;
    if (!fields) rules.push_back(quadratureParticles(z, 6, size_t(1) << 20));
    int degree = passes::meanDegree(z);
    if (degree >= 0 && degree <= 3) rules.push_back(exactParticles(z));
    for (const Particles& particles : rules) {
      auto expected = runZProgram(z, particles, data);
      for (int threads : {1, 2}) {
        auto got = compiled.run(particles, data, threads);
        ASSERT_EQ(got.size(), expected.size()) << name;
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << name << " result " << i;
      }
      EXPECT_EQ(other.run(particles, data, 1), expected) << name << ", " << otherLanes << " lanes";
    }
    EXPECT_GT(compiled.passes(), 1u) << name;
    EXPECT_GE(compiled.pieces(), compiled.passes()) << name;
    EXPECT_LE(compiled.shapes(), compiled.pieces()) << name;
    ++programs;
  }
  EXPECT_GE(programs, 14);
}

TEST(ZCompile, PiecesOfOneShapeShareAFunction) {
  // A ten-layer network: the middle layers' pieces have the same shape at every depth, so
  // far fewer functions are compiled than there are pieces (at the time of writing 27 for
  // 503 pieces); the numbers are still the interpreter's, with the shapes compiled in two
  // modules on two threads.
  ir::Program typed = test::typedProgram("bench/programs/mlp10_tanh.tp");
  ir::Parametrization pz = ir::resolveParametrization(typed, "mup", std::nullopt);
  Dataset data = readDataset(test::sourcePath("bench/programs/data/mlp10_tanh.json"), typed.inputs);
  driver::PipelineOptions po;
  po.schedule = {1, 0, static_cast<int>(data.train.count), static_cast<int>(data.eval.count), data.evalGiven};
  passes::ZProgram z = passes::deriveZProgram(driver::runUntil(typed, "netsor", po), pz);
  codegen::Jit session;
  codegen::CompiledZProgram compiled(z, session, 2);  // two modules, compiled on two threads
  EXPECT_GT(compiled.pieces(), 5 * compiled.shapes());
  Particles particles = monteCarloParticles(z, 5000, 7);
  auto expected = runZProgram(z, particles, data);
  auto got = compiled.run(particles, data, 2);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "result " << i;
}

}  // namespace
}  // namespace tp
