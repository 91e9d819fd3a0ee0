// Golden tests: diagnostics of malformed programs, and the printed AST/IR of example programs.
// Regenerate with TPC_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "TestUtil.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Printer.h"
#include "frontend/Parser.h"
#include "runtime/Dataset.h"

namespace tp {
namespace {

namespace fs = std::filesystem;

bool updating() { return std::getenv("TPC_UPDATE_GOLDEN") != nullptr; }

/// Compares `actual` with the golden file (or rewrites it when updating).
void expectGolden(const std::string& rel, const std::string& actual) {
  std::string path = test::sourcePath(rel);
  if (updating()) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << "missing golden file " << rel << " (run with TPC_UPDATE_GOLDEN=1)";
  EXPECT_EQ(test::readText(path), actual) << "golden mismatch: " << rel;
}

std::vector<std::string> malformedPrograms() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(test::sourcePath("tests/golden/diagnostics")))
    if (e.path().extension() == ".tp") files.push_back("tests/golden/diagnostics/" + e.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(GoldenDiagnostics, EveryMalformedProgramFailsWithItsLocationAndMessage) {
  std::vector<std::string> files = malformedPrograms();
  ASSERT_GE(files.size(), 30u);
  std::regex located(R"(^tests/golden/diagnostics/[^:]+\.tp:\d+:\d+: error: .+$)");
  for (const auto& rel : files) {
    SCOPED_TRACE(rel);
    Diagnostics diags(rel);
    auto program = frontend::compileSource(test::readText(test::sourcePath(rel)), rel, diags);
    EXPECT_FALSE(program.has_value());
    ASSERT_TRUE(diags.hasErrors());
    std::string text = diags.format();
    std::string firstLine = text.substr(0, text.find('\n'));
    EXPECT_TRUE(std::regex_match(firstLine, located)) << firstLine;
    std::string golden = rel.substr(0, rel.size() - 3) + ".err";
    expectGolden(golden, text);
  }
}

TEST(GoldenDiagnostics, TheBinaryExitsWithCodeOneAndPrintsTheLocation) {
  for (const char* rel : {"tests/golden/diagnostics/007_undefined_name.tp", "tests/golden/diagnostics/029_stray_dollar.tp"}) {
    test::CommandResult r = test::runTpc(std::string("check ") + rel);
    EXPECT_EQ(r.exitCode, 1) << r.out;
    EXPECT_NE(r.out.find(std::string(rel) + ":"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(": error: "), std::string::npos) << r.out;
  }
}

struct IrCase {
  std::string program, stage, data;
  int steps;
  int batch;
};

std::string printStage(const IrCase& c) {
  std::string rel = "programs/" + c.program + ".tp";
  if (c.stage == "parsed") {
    Diagnostics diags(rel);
    return frontend::printAst(frontend::parse(test::readText(test::sourcePath(rel)), rel, diags));
  }
  ir::Program typed = test::typedProgram(rel);
  driver::PipelineOptions o;
  if (!c.data.empty()) {
    Dataset d = readDataset(test::sourcePath(c.data), typed.inputs);
    o.schedule = {c.steps, c.batch, static_cast<int>(d.train.count), static_cast<int>(d.eval.count), false};
  }
  return ir::print(driver::runUntil(typed, c.stage, o));
}

TEST(GoldenIr, ExampleProgramsPrintTheSameAtEveryStage) {
  std::vector<IrCase> cases = {
      {"mlp2_tanh", "parsed", "", 0, 0},
      {"mlp2_tanh", "typed", "", 0, 0},
      {"mlp2_tanh_auto", "typed", "", 0, 0},
      {"mlp2_tanh_auto", "differentiated", "", 0, 0},
      {"softmax_ce", "differentiated", "", 0, 0},
      {"rnn_shared", "differentiated", "", 0, 0},
      {"mlp1_tanh", "unrolled", "programs/data/mlp1_tanh.json", 2, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.program + " " + c.stage);
    expectGolden("tests/golden/ir/" + c.program + "." + c.stage + ".txt", printStage(c));
  }
}

}  // namespace
}  // namespace tp
