// The tpc binary: exit codes, JSON reports, and no partial report on failure.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

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
}

}  // namespace
}  // namespace tp
