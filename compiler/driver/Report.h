// The JSON report of CLI.md (schema version 1): building its parts and writing it atomically.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/passes/Classify.h"
#include "runtime/KernelEval.h"
#include "runtime/Simulator.h"

namespace tp::driver {

/// A JSON number, or the string "inf", "-inf" or "nan" for a non-finite value
/// (reports never hold a bare NaN).
nlohmann::json number(double x);

/// The skeleton every report starts with: schema_version, tool, program.
nlohmann::json reportHeader(const ir::Program& program);

/// The `steps` list shared by `simulation` and `limit`: per step t, loss,
/// loss_stderr, and per output and evaluation example outputs, variance, stderr.
nlohmann::json stepsJson(const std::vector<StepSummary>& steps);

/// `simulation` (CLI.md): width, seeds, and per step loss, outputs, variance, stderr.
nlohmann::json simulationJson(const SimulationResult& result);

/// A kernel matrix as a list of rows.
nlohmann::json kernelJson(const KernelMatrix& m);

/// `classification` (CLI.md): verdicts, r, layers, values {init, update}, reasons;
/// extensions `steps` (steps analysed) and `by_step` (every named value's exponents per step).
nlohmann::json classificationJson(const passes::Classification& c);

/// Writes `text` to `path` through a temporary file and a rename (removed on Ctrl-C), so
/// no partial file is ever left; a failure is a UserError "cannot write the WHAT to 'PATH'".
void writeFileAtomically(const std::string& text, const std::string& path, const std::string& what);

/// Writes the report to `path` through a temporary file and a rename, so a
/// failed run never leaves a partial report; "-" writes to stdout.
void writeReport(const nlohmann::json& report, const std::string& path);

}  // namespace tp::driver
