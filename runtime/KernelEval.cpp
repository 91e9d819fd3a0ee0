// The kernel-program evaluator: diagonal pairs first, then tiles of the lower triangle on a thread pool.
#include "runtime/KernelEval.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>

#include "compiler/ir/Diagnostics.h"
#include "runtime/GaussianExpectation.h"
#include "runtime/ThreadPool.h"

namespace tp {

using passes::KernelInstr;

namespace {

/// The program with names resolved: input indices, prepared expectations.
class PreparedProgram {
public:
  PreparedProgram(const passes::KernelProgram& program, const std::vector<ExampleInputs>& examples, int order)
      : program_(program), order_(order) {
    std::map<std::string, size_t> inputIndex;
    std::map<std::tuple<int, int, int>, int> groups;
    auto indexOf = [&](const std::string& name) {
      auto [it, fresh] = inputIndex.emplace(name, inputIndex.size());
      return it->second;
    };
    for (const KernelInstr& ins : program) {
      inputA_.push_back(ins.kind == KernelInstr::Kind::InputDot ? indexOf(ins.inputA) : 0);
      inputB_.push_back(ins.kind == KernelInstr::Kind::InputDot ? indexOf(ins.inputB) : 0);
      pairs_.push_back(ins.kind == KernelInstr::Kind::Expect2
                           ? std::make_unique<PreparedPair>(ins.f, ins.fk, ins.g, ins.gk, order)
                           : nullptr);
      // Expectations on the same (Var u, Var v, Cov) share one geometry; the first computes it.
      int group = -1;
      bool first = false;
      if (ins.kind == KernelInstr::Kind::Expect2) {
        auto key = std::make_tuple(ins.varA, ins.varB, ins.cov);
        auto [it, fresh] = groups.emplace(key, static_cast<int>(groups.size()));
        group = it->second;
        first = fresh;
      }
      geometry_.push_back(group);
      computesGeometry_.push_back(first);
    }
    geometries_ = groups.size();
    inputs_.assign(examples.size(), std::vector<const std::vector<double>*>(inputIndex.size()));
    for (size_t e = 0; e < examples.size(); ++e)
      for (const auto& [name, i] : inputIndex) {
        auto it = examples[e].find(name);
        if (it == examples[e].end()) throw InternalError("kernel evaluation: example lacks input '" + name + "'");
        inputs_[e][i] = &it->second;
      }
  }

  size_t slots() const { return program_.size(); }

  /// Per-thread buffers of one run.
  struct Scratch {
    std::vector<PairGeometry> geometry;
    std::vector<double> a, b;
  };
  Scratch scratch() const {
    Scratch s;
    s.geometry.resize(geometries_);
    return s;
  }

  /// Evaluates every slot for `count` pairs (ps[j], qs[j]) into buf[slot·stride + j].
  /// `diag` holds the diagonal slots of every example (P × slots); when
  /// `diagonalRun`, the pairs are (p, p) and their own slots are the diagonal.
  /// An invalid variance or covariance means the kernel itself overflowed or lost definiteness.
  void run(const size_t* ps, const size_t* qs, size_t count, double* buf, size_t stride, const double* diag,
           bool diagonalRun, double* quadratureError, Scratch& scratch) const {
    try {
      runUnchecked(ps, qs, count, buf, stride, diag, diagonalRun, quadratureError, scratch);
    } catch (const std::invalid_argument& e) {
      throw UserError(std::string("the kernel recursion broke down (a variance overflowed or is not finite): ") +
                      e.what());
    }
  }

private:
  void runUnchecked(const size_t* ps, const size_t* qs, size_t count, double* buf, size_t stride, const double* diag,
                    bool diagonalRun, double* quadratureError, Scratch& scratch) const {
    const size_t s = slots();
    auto diagOf = [&](size_t example, int slot, size_t j) {
      return diagonalRun ? buf[static_cast<size_t>(slot) * stride + j] : diag[example * s + static_cast<size_t>(slot)];
    };
    for (size_t i = 0; i < s; ++i) {
      const KernelInstr& ins = program_[i];
      double* out = buf + i * stride;
      switch (ins.kind) {
        case KernelInstr::Kind::Const:
          for (size_t j = 0; j < count; ++j) out[j] = ins.value;
          break;
        case KernelInstr::Kind::InputDot:
          for (size_t j = 0; j < count; ++j) {
            const std::vector<double>& a = *inputs_[ps[j]][inputA_[i]];
            const std::vector<double>& b = *inputs_[qs[j]][inputB_[i]];
            double dot = 0;
            for (size_t k = 0; k < a.size(); ++k) dot += a[k] * b[k];
            out[j] = ins.value * dot;
          }
          break;
        case KernelInstr::Kind::Sum:
          for (size_t j = 0; j < count; ++j) {
            double total = 0;
            for (const KernelInstr::Product& t : ins.terms) {
              double x = t.x < 0 ? 1.0 : buf[static_cast<size_t>(t.x) * stride + j];
              double y = t.y < 0 ? 1.0 : buf[static_cast<size_t>(t.y) * stride + j];
              total += t.coef * x * y;
            }
            out[j] = total;
          }
          break;
        case KernelInstr::Kind::Expect2: {
          const PreparedPair& pair = *pairs_[i];
          const double* cov = buf + static_cast<size_t>(ins.cov) * stride;
          if (diagonalRun && quadratureError && !pair.closedForm()) {
            for (size_t j = 0; j < count; ++j) {
              PairExpectation e = pair.evaluate(diagOf(ps[j], ins.varA, j), diagOf(qs[j], ins.varB, j), cov[j]);
              out[j] = e.value;
              *quadratureError = std::max(*quadratureError, e.error);
            }
            break;
          }
          PairGeometry& g = scratch.geometry[static_cast<size_t>(geometry_[i])];
          if (computesGeometry_[i]) {
            scratch.a.resize(count);
            scratch.b.resize(count);
            for (size_t j = 0; j < count; ++j) {
              scratch.a[j] = diagOf(ps[j], ins.varA, j);
              scratch.b[j] = diagOf(qs[j], ins.varB, j);
            }
            g.compute(scratch.a.data(), scratch.b.data(), cov, count);
          }
          pair.values(g, out);
          break;
        }
        case KernelInstr::Kind::Expect1:
          for (size_t j = 0; j < count; ++j) {
            double var = ins.varA >= 0 ? diagOf(ps[j], ins.varA, j) : diagOf(qs[j], ins.varB, j);
            out[j] = expectSingle(ins.f, ins.fk, var, order_);
          }
          break;
      }
    }
  }

  const passes::KernelProgram& program_;
  int order_;
  std::vector<size_t> inputA_, inputB_;
  std::vector<std::unique_ptr<PreparedPair>> pairs_;
  std::vector<int> geometry_;           // Expect2: its geometry group
  std::vector<bool> computesGeometry_;  // the first Expect2 of its group
  size_t geometries_ = 0;
  std::vector<std::vector<const std::vector<double>*>> inputs_;  // [example][input index]
};

}  // namespace

KernelValues evaluateKernels(const passes::KernelProgram& program, const std::vector<ExampleInputs>& examples,
                             const std::vector<passes::KernelEntry>& wanted, const KernelEvalOptions& options) {
  PreparedProgram prepared(program, examples, options.order);
  const size_t P = examples.size(), S = prepared.slots();
  KernelValues result;
  for (size_t w = 0; w < wanted.size(); ++w) result.kernels.push_back({P, std::vector<double>(P * P, 0.0)});
  if (P == 0) return result;

  // Diagonal pairs, one at a time (each needs its own earlier slots as variances).
  std::vector<double> diag(P * S);
  PreparedProgram::Scratch scratch = prepared.scratch();
  for (size_t p = 0; p < P; ++p)
    prepared.run(&p, &p, 1, &diag[p * S], 1, diag.data(), true, &result.quadratureError, scratch);
  for (size_t w = 0; w < wanted.size(); ++w)
    if (wanted[w].ab >= 0)
      for (size_t p = 0; p < P; ++p) result.kernels[w].entries[p * P + p] = diag[p * S + static_cast<size_t>(wanted[w].ab)];

  // Off-diagonal pairs q < p, numbered p(p−1)/2 + q, in tiles.
  const size_t pairs = P * (P - 1) / 2, tile = std::max<size_t>(1, options.tile);
  const size_t tiles = (pairs + tile - 1) / tile;
  parallelFor(options.threads, tiles, [&](size_t begin, size_t end) {
    std::vector<double> buf(S * tile);
    PreparedProgram::Scratch scratch = prepared.scratch();
    std::vector<size_t> ps(tile), qs(tile);
    for (size_t t = begin; t < end; ++t) {
      size_t first = t * tile, count = std::min(tile, pairs - first);
      // Decode the first pair, then walk the triangle.
      size_t p = static_cast<size_t>((1 + std::sqrt(1.0 + 8.0 * static_cast<double>(first))) / 2);
      while (p * (p - 1) / 2 > first) --p;
      while ((p + 1) * p / 2 <= first) ++p;
      size_t q = first - p * (p - 1) / 2;
      for (size_t j = 0; j < count; ++j) {
        ps[j] = p;
        qs[j] = q;
        if (++q == p) {
          ++p;
          q = 0;
        }
      }
      prepared.run(ps.data(), qs.data(), count, buf.data(), tile, diag.data(), false, nullptr, scratch);
      for (size_t w = 0; w < wanted.size(); ++w) {
        double* k = result.kernels[w].entries.data();
        if (wanted[w].ab >= 0)
          for (size_t j = 0; j < count; ++j) k[ps[j] * P + qs[j]] = buf[static_cast<size_t>(wanted[w].ab) * tile + j];
        if (wanted[w].ba >= 0)
          for (size_t j = 0; j < count; ++j) k[qs[j] * P + ps[j]] = buf[static_cast<size_t>(wanted[w].ba) * tile + j];
      }
    }
  });
  return result;
}

}  // namespace tp
