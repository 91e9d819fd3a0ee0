// Targeted cases of the width-exponent analysis, each confirmed by measurement.
#include <gtest/gtest.h>

#include "TestUtil.h"
#include "compiler/driver/Analysis.h"

namespace tp {
namespace {

using passes::Exponent;

/// Means and sums of width vectors: a contraction is a law of large numbers
/// unless the summand is odd in some initial weight (then its mean is zero
/// and the CLT leaves n^(−1/2)).
const char* kReductions = R"(width n
input x[2]
target y
param W1[n, 2] ~ N(0, 1/2)
param W2[1, n] ~ 0
hyper lr = 0.5
output f
output m_lin
output m_sq
output m_tanh
output m_relu
output m_cos
output s_sq
forward:
  h = W1 @ x
  m_lin = mean(h)
  m_sq = mean(h * h)
  m_tanh = mean(tanh(h))
  m_relu = mean(relu(h))
  m_cos = mean(cos(h))
  s_sq = sum(h * h)
  z = tanh(h)
  f = W2 @ z + m_lin
  loss = 0.5 * (f - y) ** 2
backward: auto
update: sgd(lr)
)";

std::map<std::string, std::pair<std::string, std::string>> exponentsOf(const passes::Classification& c) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& [name, perStep] : c.values) {
    Exponent update = Exponent::zero();
    for (const auto& s : perStep)
      if (s.t > 0) update = passes::maxOf(update, s.e.update);
    out[name] = {perStep[0].e.init.str(), update.str()};
  }
  return out;
}

TEST(Exponents, ReductionsAreLlnUnlessOddInAWeight) {
  Diagnostics diags("reductions.tp");
  auto typed = frontend::compileSource(kReductions, "reductions.tp", diags);
  ASSERT_TRUE(typed) << diags.format();
  ir::Parametrization pz = ir::resolveParametrization(*typed, "mup", std::nullopt);
  auto e = exponentsOf(driver::classifyProgram(*typed, pz));
  EXPECT_EQ(e["m_lin"].first, "-1/2");   // h is odd in W1
  EXPECT_EQ(e["m_sq"].first, "0");       // h² is even: E[h²] > 0
  EXPECT_EQ(e["m_tanh"].first, "-1/2");  // tanh is odd, so tanh(h) stays odd
  EXPECT_EQ(e["m_relu"].first, "0");
  EXPECT_EQ(e["m_cos"].first, "0");
  EXPECT_EQ(e["s_sq"].first, "1");
  EXPECT_EQ(e["f"].first, "-1/2");       // W2 ~ 0: only m_lin is left at init
  EXPECT_EQ(e["d_z"].first, "-inf");     // W2ᵀ d_f with W2 = 0 is exactly zero at step 0

  // The same exponents, measured: widths 64 … 16384 (O(n) program), 16 seeds;
  // 1/4 is half the spacing of the exponents involved (tests/numeric/CoordCheckTest.cpp).
  // Data with one sign throughout, so that no Θ(1) limit happens to be nearly 0
  // (then n^(−1/2) corrections would dominate the widths measured).
  Dataset data = parseDataset(R"({"train": {"x": [[1.0, 0.5], [0.6, 1.0]], "y": [1.0, 0.8]},
                                  "eval": {"x": [[0.5, 0.7]], "y": [0.2]}})",
                              "data.json", typed->inputs);
  driver::PipelineOptions po;
  po.schedule = {2, 0, 2, 1, true};
  ir::Program netsor = driver::runUntil(*typed, "netsor", po);
  CoordCheckOptions o;
  o.widths = {64, 256, 1024, 4096, 16384};
  o.seeds = 16;
  driver::CoordCheckReport r = driver::coordCheck(netsor, pz, data, o, 0.25);
  for (const auto& row : r.rows)
    EXPECT_EQ(row.status, "pass") << row.name << " t=" << row.t << " derived " << row.derived.str() << " fitted "
                                  << row.fitted << " " << row.note;
  EXPECT_GT(r.passed, 20);
}

TEST(Exponents, NngpOutputAndBackwardSignalFollowTheReadout) {
  ir::Program typed = test::typedProgram("programs/mlp2_tanh.tp");
  for (auto [param, f0, dz] : {std::tuple{"mup", "-1/2", "-1"}, {"ntk", "0", "-1/2"}, {"sp", "0", "-1/2"}}) {
    auto e = exponentsOf(driver::classifyProgram(typed, ir::resolveParametrization(typed, param, std::nullopt), 3));
    EXPECT_EQ(e["f"].first, f0) << param;   // 1/2 − (a+b) of the readout: CLT at init
    EXPECT_EQ(e["dz2"].first, dz) << param;  // −(a+b) of the readout
  }
}

TEST(Exponents, ExponentArithmetic) {
  Exponent half = Exponent::of(Rational(1, 2));
  EXPECT_EQ((half + Exponent::of(-1)).str(), "-1/2");
  EXPECT_EQ((half + Exponent::zero()).str(), "-inf");
  EXPECT_EQ((Exponent::infinite() + Exponent::zero()).str(), "-inf");  // exactly zero times anything
  EXPECT_EQ(Exponent::infinite().times(-1).str(), "-inf");
  EXPECT_EQ(half.times(0).str(), "0");
  EXPECT_LT(Exponent::zero(), Exponent::of(-100));
  EXPECT_LT(Exponent::of(100), Exponent::infinite());
}

}  // namespace
}  // namespace tp
