// Z-program interpreter: particle instructions as loops over weighted particles, Mean as the weighted sum.
#include "runtime/ZEval.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>

#include "compiler/ir/Diagnostics.h"
#include "runtime/Activation.h"
#include "runtime/Memory.h"
#include "runtime/Quadrature.h"
#include "runtime/Random.h"
#include "runtime/ThreadPool.h"

namespace tp {

using passes::ZInstr;

Particles monteCarloParticles(const passes::ZProgram& z, size_t count, uint64_t seed) {
  Particles p;
  p.count = count;
  p.weights.assign(count, 1.0 / static_cast<double>(count));
  for (size_t b = 0; b < z.bases.size(); ++b) {
    std::vector<double> draws = hugePageZeros(count);
    fillNormal(streamSeed(seed, 0x5a, b), std::sqrt(z.bases[b].variance), draws.data(), count);
    p.bases.push_back(std::move(draws));
  }
  return p;
}

Particles exactParticles(const passes::ZProgram& z) {
  const size_t dims = z.bases.size();
  Particles p;
  p.count = 2 * dims;
  p.weights.assign(p.count, 1.0 / static_cast<double>(p.count));
  p.bases.assign(dims, std::vector<double>(p.count, 0.0));
  for (size_t b = 0; b < dims; ++b) {
    double x = std::sqrt(static_cast<double>(dims) * z.bases[b].variance);
    p.bases[b][2 * b] = x;
    p.bases[b][2 * b + 1] = -x;
  }
  return p;
}

Particles quadratureParticles(const passes::ZProgram& z, int order, size_t maxParticles) {
  const GaussHermiteRule& rule = gaussHermite(order);
  const size_t m = static_cast<size_t>(order), dims = z.bases.size();
  double total = std::pow(static_cast<double>(m), static_cast<double>(dims));
  if (total > static_cast<double>(maxParticles))
  {
    std::ostringstream need;
    need.precision(3);
    need << order << "^" << dims << " ≈ " << total;
    throw UserError("quadrature over " + std::to_string(dims) + " base Gaussians at order " + std::to_string(order) +
                    " needs " + need.str() + " particles (limit " + std::to_string(maxParticles) +
                    "): lower --order or use --method montecarlo");
  }
  Particles p;
  p.count = static_cast<size_t>(total);
  p.weights.assign(p.count, 1.0);
  p.bases.assign(dims, std::vector<double>(p.count));
  // Particle i has node digits (i / m^b) mod m, base b scaled by its standard deviation.
  for (size_t i = 0; i < p.count; ++i) {
    size_t rest = i;
    for (size_t b = 0; b < dims; ++b) {
      size_t k = rest % m;
      rest /= m;
      p.bases[b][i] = std::sqrt(z.bases[b].variance) * rule.nodes[k];
      p.weights[i] *= rule.weights[k];
    }
  }
  return p;
}

namespace {

/// Per slot: the last instruction that reads it (so its buffer can be released).
std::vector<size_t> lastUses(const passes::ZProgram& z) {
  std::vector<size_t> last(z.instrs.size(), 0);
  for (size_t i = 0; i < z.instrs.size(); ++i)
    for (int o : z.instrs[i].operands) last[static_cast<size_t>(o)] = i;
  for (const passes::ZResult& r : z.results)
    for (int s : r.slots)
      if (s >= 0) last[static_cast<size_t>(s)] = z.instrs.size();
  return last;
}

double binary(ZInstr::Kind k, double x, double y) {
  switch (k) {
    case ZInstr::Kind::Add: return x + y;
    case ZInstr::Kind::Sub: return x - y;
    case ZInstr::Kind::Mul: return x * y;
    case ZInstr::Kind::Div: return x / y;
    default: break;
  }
  throw InternalError("runZProgram: not a binary instruction");
}

}  // namespace

double chunkSum(const double* weights, const double* x, size_t begin, size_t end) {
  static_assert(kMeanLanes == 4, "the lanes are combined as (0 + 1) + (2 + 3)");
  double lane[kMeanLanes] = {0, 0, 0, 0};
  for (size_t k = begin; k < end; ++k) lane[(k - begin) % kMeanLanes] += weights[k] * x[k];
  return (lane[0] + lane[1]) + (lane[2] + lane[3]);
}

double scalarInstruction(const ZInstr& ins, const std::vector<double>& scalar, const Dataset& data) {
  auto at = [&](size_t j) { return scalar[static_cast<size_t>(ins.operands[j])]; };
  switch (ins.kind) {
    case ZInstr::Kind::Const: return ins.value;
    case ZInstr::Kind::Input: {
      const DataSplit& split = ins.split == ir::Split::Eval ? data.eval : data.train;
      return split.value(ins.name, static_cast<size_t>(ins.example))[static_cast<size_t>(ins.index)];
    }
    case ZInstr::Kind::Neg: return -at(0);
    case ZInstr::Kind::Pow: return std::pow(at(0), ins.value);
    case ZInstr::Kind::Pivot: return at(0) > passes::kPivotTolerance * at(1) ? std::pow(at(0), ins.value) : 0.0;
    case ZInstr::Kind::Apply: return evalActivation(ins.fn, ins.order, at(0));
    case ZInstr::Kind::Add:
    case ZInstr::Kind::Sub:
    case ZInstr::Kind::Mul:
    case ZInstr::Kind::Div: return binary(ins.kind, at(0), at(1));
    default: break;
  }
  throw InternalError("scalarInstruction: not a scalar instruction");
}

std::vector<std::vector<double>> resultValues(const passes::ZProgram& z, const std::vector<double>& scalar,
                                              ZHealth* health) {
  if (health) {
    *health = {};
    for (size_t i = 0; i < z.instrs.size(); ++i) {
      const ZInstr& ins = z.instrs[i];
      if (ins.particle) continue;
      if (health->instruction < 0 && !std::isfinite(scalar[i])) {
        health->instruction = static_cast<int>(i);
        health->value = scalar[i];
      }
      // A Gram–Schmidt step emits the length (^1/2) and its inverse (^−1/2): count the length.
      // (A NaN operand also gives 0: that is a numeric fault, not a spanned direction.)
      if (ins.kind == ZInstr::Kind::Pivot && ins.value > 0 && scalar[i] == 0 &&
          std::isfinite(scalar[static_cast<size_t>(ins.operands[0])]))
        ++health->droppedFields;
    }
  }
  std::vector<std::vector<double>> results;
  for (const passes::ZResult& r : z.results) {
    std::vector<double> coords;
    for (int s : r.slots)
      coords.push_back(s == passes::kZeroSlot       ? 0.0
                       : s == passes::kDivergentSlot ? std::numeric_limits<double>::infinity()
                                                     : scalar[static_cast<size_t>(s)]);
    results.push_back(std::move(coords));
  }
  return results;
}

std::vector<std::vector<double>> runZProgram(const passes::ZProgram& z, const Particles& particles, const Dataset& data,
                                             ZHealth* health) {
  const size_t K = particles.count, S = z.instrs.size();
  std::vector<size_t> last = lastUses(z);
  std::vector<double> scalar(S, 0.0);
  std::vector<std::vector<double>> buffers(S);
  std::vector<std::vector<double>> pool;
  auto fresh = [&]() {
    if (pool.empty()) return hugePageZeros(K);
    std::vector<double> b = std::move(pool.back());
    pool.pop_back();
    return b;
  };
  for (size_t i = 0; i < S; ++i) {
    const ZInstr& ins = z.instrs[i];
    // Operand j at particle k: its buffer, or its scalar broadcast.
    auto at = [&](size_t j) -> std::pair<const double*, double> {
      size_t o = static_cast<size_t>(ins.operands[j]);
      return z.instrs[o].particle ? std::make_pair(buffers[o].data(), 0.0) : std::make_pair(nullptr, scalar[o]);
    };
    if (ins.kind == ZInstr::Kind::Mean) {
      const double* x = buffers[static_cast<size_t>(ins.operands[0])].data();
      double total = 0;
      for (size_t begin = 0; begin < K; begin += kMeanChunk)
        total += chunkSum(particles.weights.data(), x, begin, std::min(K, begin + kMeanChunk));
      scalar[i] = total;
    } else if (!ins.particle) {
      scalar[i] = scalarInstruction(ins, scalar, data);
    } else {
      std::vector<double> out = fresh();
      switch (ins.kind) {
        case ZInstr::Kind::Base: std::copy(particles.bases[static_cast<size_t>(ins.index)].begin(),
                                           particles.bases[static_cast<size_t>(ins.index)].end(), out.begin());
          break;
        case ZInstr::Kind::Neg: {
          const double* x = at(0).first;
          for (size_t k = 0; k < K; ++k) out[k] = -x[k];
          break;
        }
        case ZInstr::Kind::Pow: {
          const double* x = at(0).first;
          for (size_t k = 0; k < K; ++k) out[k] = std::pow(x[k], ins.value);
          break;
        }
        case ZInstr::Kind::Apply: applyActivation(ins.fn, ins.order, at(0).first, out.data(), K); break;
        case ZInstr::Kind::Add:
        case ZInstr::Kind::Sub:
        case ZInstr::Kind::Mul:
        case ZInstr::Kind::Div: {
          auto [x, xs] = at(0);
          auto [y, ys] = at(1);
          for (size_t k = 0; k < K; ++k) out[k] = binary(ins.kind, x ? x[k] : xs, y ? y[k] : ys);
          break;
        }
        default: throw InternalError("runZProgram: a scalar instruction marked per-particle");
      }
      buffers[i] = std::move(out);
    }
    // Release the particle buffers read for the last time.
    for (int o : ins.operands)
      if (last[static_cast<size_t>(o)] == i && !buffers[static_cast<size_t>(o)].empty())
        pool.push_back(std::move(buffers[static_cast<size_t>(o)]));
  }
  return resultValues(z, scalar, health);
}

namespace {

/// The step summaries of one set of result values (variance 0: the limit is deterministic).
std::vector<StepSummary> summarise(const passes::ZProgram& z, const ir::Program& netsor, const Dataset& data,
                                   const std::vector<std::vector<double>>& values,
                                   const std::vector<std::vector<double>>* errors) {
  std::vector<StepSummary> steps(static_cast<size_t>(z.steps + 1));
  std::vector<int> lossCount(steps.size(), 0);
  for (size_t t = 0; t < steps.size(); ++t) {
    steps[t].t = static_cast<int>(t);
    for (const auto& name : netsor.outputs) steps[t].outputs[name].resize(data.eval.count);
  }
  for (size_t i = 0; i < z.results.size(); ++i) {
    const ir::Result& r = z.results[i].result;
    StepSummary& st = steps[static_cast<size_t>(r.step)];
    const std::vector<double>& v = values[i];
    std::vector<double> err = errors ? (*errors)[i] : std::vector<double>(v.size(), 0.0);
    if (r.kind == ir::Result::Kind::Loss) {
      if (st.loss.mean.empty()) st.loss = Summary{{0.0}, {0.0}, {0.0}};
      st.loss.mean[0] += v[0];
      st.loss.stderror[0] += err[0];  // summed here, averaged below (errors of a mean of correlated terms: ≤ mean)
      lossCount[static_cast<size_t>(r.step)]++;
    } else {
      st.outputs[r.name][static_cast<size_t>(r.example)] = Summary{v, std::vector<double>(v.size(), 0.0), err};
    }
  }
  for (size_t t = 0; t < steps.size(); ++t)
    if (lossCount[t]) {
      steps[t].loss.mean[0] /= lossCount[t];
      steps[t].loss.stderror[0] /= lossCount[t];
    }
  return steps;
}

}  // namespace

size_t peakParticleBuffers(const passes::ZProgram& z) {
  std::vector<size_t> last = lastUses(z);
  size_t live = 0, peak = 0;
  for (size_t i = 0; i < z.instrs.size(); ++i) {
    if (z.instrs[i].particle) peak = std::max(peak, ++live);
    std::vector<int> operands = z.instrs[i].operands;  // each buffer released once, after its last read
    std::sort(operands.begin(), operands.end());
    operands.erase(std::unique(operands.begin(), operands.end()), operands.end());
    for (int o : operands)
      if (last[static_cast<size_t>(o)] == i && z.instrs[static_cast<size_t>(o)].particle) --live;
  }
  return peak;
}

double monteCarloBytes(size_t storedValues, size_t bases, size_t samples, int threads) {
  const double perParticle = 8.0 * static_cast<double>(storedValues + bases + 1);
  // Worker 0 runs all particles; the other workers (at most one per group) run groups of K/16.
  const double concurrentGroups = std::min<double>(static_cast<double>(kMonteCarloGroups), std::max(threads, 1) - 1.0);
  return perParticle * static_cast<double>(samples) * (1.0 + concurrentGroups / static_cast<double>(kMonteCarloGroups));
}

double quadratureBytes(size_t storedValues, size_t bases, int order) {
  const double d = static_cast<double>(bases);
  const double particles = std::pow(static_cast<double>(order), d) + std::pow(static_cast<double>(coarseQuadratureOrder(order)), d);
  return 8.0 * static_cast<double>(storedValues + bases + 1) * particles;
}

SampleChoice chooseSamples(const passes::ZProgram& z, const ir::Program& netsor, const Dataset& data,
                           const FeatureLimitOptions& options, double targetStderr, size_t memoryBytes) {
  FeatureLimitOptions pilotOptions = options;
  pilotOptions.method = "montecarlo";
  pilotOptions.samples = kPilotParticles;
  FeatureLimitResult pilot = featureLimit(z, netsor, data, pilotOptions);
  SampleChoice choice;
  for (const StepSummary& st : pilot.steps) {
    for (double se : st.loss.stderror) choice.pilotStderr = std::max(choice.pilotStderr, se);
    for (const auto& [name, perExample] : st.outputs)
      for (const Summary& s : perExample)
        for (double se : s.stderror)
          if (std::isfinite(se)) choice.pilotStderr = std::max(choice.pilotStderr, se);
  }
  double wanted = static_cast<double>(kPilotParticles) * std::pow(choice.pilotStderr / targetStderr, 2);
  double perParticle = monteCarloBytes(peakParticleBuffers(z), z.bases.size(), 1, options.threads);
  double fits = static_cast<double>(memoryBytes) / perParticle;
  choice.samples = kPilotParticles;
  while (static_cast<double>(choice.samples) < wanted && static_cast<double>(2 * choice.samples) <= fits)
    choice.samples *= 2;
  choice.limitedByMemory = static_cast<double>(choice.samples) < wanted;
  return choice;
}

FeatureLimitResult featureLimit(const passes::ZProgram& z, const ir::Program& netsor, const Dataset& data,
                                const FeatureLimitOptions& options) {
  FeatureLimitResult out;
  out.method = options.method;
  // Runs one set of particles; `total` is the particles of every run of this call, for progress.
  std::atomic<double> done{0};
  double total = 0;
  auto runZ = [&](const Particles& particles, ZHealth* health = nullptr) {
    auto values = options.runner ? options.runner(particles, data, health) : runZProgram(z, particles, data, health);
    double now = done.fetch_add(static_cast<double>(particles.count)) + static_cast<double>(particles.count);
    if (options.progress) options.progress(now, total);
    return values;
  };
  if (options.method == "quadrature") {
    Particles fine = quadratureParticles(z, options.order, options.maxParticles);
    Particles coarse = quadratureParticles(z, coarseQuadratureOrder(options.order), options.maxParticles);
    total = static_cast<double>(fine.count + coarse.count);
    auto values = runZ(fine, &out.health), rough = runZ(coarse);
    for (size_t i = 0; i < values.size(); ++i)
      for (size_t k = 0; k < values[i].size(); ++k)
        if (std::isfinite(values[i][k])) out.quadratureError = std::max(out.quadratureError, std::fabs(values[i][k] - rough[i][k]));
    out.particles = fine.count;
    out.order = options.order;
    out.steps = summarise(z, netsor, data, values, nullptr);
    return out;
  }
  if (options.method == "exact") {
    int degree = passes::meanDegree(z);
    if (degree < 0 || degree > 3)
      throw UserError(std::string("--method exact needs a program whose nonlinearities are linear (it averages ") +
                      (degree < 0 ? "non-polynomial functions" : "polynomials of degree " + std::to_string(degree)) +
                      " of the Gaussian fields); use montecarlo or quadrature");
    Particles rule = exactParticles(z);
    out.particles = rule.count;
    out.steps = summarise(z, netsor, data, runZ(rule, &out.health), nullptr);
    return out;
  }
  if (options.method != "montecarlo") throw InternalError("featureLimit: unknown method " + options.method);
  // The estimate from all particles; the standard error from 16 disjoint groups, each run alone:
  // a group of K/16 particles has 16 times the variance of the full estimate (to leading order in 1/K).
  constexpr size_t kGroups = kMonteCarloGroups;
  if (options.samples < 2 * kGroups) throw UserError("--samples must be at least 32 for Monte Carlo standard errors");
  Particles all = monteCarloParticles(z, options.samples, options.seed);
  const size_t per = options.samples / kGroups;
  total = static_cast<double>(all.count + kGroups * per);
  auto group = [&](size_t g) {
    Particles part;
    part.count = per;
    part.weights.assign(per, 1.0 / static_cast<double>(per));
    for (const auto& b : all.bases) part.bases.emplace_back(b.begin() + static_cast<long>(g * per), b.begin() + static_cast<long>((g + 1) * per));
    return runZ(part);
  };
  // The full run costs as much as the 16 groups together: with two or more threads, worker 0
  // runs it while the others share the groups (the results do not depend on the assignment).
  // One thread runs the groups first, so progress (and its time left) is known early.
  std::vector<std::vector<double>> values;
  std::vector<std::vector<std::vector<double>>> groups(kGroups);
  const size_t workers = static_cast<size_t>(std::max(1, std::min(options.threads, 1 + static_cast<int>(kGroups))));
  parallelFor(static_cast<int>(workers), workers, [&](size_t begin, size_t end) {
    for (size_t w = begin; w < end; ++w) {
      if (w == 0 && workers > 1) values = runZ(all, &out.health);
      if (workers == 1 || w > 0)
        for (size_t g = workers == 1 ? 0 : w - 1; g < kGroups; g += workers == 1 ? 1 : workers - 1) groups[g] = group(g);
      if (workers == 1) values = runZ(all, &out.health);
    }
  });
  std::vector<std::vector<double>> errors(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t k = 0; k < values[i].size(); ++k) {
      double mean = 0, m2 = 0;
      for (const auto& g : groups) mean += g[i][k] / kGroups;
      for (const auto& g : groups) m2 += (g[i][k] - mean) * (g[i][k] - mean);
      errors[i].push_back(std::sqrt(m2 / (kGroups - 1)) / std::sqrt(static_cast<double>(kGroups)));
    }
  out.particles = all.count;
  out.steps = summarise(z, netsor, data, values, &errors);
  return out;
}

}  // namespace tp
