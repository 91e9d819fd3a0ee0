// The coordinate check on every example program: fitted slopes of measured
// coordinate sizes against the derived width exponents.
//
// Setup: T = 2 full-batch steps, widths 32 … 1024 (11 widths, ratio ≈ 1.4),
// 12 seeds, the program's own data.
//
// Tolerance 1/4. Every derived exponent of these programs is a multiple of
// 1/2, so a slope within 1/4 identifies it among its neighbours. The
// statistical error of a slope is σ ≈ s / (sd(log n) · √k) with s the relative
// seed-to-seed spread of a mean |coordinate|: at most ≈ 0.75/√12 = 0.22 for a
// scalar with a random Gaussian limit (the NNGP output, and everything the
// random f_0 − y scales), sd(log n) = 1.05 and k = 11 widths, so σ ≈ 0.063
// and 1/4 is 4σ. Width vectors average over n coordinates and are far less
// noisy; their finite-size bias measured here is below 0.06.
//
// Under `sp` (unstable at c = 0) only the values not downstream of a blow-up
// are compared (`coordcheck` marks the rest skipped): after a blow-up the
// analysis claims "unstable", not exponents.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "compiler/driver/Analysis.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Parametrization.h"
#include "ExampleProgram.h"

namespace tp {
namespace {

class CoordCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(CoordCheck, FittedSlopesMatchDerivedExponents) {
  const std::string name = GetParam();
  test::ExampleProgram example = test::loadExample(name, 2);
  const ir::Program& typed = example.typed;
  const Dataset& data = example.data;
  const driver::PipelineOptions& po = example.options;
  ir::Program netsor = driver::runUntil(typed, "netsor", po);
  std::vector<std::string> params = {"sp", "ntk", "mup"};
  if (!typed.hasHiddenMatrix()) params.push_back("mf");  // mf is defined for one hidden layer
  for (const auto& b : typed.parametrizations) params.push_back(b.name);
  CoordCheckOptions o;
  o.widths = {32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024};
  o.seeds = 12;
  o.threads = 2;
  for (const auto& param : params) {
    ir::Parametrization pz = ir::resolveParametrization(typed, param, std::nullopt);
    driver::CoordCheckReport r = driver::coordCheck(netsor, pz, data, o, 0.25);
    EXPECT_EQ(r.failed, 0) << name << " " << param;
    for (const auto& row : r.rows) {
      EXPECT_NE(row.status, "fail") << name << " " << param << ": " << row.name << " t=" << row.t << " " << row.part
                                    << " derived " << row.derived.str() << " fitted " << row.fitted << " " << row.note;
      if (row.t == 0) {
        EXPECT_EQ(row.status, "pass") << name << " " << param << ": " << row.name << " at init";
      }
    }
    if (param != "sp") {
      EXPECT_EQ(r.skipped, 0) << name << " " << param << ": stable programs compare every value";
    }
    double worst = 0;
    for (const auto& row : r.rows)
      if (row.status == "pass" && row.derived.isFinite())
        worst = std::max(worst, std::fabs(row.fitted - toDouble(row.derived.value())));
    std::cout << name << " " << param << ": " << r.passed << " pass, " << r.skipped << " skipped, largest |fitted − derived| "
              << worst << "\n";
  }
}

std::vector<std::string> examplePrograms() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(test::sourcePath("programs")))
    if (e.path().extension() == ".tp") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(ExamplePrograms, CoordCheck, ::testing::ValuesIn(examplePrograms()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tp
