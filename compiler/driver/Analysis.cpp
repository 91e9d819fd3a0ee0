// Classification with a step count that lets exponents settle, and exponent sweeps.
#include "compiler/driver/Analysis.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "compiler/driver/Pipeline.h"
#include "compiler/passes/Exponents.h"

namespace tp::driver {

passes::Schedule analysisSchedule(int steps) {
  passes::Schedule s;
  s.steps = steps;
  s.batch = 1;
  s.trainCount = 1;
  s.evalCount = 1;
  s.evalHasTargets = true;
  return s;
}

namespace {

constexpr int kFirstSteps = 3;
constexpr int kMaxSteps = 8;

passes::Classification classifyAt(const ir::Program& typed, const ir::Parametrization& pz, int steps) {
  PipelineOptions o;
  o.schedule = analysisSchedule(steps);
#ifdef NDEBUG
  o.verify = false;  // classify runs many times in a sweep; debug builds and tests verify every stage
#endif
  ir::Program netsor = runUntil(typed, "netsor", o);
  return passes::classify(netsor, passes::analyzeExponents(netsor, pz));
}

/// Whether every named value has the same exponents at the last two steps.
bool settled(const passes::Classification& c) {
  for (const auto& [name, perStep] : c.values) {
    if (perStep.size() < 2) continue;
    const auto& last = perStep[perStep.size() - 1].e;
    const auto& before = perStep[perStep.size() - 2].e;
    if (!(last.init == before.init) || !(last.update == before.update)) return false;
  }
  return true;
}

}  // namespace

passes::Classification classifyProgram(const ir::Program& typed, const ir::Parametrization& pz, int steps) {
  if (steps > 0) return classifyAt(typed, pz, steps);
  passes::Classification c = classifyAt(typed, pz, kFirstSteps);
  for (int t = kFirstSteps + 1; t <= kMaxSteps && c.stable && !settled(c); ++t) c = classifyAt(typed, pz, t);
  return c;
}

SweepAxis parseSweepAxis(const std::string& text, const ir::Program& program) {
  size_t eq = text.find('=');
  if (eq == std::string::npos) throw std::invalid_argument("expected AXIS=LO:HI:STEP, e.g. W3.a+b=0:3/2:1/4");
  SweepAxis axis;
  axis.name = text.substr(0, eq);
  if (axis.name != "c") {
    size_t dot = axis.name.find('.');
    if (dot == std::string::npos) throw std::invalid_argument("axis '" + axis.name + "' is not c, P.a, P.b, P.c or P.a+b");
    axis.param = axis.name.substr(0, dot);
    axis.field = axis.name.substr(dot + 1);
    if (!program.findParam(axis.param)) throw std::invalid_argument("the program has no param '" + axis.param + "'");
    if (axis.field != "a" && axis.field != "b" && axis.field != "c" && axis.field != "a+b")
      throw std::invalid_argument("axis '" + axis.name + "': the field must be a, b, c or a+b");
  }
  std::string range = text.substr(eq + 1);
  size_t c1 = range.find(':'), c2 = c1 == std::string::npos ? c1 : range.find(':', c1 + 1);
  if (c2 == std::string::npos) throw std::invalid_argument("range '" + range + "' is not LO:HI:STEP");
  auto lo = parseRational(range.substr(0, c1)), hi = parseRational(range.substr(c1 + 1, c2 - c1 - 1)),
       step = parseRational(range.substr(c2 + 1));
  if (!lo || !hi || !step) throw std::invalid_argument("range '" + range + "' must hold three rationals");
  if (*step <= 0 || *hi < *lo) throw std::invalid_argument("range '" + range + "' needs LO ≤ HI and STEP > 0");
  if ((*hi - *lo) / *step > 200) throw std::invalid_argument("range '" + range + "' has more than 201 points");
  for (Rational v = *lo; v <= *hi; v += *step) axis.values.push_back(v);
  return axis;
}

ir::Parametrization sweepPoint(const ir::Program& program, const std::string& spec,
                               const std::optional<Rational>& cOverride, const std::vector<SweepAxis>& axes,
                               const std::vector<Rational>& point) {
  std::optional<Rational> c = cOverride;
  for (size_t k = 0; k < axes.size(); ++k)
    if (axes[k].param.empty()) c = point[k];
  ir::Parametrization pz = ir::resolveParametrization(program, spec, c);
  for (size_t k = 0; k < axes.size(); ++k) {
    if (axes[k].param.empty()) continue;
    ir::Exponents& e = pz.params.at(axes[k].param);
    if (axes[k].field == "a") e.a = point[k];
    if (axes[k].field == "b") e.b = point[k];
    if (axes[k].field == "c") e.c = point[k];
    if (axes[k].field == "a+b") e.b = point[k] - e.a;
  }
  return pz;
}

CoordCheckReport coordCheck(const ir::Program& netsor, const ir::Parametrization& pz, const Dataset& data,
                            const CoordCheckOptions& options, double tolerance) {
  // 1. Derived exponents per (name, step): the largest over the examples.
  std::vector<passes::ValueExponents> exps = passes::analyzeExponents(netsor, pz);
  std::map<std::pair<std::string, int>, passes::ValueExponents> derived;
  for (size_t i = 0; i < netsor.values.size(); ++i) {
    const ir::Value& v = netsor.values[i];
    if (v.label.empty() || v.type.isMatrix()) continue;
    auto [it, fresh] = derived.emplace(std::make_pair(v.label, v.step), exps[i]);
    if (!fresh) {
      it->second.init = passes::maxOf(it->second.init, exps[i].init);
      it->second.update = passes::maxOf(it->second.update, exps[i].update);
    }
  }
  // 2. Values downstream of a blow-up (a forward width vector or output that
  //    grows): there the analysis only claims "unstable"; saturating
  //    nonlinearities change which terms dominate, so exponents are not predictions.
  std::vector<bool> downstream(netsor.values.size(), false);
  std::set<ir::ValueId> outputs;
  for (const auto& r : netsor.results)
    if (r.kind == ir::Result::Kind::Output) outputs.insert(r.value);
  std::set<std::pair<std::string, int>> afterBlowUp;
  for (size_t i = 0; i < netsor.values.size(); ++i) {
    const ir::Value& v = netsor.values[i];
    for (ir::ValueId o : v.operands) {
      const ir::Value& u = netsor.at(o);
      bool watched = u.section == ir::Section::Forward && !u.label.empty() &&
                     (u.type.isWidth() || std::count(netsor.outputs.begin(), netsor.outputs.end(), u.label));
      bool grows = exps[static_cast<size_t>(o)].total() > passes::Exponent::of(0) && (watched || outputs.count(o));
      downstream[i] = downstream[i] || downstream[static_cast<size_t>(o)] || grows;
    }
    if (downstream[i] && !v.label.empty()) afterBlowUp.insert({v.label, v.step});
  }
  // 3. Measured sizes, 4. one comparison per (name, step): init at step 0, updates after.
  CoordMeasurement m = measureCoordinates(netsor, pz, data, options);
  CoordCheckReport report;
  report.widths = options.widths;
  report.tolerance = tolerance;
  std::vector<double> widths(options.widths.begin(), options.widths.end());
  // Rows in program order: by first appearance of the name, then by step.
  std::map<std::string, size_t> firstSeen;
  for (const auto& v : netsor.values)
    if (!v.label.empty()) firstSeen.emplace(v.label, firstSeen.size());
  std::vector<std::pair<std::string, int>> keys;
  for (const auto& [key, perWidth] : m.sizes) keys.push_back(key);
  std::sort(keys.begin(), keys.end(), [&](const auto& x, const auto& y) {
    return std::make_pair(firstSeen.at(x.first), x.second) < std::make_pair(firstSeen.at(y.first), y.second);
  });
  for (const auto& key : keys) {
    const std::vector<CoordSize>& perWidth = m.sizes.at(key);
    CoordCheckRow row;
    row.name = key.first;
    row.t = key.second;
    row.part = row.t == 0 ? "init" : "update";
    row.derived = row.t == 0 ? derived.at(key).init : derived.at(key).update;
    bool finite = true;
    for (const auto& c : perWidth) {
      row.sizes.push_back(row.t == 0 ? c.init : c.update);
      finite = finite && c.finite;
    }
    std::vector<double> xs, ys;
    for (size_t k = 0; k < row.sizes.size(); ++k)
      if (row.sizes[k] > 0) {
        xs.push_back(widths[k]);
        ys.push_back(row.sizes[k]);
      }
    if (row.derived.isInfinite() || !finite || afterBlowUp.count(key)) {
      row.status = "skipped";
      row.note = afterBlowUp.count(key) ? "downstream of a blow-up"
                 : !finite              ? "overflows at these widths"
                                        : "grows faster than any power";
    } else if (row.derived.isZero()) {
      row.status = xs.empty() ? "pass" : "fail";
      row.note = xs.empty() ? "exactly zero" : "derived zero, measured nonzero";
    } else if (xs.size() < 3) {
      row.status = "fail";
      row.note = "zero at most widths";
    } else {
      row.fitted = logLogSlope(xs, ys);
      row.status = std::fabs(row.fitted - toDouble(row.derived.value())) <= tolerance ? "pass" : "fail";
      if (xs.size() < widths.size()) row.note = "fitted on the widths where it is nonzero";
    }
    (row.status == "pass" ? report.passed : row.status == "fail" ? report.failed : report.skipped)++;
    report.rows.push_back(row);
  }
  return report;
}

}  // namespace tp::driver
