// The fuzz targets: readers of user input must accept or reject with a message, never crash.
#include "fuzz/Targets.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/ir/Verifier.h"
#include "compiler/report/HtmlReport.h"
#include "frontend/Lower.h"
#include "runtime/Dataset.h"

namespace tp::fuzz {

namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz target failure: %s\n", why.c_str());
  std::abort();
}

/// Runs `body`, accepting a UserError with a message; anything else thrown is a bug.
template <typename Body>
void expectNoCrash(Body body) {
  try {
    body();
  } catch (const UserError& e) {
    if (std::string(e.what()).empty()) fail("a UserError without a message");
  } catch (const std::exception& e) {
    fail(std::string("unexpected exception: ") + e.what());
  }
}

/// The typed example programs (programs/*.tp), compiled once.
const std::vector<ir::Program>& examplePrograms() {
  static const std::vector<ir::Program> programs = [] {
    std::vector<ir::Program> out;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(TPC_SOURCE_DIR) + "/programs"))
      if (entry.path().extension() == ".tp") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      Diagnostics diags(file.string());
      auto p = frontend::compileFile(file.string(), diags);
      if (!p) fail("an example program does not compile: " + diags.format());
      out.push_back(std::move(*p));
    }
    if (out.empty()) fail("no example programs under " TPC_SOURCE_DIR "/programs");
    return out;
  }();
  return programs;
}

}  // namespace

void frontend(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  expectNoCrash([&] {
    Diagnostics diags("fuzz.tp");
    std::optional<ir::Program> program = frontend::compileSource(source, "fuzz.tp", diags);
    std::string messages = diags.format();
    if (!program) {
      if (!diags.hasErrors() || messages.empty()) fail("the frontend rejected a program without an error");
      return;
    }
    std::string problems = ir::verify(*program);
    if (!problems.empty()) fail("the frontend produced IR the verifier rejects: " + problems);
  });
}

void dataset(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const ir::Program& program : examplePrograms())
    expectNoCrash([&] { parseDataset(text, "fuzz.json", program.inputs); });
}

void parametrization(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<ir::ParametrizationBlock> block;
  expectNoCrash([&] { block = ir::parseParametrizationJson(text, "fuzz.json"); });
  if (!block) return;
  // Resolved as `--param FILE` resolves it (the same checks as a block of the program).
  block->name = "fuzz-input";
  for (const ir::Program& example : examplePrograms()) {
    ir::Program program = example;
    program.parametrizations.push_back(*block);
    expectNoCrash([&] { ir::resolveParametrization(program, block->name, std::nullopt); });
  }
}

void report(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  expectNoCrash([&] {
    report::ReportInput input = report::reportFromText(text, "fuzz.json");
    input.source = "width n\n";
    if (report::htmlReport({input}).size() > (size_t(64) << 20)) fail("a page of more than 64 MB from one report");
  });
}

}  // namespace tp::fuzz
