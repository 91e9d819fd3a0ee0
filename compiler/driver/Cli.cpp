// The `tpc` subcommands: check, ir, simulate.
#include "compiler/driver/Cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <iomanip>
#include <limits>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "compiler/driver/Analysis.h"
#include "compiler/driver/Budget.h"
#include "compiler/report/HtmlReport.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Report.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/ir/Printer.h"
#include "compiler/passes/ZProgram.h"
#include "compiler/codegen/Jit.h"
#include "compiler/codegen/KernelCompile.h"
#include "compiler/codegen/ZCompile.h"
#include "frontend/Parser.h"
#include "runtime/Dataset.h"
#include "runtime/Interrupt.h"
#include "runtime/KernelLimit.h"
#include "runtime/Progress.h"
#include "runtime/Simulator.h"
#include "runtime/ZEval.h"

namespace tp::driver {

using report::ReportInput;

namespace {

/// Without --samples, Monte Carlo picks its particle count for this largest standard error
/// (chooseSamples), within this much memory for the particle buffers.
constexpr double kTargetStderr = 1e-3;
constexpr size_t kParticleMemoryBytes = size_t(4) << 30;
/// --method auto evaluates by tensor quadrature while order^bases stays within this.
constexpr size_t kMaxAutoQuadratureParticles = size_t(1) << 20;

/// Bad usage discovered after parsing the command line (exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// An invalid program: the diagnostics are already printed (exit code 1).
struct ProgramError {};

/// Options shared by the subcommands (CLI.md "Common options").
struct Options {
  std::string file;
  std::string param;
  std::string data;
  std::string json;
  std::string stage = "typed";
  std::string c;
  std::vector<std::string> sets;
  int steps = 1;
  std::vector<std::string> sweep;
  std::vector<int> widths = {64, 128, 256, 512, 1024, 2048, 4096};
  double tolerance = 0.25;
  int batch = 0;
  int width = 0;
  int seeds = 1;
  int threads = 1;
  uint64_t seed = 0;
  std::string method = "auto";
  std::string backend = "jit";  // limit, feature learning: jit or interp
  int samples = 0;  // 0: 4096 draws of f_0 (kernel), particles for kTargetStderr (Z-program)
  int order = 64;
  std::string output;  // compile: the .ll or .o file; report: the .html file
  std::vector<std::string> reports;  // report: the JSON reports to show
  double maxMinutes = 60;  // refuse requests estimated to take longer (0: never)
  bool quiet = false;      // no progress line on a terminal
};

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

ir::Program loadProgram(const std::string& path) {
  Diagnostics diags(path);
  auto program = frontendProgram(path, diags);
  std::cerr << diags.format();
  if (!program) throw ProgramError{};
  return *program;
}

/// `--set NAME=VALUE` overrides of hypers.
void applySets(ir::Program& program, const std::vector<std::string>& sets) {
  for (const auto& s : sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) throw UsageError("--set expects NAME=VALUE, not '" + s + "'");
    std::string name = s.substr(0, eq);
    auto value = parseRational(s.substr(eq + 1));
    if (!value) throw UsageError("--set " + name + ": '" + s.substr(eq + 1) + "' is not a number");
    bool found = false;
    for (auto& h : program.hypers)
      if (h.name == name) {
        h.value = toDouble(*value);
        found = true;
      }
    if (!found) throw UsageError("--set " + name + ": the program has no hyper '" + name + "'");
  }
}

ir::Parametrization parametrization(const ir::Program& program, const Options& o) {
  std::optional<Rational> c;
  if (!o.c.empty()) {
    c = parseRational(o.c);
    if (!c) throw UsageError("--c expects a rational such as 0, 1/2 or -1, not '" + o.c + "'");
  }
  bool known = std::find(ir::namedParametrizations().begin(), ir::namedParametrizations().end(), o.param) !=
               ir::namedParametrizations().end();
  for (const auto& b : program.parametrizations) known = known || b.name == o.param;
  std::error_code ec;
  if (!known && !std::filesystem::is_regular_file(o.param, ec)) {
    std::string choices = "sp, ntk, mup, mf";
    for (const auto& b : program.parametrizations) choices += ", " + b.name;
    throw UsageError("unknown parametrization '" + o.param + "': expected one of " + choices + ", or a JSON file");
  }
  return ir::resolveParametrization(program, o.param, c);
}

/// The data schedule: T, B and the example counts. Outputs may use targets only when eval gives them all.
passes::Schedule schedule(const Options& o, const ir::Program& program, const Dataset& data) {
  passes::Schedule s;
  s.steps = o.steps;
  s.batch = o.batch;
  s.trainCount = static_cast<int>(data.train.count);
  s.evalCount = static_cast<int>(data.eval.count);
  s.evalHasTargets = data.evalGiven;
  for (const auto& in : program.inputs)
    if (in.isTarget && !data.eval.has(in.name)) s.evalHasTargets = false;
  if (s.trainCount == 0) throw UserError(o.data + ": the train split has no examples");
  if (s.batch > s.trainCount)
    throw UsageError("--batch " + std::to_string(s.batch) + " is larger than the " + std::to_string(s.trainCount) +
                     " training examples");
  return s;
}

/// This machine's memory in bytes; TPC_MEMORY_BYTES replaces it (for tests of the refusals).
double machineMemoryBytes() {
  if (const char* forced = std::getenv("TPC_MEMORY_BYTES")) return std::strtod(forced, nullptr);
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

/// Refuses, before the work starts, a request that needs more than 60% of the machine's
/// memory (the rest is left to the program, the JIT and the system): "OPTION: REQUEST needs
/// X GB for WHAT, more than 60% of this machine's Y GB: REMEDY" (by default "choose a
/// smaller OPTION").
void refuseBeyondMemory(double bytes, const std::string& option, const std::string& request, const std::string& what,
                        const std::string& remedy = "") {
  double physical = machineMemoryBytes();
  auto gb = [](double b) {
    std::ostringstream s;
    s << std::setprecision(b < 10e9 ? 2 : 3) << b / 1e9;
    return s.str();
  };
  if (bytes > 0.6 * physical)
    throw UsageError(option + ": " + request + " needs " + gb(bytes) + " GB for " + what + ", more than 60% of this machine's " +
                     gb(physical) + " GB: " + (remedy.empty() ? "choose a smaller " + option : remedy));
}

/// Refuses a width whose dense params would not fit in memory (with room for the rest).
void refuseWidthBeyondMemory(const ir::Program& program, int width, const std::string& option) {
  refuseBeyondMemory(paramBytes(program, width), option, "width " + std::to_string(width), "the params");
}

/// Refuses, before the work starts, a request whose estimate (Budget.h) exceeds 60% of the
/// machine's memory (what grows is the program: `memoryRemedy`) or --max-minutes
/// (`timeRemedy`), naming the options that size it.
void refuseBeyondBudget(const Cost& cost, const Options& o, const std::string& request, const std::string& timeRemedy,
                        const std::string& memoryRemedy = "choose fewer --steps or a smaller --batch") {
  refuseBeyondMemory(cost.bytes, request, "this request", cost.counted, memoryRemedy);
  if (o.maxMinutes > 0 && cost.seconds > 60 * o.maxMinutes) {
    std::ostringstream limit;
    limit << o.maxMinutes;
    throw UsageError(request + ": estimated to take ~" + humanDuration(cost.seconds) + " on this machine for " +
                     cost.counted + ", more than --max-minutes " + limit.str() + ": " + timeRemedy +
                     ", or raise --max-minutes");
  }
}

/// "--steps 5000, --batch 3" ("--batch 0 (all 3 examples)" when every example is a batch).
std::string sizingOptions(const passes::Schedule& s, const std::string& more = "") {
  return "--steps " + std::to_string(s.steps) + ", --batch " +
         (s.batch ? std::to_string(s.batch) : "0 (all " + std::to_string(s.trainCount) + " examples)") + more;
}

// ---- Subcommands -------------------------------------------------------------

int cmdCheck(const Options& o) {
  auto start = std::chrono::steady_clock::now();
  ir::Program program = loadProgram(o.file);
  ir::Program diff = runUntil(program, "differentiated", {});
  size_t values = diff.values.size();
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["diagnostics"] = nlohmann::json::array();
    report["timing"] = {{"parse_ms", msSince(start)}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  std::cout << o.file << ": ok (" << program.params.size() << " params, " << values << " values)\n";
  return kSuccess;
}

int cmdIr(const Options& o) {
  std::vector<std::string> names = stageNames();
  if (o.stage == "parsed") {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) throw UserError(o.file + ": cannot read the file");
    std::stringstream text;
    text << in.rdbuf();
    Diagnostics diags(o.file);
    frontend::File file = frontend::parse(text.str(), o.file, diags);
    std::cerr << diags.format();
    if (diags.hasErrors()) throw ProgramError{};
    std::cout << frontend::printAst(file);
    return kSuccess;
  }
  ir::Program program = loadProgram(o.file);
  applySets(program, o.sets);
  PipelineOptions po;
  auto stageIndex = [&](const std::string& s) { return std::find(names.begin(), names.end(), s) - names.begin(); };
  if (o.stage == "limit" || stageIndex(o.stage) >= stageIndex("unrolled")) {
    if (o.data.empty()) throw UsageError("--stage " + o.stage + " needs --data (the schedule depends on the examples)");
    Dataset data = readDataset(o.data, program.inputs);
    po.schedule = schedule(o, program, data);
  }
  if (o.stage == "limit") {
    if (o.param.empty()) throw UsageError("--stage limit needs --param (the exponents decide which terms survive)");
    ir::Program netsor = runUntil(program, "netsor", po);
    std::cout << passes::printZProgram(passes::deriveZProgram(netsor, parametrization(program, o)), netsor);
    return kSuccess;
  }
  std::cout << ir::print(runUntil(program, o.stage, po));
  return kSuccess;
}

void printSimulation(const Options& o, const ir::Parametrization& pz, const SimulationResult& r) {
  std::cout << "simulate " << o.file << "  param " << pz.name << "  width " << r.width << "  seeds " << r.seeds
            << "\n";
  std::cout << std::setw(4) << "t" << "  " << std::setw(24) << "loss";
  for (const auto& [name, perExample] : r.steps[0].outputs)
    for (size_t e = 0; e < perExample.size(); ++e) std::cout << "  " << std::setw(24) << name + "[eval " + std::to_string(e) + "]";
  std::cout << "\n";
  auto num = [](double x, int digits) {
    if (!std::isfinite(x)) return std::string(std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    std::ostringstream s;
    s << std::setprecision(digits) << x;
    return s.str();
  };
  auto cell = [&](const std::vector<double>& mean, const std::vector<double>& se) {
    std::string text = mean.size() > 1 ? "[" : "";
    for (size_t i = 0; i < mean.size(); ++i)
      text += (i ? ", " : "") + num(mean[i], 6) + " ± " + num(se[i], 2);
    return mean.size() > 1 ? text + "]" : text;
  };
  for (const auto& st : r.steps) {
    std::cout << std::setw(4) << st.t << "  " << std::setw(24)
              << (st.loss.mean.empty() ? std::string("-") : cell(st.loss.mean, st.loss.stderror));
    for (const auto& [name, perExample] : st.outputs)
      for (const auto& s : perExample) std::cout << "  " << std::setw(24) << cell(s.mean, s.stderror);
    std::cout << "\n";
  }
}

/// What the finite-width commands share: the program (with --set applied),
/// its parametrization, the data, and the program after `stage`, timed.
struct Prepared {
  ir::Program program, staged;
  ir::Parametrization pz;
  Dataset data;
  double parseMs = 0, passesMs = 0;
  double estimatedMs = -1;  // the estimate the request was admitted with (Budget.h), if made
};

/// Called before the program is staged at the full number of steps: estimates the
/// request and refuses it (refuseBeyondBudget), or records the estimate.
using Admission = std::function<void(Prepared&, const PipelineOptions&)>;

Prepared prepare(const Options& o, const std::string& stage, const Admission& admit = {}) {
  Prepared r;
  auto start = std::chrono::steady_clock::now();
  r.program = loadProgram(o.file);
  r.parseMs = msSince(start);
  applySets(r.program, o.sets);
  r.pz = parametrization(r.program, o);
  r.data = readDataset(o.data, r.program.inputs);
  PipelineOptions po;
  po.schedule = schedule(o, r.program, r.data);
  if (admit) admit(r, po);
  auto passStart = std::chrono::steady_clock::now();
  r.staged = runUntil(r.program, stage, po);
  r.passesMs = msSince(passStart);
  return r;
}

int cmdSimulate(const Options& o) {
  Prepared prep = prepare(o, "unrolled", [&](Prepared& r, const PipelineOptions& po) {
    refuseWidthBeyondMemory(r.program, o.width, "--width");
    Cost cost = simulationCost(r.program, po, {o.width}, o.seeds, 1, o.threads);
    refuseBeyondBudget(cost, o, sizingOptions(po.schedule, ", --width " + std::to_string(o.width) + ", --seeds " +
                                                                   std::to_string(o.seeds)),
                       "choose fewer --steps or --seeds, or a smaller --width or --batch");
    r.estimatedMs = 1000 * cost.seconds;
  });
  const ir::Program& program = prep.program;
  const ir::Program& unrolled = prep.staged;
  const ir::Parametrization& pz = prep.pz;
  const Dataset& data = prep.data;
  double parseMs = prep.parseMs, passesMs = prep.passesMs;
  SimulationOptions so;
  so.width = o.width;
  so.seeds = o.seeds;
  so.seed = o.seed;
  so.threads = o.threads;
  Progress progress("tpc simulate", progressWanted(o.quiet));
  progress.phase("width " + std::to_string(o.width) + ", " + std::to_string(o.seeds) + (o.seeds == 1 ? " seed" : " seeds"));
  so.progress = progress.callback();
  auto evalStart = std::chrono::steady_clock::now();
  SimulationResult result = simulate(unrolled, data, finiteWidthSetup(program, pz, o.width, o.threads), so);
  progress.finish();
  double evalMs = msSince(evalStart);
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(pz, program);
    report["simulation"] = simulationJson(result);
    report["simulation"]["seed"] = o.seed;
    report["timing"] = {{"parse_ms", parseMs}, {"passes_ms", passesMs}, {"eval_ms", evalMs},
                        {"estimated_ms", prep.estimatedMs}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  printSimulation(o, pz, result);
  return kSuccess;
}

void printClassification(const Options& o, const ir::Parametrization& pz, const passes::Classification& c) {
  std::cout << "classify " << o.file << "  param " << pz.name << "  (" << c.steps << " steps analysed)\n";
  std::cout << "  stable: " << (c.stable ? "yes" : "no") << "   nontrivial: " << (c.nontrivial ? "yes" : "no")
            << "   regime: " << c.regime << "   r = " << c.r.str() << "\n\n";
  std::cout << "  " << std::left << std::setw(10) << "layer" << std::setw(8) << "r_l" << "features move\n";
  for (const auto& l : c.layers)
    std::cout << "  " << std::setw(10) << l.param << std::setw(8) << l.r.str() << (l.featureLearning ? "yes" : "no")
              << "\n";
  std::cout << "\n  " << std::setw(10) << "value" << std::setw(8) << "init" << "update (steps 1..T)\n";
  for (const auto& [name, perStep] : c.values) {
    std::cout << "  " << std::setw(10) << name << std::setw(8) << perStep[0].e.init.str();
    for (size_t k = 1; k < perStep.size(); ++k) std::cout << std::setw(7) << perStep[k].e.update.str();
    std::cout << "\n";
  }
  std::cout << std::right << "\n  reasons:\n";
  for (const auto& r : c.reasons) std::cout << "  - " << r << "\n";
}

/// `classify --sweep X --sweep Y`: the regime at every point of a 1-D or 2-D grid of exponents.
int cmdSweep(const Options& o, const ir::Program& program) {
  if (o.sweep.size() > 2) throw UsageError("--sweep takes one or two axes");
  std::vector<SweepAxis> axes;
  for (const auto& text : o.sweep) {
    try {
      axes.push_back(parseSweepAxis(text, program));
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--sweep ") + text + ": " + e.what());
    }
  }
  std::optional<Rational> c;
  if (!o.c.empty()) c = parseRational(o.c);
  parametrization(program, o);  // checks the spec once, with a clear error
  const SweepAxis& x = axes[0];
  SweepAxis single{"", "", "", {Rational(0)}};
  const SweepAxis& y = axes.size() > 1 ? axes[1] : single;
  nlohmann::json points = nlohmann::json::array(), grid = nlohmann::json::array();
  std::vector<std::string> rows;
  for (const auto& yv : y.values) {
    nlohmann::json row = nlohmann::json::array();
    std::string line;
    for (const auto& xv : x.values) {
      std::vector<Rational> point = {xv};
      if (axes.size() > 1) point.push_back(yv);
      ir::Parametrization pz = sweepPoint(program, o.param, c, axes, point);
      passes::Classification cl = classifyProgram(program, pz, o.steps);
      nlohmann::json pt = {{"x", toString(xv)}, {"stable", cl.stable}, {"nontrivial", cl.nontrivial},
                           {"regime", cl.regime}, {"r", cl.r.str()}};
      if (axes.size() > 1) pt["y"] = toString(yv);
      points.push_back(pt);
      row.push_back(cl.regime);
      line += cl.regime == "unstable" ? 'U' : cl.regime == "trivial" ? '.' : cl.regime == "kernel" ? 'K' : 'F';
    }
    grid.push_back(row);
    rows.push_back(line);
  }
  auto axisJson = [](const SweepAxis& a) {
    nlohmann::json values = nlohmann::json::array();
    for (const auto& v : a.values) values.push_back(toString(v));
    return nlohmann::json{{"name", a.name}, {"values", values}};
  };
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(parametrization(program, o), program);
    report["sweep"] = {{"x", axisJson(x)}, {"points", points}, {"grid", grid}};
    if (axes.size() > 1) report["sweep"]["y"] = axisJson(y);
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  std::cout << "classify " << o.file << "  param " << o.param << "  sweep " << x.name
            << (axes.size() > 1 ? " (columns) × " + y.name + " (rows)" : "") << "\n";
  std::cout << "  U unstable   . trivial   K kernel   F feature learning\n\n";
  for (size_t r = rows.size(); r-- > 0;)
    std::cout << "  " << std::setw(8) << (axes.size() > 1 ? toString(y.values[r]) : "") << "  " << rows[r] << "\n";
  std::cout << "  " << std::setw(8) << "" << "  " << x.name << " = " << toString(x.values.front()) << " … "
            << toString(x.values.back()) << "\n";
  return kSuccess;
}

int cmdClassify(const Options& o) {
  auto start = std::chrono::steady_clock::now();
  ir::Program program = loadProgram(o.file);
  double parseMs = msSince(start);
  applySets(program, o.sets);
  if (!o.sweep.empty()) return cmdSweep(o, program);
  ir::Parametrization pz = parametrization(program, o);
  auto passStart = std::chrono::steady_clock::now();
  passes::Classification c = classifyProgram(program, pz, o.steps);
  double passesMs = msSince(passStart);
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(pz, program);
    report["classification"] = classificationJson(c);
    report["timing"] = {{"parse_ms", parseMs}, {"passes_ms", passesMs}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  printClassification(o, pz, c);
  return kSuccess;
}

int cmdCoordcheck(const Options& o) {
  Prepared prep = prepare(o, "netsor", [&](Prepared& r, const PipelineOptions& po) {
    refuseWidthBeyondMemory(r.program, *std::max_element(o.widths.begin(), o.widths.end()), "--widths");
    Cost cost = simulationCost(r.program, po, o.widths, o.seeds, 2, o.threads);
    refuseBeyondBudget(cost, o, sizingOptions(po.schedule, ", --widths up to " +
                                                                   std::to_string(*std::max_element(o.widths.begin(), o.widths.end())) +
                                                                   ", --seeds " + std::to_string(o.seeds)),
                       "choose fewer --steps or --seeds, or smaller --widths or --batch");
    r.estimatedMs = 1000 * cost.seconds;
  });
  const ir::Program& program = prep.program;
  const ir::Parametrization& pz = prep.pz;
  double parseMs = prep.parseMs;
  CoordCheckOptions co;
  co.widths = o.widths;
  co.seeds = o.seeds;
  co.seed = o.seed;
  co.threads = o.threads;
  Progress progress("tpc coordcheck", progressWanted(o.quiet));
  progress.phase("widths " + std::to_string(*std::min_element(o.widths.begin(), o.widths.end())) + ".." +
                 std::to_string(*std::max_element(o.widths.begin(), o.widths.end())) + ", " +
                 std::to_string(o.seeds) + (o.seeds == 1 ? " seed" : " seeds"));
  co.progress = progress.callback();
  auto evalStart = std::chrono::steady_clock::now();
  CoordCheckReport r = coordCheck(prep.staged, pz, prep.data, co, o.tolerance);
  progress.finish();
  double evalMs = msSince(evalStart);
  if (!o.json.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : r.rows) {
      nlohmann::json sizes = nlohmann::json::array();
      for (double x : row.sizes) sizes.push_back(number(x));
      rows.push_back({{"value", row.name}, {"t", row.t}, {"part", row.part}, {"derived", row.derived.str()},
                      {"fitted", row.status == "skipped" || row.derived.isZero() ? nlohmann::json(nullptr) : number(row.fitted)},
                      {"sizes", sizes}, {"status", row.status}, {"note", row.note}});
    }
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(pz, program);
    report["coordcheck"] = {{"widths", r.widths}, {"seeds", o.seeds},   {"tolerance", r.tolerance},
                            {"rows", rows},       {"passed", r.passed}, {"failed", r.failed},
                            {"skipped", r.skipped}};
    report["timing"] = {{"parse_ms", parseMs}, {"passes_ms", prep.passesMs}, {"eval_ms", evalMs},
                        {"estimated_ms", prep.estimatedMs}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  std::cout << "coordcheck " << o.file << "  param " << pz.name << "  widths " << r.widths.front() << ".."
            << r.widths.back() << "  seeds " << o.seeds << "  tolerance " << r.tolerance << "\n";
  std::cout << "  " << std::left << std::setw(10) << "value" << std::setw(4) << "t" << std::setw(8) << "part"
            << std::setw(9) << "derived" << std::setw(9) << "fitted" << "status\n";
  for (const auto& row : r.rows) {
    std::ostringstream fitted;
    fitted << std::fixed << std::setprecision(3) << row.fitted;
    std::cout << "  " << std::setw(10) << row.name << std::setw(4) << row.t << std::setw(8) << row.part << std::setw(9)
              << row.derived.str() << std::setw(9) << (row.status == "skipped" || row.derived.isZero() ? "-" : fitted.str())
              << row.status << (row.note.empty() ? "" : "  (" + row.note + ")") << "\n";
  }
  std::cout << std::right << "  " << r.passed << " pass, " << r.failed << " fail, " << r.skipped << " skipped\n";
  return kSuccess;
}

/// The first step at which a value's exponent grows: where an unstable limit becomes infinite.
int firstBlowUp(const passes::Classification& c) {
  int first = c.steps + 1;
  for (const auto& [name, perStep] : c.values)
    for (const auto& st : perStep)
      if (st.e.total() > passes::Exponent::of(0)) first = std::min(first, st.t);
  return first;
}

/// Steps `from`..`to` whose every output, variance and loss is `value`: "inf" for a limit that
/// diverges, "nan" for one whose numbers left double precision.
void appendStepsOf(double value, std::vector<StepSummary>& steps, int from, int to, const std::string& output,
                   size_t evalCount, size_t size) {
  for (int t = from; t <= to; ++t) {
    StepSummary s;
    s.t = t;
    s.loss = {{value}, {0.0}, {0.0}};
    for (size_t e = 0; e < evalCount; ++e)
      s.outputs[output].push_back({std::vector<double>(size, value), std::vector<double>(size, value), std::vector<double>(size, 0.0)});
    steps.push_back(s);
  }
}

void printLimit(const Options& o, const ir::Parametrization& pz, const passes::Classification& c,
                const KernelLimitResult& r, const std::string& method, bool standardErrors = false) {
  std::cout << "limit " << o.file << "  param " << pz.name << "  regime " << c.regime << "  method "
            << method << " (" << r.method
            << (r.method == "montecarlo" ? ", " + std::to_string(r.samples) + " draws of f_0" : "") << ")\n";
  std::cout << std::setw(4) << "t" << "  " << std::setw(24) << "loss";
  for (const auto& [name, perExample] : r.steps[0].outputs)
    for (size_t e = 0; e < perExample.size(); ++e)
      std::cout << "  " << std::setw(24) << name + "[eval " + std::to_string(e) + (standardErrors ? "] (se)" : "] (sd)");
  std::cout << "\n";
  auto num = [](double x) {
    if (!std::isfinite(x)) return std::string(std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    std::ostringstream s;
    s << std::setprecision(6) << x;
    return s.str();
  };
  for (const auto& st : r.steps) {
    std::cout << std::setw(4) << st.t << "  " << std::setw(24) << num(st.loss.mean[0]);
    for (const auto& [name, perExample] : st.outputs)
      for (const auto& s : perExample) {
        std::string text;
        for (size_t i = 0; i < s.mean.size(); ++i)
          text += (i ? ", " : "") + num(s.mean[i]) + " (" +
                  num(standardErrors ? s.stderror[i] : std::sqrt(s.variance[i])) + ")";
        std::cout << "  " << std::setw(24) << text;
      }
    std::cout << "\n";
  }
}

/// The report of a numeric fault of a stable limit (null when every number is finite): the
/// first expectation or scalar whose value left the doubles — its kind, the step, the program
/// value it belongs to and where that was written — and what to do about it.
nlohmann::json numericFault(const Options& o, const passes::ZProgram& z, const ir::Program& netsor, const ZHealth& f) {
  if (f.instruction < 0) return nullptr;
  const passes::ZInstr& ins = z.instrs[static_cast<size_t>(f.instruction)];
  const bool overflow = std::isinf(f.value);
  nlohmann::json j = {{"kind", overflow ? "overflow" : "nan"}, {"value", number(f.value)}};
  std::string what = ins.kind == passes::ZInstr::Kind::Mean ? "an expectation" : "a scalar";
  std::string where;
  if (ins.origin != ir::kNoValue) {
    const ir::Value& v = netsor.at(ins.origin);
    if (v.step >= 0) j["step"] = v.step;
    if (!v.label.empty()) {
      j["value_name"] = v.label;
      what += " in '" + v.label + "'";
    }
    if (v.loc.known()) {
      j["location"] = o.file + ":" + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col);
      where = " (" + j["location"].get<std::string>() + ")";
    }
    if (v.step >= 0) what += " at step " + std::to_string(v.step);
  }
  j["message"] = "numeric fault: " + what + where + (overflow ? " overflowed to " : " became ") +
                 j["value"].get<std::string>() + ", and every later value computed from it is inf or nan. " +
                 "The parametrization is stable, so the limit is finite; its numbers exceed double precision " +
                 "with these hyperparameters: try a smaller learning rate (--set) or fewer steps";
  return j;
}

/// Admits a Z-program request (limit, compile) by its estimate. Requests of at most 3 steps
/// and 16 examples per step run without one: estimating stages the program at 1, 2 and 3
/// steps, which would cost them more than it saves (bench/jit_ready.sh), and their size is
/// that of the program as written.
void admitZProgram(Prepared& r, const PipelineOptions& po, const Options& o, size_t particles) {
  const passes::Schedule& s = po.schedule;
  if (s.steps <= 3 && (s.batch ? s.batch : s.trainCount) <= 16) return;
  Cost cost = featureLimitCost(r.program, po, r.pz, particles, o.backend == "jit", o.threads);
  refuseBeyondBudget(cost, o, sizingOptions(s, particles ? ", --samples " + std::to_string(particles) : ""),
                     std::string("choose fewer --steps, a smaller --batch") +
                         (particles ? " or fewer --samples" : "") + (o.backend == "jit" ? "" : ", use --backend jit"));
  r.estimatedMs = 1000 * cost.seconds;
}

/// The feature-learning limit: the Z-program evaluated by quadrature or Monte Carlo.
int cmdFeatureLimit(const Options& o, const passes::Classification& c) {
  const auto start = std::chrono::steady_clock::now();
  Progress progress("tpc limit", progressWanted(o.quiet));
  progress.phase("deriving the Z-program of " + std::to_string(o.steps) + (o.steps == 1 ? " step" : " steps"));
  Prepared prep = prepare(o, "netsor", [&](Prepared& r, const PipelineOptions& po) {
    // Without --samples, Monte Carlo runs at least its pilot's particles.
    admitZProgram(r, po, o, o.samples > 0 ? static_cast<size_t>(o.samples) : kPilotParticles);
  });
  const ir::Program& program = prep.program;
  const ir::Parametrization& pz = prep.pz;
  auto passStart = std::chrono::steady_clock::now();
  passes::ZProgram z = passes::deriveZProgram(prep.staged, pz);
  double passesMs = prep.passesMs + msSince(passStart);
  FeatureLimitOptions fo;
  fo.order = o.order;
  fo.samples = static_cast<size_t>(o.samples);
  fo.seed = o.seed;
  fo.threads = o.threads;
  // auto: exact when the program averages low-degree polynomials (linear nonlinearities);
  // quadrature while the tensor rule stays small (a few base Gaussians, no n×n matrix) and
  // the integrands are smooth; else Monte Carlo.
  fo.method = o.method;
  int degree = passes::meanDegree(z);
  bool polynomial = degree >= 0 && degree <= 3;
  bool fields = std::any_of(z.bases.begin(), z.bases.end(), [](const passes::ZBase& b) { return b.field; });
  if (o.method == "quadrature" && fields)
    throw UsageError("--method quadrature integrates over the input-layer and readout Gaussians of a network "
                     "without n×n matrices; " + o.file + " has one (a new Gaussian field per product): use auto, "
                     "exact (linear programs) or montecarlo");
  if (o.method == "exact" && !polynomial)
    throw UsageError("--method exact needs a program whose nonlinearities are linear (" + o.file +
                     " averages nonlinear functions of its Gaussian fields); use auto, quadrature or montecarlo");
  if (o.method == "auto") {
    if (polynomial) fo.method = "exact";
    else if (std::pow(double(o.order), double(z.bases.size())) <= double(kMaxAutoQuadratureParticles) &&
             passes::smoothParticleFunctions(z))
      fo.method = "quadrature";
    else
      fo.method = "montecarlo";
  }
  // Particle memory (the interpreter's peak of live particle values is the estimate for both
  // backends), refused before compiling or evaluating anything. Without --samples, Monte
  // Carlo sizes itself within the same budget.
  const size_t particleBudget = std::min<size_t>(kParticleMemoryBytes, static_cast<size_t>(0.6 * machineMemoryBytes()));
  {
    const size_t stored = peakParticleBuffers(z);
    const std::string what = "the particles (" + std::to_string(stored + z.bases.size() + 1) +
                             " stored values, base Gaussians and weights per particle, 8 bytes each)";
    if (fo.method == "montecarlo" && fo.samples > 0)
      refuseBeyondMemory(monteCarloBytes(stored, z.bases.size(), fo.samples, o.threads), "--samples",
                         "K = " + std::to_string(fo.samples), what);
    else if (fo.method == "quadrature")
      refuseBeyondMemory(quadratureBytes(stored, z.bases.size(), fo.order), "--order",
                         "order " + std::to_string(fo.order) + " over " + std::to_string(z.bases.size()) + " base Gaussians",
                         what);
  }
  // The backend: the Z-program compiled by LLVM (the default), or the reference interpreter.
  auto jitStart = std::chrono::steady_clock::now();
  std::unique_ptr<codegen::Jit> session;
  std::unique_ptr<codegen::CompiledZProgram> compiled;
  if (o.backend == "jit") {
    progress.phase("compiling the Z-program (" + std::to_string(z.instrs.size()) + " instructions)");
    session = std::make_unique<codegen::Jit>();
    compiled = std::make_unique<codegen::CompiledZProgram>(z, *session, o.threads);
    fo.runner = [&](const Particles& particles, const Dataset& data, ZHealth* health) {
      return compiled->run(particles, data, o.threads, health);
    };
  }
  double jitMs = msSince(jitStart);
  auto evalStart = std::chrono::steady_clock::now();
  fo.progress = progress.callback();
  SampleChoice choice;
  if (fo.method == "montecarlo" && fo.samples == 0) {
    progress.phase("Monte Carlo pilot (" + std::to_string(kPilotParticles) + " particles)");
    auto pilotStart = std::chrono::steady_clock::now();
    choice = chooseSamples(z, prep.staged, prep.data, fo, kTargetStderr, particleBudget);
    const double pilotSeconds = msSince(pilotStart) / 1000;
    fo.samples = choice.samples;
    if (choice.limitedByMemory) {
      std::ostringstream memory;
      memory << "tpc: warning: a standard error of " << kTargetStderr << " needs more particles than fit in "
             << particleBudget / 1e9 << " GB; using " << fo.samples << " (pass --samples to choose)";
      progress.message(memory.str());
    }
    // The time budget too: the run costs the pilot's time per particle (it ran the same groups),
    // within what is left of --max-minutes after deriving, compiling and the pilot.
    const size_t chosen = fo.samples;
    const double left = 60 * o.maxMinutes - msSince(start) / 1000;
    while (o.maxMinutes > 0 && fo.samples > kPilotParticles &&
           pilotSeconds * double(fo.samples) / double(kPilotParticles) > left)
      fo.samples /= 2;
    if (fo.samples < chosen) {
      choice.samples = fo.samples;
      std::ostringstream budget;
      budget << "tpc: warning: a standard error of " << kTargetStderr << " needs " << chosen
             << " particles, more than fit in --max-minutes " << o.maxMinutes << "; using " << fo.samples
             << " (pass --samples or raise --max-minutes)";
      progress.message(budget.str());
    }
  }
  progress.phase(fo.method == "montecarlo" ? "Monte Carlo (" + std::to_string(fo.samples) + " particles)"
                 : fo.method == "quadrature" ? "quadrature (order " + std::to_string(fo.order) + ")"
                                             : "exact cubature");
  FeatureLimitResult r = featureLimit(z, prep.staged, prep.data, fo);
  progress.finish();
  double evalMs = msSince(evalStart);
  nlohmann::json fault = numericFault(o, z, prep.staged, r.health);
  if (!fault.is_null()) std::cerr << "tpc: warning: " << fault["message"].get<std::string>() << "\n";
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(pz, program);
    report["classification"] = classificationJson(c);
    nlohmann::json limit = {{"method", r.method},
                            {"evaluation", "z_program"},
                            {"backend", o.backend},
                            {"seed", o.seed},
                            {"base_gaussians", z.bases.size()},
                            {"particles", r.particles},
                            {"steps", stepsJson(r.steps)}};
    size_t particleInstructions = 0;
    for (const passes::ZInstr& ins : z.instrs) particleInstructions += ins.particle ? 1 : 0;
    limit["z_program"] = {{"instructions", z.instrs.size()}, {"particle_instructions", particleInstructions}};
    if (compiled) {
      limit["z_program"]["passes"] = compiled->passes();
      limit["z_program"]["stored_values"] = compiled->buffers();
      limit["z_program"]["pieces"] = compiled->pieces();
      limit["z_program"]["compiled_functions"] = compiled->shapes();
    }
    // A singular covariance of fields: Gram–Schmidt drops the directions already spanned.
    limit["z_program"]["dropped_fields"] = r.health.droppedFields;
    std::ostringstream tolerance;
    tolerance << passes::kPivotTolerance;
    limit["z_program"]["singular_covariance"] =
        "Gram-Schmidt: a new field whose residual variance is below " + tolerance.str() +
        " of its norm is spanned by the earlier ones and gets no new Gaussian (a pseudo-inverse)";
    if (r.method == "quadrature") {
      limit["quadrature_order"] = r.order;
      limit["quadrature_error"] = number(r.quadratureError);
    } else if (r.method == "montecarlo") {
      limit["samples"] = r.particles;
      if (choice.samples) {  // chosen by a pilot run rather than --samples
        limit["target_stderr"] = kTargetStderr;
        limit["pilot_stderr"] = number(choice.pilotStderr);
      }
    }
    if (!fault.is_null()) limit["numeric_fault"] = fault;
    report["limit"] = limit;
    report["timing"] = {{"parse_ms", prep.parseMs}, {"passes_ms", passesMs}, {"jit_ms", jitMs}, {"eval_ms", evalMs}};
    if (prep.estimatedMs >= 0) report["timing"]["estimated_ms"] = prep.estimatedMs;
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  KernelLimitResult shown;  // the same table as the kernel method
  shown.method = r.method == "quadrature" ? "quadrature, order " + std::to_string(r.order) + ", " +
                                                std::to_string(r.particles) + " nodes"
                 : r.method == "exact"    ? "exact, " + std::to_string(r.particles) + "-point cubature"
                                          : "montecarlo, " + std::to_string(r.particles) + " particles";
  shown.steps = r.steps;
  printLimit(o, pz, c, shown, "z-program", r.method == "montecarlo");
  return kSuccess;
}

int cmdLimit(const Options& o) {
  Prepared prep = prepare(o, "differentiated");
  const ir::Program& program = prep.program;
  const ir::Parametrization& pz = prep.pz;
  auto passStart = std::chrono::steady_clock::now();
  passes::Classification c = classifyProgram(program, pz);
  passes::Schedule sched = schedule(o, program, prep.data);
  bool zMethod = o.method == "exact" || o.method == "quadrature" || o.method == "montecarlo";
  if (c.regime == "feature_learning") {
    if (o.method == "kernel")
      throw UsageError("--method kernel: " + pz.name + " learns features here, its limit is not a kernel method; "
                       "use auto, quadrature or montecarlo");
    return cmdFeatureLimit(o, c);
  }
  if (zMethod)
    throw UsageError("--method " + o.method + " evaluates the feature-learning limit; this parametrization is in the " +
                     c.regime + " regime: use auto or kernel");
  passes::KernelDerivation d;
  try {
    d = passes::deriveKernels(prep.staged, pz);
  } catch (const UserError&) {
    // An unstable program may not even have a Gaussian initial state (a vanishing or
    // growing feature): its limit is infinite from the start.
    if (c.regime != "unstable") throw;
    d.output = program.outputs.at(0);
    const ir::Value& out = program.at(program.names.at(d.output));
    d.outputSize = out.type.isScalarLike() ? 1 : out.type.size;
    d.nngpDiverges = true;
  }
  double passesMs = prep.passesMs + msSince(passStart);
  // The kernel matrices over the training and evaluation examples together (K(B, A) twice
  // where it is a slot of its own).
  if (!d.nngpDiverges) {
    const double P = double(prep.data.train.count + prep.data.eval.count);
    double matrices = 0;
    for (const passes::KernelEntry& e : kernelEntries(d)) matrices += (e.ba >= 0 && e.ba != e.ab) ? 2 : 1;
    refuseBeyondMemory(8 * P * P * matrices, "--data", std::to_string(static_cast<long>(P)) + " examples",
                       std::to_string(static_cast<long>(matrices)) + " kernel matrices of P×P doubles",
                       "use fewer training or evaluation examples");
  }
  KernelLimitOptions ko;
  ko.eval.order = o.order;
  ko.eval.threads = o.threads;
  ko.samples = o.samples > 0 ? o.samples : 4096;
  ko.seed = o.seed;
  // The backend: the entry recursion's tiles compiled by LLVM (the default), or the interpreter.
  auto jitStart = std::chrono::steady_clock::now();
  std::unique_ptr<codegen::Jit> session;
  if (o.backend == "jit" && !d.nngpDiverges) {
    session = std::make_unique<codegen::Jit>();
    ko.eval.compiled = codegen::compileKernelTiles(d.program, kernelEntries(d), *session);
  }
  double jitMs = msSince(jitStart);
  auto evalStart = std::chrono::steady_clock::now();
  KernelLimitResult r;
  nlohmann::json fault;
  size_t evalCount = prep.data.eval.count, size = static_cast<size_t>(d.outputSize);
  // The limit is infinite from the first step at which something grows (unstable); before it
  // (or at every step), the kernel dynamics.
  int infiniteFrom = sched.steps + 1;
  if (c.regime == "unstable") infiniteFrom = d.nngpDiverges ? 0 : std::min(firstBlowUp(c), sched.steps + 1);
  else if (d.nngpDiverges || d.ntkDiverges) throw InternalError("a stable parametrization with a diverging kernel: " + d.why);
  try {
    if (infiniteFrom > 0) {
      passes::Schedule finite = sched;
      finite.steps = infiniteFrom - 1;
      r = kernelLimit(prep.staged, d, prep.data, finite, ko);
    }
  } catch (const KernelBreakdown& e) {
    // Not computable in doubles: every step before the blow-up is "nan", with the reason.
    r = KernelLimitResult{};
    r.method = "none";  // nothing was evaluated
    appendStepsOf(std::numeric_limits<double>::quiet_NaN(), r.steps, 0, infiniteFrom - 1, d.output, evalCount, size);
    const bool nan = std::string(e.what()).find("nan") != std::string::npos;
    fault = {{"kind", nan ? "nan" : "overflow"},
             {"message", std::string("numeric fault: ") + e.what() +
                             ". The kernels of this limit exceed double precision with these inputs and "
                             "hyperparameters, so its values are reported as nan: scale the inputs down or choose "
                             "smaller initial variances or learning rate (--set)"}};
    std::cerr << "tpc: warning: " << fault["message"].get<std::string>() << "\n";
  }
  if (c.regime == "unstable") {
    r.method = "none";
    appendStepsOf(std::numeric_limits<double>::infinity(), r.steps, infiniteFrom, sched.steps, d.output, evalCount, size);
  }
  double evalMs = msSince(evalStart);
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(program);
    report["parametrization"] = ir::toJson(pz, program);
    report["classification"] = classificationJson(c);
    nlohmann::json contributions;
    for (const auto& [param, verdict] : d.contributions) contributions[param] = verdict;
    nlohmann::json limit = {{"method", c.regime == "unstable" ? "none" : "kernel"},
                            {"evaluation", r.method},
                            {"backend", o.backend},
                            {"seed", o.seed},
                            {"quadrature_order", o.order},
                            {"quadrature_error", number(r.quadratureError)},
                            {"contributions", contributions},
                            {"steps", stepsJson(r.steps)}};
    if (r.method == "montecarlo") {
      limit["samples"] = r.samples;
      std::ostringstream tolerance;
      tolerance << kCholeskyTolerance;
      limit["nngp_dropped_directions"] = r.droppedDirections;
      limit["singular_covariance"] = "pivoted Cholesky: a direction of the NNGP whose pivot is below " + tolerance.str() +
                                     " of the largest variance has no variance and is dropped";
    }
    if (!r.evalKernels.nngp.empty()) {
      limit["kernels"]["nngp"] = kernelJson(r.evalKernels.nngp[0][0]);
      if (!r.evalKernels.ntk.empty()) limit["kernels"]["ntk"] = kernelJson(r.evalKernels.ntk[0][0]);
      if (size > 1 && !r.evalKernels.ntk.empty()) {
        nlohmann::json blocks = nlohmann::json::array();
        for (const auto& row : r.evalKernels.ntk) {
          nlohmann::json b = nlohmann::json::array();
          for (const auto& m : row) b.push_back(kernelJson(m));
          blocks.push_back(b);
        }
        limit["kernels"]["ntk_by_coordinate"] = blocks;
      }
    }
    if (!fault.is_null()) limit["numeric_fault"] = fault;
    report["limit"] = limit;
    report["timing"] = {{"parse_ms", prep.parseMs}, {"passes_ms", passesMs}, {"jit_ms", jitMs}, {"eval_ms", evalMs}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  printLimit(o, pz, c, r, c.regime == "unstable" ? "none" : "kernel");
  return kSuccess;
}

/// The names of the result coordinates of a Z-program, as `tpc_limit_result_name` gives them:
/// "f[eval 0] t=3" (with "[i]" after the example for a vector output), "loss[batch 1] t=2".
std::vector<std::string> resultNames(const passes::ZProgram& z) {
  std::vector<std::string> names;
  for (const passes::ZResult& r : z.results)
    for (size_t i = 0; i < r.slots.size(); ++i) {
      bool loss = r.result.kind == ir::Result::Kind::Loss;
      std::string name = r.result.name + (loss ? "[batch " : "[eval ") + std::to_string(r.result.example) + "]";
      if (r.slots.size() > 1) name += "[" + std::to_string(i) + "]";
      names.push_back(name + " t=" + std::to_string(r.result.step));
    }
  return names;
}

/// `tpc compile`: the feature-learning limit's evaluator as LLVM assembly or an object file.
int cmdCompile(const Options& o) {
  {
    Prepared prep = prepare(o, "differentiated");
    passes::Classification c = classifyProgram(prep.program, prep.pz);
    if (c.regime != "feature_learning")
      throw UsageError("tpc compile emits the feature-learning limit's evaluator (a Z-program); " + prep.pz.name +
                       " is in the " + c.regime + " regime here: use tpc limit");
  }
  Prepared prep = prepare(o, "netsor", [&](Prepared& r, const PipelineOptions& po) { admitZProgram(r, po, o, 0); });
  passes::ZProgram z = passes::deriveZProgram(prep.staged, prep.pz);
  std::vector<std::string> names = resultNames(z);
  std::string failure = codegen::writeStandalone(z, prep.data, names, o.output);
  if (!failure.empty()) throw UserError(failure);
  if (!o.json.empty()) {
    nlohmann::json report = reportHeader(prep.program);
    report["parametrization"] = ir::toJson(prep.pz, prep.program);
    nlohmann::json variances = nlohmann::json::array();
    for (const passes::ZBase& b : z.bases) variances.push_back(b.variance);
    report["compiled"] = {{"output", o.output},
                          {"entry", "tpc_limit"},
                          {"base_gaussians", z.bases.size()},
                          {"base_variances", variances},
                          {"results", names}};
    writeReport(report, o.json);
    if (o.json == "-") return kSuccess;
  }
  std::cout << "wrote " << o.output << ": tpc_limit over " << z.bases.size() << " base Gaussians, " << names.size()
            << " result coordinates (docs/compile.md)\n";
  return kSuccess;
}

/// A tpc JSON report read for `tpc report`: malformed JSON is "PATH:LINE:COL: ...", a JSON
/// document that is not a schema-1 tpc report is refused by name. The program it names is
/// shown when it is a readable `.tp` file of at most 1 MB (a report is data: it must not pull
/// arbitrary files into a page meant to be shared).
ReportInput readReportFile(const std::string& path) {
  constexpr uintmax_t kMaxSourceBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  ReportInput r = report::reportFromText(buffer.str(), path);
  const nlohmann::json& j = r.json;
  if (j.contains("program") && j["program"].is_object() && j["program"].contains("path") &&
      j["program"]["path"].is_string()) {
    const std::filesystem::path program = j["program"]["path"].get<std::string>();
    std::error_code ec;
    if (program.extension() == ".tp" && std::filesystem::is_regular_file(program, ec) &&
        std::filesystem::file_size(program, ec) <= kMaxSourceBytes && !ec) {
      std::ifstream source(program, std::ios::binary);
      std::stringstream text;
      text << source.rdbuf();
      r.source = text.str();
    }
  }
  return r;
}

/// `tpc report`: the reports as one self-contained HTML page.
int cmdReport(const Options& o) {
  std::vector<ReportInput> inputs;
  for (const std::string& path : o.reports) inputs.push_back(readReportFile(path));
  writeFileAtomically(report::htmlReport(inputs), o.output, "HTML page");
  std::cout << "wrote " << o.output << ": " << inputs.size() << (inputs.size() == 1 ? " report\n" : " reports\n");
  return kSuccess;
}

void addCommon(CLI::App* cmd, Options& o) {
  cmd->add_option("--param", o.param, "parametrization: sp, ntk, mup, mf, a block of the program, or a JSON file");
  cmd->add_option("--c", o.c, "override the global learning-rate exponent c (a rational)");
  cmd->add_option("--set", o.sets, "override a hyper: NAME=VALUE")->take_all();
  cmd->add_option("--batch", o.batch, "examples per step (default: all training examples)")->check(CLI::Range(0, 1000000));
  cmd->add_option("--seed", o.seed, "first random seed");
  cmd->add_option("--threads", o.threads, "worker threads")->check(CLI::Range(1, 256));
  cmd->add_option("--json", o.json, "also write the JSON report to PATH ('-' for stdout instead of the summary)");
  cmd->add_flag("-q,--quiet", o.quiet, "no progress line on a terminal during long runs");
}

}  // namespace

int runMain(int argc, char** argv) {
  CLI::App app{"tpc — the Tensor Programs compiler"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tpc ") + TPC_VERSION);
  Options o;

  auto* check = app.add_subcommand("check", "parse and type-check a program; print diagnostics");
  check->add_option("FILE", o.file, "the .tp program")->required();
  check->add_option("--json", o.json, "also write the JSON report to PATH");

  auto* ir = app.add_subcommand("ir", "print the IR after a stage");
  ir->add_option("FILE", o.file, "the .tp program")->required();
  std::vector<std::string> names = stageNames();
  names.push_back("limit");
  ir->add_option("--stage", o.stage, "parsed, typed, differentiated, unrolled, netsor or limit (the Z-program)")
      ->check(CLI::IsMember(names));
  ir->add_option("--param", o.param, "parametrization (for --stage limit)");
  ir->add_option("--data", o.data, "data file (for the unrolled stage)");
  ir->add_option("--steps", o.steps, "training steps (unrolled stage)")->check(CLI::Range(0, 100000));
  ir->add_option("--batch", o.batch, "examples per step")->check(CLI::Range(0, 1000000));
  ir->add_option("--set", o.sets, "override a hyper: NAME=VALUE")->take_all();

  auto* sim = app.add_subcommand("simulate", "run the program at finite width");
  sim->add_option("FILE", o.file, "the .tp program")->required();
  addCommon(sim, o);
  sim->get_option("--param")->required();
  sim->add_option("--data", o.data, "the JSON data file")->required();
  sim->add_option("--steps", o.steps, "training steps T")->required()->check(CLI::Range(0, 100000));
  sim->add_option("--width", o.width, "the width n")->required()->check(CLI::Range(1, 1000000));
  sim->add_option("--seeds", o.seeds, "independent initialisations to average")->check(CLI::Range(1, 100000));

  auto addBudget = [&o](CLI::App* cmd) {
    cmd->add_option("--max-minutes", o.maxMinutes,
                    "refuse a request estimated to take longer than this on this machine (default 60; 0: no limit)")
        ->check(CLI::Range(0.0, 1e7));
  };
  addBudget(sim);

  auto* lim = app.add_subcommand("limit", "derive and evaluate the infinite-width limit");
  lim->add_option("FILE", o.file, "the .tp program")->required();
  addCommon(lim, o);
  lim->get_option("--param")->required();
  lim->add_option("--data", o.data, "the JSON data file")->required();
  lim->add_option("--steps", o.steps, "training steps T")->required()->check(CLI::Range(0, 100000));
  lim->add_option("--method", o.method,
                  "auto (default), kernel (kernel and trivial regimes), exact (linear programs), quadrature or "
                  "montecarlo (feature learning)")
      ->check(CLI::IsMember({"auto", "kernel", "exact", "quadrature", "montecarlo"}));
  lim->add_option("--backend", o.backend,
                  "jit (default: the Z-program, or the kernel recursion, compiled by LLVM) or interp (the reference "
                  "interpreter); the numbers are the same")
      ->check(CLI::IsMember({"jit", "interp"}));
  lim->add_option("--samples", o.samples,
                  "Monte Carlo particles (feature learning, default: sized for standard errors near 1e-3) or draws "
                  "of f_0 (kernel, default 4096)")
      ->check(CLI::Range(2, 10000000));
  lim->add_option("--order", o.order,
                  "Gauss–Hermite points per dimension: kernel expectations without a closed form, or the tensor "
                  "rule of --method quadrature (default 64; auto uses quadrature while order^bases <= 2^20)")
      ->check(CLI::Range(1, 512));
  addBudget(lim);

  auto* cmp = app.add_subcommand("compile", "emit the feature-learning limit's evaluator as LLVM assembly or an object file");
  cmp->add_option("FILE", o.file, "the .tp program")->required();
  cmp->add_option("--param", o.param, "parametrization: sp, ntk, mup, mf, a block of the program, or a JSON file")->required();
  cmp->add_option("--c", o.c, "override the global learning-rate exponent c (a rational)");
  cmp->add_option("--set", o.sets, "override a hyper: NAME=VALUE")->take_all();
  cmp->add_option("--batch", o.batch, "examples per step (default: all training examples)")->check(CLI::Range(0, 1000000));
  cmp->add_option("--data", o.data, "the JSON data file (its values become constants of the output)")->required();
  cmp->add_option("--steps", o.steps, "training steps T")->required()->check(CLI::Range(0, 100000));
  cmp->add_option("-o,--output", o.output, "the file to write: NAME.ll (LLVM assembly) or NAME.o (object file)")->required();
  cmp->add_option("--json", o.json, "also write the JSON report to PATH ('-' for stdout instead of the summary)");
  addBudget(cmp);

  auto* cls = app.add_subcommand("classify", "width-exponent analysis and regime classification");
  cls->add_option("FILE", o.file, "the .tp program")->required();
  addCommon(cls, o);
  cls->get_option("--param")->required();
  cls->add_option("--steps", o.steps, "training steps to unroll (default: until the exponents settle, 3 to 8)")
      ->check(CLI::Range(1, 64));
  cls->add_option("--sweep", o.sweep, "an exponent axis AXIS=LO:HI:STEP (c, P.a, P.b, P.c, P.a+b); give one or two");

  auto* cc = app.add_subcommand("coordcheck", "fit coordinate sizes over widths and compare with the derived exponents");
  cc->add_option("FILE", o.file, "the .tp program")->required();
  addCommon(cc, o);
  cc->get_option("--param")->required();
  cc->add_option("--data", o.data, "the JSON data file")->required();
  cc->add_option("--steps", o.steps, "training steps T")->required()->check(CLI::Range(0, 1000));
  cc->add_option("--widths", o.widths, "widths to measure (default 64,128,...,4096)")
      ->delimiter(',')
      ->check(CLI::Range(2, 1000000));
  cc->add_option("--seeds", o.seeds, "initialisations averaged per width (default 4)")->check(CLI::Range(1, 10000));
  cc->add_option("--tolerance", o.tolerance, "largest |fitted − derived| that passes (default 1/4: half the spacing of exponents that are multiples of 1/2)")
      ->check(CLI::Range(0.0, 10.0));
  addBudget(cc);

  auto* rep = app.add_subcommand("report", "one self-contained HTML page with plots of tpc JSON reports");
  rep->add_option("REPORTS", o.reports, "JSON reports written by tpc --json")->required();
  rep->add_option("-o,--output", o.output, "the HTML file to write")->required();

  installInterruptHandlers();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kSuccess : kBadUsage;
  }
  try {
    if (check->parsed()) return cmdCheck(o);
    if (ir->parsed()) return cmdIr(o);
    if (sim->parsed()) return cmdSimulate(o);
    if (lim->parsed()) return cmdLimit(o);
    if (cmp->parsed()) return cmdCompile(o);
    if (rep->parsed()) return cmdReport(o);
    if (cc->parsed()) {
      if (cc->count("--seeds") == 0) o.seeds = 4;
      if (o.widths.size() < 3) throw UsageError("--widths needs at least three widths to fit a slope");
      return cmdCoordcheck(o);
    }
    if (cls->parsed()) {
      if (cls->count("--steps") == 0) o.steps = 0;
      return cmdClassify(o);
    }
  } catch (const ProgramError&) {
    return kInvalidInput;
  } catch (const UsageError& e) {
    std::cerr << "tpc: error: " << e.what() << "\n";
    return kBadUsage;
  } catch (const UserError& e) {
    std::cerr << "tpc: error: " << e.what() << "\n";
    return kInvalidInput;
  } catch (const InternalError& e) {
    std::cerr << "tpc: " << e.what() << "\n";
    return kInternalError;
  } catch (const std::bad_alloc&) {
    std::cerr << "tpc: error: out of memory: choose a smaller width, batch or number of steps\n";
    return kInvalidInput;
  } catch (const std::exception& e) {
    std::cerr << "tpc: internal error: " << e.what() << "\n";
    return kInternalError;
  }
  return kBadUsage;
}

}  // namespace tp::driver
