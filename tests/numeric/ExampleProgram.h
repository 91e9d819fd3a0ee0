// One example program of programs/ with its data file and a schedule over all examples, for the numeric tests.
#pragma once

#include <stdexcept>
#include <string>

#include "compiler/driver/Pipeline.h"
#include "frontend/Lower.h"
#include "runtime/Dataset.h"

namespace tp::test {

inline std::string sourcePath(const std::string& rel) { return std::string(TPC_SOURCE_DIR) + "/" + rel; }

struct ExampleProgram {
  ir::Program typed;
  Dataset data;
  driver::PipelineOptions options;  // `steps` steps, full batch, every eval example
};

/// programs/NAME.tp and programs/data/NAME.json; throws with the diagnostics if the program fails to compile.
inline ExampleProgram loadExample(const std::string& name, int steps) {
  Diagnostics diags(name);
  auto typed = frontend::compileFile(sourcePath("programs/" + name + ".tp"), diags);
  if (!typed) throw std::runtime_error(diags.format());
  ExampleProgram e{*typed, readDataset(sourcePath("programs/data/" + name + ".json"), typed->inputs), {}};
  e.options.schedule = {steps, 0, static_cast<int>(e.data.train.count), static_cast<int>(e.data.eval.count),
                        e.data.evalGiven};
  return e;
}

}  // namespace tp::test
