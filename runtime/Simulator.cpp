// The finite-width simulator (the experiment every limit is checked against).
#include "runtime/Simulator.h"

#include <cmath>

namespace tp {

FiniteWidthSetup finiteWidthSetup(const ir::Program& program, const ir::Parametrization& pz, int width, int threads) {
  FiniteWidthSetup setup;
  setup.width = width;
  setup.threads = threads;
  for (const auto& h : program.hypers) setup.hypers[h.name] = h.value;
  double n = width;
  for (const auto& p : program.params) {
    const ir::Exponents& e = pz.params.at(p.name);
    ParamScaling s;
    s.zeroInit = p.zeroInit;
    s.initStd = std::sqrt(toDouble(p.variance)) * std::pow(n, -toDouble(e.a + e.b));
    s.updateScale = std::pow(n, -toDouble(e.c + 2 * e.a));
    setup.scaling[p.name] = s;
  }
  return setup;
}

double paramBytes(const ir::Program& program, int width) {
  double bytes = 0;
  for (const auto& p : program.params) {
    double rows = p.type.isMatrix() ? (p.type.rows.isWidth ? width : p.type.rows.size) : 1;
    double cols = p.type.isMatrix() ? (p.type.cols.isWidth ? width : p.type.cols.size) : width;
    bytes += rows * cols * 8.0;
  }
  return bytes;
}

namespace {

/// Accumulates samples of a vector over seeds (Welford, per coordinate).
struct Accumulator {
  std::vector<double> mean, m2;
  int count = 0;
  void add(const std::vector<double>& x) {
    if (mean.empty()) {
      mean.assign(x.size(), 0.0);
      m2.assign(x.size(), 0.0);
    }
    ++count;
    for (size_t i = 0; i < x.size(); ++i) {
      double d = x[i] - mean[i];
      mean[i] += d / count;
      m2[i] += d * (x[i] - mean[i]);
    }
  }
  Summary summary() const {
    Summary s;
    s.mean = mean;
    for (size_t i = 0; i < mean.size(); ++i) {
      double var = count > 1 ? m2[i] / (count - 1) : 0.0;
      s.variance.push_back(var);
      s.stderror.push_back(count > 1 ? std::sqrt(var / count) : 0.0);
    }
    return s;
  }
};

}  // namespace

SimulationResult simulate(const ir::Program& unrolled, const Dataset& data, FiniteWidthSetup setup,
                          const SimulationOptions& options) {
  TP_ASSERT(unrolled.stage >= ir::Stage::Unrolled, "simulate expects an unrolled program");
  setup.input = [&data](const ir::Value& v) {
    const DataSplit& split = v.split == ir::Split::Eval ? data.eval : data.train;
    return split.value(v.name, static_cast<size_t>(v.example));
  };
  int steps = unrolled.steps;
  // Per step: the loss (mean over the batch) and each output on each eval example.
  std::vector<Accumulator> loss(static_cast<size_t>(steps + 1));
  std::map<std::string, std::vector<std::vector<Accumulator>>> outputs;
  for (const auto& name : unrolled.outputs)
    outputs[name].assign(static_cast<size_t>(steps + 1), std::vector<Accumulator>(data.eval.count));
  for (int s = 0; s < options.seeds; ++s) {
    std::vector<double> lossSum(static_cast<size_t>(steps + 1), 0.0);
    std::vector<int> lossCount(static_cast<size_t>(steps + 1), 0);
    auto sink = [&](const ir::Result& r, const std::vector<double>& x) {
      size_t t = static_cast<size_t>(r.step);
      if (options.progress) options.progress(s + double(r.step + 1) / (steps + 1), options.seeds);
      if (r.kind == ir::Result::Kind::Loss) {
        lossSum[t] += x[0];
        lossCount[t]++;
      } else {
        outputs[r.name][t][static_cast<size_t>(r.example)].add(x);
      }
    };
    interpret(unrolled, setup, sampleParams(unrolled, setup, options.seed + static_cast<uint64_t>(s)), sink);
    for (size_t t = 0; t < loss.size(); ++t)
      if (lossCount[t]) loss[t].add({lossSum[t] / lossCount[t]});
  }
  SimulationResult result;
  result.width = options.width;
  result.seeds = options.seeds;
  for (int t = 0; t <= steps; ++t) {
    StepSummary st;
    st.t = t;
    st.loss = loss[static_cast<size_t>(t)].summary();
    for (auto& [name, perStep] : outputs)
      for (auto& acc : perStep[static_cast<size_t>(t)]) st.outputs[name].push_back(acc.summary());
    result.steps.push_back(std::move(st));
  }
  return result;
}

}  // namespace tp
