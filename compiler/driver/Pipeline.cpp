// The ordered pipeline list; the verifier runs between stages.
#include "compiler/driver/Pipeline.h"

#include "compiler/ir/Verifier.h"
#include "compiler/passes/Differentiate.h"
#include "compiler/passes/NormalForm.h"
#include "frontend/Lower.h"

namespace tp::driver {

const std::vector<Stage>& stages() {
  static const std::vector<Stage> list = {
      {"differentiated", [](const ir::Program& p, const PipelineOptions&) { return passes::differentiate(p); }},
      {"unrolled", [](const ir::Program& p, const PipelineOptions& o) { return passes::unroll(p, o.schedule); }},
      {"netsor", [](const ir::Program& p, const PipelineOptions&) { return passes::normalForm(p); }},
  };
  return list;
}

std::vector<std::string> stageNames() {
  std::vector<std::string> names = {"parsed", "typed"};
  for (const auto& s : stages()) names.push_back(s.name);
  return names;
}

namespace {
void check(const ir::Program& p, const char* stage) {
  std::string problems = ir::verify(p);
  TP_ASSERT(problems.empty(), std::string("IR verification failed after stage ") + stage + ":\n" + problems);
}
}  // namespace

std::optional<ir::Program> frontendProgram(const std::string& path, Diagnostics& diags) {
  auto program = frontend::compileFile(path, diags);
  if (program) check(*program, "typed");
  return program;
}

ir::Program runUntil(const ir::Program& typed, const std::string& last, const PipelineOptions& options) {
  ir::Program p = typed;
  if (last == "typed") return p;
  for (const auto& stage : stages()) {
    p = stage.run(p, options);
    if (options.verify) check(p, stage.name);
    if (last == stage.name) return p;
  }
  TP_ASSERT(false, "unknown stage " + last);
}

}  // namespace tp::driver
