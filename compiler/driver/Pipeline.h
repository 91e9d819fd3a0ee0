// The pipeline of tpc: the ordered list of stages from a .tp file to an unrolled program.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/passes/Unroll.h"
#include "frontend/AST.h"

namespace tp::driver {

/// What the stages after `typed` need besides the program.
struct PipelineOptions {
  passes::Schedule schedule;
  bool verify = true;  // run the IR verifier after every stage
};

/// One stage: its name (as in `tpc ir --stage NAME`) and the transform.
struct Stage {
  const char* name;
  std::function<ir::Program(const ir::Program&, const PipelineOptions&)> run;
};

/// The stages after parsing and lowering, in order, read top to bottom.
const std::vector<Stage>& stages();

/// The names accepted by `tpc ir --stage`: "parsed", "typed", then `stages()`.
std::vector<std::string> stageNames();

/// Parses and lowers a file (stage `typed`). Diagnostics go to `diags`.
std::optional<ir::Program> frontendProgram(const std::string& path, Diagnostics& diags);

/// Runs the stages after `typed` up to and including `last`.
ir::Program runUntil(const ir::Program& typed, const std::string& last, const PipelineOptions& options);

}  // namespace tp::driver
