// JSON reports: numbers that may diverge, the common header, simulation results, atomic writes.
#include "compiler/driver/Report.h"
#include "runtime/Interrupt.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace tp::driver {

nlohmann::json number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

namespace {

/// A scalar output is a number; a vector output a list.
nlohmann::json coordinates(const std::vector<double>& xs) {
  if (xs.size() == 1) return number(xs[0]);
  nlohmann::json list = nlohmann::json::array();
  for (double x : xs) list.push_back(number(x));
  return list;
}

}  // namespace

nlohmann::json classificationJson(const passes::Classification& c) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : c.layers)
    layers.push_back({{"param", l.param}, {"r_l", l.r.str()}, {"feature_learning", l.featureLearning}});
  nlohmann::json values = nlohmann::json::object(), byStep = nlohmann::json::object();
  for (const auto& [name, perStep] : c.values) {
    passes::Exponent init = passes::Exponent::zero(), update = passes::Exponent::zero();
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : perStep) {
      if (s.t == 0) init = s.e.init;
      if (s.t > 0) update = passes::maxOf(update, s.e.update);
      steps.push_back({{"t", s.t}, {"init", s.e.init.str()}, {"update", s.e.update.str()}});
    }
    values[name] = {{"init", init.str()}, {"update", update.str()}};
    byStep[name] = steps;
  }
  return {{"stable", c.stable}, {"nontrivial", c.nontrivial}, {"regime", c.regime}, {"r", c.r.str()},
          {"layers", layers},   {"values", values},           {"reasons", c.reasons}, {"steps", c.steps},
          {"by_step", byStep}};
}

nlohmann::json reportHeader(const ir::Program& program) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : program.params) {
    nlohmann::json shape = nlohmann::json::array();
    if (p.type.isMatrix()) {
      for (ir::Dim d : {p.type.rows, p.type.cols})
        shape.push_back(d.isWidth ? program.widthName : std::to_string(d.size));
    } else {
      shape.push_back(program.widthName);
    }
    params.push_back({{"name", p.name}, {"shape", shape}, {"role", ir::roleName(p.role)}});
  }
  return {{"schema_version", 1},
          {"tool", {{"name", "tpc"}, {"version", TPC_VERSION}}},
          {"program", {{"path", program.file}, {"params", params}}}};
}

nlohmann::json stepsJson(const std::vector<StepSummary>& steps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& st : steps) {
    nlohmann::json outputs, variance, stderror;
    for (const auto& [name, perExample] : st.outputs) {
      outputs[name] = nlohmann::json::array();
      variance[name] = nlohmann::json::array();
      stderror[name] = nlohmann::json::array();
      for (const auto& s : perExample) {
        outputs[name].push_back(coordinates(s.mean));
        variance[name].push_back(coordinates(s.variance));
        stderror[name].push_back(coordinates(s.stderror));
      }
    }
    nlohmann::json step = {{"t", st.t}, {"outputs", outputs}, {"variance", variance}, {"stderr", stderror}};
    if (!st.loss.mean.empty()) {
      step["loss"] = number(st.loss.mean[0]);
      step["loss_stderr"] = number(st.loss.stderror[0]);
    }
    out.push_back(step);
  }
  return out;
}

nlohmann::json simulationJson(const SimulationResult& result) {
  return {{"width", result.width}, {"seeds", result.seeds}, {"steps", stepsJson(result.steps)}};
}

nlohmann::json kernelJson(const KernelMatrix& m) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t p = 0; p < m.size; ++p) {
    nlohmann::json row = nlohmann::json::array();
    for (size_t q = 0; q < m.size; ++q) row.push_back(number(m.at(p, q)));
    rows.push_back(row);
  }
  return rows;
}

void writeFileAtomically(const std::string& text, const std::string& path, const std::string& what) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  PendingOutput pending(tmp);  // Ctrl-C while writing removes it
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("cannot write the " + what + " to '" + path + "'");
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      throw UserError("cannot write the " + what + " to '" + path + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw UserError("cannot write the " + what + " to '" + path + "': " + ec.message());
  }
}

void writeReport(const nlohmann::json& report, const std::string& path) {
  std::string text = report.dump(2) + "\n";
  if (path == "-") {
    std::cout << text;
    return;
  }
  writeFileAtomically(text, path, "report");
}

}  // namespace tp::driver
