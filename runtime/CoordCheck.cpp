// Coordinate sizes over widths, for the comparison of fitted and derived exponents.
#include "runtime/CoordCheck.h"

#include <cmath>

#include "runtime/Simulator.h"

namespace tp {

namespace {

double meanAbs(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += std::fabs(v);
  return x.empty() ? 0.0 : s / static_cast<double>(x.size());
}

double meanAbsDiff(const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += std::fabs(x[i] - y[i]);
  return x.empty() ? 0.0 : s / static_cast<double>(x.size());
}

}  // namespace

CoordMeasurement measureCoordinates(const ir::Program& netsor, const ir::Parametrization& pz, const Dataset& data,
                                    const CoordCheckOptions& options) {
  TP_ASSERT(netsor.stage == ir::Stage::Netsor, "the coordinate check runs normal-form programs");
  CoordMeasurement m;
  m.widths = options.widths;
  // The named values, keyed by (name, step).
  std::vector<std::pair<size_t, std::pair<std::string, int>>> named;
  std::map<std::pair<std::string, int>, int> examples;
  for (size_t i = 0; i < netsor.values.size(); ++i) {
    const ir::Value& v = netsor.values[i];
    if (v.label.empty() || v.type.isMatrix()) continue;
    auto key = std::make_pair(v.label, v.step);
    named.push_back({i, key});
    examples[key]++;
  }
  auto nothing = [](const ir::Result&, const std::vector<double>&) {};
  double work = 0, done = 0;
  for (int n : options.widths) work += double(n) * n * options.seeds;
  for (size_t w = 0; w < options.widths.size(); ++w) {
    FiniteWidthSetup setup = finiteWidthSetup(netsor, pz, options.widths[w], options.threads);
    setup.input = [&data](const ir::Value& v) {
      const DataSplit& split = v.split == ir::Split::Eval ? data.eval : data.train;
      return split.value(v.name, static_cast<size_t>(v.example));
    };
    FiniteWidthSetup frozen = setup;
    for (auto& [name, s] : frozen.scaling) s.updateScale = 0;
    for (auto& [key, count] : examples) m.sizes[key].resize(options.widths.size());
    double weight = 1.0 / options.seeds;
    for (int s = 0; s < options.seeds; ++s) {
      auto params = sampleParams(netsor, setup, options.seed + static_cast<uint64_t>(s));
      std::vector<Tensor> trained = interpret(netsor, setup, params, nothing, true);
      std::vector<Tensor> initial = interpret(netsor, frozen, params, nothing, true);
      for (const auto& [i, key] : named) {
        const auto& x = trained[i].values();
        const auto& x0 = initial[i].values();
        CoordSize& c = m.sizes[key][w];
        double share = weight / examples[key];
        c.total += share * meanAbs(x);
        c.init += share * meanAbs(x0);
        c.update += share * meanAbsDiff(x, x0);
      }
      done += double(options.widths[w]) * options.widths[w];
      if (options.progress) options.progress(done, work);
    }
    for (auto& [key, perWidth] : m.sizes) {
      CoordSize& c = perWidth[w];
      c.finite = std::isfinite(c.total) && std::isfinite(c.init) && std::isfinite(c.update);
    }
  }
  return m;
}

double logLogSlope(const std::vector<double>& x, const std::vector<double>& y) {
  double n = static_cast<double>(x.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

}  // namespace tp
