// The tpc binary: exit codes, JSON reports, and no partial report on failure.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <cstdlib>
#include <string>
#include <vector>
#include <map>
#include <sstream>
#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "compiler/ir/Rational.h"

#include "TestUtil.h"

namespace tp {
namespace {

namespace fs = std::filesystem;

TEST(Cli, SimulateWritesTheReportOfCliMd) {
  std::string path = (fs::temp_directory_path() / "tpc_cli_report.json").string();
  fs::remove(path);
  auto r = test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                        "--steps 2 --width 64 --seeds 3 --json " + path);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(test::readText(path));
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["tool"]["name"], "tpc");
  EXPECT_EQ(j["program"]["params"][1]["name"], "W2");
  EXPECT_EQ(j["program"]["params"][1]["role"], "hidden");
  EXPECT_EQ(j["program"]["params"][0]["shape"], nlohmann::json::array({"n", "3"}));
  EXPECT_EQ(j["parametrization"]["params"]["W1"]["a"], "-1/2");
  EXPECT_EQ(j["parametrization"]["c"], "0");
  EXPECT_EQ(j["simulation"]["width"], 64);
  EXPECT_EQ(j["simulation"]["seeds"], 3);
  ASSERT_EQ(j["simulation"]["steps"].size(), 3u);
  EXPECT_TRUE(j["simulation"]["steps"][2]["loss"].is_number());
  EXPECT_EQ(j["simulation"]["steps"][0]["outputs"]["f"].size(), j["simulation"]["steps"][0]["stderr"]["f"].size());
  fs::remove(path);
}

TEST(Cli, JsonToStdoutIsTheReportOnly) {
  auto r = test::runTpc("simulate programs/mlp1_tanh.tp --param mf --data programs/data/mlp1_tanh.json "
                        "--steps 1 --width 32 --json -", false);
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_NO_THROW(nlohmann::json::parse(r.out));
}

TEST(Cli, DivergenceIsReportedAsStringsNeverBareNan) {
  auto r = test::runTpc("simulate programs/mlp2_linear.tp --param sp --data programs/data/mlp2_linear.json "
                        "--steps 8 --width 512 --set lr=50 --json -", false);
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out.find("NaN"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(r.out);
  auto last = j["simulation"]["steps"].back();
  EXPECT_TRUE(last["loss"].is_string()) << last.dump();
}

TEST(Cli, FailuresExitNonZeroAndWriteNoReport) {
  std::string path = (fs::temp_directory_path() / "tpc_cli_failed.json").string();
  fs::remove(path);
  std::string bad = (fs::temp_directory_path() / "tpc_cli_bad_data.json").string();
  std::ofstream(bad) << R"({"train": {"x": [[1, 2]], "y": [1]}})";  // x needs 3 numbers
  auto r = test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data " + bad +
                        " --steps 1 --width 8 --json " + path);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("train.x[0]"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path));
  fs::remove(bad);

  EXPECT_EQ(test::runTpc("simulate programs/mlp2_tanh.tp --param nope --data programs/data/mlp2_tanh.json "
                         "--steps 1 --width 8").exitCode, 2);
  EXPECT_EQ(test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                         "--steps 1 --width 0").exitCode, 2);
  EXPECT_EQ(test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                         "--steps 1 --width 8 --set nothere=1").exitCode, 2);
  EXPECT_EQ(test::runTpc("frobnicate").exitCode, 2);
  EXPECT_EQ(test::runTpc("check does/not/exist.tp").exitCode, 1);
  auto huge = test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                           "--steps 1 --width 1000000");
  EXPECT_EQ(huge.exitCode, 2);
  EXPECT_NE(huge.out.find("choose a smaller --width"), std::string::npos) << huge.out;
}

TEST(Cli, IrPrintsEveryStage) {
  for (const char* stage : {"parsed", "typed", "differentiated"}) {
    auto r = test::runTpc(std::string("ir programs/mlp2_tanh_auto.tp --stage ") + stage);
    EXPECT_EQ(r.exitCode, 0) << stage << r.out;
  }
  auto u = test::runTpc("ir programs/mlp2_tanh.tp --stage unrolled --data programs/data/mlp2_tanh.json --steps 2");
  EXPECT_EQ(u.exitCode, 0) << u.out;
  EXPECT_NE(u.out.find("[t2 eval0]"), std::string::npos);
  auto nf = test::runTpc("ir programs/mlp2_tanh.tp --stage netsor --data programs/data/mlp2_tanh.json --steps 1");
  EXPECT_EQ(nf.exitCode, 0) << nf.out;
  EXPECT_NE(nf.out.find("scale W2"), std::string::npos) << nf.out;
  EXPECT_EQ(nf.out.find(" update "), std::string::npos) << nf.out;
}

TEST(Cli, ClassifyWritesTheReportOfCliMd) {
  auto r = test::runTpc("classify programs/mlp2_tanh.tp --param ntk --json -", false);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json c = nlohmann::json::parse(r.out)["classification"];
  EXPECT_EQ(c["stable"], true);
  EXPECT_EQ(c["nontrivial"], true);
  EXPECT_EQ(c["regime"], "kernel");
  EXPECT_EQ(c["r"], "1/2");
  ASSERT_EQ(c["layers"].size(), 3u);
  EXPECT_EQ(c["layers"][1], nlohmann::json({{"param", "W2"}, {"r_l", "1/2"}, {"feature_learning", false}}));
  EXPECT_EQ(c["values"]["h2"], nlohmann::json({{"init", "0"}, {"update", "-1/2"}}));
  EXPECT_EQ(c["values"]["f"], nlohmann::json({{"init", "0"}, {"update", "0"}}));
  // The reasons cite the value, the step and its source line (h1 is on line 17).
  std::string reasons = c["reasons"].dump();
  EXPECT_NE(reasons.find("h1 at step 1 (line 17)"), std::string::npos) << reasons;
}

TEST(Cli, ClassifyNamesTheValueThatBlowsUp) {
  auto r = test::runTpc("classify programs/mlp2_tanh.tp --param sp --json -", false);
  ASSERT_EQ(r.exitCode, 0) << r.out;  // an unstable parametrization is a result, not an error
  nlohmann::json c = nlohmann::json::parse(r.out)["classification"];
  EXPECT_EQ(c["regime"], "unstable");
  // SP at c = 0: W2's first update moves h2 by n^(1/2) (TP4: r_2 = min(1/2, 0) + 0 − 1 + 0 at step 1 is −1/2).
  EXPECT_NE(c["reasons"].dump().find("h2 at step 1 (line 19) moves by n^(1/2)"), std::string::npos) << c["reasons"];
}

/// TP4's verdict for μP on mlp2_tanh with the readout's a+b and the global c moved.
std::string tp4Mlp2(const Rational& A, const Rational& c) {
  Rational C = 1 + c, r = std::min(A, C) + c - 1;  // r_1 = r_2 (a_1 = −1/2, a_2 = 0)
  bool stable = A >= Rational(1, 2) && r >= 0 && C >= 1 && A + r >= 1;
  bool nontrivial = A + r == 1 || C == 1;
  return !stable ? "unstable" : !nontrivial ? "trivial" : r == 0 ? "feature_learning" : "kernel";
}

TEST(Cli, SweepDrawsThePhaseDiagramOfTp4) {
  auto r = test::runTpc(
      "classify programs/mlp2_tanh.tp --param mup --sweep 'W3.a+b=0:3/2:1/4' --sweep 'c=-1:1:1/4' --json -", false);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json s = nlohmann::json::parse(r.out)["sweep"];
  ASSERT_EQ(s["x"]["values"].size(), 7u);
  ASSERT_EQ(s["y"]["values"].size(), 9u);
  ASSERT_EQ(s["points"].size(), 63u);
  std::map<std::string, int> seen;
  for (const auto& p : s["points"]) {
    Rational A = *parseRational(p["x"].get<std::string>()), c = *parseRational(p["y"].get<std::string>());
    EXPECT_EQ(p["regime"], tp4Mlp2(A, c)) << "a+b = " << p["x"] << ", c = " << p["y"];
    seen[p["regime"]]++;
  }
  EXPECT_EQ(seen.size(), 4u);  // all four phases appear on this grid
  auto bad = test::runTpc("classify programs/mlp2_tanh.tp --param mup --sweep 'W9.a=0:1:1/2'");
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.out.find("no param 'W9'"), std::string::npos) << bad.out;
  auto range = test::runTpc("classify programs/mlp2_tanh.tp --param mup --sweep 'c=1:0:1/2'");
  EXPECT_EQ(range.exitCode, 2) << range.out;
}

TEST(Cli, CoordcheckComparesFittedAndDerivedExponents) {
  auto r = test::runTpc(
      "coordcheck programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 1 "
      "--widths 64,256,1024,4096 --seeds 2 --json -",
      false);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json c = nlohmann::json::parse(r.out)["coordcheck"];
  EXPECT_EQ(c["widths"], nlohmann::json({64, 256, 1024, 4096}));
  EXPECT_EQ(c["failed"], 0) << c.dump(1);
  bool sawF = false;
  for (const auto& row : c["rows"]) {
    ASSERT_EQ(row["sizes"].size(), 4u);
    if (row["value"] == "f" && row["t"] == 0) {  // the μP output at init: n^(−1/2) (CLT over the readout)
      sawF = true;
      EXPECT_EQ(row["derived"], "-1/2");
      EXPECT_NEAR(row["fitted"].get<double>(), -0.5, 0.25);
    }
  }
  EXPECT_TRUE(sawF);
  auto few = test::runTpc("coordcheck programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json "
                          "--steps 1 --widths 64,128");
  EXPECT_EQ(few.exitCode, 2) << few.out;
}

TEST(Cli, LimitReportsTheKernelDynamics) {
  auto r = test::runTpc("limit programs/mlp2_tanh.tp --param ntk --data programs/data/mlp2_tanh.json --steps 2 --json -",
                        false);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json rep = nlohmann::json::parse(r.out);
  nlohmann::json lim = rep["limit"];
  EXPECT_EQ(lim["method"], "kernel");
  EXPECT_EQ(lim["evaluation"], "exact");  // squared loss: Gaussian outputs propagated exactly
  EXPECT_EQ(rep["classification"]["regime"], "kernel");
  ASSERT_EQ(lim["steps"].size(), 3u);
  size_t evalCount = lim["steps"][0]["outputs"]["f"].size();
  EXPECT_EQ(lim["kernels"]["nngp"].size(), evalCount);
  EXPECT_EQ(lim["kernels"]["ntk"].size(), evalCount);
  // The variance at t = 0 is the NNGP's diagonal, and the mean starts at 0.
  EXPECT_DOUBLE_EQ(lim["steps"][0]["variance"]["f"][0].get<double>(), lim["kernels"]["nngp"][0][0].get<double>());
  EXPECT_EQ(lim["steps"][0]["outputs"]["f"][0].get<double>(), 0.0);
  EXPECT_LT(lim["steps"][2]["loss"].get<double>(), lim["steps"][0]["loss"].get<double>());
  for (const char* p : {"W1", "W2", "W3"}) EXPECT_EQ(lim["contributions"][p], "kept") << p;
  // sp with c = 1: the input layer's update moves the output by n^(-1) only.
  auto sp = test::runTpc("limit programs/mlp2_tanh.tp --param sp --c 1 --data programs/data/mlp2_tanh.json --steps 1 --json -",
                         false);
  ASSERT_EQ(sp.exitCode, 0) << sp.out;
  EXPECT_EQ(nlohmann::json::parse(sp.out)["limit"]["contributions"]["W1"], "dropped: its update moves the output by n^(-1)");
}

TEST(Cli, LimitOfAnUnstableParametrizationIsInfNotAnError) {
  auto r = test::runTpc("limit programs/mlp2_tanh.tp --param sp --data programs/data/mlp2_tanh.json --steps 2 --json -",
                        false);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.out.find("NaN"), std::string::npos);
  nlohmann::json lim = nlohmann::json::parse(r.out)["limit"];
  EXPECT_EQ(lim["method"], "none");
  EXPECT_TRUE(lim["steps"][0]["loss"].is_number());  // the NNGP at initialisation is finite
  EXPECT_EQ(lim["steps"][1]["loss"], "inf");
  EXPECT_EQ(lim["steps"][2]["outputs"]["f"][0], "inf");
}

TEST(Cli, LimitRefusesWhatItCannotComputeYet) {
  std::string json = testing::TempDir() + "/limit_mup.json";
  std::remove(json.c_str());
  // Tensor quadrature over a hidden matrix's growing set of fields: refused, no report.
  auto mup = test::runTpc("limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 1 "
                          "--method quadrature --json " + json);
  EXPECT_EQ(mup.exitCode, 2);
  EXPECT_NE(mup.out.find("n×n"), std::string::npos) << mup.out;
  EXPECT_FALSE(std::filesystem::exists(json));
  EXPECT_EQ(test::runTpc("limit programs/mlp2_tanh.tp --param ntk --data programs/data/mlp2_tanh.json --steps 1 "
                         "--method montecarlo").exitCode, 2);
}

/// The `limit` section of `tpc limit ARGS --json -` (null, with a test failure, if it exits non-zero).
nlohmann::json limitReport(const std::string& args) {
  auto r = test::runTpc("limit " + args + " --json -", false);
  EXPECT_EQ(r.exitCode, 0) << r.out;
  return r.exitCode == 0 ? nlohmann::json::parse(r.out)["limit"] : nlohmann::json();
}

TEST(Cli, FeatureLearningLimitOfAOneHiddenLayerNetwork) {
  // mlp1_tanh under mup: 3 base Gaussians (W1's two columns, W2's row), so auto picks
  // quadrature (24³ nodes here); f_0 → 0 and the output moves from step 1 on.
  nlohmann::json lim = limitReport("programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 2 "
                                    "--order 24");
  ASSERT_FALSE(lim.is_null());
  EXPECT_EQ(lim["method"], "quadrature");
  EXPECT_EQ(lim["base_gaussians"], 3);
  EXPECT_EQ(lim["particles"], 24 * 24 * 24);
  EXPECT_EQ(lim["steps"].size(), 3u);
  EXPECT_EQ(lim["steps"][0]["outputs"]["f"][0], 0.0);
  EXPECT_GT(std::fabs(lim["steps"][2]["outputs"]["f"][0].get<double>()), 0.1);
  EXPECT_LT(lim["steps"][2]["loss"].get<double>(), lim["steps"][0]["loss"].get<double>());
  // The Z-program prints, and asks for the parametrization that decides its terms.
  auto z = test::runTpc("ir programs/mlp1_tanh.tp --stage limit --param mup --data programs/data/mlp1_tanh.json --steps 1");
  EXPECT_EQ(z.exitCode, 0) << z.out;
  EXPECT_NE(z.out.find("base 2 = W2[0] ~ N(0, 1)"), std::string::npos) << z.out;
  EXPECT_EQ(test::runTpc("ir programs/mlp1_tanh.tp --stage limit --data programs/data/mlp1_tanh.json").exitCode, 2);
  // A kernel method for a feature-learning parametrization, and the exact evaluator of a tanh network, are refused.
  EXPECT_EQ(test::runTpc("limit programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 1 "
                         "--method kernel").exitCode, 2);
  EXPECT_EQ(test::runTpc("limit programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 1 "
                         "--method exact").exitCode, 2);
}

TEST(Cli, DeepLinearLimitIsExact) {
  // mlp2_linear under mup: auto picks the exact evaluator (linear nonlinearities); the eval
  // output after one step is −2/3 (DeepLimitTest derives it in closed form).
  nlohmann::json lim = limitReport("programs/mlp2_linear.tp --param mup --data programs/data/mlp2_linear.json --steps 1");
  ASSERT_FALSE(lim.is_null());
  EXPECT_EQ(lim["method"], "exact");
  EXPECT_FALSE(lim.contains("samples"));
  EXPECT_NEAR(lim["steps"][1]["outputs"]["f"][0].get<double>(), -2.0 / 3, 1e-12);
  // The Z-program names the fields of W2 and of its transpose.
  auto z = test::runTpc("ir programs/mlp2_linear.tp --stage limit --param mup --data programs/data/mlp2_linear.json "
                        "--steps 1");
  EXPECT_NE(z.out.find("field 0 of W2.T"), std::string::npos) << z.out;
}

namespace compiled {

/// Runs a shell command; its stdout (empty, with a test failure, when it exits non-zero).
std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << out;
  return out;
}

/// `tpc compile ARGS -o DIR/limit.o`, linked with docs/examples/limit_main.c and run with
/// `RUN`: result name → value.
std::map<std::string, double> compileAndRun(const std::string& args, const std::string& run, const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto compiled = test::runTpc("compile " + args + " -o " + dir + "/limit.o");
  EXPECT_EQ(compiled.exitCode, 0) << compiled.out;
  shell("cc -O2 '" + test::sourcePath("docs/examples/limit_main.c") + "' '" + dir + "/limit.o' -lm -o '" + dir +
        "/limit'");
  std::map<std::string, double> values;
  std::istringstream lines(shell("'" + dir + "/limit' " + run));
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.rfind(' ');
    values[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return values;
}

}  // namespace compiled

TEST(Cli, CompiledLimitLinkedIntoACProgramEqualsTpcLimit) {
  // The exact rule through the object file and the C example: the same particles, passes and
  // summation order as `tpc limit --method exact`, so the same numbers (to 1e-12 relative,
  // the backends' contract; they are in fact identical).
  const std::string args = "programs/mlp2_linear.tp --param mup --data programs/data/mlp2_linear.json --steps 2";
  std::map<std::string, double> c = compiled::compileAndRun(args, "exact", testing::TempDir() + "/compiled_linear");
  nlohmann::json lim = limitReport(args + " --method exact");
  ASSERT_FALSE(lim.is_null());
  ASSERT_EQ(c.size(), 9u);  // per step: the output at 1 eval example and the loss at 2 batch slots
  for (int t = 0; t <= 2; ++t) {
    std::string at = " t=" + std::to_string(t);
    double f = lim["steps"][t]["outputs"]["f"][0].get<double>();
    EXPECT_NEAR(c.at("f[eval 0]" + at), f, 1e-12 * std::abs(f)) << t;
    double loss = (c.at("loss[batch 0]" + at) + c.at("loss[batch 1]" + at)) / 2;
    EXPECT_NEAR(loss, lim["steps"][t]["loss"].get<double>(), 1e-12 * loss) << t;
  }
  EXPECT_NEAR(c.at("f[eval 0] t=1"), -2.0 / 3, 1e-12);  // the closed form (tests/numeric/DeepLimitTest.cpp)

  // Monte Carlo with the C program's own random numbers: a different sample of the same
  // limit, so within 5 combined standard errors of tpc's (both 2^16 particles).
  const std::string tanh = "programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 2";
  std::map<std::string, double> mc = compiled::compileAndRun(tanh, "65536", testing::TempDir() + "/compiled_tanh");
  nlohmann::json ref = limitReport(tanh + " --method montecarlo --samples 65536");
  ASSERT_FALSE(ref.is_null());
  for (int t = 1; t <= 2; ++t)
    for (int e = 0; e < 2; ++e) {
      double mean = ref["steps"][t]["outputs"]["f"][e].get<double>();
      double se = ref["steps"][t]["stderr"]["f"][e].get<double>();
      EXPECT_NEAR(mc.at("f[eval " + std::to_string(e) + "] t=" + std::to_string(t)), mean, 5 * std::sqrt(2.0) * se);
    }
}

TEST(Cli, CompileRefusesKernelRegimesAndLeavesNoPartialFile) {
  std::string out = testing::TempDir() + "/kernel.ll";
  std::remove(out.c_str());
  auto ntk = test::runTpc("compile programs/mlp2_tanh.tp --param ntk --data programs/data/mlp2_tanh.json --steps 1 -o " + out);
  EXPECT_EQ(ntk.exitCode, 2) << ntk.out;
  EXPECT_NE(ntk.out.find("kernel regime"), std::string::npos) << ntk.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  auto nowhere = test::runTpc("compile programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 1 "
                              "-o /nonexistent-directory/limit.o");
  EXPECT_NE(nowhere.exitCode, 0);
  EXPECT_NE(nowhere.out.find("cannot write /nonexistent-directory/limit.o"), std::string::npos) << nowhere.out;
  // LLVM assembly: the entry point and the description functions are defined.
  auto ll = test::runTpc("compile programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 1 -o " + out);
  ASSERT_EQ(ll.exitCode, 0) << ll.out;
  std::string text = test::readText(out);
  for (const char* fn : {"@tpc_limit(", "@tpc_limit_bases(", "@tpc_limit_base_variance(", "@tpc_limit_results(",
                         "@tpc_limit_result_name("})
    EXPECT_NE(text.find(fn), std::string::npos) << fn;
}

}  // namespace
}  // namespace tp

namespace tp {
namespace {

TEST(Cli, LimitRefusesRequestsBeyondMemoryUpFront) {
  // TPC_MEMORY_BYTES stands in for the machine's memory. Each request is refused before any
  // evaluation (exit 2), with the estimate and the option to change, and leaves no report.
  const std::string report = ::testing::TempDir() + "/refused.json";
  struct Case {
    std::string memory, args, expected;
  };
  const std::vector<Case> cases = {
      {"1e9", "programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 3 --method montecarlo "
              "--samples 1000000", "choose a smaller --samples"},
      {"1e9", "programs/mlp1_tanh.tp --param mup --data programs/data/mlp1_tanh.json --steps 2 --method quadrature "
              "--order 200", "choose a smaller --order"},
      {"100", "programs/mlp2_tanh.tp --param ntk --data programs/data/mlp2_tanh.json --steps 3",
       "use fewer training or evaluation examples"},
  };
  for (const Case& c : cases) {
    std::filesystem::remove(report);
    ::setenv("TPC_MEMORY_BYTES", c.memory.c_str(), 1);
    auto r = test::runTpc("limit " + c.args + " --json " + report);
    ::unsetenv("TPC_MEMORY_BYTES");
    EXPECT_EQ(r.exitCode, 2) << r.out;
    EXPECT_NE(r.out.find("GB for"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("more than 60% of this machine's"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(report)) << c.args;
  }
  // With the machine's real memory the same Monte Carlo request at a sensible size runs.
  auto ok = test::runTpc("limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 1 "
                         "--method montecarlo --samples 4096 --json " + report);
  EXPECT_EQ(ok.exitCode, 0) << ok.out;
}

}  // namespace
}  // namespace tp

namespace tp {
namespace {

TEST(Cli, ANumericFaultOfTheLimitIsReportedWithItsPlace) {
  // lr = 1e200 under μP: the limit exists (a stable parametrization) but f_1 ≈ 1e197, so the
  // step-1 loss (f − y)² overflows. Both backends name the same first non-finite quantity, the
  // report keeps "inf"/"nan" as strings, and the run succeeds (a result, not an error).
  for (const char* backend : {"jit", "interp"}) {
    auto r = test::runTpc("limit programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 3 "
                          "--set lr=1e200 --method montecarlo --samples 4096 --json - --backend " +
                              std::string(backend),
                          false);
    ASSERT_EQ(r.exitCode, 0) << r.out;
    nlohmann::json limit = nlohmann::json::parse(r.out)["limit"];
    ASSERT_TRUE(limit.contains("numeric_fault")) << backend;
    const nlohmann::json& f = limit["numeric_fault"];
    EXPECT_EQ(f["kind"], "overflow");
    EXPECT_EQ(f["value"], "inf");
    EXPECT_EQ(f["step"], 1);
    EXPECT_EQ(f["location"].get<std::string>().rfind("programs/mlp2_tanh.tp:", 0), 0u) << f;
    EXPECT_NE(f["message"].get<std::string>().find("smaller learning rate"), std::string::npos);
    EXPECT_EQ(limit["steps"][1]["loss"], "inf");
    EXPECT_EQ(limit["steps"][3]["outputs"]["f"][0], "nan");
  }
  // A healthy run has no fault.
  nlohmann::json ok = limitReport("programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 1 "
                                  "--method montecarlo --samples 4096");
  EXPECT_FALSE(ok.contains("numeric_fault"));
}

TEST(Cli, AKernelThatLeavesDoublePrecisionIsReportedAsNan) {
  // Training inputs of size 1e160 under NTK: the input layer's variance |x|²/3 ≈ 1e320 overflows,
  // so no kernel entry is a double. Both backends report every value "nan" with the reason, a
  // warning on stderr, and exit 0; under SP (unstable) the steps after the blow-up stay "inf".
  const std::string data = ::testing::TempDir() + "/huge_inputs.json";
  std::ofstream(data) << R"({"train": {"x": [[1e160, -1e160, 1e160], [5e159, 1.5e160, -5e159], [-1.2e160, 3e159, 1.1e160]],
                                         "y": [1.0, -1.0, 0.8]},
                              "eval":  {"x": [[0.9, 0.9, -0.9], [-0.4, -1.2, 1.1]]}})";
  for (const char* backend : {"jit", "interp"}) {
    auto r = test::runTpc("limit programs/mlp2_tanh.tp --param ntk --data " + data + " --steps 2 --json - --backend " +
                          backend, false);
    ASSERT_EQ(r.exitCode, 0) << r.out;
    nlohmann::json limit = nlohmann::json::parse(r.out)["limit"];
    ASSERT_TRUE(limit.contains("numeric_fault")) << backend;
    EXPECT_NE(limit["numeric_fault"]["message"].get<std::string>().find("kernel recursion broke down"), std::string::npos);
    for (const auto& st : limit["steps"]) {
      EXPECT_EQ(st["loss"], "nan");
      EXPECT_EQ(st["outputs"]["f"][1], "nan");
    }
  }
  auto warned = test::runTpc("limit programs/mlp2_tanh.tp --param ntk --data " + data + " --steps 1");
  EXPECT_EQ(warned.exitCode, 0);
  EXPECT_NE(warned.out.find("tpc: warning: numeric fault"), std::string::npos) << warned.out;
  nlohmann::json sp = limitReport("programs/mlp2_tanh.tp --param sp --data " + data + " --steps 2");
  EXPECT_EQ(sp["steps"][0]["loss"], "nan");
  EXPECT_EQ(sp["steps"][2]["loss"], "inf");
}

}  // namespace
}  // namespace tp

namespace tp {
namespace {

TEST(Cli, SingularCovariancesAreHandledAndStated) {
  // Kernel regime, Monte Carlo dynamics (cross-entropy): an evaluation input equal to a
  // training input makes the NNGP over all examples singular — f(eval 0) − f(train 0) has no
  // variance, once per output coordinate (3). The pivoted Cholesky factor drops exactly those
  // directions, the run succeeds, and the report says so.
  const std::string data = ::testing::TempDir() + "/duplicate.json";
  std::ofstream(data) << R"({"train": {"x": [[1.0, -1.0, 1.0], [0.5, 1.5, -0.5], [-1.2, 0.3, 1.1]],
                                         "y": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]},
                              "eval":  {"x": [[1.0, -1.0, 1.0], [-0.4, -1.2, 1.1]]}})";
  nlohmann::json lim = limitReport("programs/softmax_ce.tp --param ntk --data " + data + " --steps 2");
  ASSERT_EQ(lim["evaluation"], "montecarlo");
  EXPECT_EQ(lim["nngp_dropped_directions"], 3);
  EXPECT_NE(lim["singular_covariance"].get<std::string>().find("pivoted Cholesky"), std::string::npos);
  nlohmann::json healthy = limitReport("programs/softmax_ce.tp --param ntk --data programs/data/softmax_ce.json --steps 2");
  EXPECT_EQ(healthy["nngp_dropped_directions"], 0);
  // Feature learning, a linear network: later fields lie in the span of earlier ones, and
  // Gram–Schmidt gives them no new Gaussian (the count is in the report; a tanh network has none).
  nlohmann::json linear = limitReport("programs/mlp2_linear.tp --param mup --data programs/data/mlp2_linear.json --steps 3");
  EXPECT_GT(linear["z_program"]["dropped_fields"].get<int>(), 0);
  EXPECT_NE(linear["z_program"]["singular_covariance"].get<std::string>().find("Gram-Schmidt"), std::string::npos);
  nlohmann::json tanh = limitReport("programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 2");
  EXPECT_EQ(tanh["z_program"]["dropped_fields"], 0);
}

}  // namespace
}  // namespace tp
