// The JIT backend of kernel programs computes the interpreter's kernels, bit for bit, and reports its failures.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "compiler/codegen/KernelCompile.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Parametrization.h"
#include "frontend/Lower.h"
#include "runtime/KernelLimit.h"
#include "TestUtil.h"

namespace tp {
namespace {

using passes::KernelInstr;

/// A two-hidden-layer network with activation `act` and backward pass `backward`.
ir::Program network(const std::string& act, const std::string& backward) {
  std::string s = "width n\ninput x[3]\ntarget y\nparam W1[n, 3]\nparam W2[n, n]\nparam V[1, n]\nhyper lr = 0.5\n"
                  "output f\nforward:\n  h1 = W1 @ x\n  z1 = " + act + "(h1)\n  h2 = W2 @ z1\n  z2 = " + act +
                  "(h2)\n  f = V @ z2\n  loss = 0.5 * (f - y) ** 2\n" + backward;
  Diagnostics diags("net.tp");
  auto p = frontend::compileSource(s, "net.tp", diags);
  if (!p) throw std::runtime_error(diags.format());
  return driver::runUntil(*p, "differentiated", {});
}

void expectSameKernels(const KernelMatrices& a, const KernelMatrices& b, const std::string& what) {
  ASSERT_EQ(a.nngp.size(), b.nngp.size());
  ASSERT_EQ(a.ntk.size(), b.ntk.size());
  for (size_t k = 0; k < a.nngp.size(); ++k)
    for (size_t l = 0; l < a.nngp[k].size(); ++l) EXPECT_EQ(a.nngp[k][l].entries, b.nngp[k][l].entries) << what;
  for (size_t k = 0; k < a.ntk.size(); ++k)
    for (size_t l = 0; l < a.ntk[k].size(); ++l) EXPECT_EQ(a.ntk[k][l].entries, b.ntk[k][l].entries) << what;
  EXPECT_EQ(a.quadratureError, b.quadratureError) << what;
}

TEST(KernelCompile, EqualsTheInterpreterOnEveryEntry) {
  // The generated loops compute the sums with the interpreter's IEEE operations in its order
  // (no reassociation, no fused multiply-add) and call the interpreter for the rest, so the
  // kernels are equal, not merely close. 37 examples: 666 off-diagonal pairs in tiles of 8
  // (7 rounded up to the 4 lanes), the last one partial, on 1 and 2 threads. relu: closed
  // forms; tanh: quadrature; a straight-through backward pass: K(A, B) and K(B, A) in
  // different slots.
  codegen::Jit session;
  std::vector<ExampleInputs> xs = test::randomInputs(37, 3, 11);
  const std::string autoBackward = "backward: auto\nupdate: sgd(lr)\n";
  const std::string straightThrough =
      "backward:\n  df = f - y\n  dz2 = V.T @ df\n  dh2 = dz2\n  dz1 = W2.T @ dh2\n  dh1 = dz1\n"
      "update:\n  V -= lr * outer(df, z2)\n  W2 -= lr * outer(dh2, z1)\n  W1 -= lr * outer(dh1, x)\n";
  int compared = 0;
  for (const auto& [act, backward] : std::vector<std::pair<std::string, std::string>>{
           {"relu", autoBackward}, {"tanh", autoBackward}, {"tanh", straightThrough}}) {
    ir::Program p = network(act, backward);
    passes::KernelDerivation d = passes::deriveKernels(p, ir::resolveParametrization(p, "ntk", std::nullopt));
    KernelEvalOptions interp;
    interp.tile = 7;
    interp.order = 16;
    KernelMatrices expected = kernelMatrices(d, xs, interp);
    KernelEvalOptions jit = interp;
    jit.compiled = codegen::compileKernelTiles(d.program, kernelEntries(d), session);
    for (int threads : {1, 2}) {
      jit.threads = threads;
      expectSameKernels(kernelMatrices(d, xs, jit), expected, act + " threads " + std::to_string(threads));
      ++compared;
    }
  }
  EXPECT_EQ(compared, 6);
}

TEST(KernelCompile, AHandWrittenProgramWithEveryInstruction) {
  // Slots: 0 = 1, 1 = x_A·x_B, 2 = 2·x_A·u_B, 3 = Σ of a product, a single slot and a
  // constant, 4 = E[relu(u) relu(v)] with Var = slot 0, Cov = slot 2 (|2 x·u| ≤ 1 for
  // coordinates in ±1/2), 5 = E[tanh'(u)].
  passes::KernelProgram program(6);
  program[0].kind = KernelInstr::Kind::Const;
  program[0].value = 1;
  program[1].kind = KernelInstr::Kind::InputDot;
  program[1].value = 1;
  program[1].inputA = program[1].inputB = "x";
  program[2].kind = KernelInstr::Kind::InputDot;
  program[2].value = 2;
  program[2].inputA = "x";
  program[2].inputB = "u";
  program[3].kind = KernelInstr::Kind::Sum;
  program[3].terms = {{0.3, 1, 2}, {0.7, 1, -1}, {-0.1, -1, -1}};  // coefficients not powers of 2: rounding shows the order
  program[4].kind = KernelInstr::Kind::Expect2;
  program[4].f = program[4].g = ir::Fn::Relu;
  program[4].varA = program[4].varB = 0;
  program[4].cov = 2;
  program[5].kind = KernelInstr::Kind::Expect1;
  program[5].f = ir::Fn::Tanh;
  program[5].fk = 1;
  program[5].varA = 0;
  std::vector<passes::KernelEntry> wanted = {{3, 3}, {4, 4}, {5, 5}};
  std::vector<ExampleInputs> xs;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> coordinate(-0.5, 0.5);
  for (int e = 0; e < 23; ++e) xs.push_back({{"x", {coordinate(rng), coordinate(rng)}}, {"u", {coordinate(rng), coordinate(rng)}}});
  codegen::Jit session;
  KernelEvalOptions o;
  o.tile = 12;
  KernelValues expected = evaluateKernels(program, xs, wanted, o);
  o.compiled = codegen::compileKernelTiles(program, wanted, session);
  KernelValues got = evaluateKernels(program, xs, wanted, o);
  for (size_t w = 0; w < wanted.size(); ++w) EXPECT_EQ(got.kernels[w].entries, expected.kernels[w].entries) << w;
  // Slot 3 is not trivially zero: the sums were really computed.
  EXPECT_NE(got.kernels[0].at(5, 2), 0.0);

  // A covariance outside Cauchy–Schwarz off the diagonal (|x_A·u_B| large while the diagonal
  // x_A·u_A is 0) makes the expectation's call fail inside the generated code: both backends
  // throw the same UserError, and nothing crashes.
  std::vector<ExampleInputs> bad = {{{"x", {1.0, 0.0}}, {"u", {0.0, 40.0}}}, {{"x", {0.0, 1.0}}, {"u", {3.0, 0.0}}}};
  std::string interpMessage, jitMessage;
  KernelEvalOptions plain;
  try {
    evaluateKernels(program, bad, wanted, plain);
  } catch (const UserError& e) {
    interpMessage = e.what();
  }
  try {
    evaluateKernels(program, bad, wanted, o);
  } catch (const UserError& e) {
    jitMessage = e.what();
  }
  EXPECT_NE(interpMessage.find("the kernel recursion broke down"), std::string::npos) << interpMessage;
  EXPECT_EQ(jitMessage, interpMessage);
}

TEST(KernelCompile, TpcLimitGivesTheSameReportWithEitherBackend) {
  // Every example program in a kernel regime under ntk: the whole `limit` section of the
  // report (kernels, outputs, losses) is the same but for the backend's name.
  int programs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::sourcePath("programs"))) {
    if (entry.path().extension() != ".tp") continue;
    std::string name = entry.path().stem().string();
    std::string args = "limit programs/" + name + ".tp --param ntk --data programs/data/" + name +
                       ".json --steps 2 --threads 2 --json - --backend ";
    auto jit = test::runTpc(args + "jit", false), interp = test::runTpc(args + "interp", false);
    ASSERT_EQ(jit.exitCode, interp.exitCode) << name;
    if (jit.exitCode != 0) continue;
    nlohmann::json a = nlohmann::json::parse(jit.out)["limit"], b = nlohmann::json::parse(interp.out)["limit"];
    if (a["method"] != "kernel") continue;
    EXPECT_EQ(a["backend"], "jit");
    EXPECT_EQ(b["backend"], "interp");
    a.erase("backend");
    b.erase("backend");
    EXPECT_EQ(a, b) << name;
    ++programs;
  }
  EXPECT_GE(programs, 8);
}

}  // namespace
}  // namespace tp
