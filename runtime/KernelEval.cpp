// The kernel-program evaluator: diagonal pairs first, then tiles of the lower triangle on a thread pool.
#include "runtime/KernelEval.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <tuple>

#include "compiler/ir/Diagnostics.h"
#include "runtime/GaussianExpectation.h"
#include "runtime/Memory.h"
#include "runtime/ThreadPool.h"

namespace tp {

using passes::KernelInstr;

/// Per-thread buffers of one run: the geometry of each group of expectations.
struct KernelScratch {
  std::vector<PairGeometry> geometry;
};

/// The program with names resolved: input indices, prepared expectations.
class PreparedKernelProgram {
public:
  /// `offDiagonal`: the slots that off-diagonal runs need (the others run on the diagonal only).
  PreparedKernelProgram(const passes::KernelProgram& program, const std::vector<ExampleInputs>& examples, int order,
                  const std::vector<bool>& offDiagonal)
      : program_(program), order_(order), offDiagonal_(offDiagonal) {
    std::map<std::string, size_t> inputIndex;
    std::map<std::tuple<int, int, int>, int> groups;
    std::set<int> computedOffDiagonal;
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
      computesGeometryOffDiagonal_.push_back(group >= 0 && offDiagonal_[geometry_.size() - 1] &&
                                             computedOffDiagonal.insert(group).second);
    }
    geometries_ = groups.size();
    examples_ = examples.size();
    inputs_.resize(inputIndex.size());
    for (const auto& [name, i] : inputIndex) {
      InputTable& table = inputs_[i];
      for (size_t e = 0; e < examples.size(); ++e) {
        auto it = examples[e].find(name);
        if (it == examples[e].end()) throw InternalError("kernel evaluation: example lacks input '" + name + "'");
        if (e == 0) {
          table.dim = it->second.size();
          table.values.resize(table.dim * examples.size());
        }
        if (it->second.size() != table.dim)
          throw InternalError("kernel evaluation: input '" + name + "' has different sizes across examples");
        for (size_t k = 0; k < table.dim; ++k) table.values[k * examples.size() + e] = it->second[k];
      }
    }
    for (size_t i = 0; i < program.size(); ++i)
      if (program[i].kind == KernelInstr::Kind::InputDot && inputs_[inputA_[i]].dim != inputs_[inputB_[i]].dim)
        throw InternalError("kernel evaluation: a dot product of inputs of different sizes");
  }

  size_t slots() const { return program_.size(); }

  KernelScratch scratch() const {
    KernelScratch s;
    s.geometry.resize(geometries_);
    return s;
  }

  bool computes(size_t slot, bool diagonalRun) const { return diagonalRun || offDiagonal_[slot]; }

  /// Evaluates every slot for `count` pairs (ps[j], qs[j]) into buf[slot·stride + j].
  /// `diag` holds the diagonal slots of every example, slot-major (slot i of
  /// example e at diag[i·P + e]); when `diagonalRun`, the pairs are (p, p) and
  /// their own slots are the diagonal (`diag` is not read).
  /// An invalid variance or covariance means the kernel itself overflowed or lost definiteness.
  void run(const size_t* ps, const size_t* qs, size_t count, double* buf, size_t stride, const double* diag,
           bool diagonalRun, double* quadratureError, KernelScratch& scratch) const {
    try {
      for (size_t i = 0; i < slots(); ++i)
        if (computes(i, diagonalRun)) runSlot(i, ps, qs, count, buf, stride, diag, diagonalRun, quadratureError, scratch);
    } catch (const std::invalid_argument& e) {
      throw brokeDown(e);
    }
  }

  static KernelBreakdown brokeDown(const std::invalid_argument& e) {
    return KernelBreakdown(std::string("the kernel recursion broke down (a variance overflowed or is not finite): ") +
                     e.what());
  }

  /// Slot i of `run` (throws std::invalid_argument for an invalid variance or covariance).
  void runSlot(size_t i, const size_t* ps, const size_t* qs, size_t count, double* buf, size_t stride,
               const double* diag, bool diagonalRun, double* quadratureError, KernelScratch& scratch) const {
    auto diagOf = [&](size_t example, int slot, size_t j) {
      return diagonalRun ? buf[static_cast<size_t>(slot) * stride + j] : diag[static_cast<size_t>(slot) * examples_ + example];
    };
    {
      const KernelInstr& ins = program_[i];
      double* out = buf + i * stride;
      switch (ins.kind) {
        case KernelInstr::Kind::Const:
          for (size_t j = 0; j < count; ++j) out[j] = ins.value;
          break;
        case KernelInstr::Kind::InputDot: {
          // Across the pairs, coordinate by coordinate (the same additions, in the same order, as
          // one dot product per pair), reading coordinate-major tables.
          const InputTable& x = inputs_[inputA_[i]];
          const InputTable& y = inputs_[inputB_[i]];
          std::fill(out, out + count, 0.0);
          for (size_t k = 0; k < x.dim; ++k) {
            const double* a = &x.values[k * examples_];
            const double* b = &y.values[k * examples_];
            for (size_t j = 0; j < count; ++j) out[j] += a[ps[j]] * b[qs[j]];
          }
          for (size_t j = 0; j < count; ++j) out[j] *= ins.value;
          break;
        }
        case KernelInstr::Kind::Sum:
          std::fill(out, out + count, 0.0);
          for (const KernelInstr::Product& t : ins.terms) {
            const double* x = t.x < 0 ? nullptr : buf + static_cast<size_t>(t.x) * stride;
            const double* y = t.y < 0 ? nullptr : buf + static_cast<size_t>(t.y) * stride;
            if (x && y)
              for (size_t j = 0; j < count; ++j) out[j] += t.coef * x[j] * y[j];
            else if (const double* z = x ? x : y)
              for (size_t j = 0; j < count; ++j) out[j] += t.coef * z[j];
            else
              for (size_t j = 0; j < count; ++j) out[j] += t.coef;
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
          if (diagonalRun ? computesGeometry_[i] : computesGeometryOffDiagonal_[i]) {
            g.varU.resize(count);
            g.varV.resize(count);
            if (diagonalRun)
              for (size_t j = 0; j < count; ++j) {
                g.varU[j] = buf[static_cast<size_t>(ins.varA) * stride + j];
                g.varV[j] = buf[static_cast<size_t>(ins.varB) * stride + j];
              }
            else {
              const double* diagA = diag + static_cast<size_t>(ins.varA) * examples_;
              const double* diagB = diag + static_cast<size_t>(ins.varB) * examples_;
              for (size_t j = 0; j < count; ++j) {
                g.varU[j] = diagA[ps[j]];
                g.varV[j] = diagB[qs[j]];
              }
            }
            g.computeFromVariances(cov, count);
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

private:
  const passes::KernelProgram& program_;
  int order_;
  std::vector<size_t> inputA_, inputB_;
  std::vector<std::unique_ptr<PreparedPair>> pairs_;
  std::vector<int> geometry_;           // Expect2: its geometry group
  std::vector<bool> offDiagonal_;
  std::vector<bool> computesGeometry_;             // the first Expect2 of its group
  std::vector<bool> computesGeometryOffDiagonal_;  // the first one that off-diagonal runs evaluate
  size_t geometries_ = 0;
  /// One input of every example, coordinate-major: coordinate k of example e at values[k·P + e].
  struct InputTable {
    size_t dim = 0;
    std::vector<double> values;
  };
  std::vector<InputTable> inputs_;  // by input index
  size_t examples_ = 0;             // P
};

bool evaluateKernelSlot(KernelTile& tile, int slot) noexcept {
  try {
    try {
      tile.program->runSlot(static_cast<size_t>(slot), tile.ps, tile.qs, tile.count, tile.buf, tile.stride, tile.diag,
                            false, nullptr, *tile.scratch);
    } catch (const std::invalid_argument& e) {
      throw PreparedKernelProgram::brokeDown(e);
    }
  } catch (...) {
    tile.error = std::current_exception();
    return false;
  }
  return true;
}

std::vector<bool> offDiagonalSlots(const passes::KernelProgram& program, const std::vector<passes::KernelEntry>& wanted) {
  std::vector<bool> needed(program.size(), false);
  auto need = [&](int slot) {
    if (slot >= 0) needed[static_cast<size_t>(slot)] = true;
  };
  for (const passes::KernelEntry& e : wanted) {
    need(e.ab);
    need(e.ba);
  }
  for (size_t i = program.size(); i-- > 0;) {
    if (!needed[i]) continue;
    const KernelInstr& ins = program[i];
    if (ins.kind == KernelInstr::Kind::Sum)
      for (const KernelInstr::Product& t : ins.terms) {
        need(t.x);
        need(t.y);
      }
    if (ins.kind == KernelInstr::Kind::Expect2) need(ins.cov);
  }
  return needed;
}

namespace {

/// m[q][p] = t[p][q] for q < p, in blocks that stay in cache, bands of rows split over threads.
void mirrorLowerTriangle(const std::vector<double>& t, std::vector<double>& m, size_t P, int threads) {
  constexpr size_t kBlock = 64;
  parallelFor(threads, (P + kBlock - 1) / kBlock, [&](size_t begin, size_t end) {
    for (size_t p0 = begin * kBlock; p0 < std::min(P, end * kBlock); p0 += kBlock)
      for (size_t q0 = 0; q0 <= p0; q0 += kBlock)
        for (size_t p = p0; p < std::min(P, p0 + kBlock); ++p)
          for (size_t q = q0; q < std::min(p, q0 + kBlock); ++q) m[q * P + p] = t[p * P + q];
  });
}

}  // namespace

KernelValues evaluateKernels(const passes::KernelProgram& program, const std::vector<ExampleInputs>& examples,
                             const std::vector<passes::KernelEntry>& wanted, const KernelEvalOptions& options) {
  std::vector<bool> offDiagonal = offDiagonalSlots(program, wanted);
  if (options.compiled && options.compiled->slots != offDiagonal)
    throw InternalError("kernel evaluation: the compiled tiles compute other slots than these kernels need");
  PreparedKernelProgram prepared(program, examples, options.order, offDiagonal);
  const size_t P = examples.size(), S = prepared.slots();
  KernelValues result;
  result.kernels.resize(wanted.size());
  parallelFor(options.threads, wanted.size(), [&](size_t begin, size_t end) {  // the first touch of memory is costly
    for (size_t w = begin; w < end; ++w) result.kernels[w] = {P, hugePageZeros(P * P)};
  });
  if (P == 0) return result;

  // 1. Diagonal pairs, one at a time (each needs its own earlier slots as variances).
  std::vector<double> diag(P * S);
  KernelScratch scratch = prepared.scratch();
  for (size_t p = 0; p < P; ++p)
    prepared.run(&p, &p, 1, &diag[p * S], 1, diag.data(), true, &result.quadratureError, scratch);
  for (size_t w = 0; w < wanted.size(); ++w)
    if (wanted[w].ab >= 0)
      for (size_t p = 0; p < P; ++p) result.kernels[w].entries[p * P + p] = diag[p * S + static_cast<size_t>(wanted[w].ab)];
  std::vector<double> diagBySlot(S * P);  // slot-major, so that a tile's variances are gathered from one row
  for (size_t p = 0; p < P; ++p)
    for (size_t i = 0; i < S; ++i) diagBySlot[i * P + p] = diag[p * S + i];

  // 2. Off-diagonal pairs q < p, numbered p(p−1)/2 + q, in tiles. K(A, B) goes to the lower
  //    triangle; K(B, A), when it is its own slot, to the lower triangle of a transposed matrix.
  std::vector<std::vector<double>> transposed(wanted.size());
  for (size_t w = 0; w < wanted.size(); ++w)
    if (wanted[w].ba >= 0 && wanted[w].ba != wanted[w].ab) transposed[w] = hugePageZeros(P * P);
  // A compiled backend reads rows in vectors of `lanes`: the stride is rounded up to them.
  const size_t lanes = options.compiled ? std::max<size_t>(1, options.compiled->lanes) : 1;
  const size_t pairs = P * (P - 1) / 2, tile = (std::max<size_t>(1, options.tile) + lanes - 1) / lanes * lanes;
  const size_t tiles = (pairs + tile - 1) / tile;
  parallelFor(options.threads, tiles, [&](size_t begin, size_t end) {
    std::vector<double> buf(S * tile);
    KernelScratch scratch = prepared.scratch();
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
      if (options.compiled) {
        KernelTile run{buf.data(), count, tile, ps.data(), qs.data(), diagBySlot.data(), &prepared, &scratch, nullptr};
        if (!options.compiled->run(run)) std::rethrow_exception(run.error);
      } else {
        prepared.run(ps.data(), qs.data(), count, buf.data(), tile, diagBySlot.data(), false, nullptr, scratch);
      }
      for (size_t w = 0; w < wanted.size(); ++w) {
        if (wanted[w].ab >= 0) {
          double* k = result.kernels[w].entries.data();
          const double* v = &buf[static_cast<size_t>(wanted[w].ab) * tile];
          for (size_t j = 0; j < count; ++j) k[ps[j] * P + qs[j]] = v[j];
        }
        if (!transposed[w].empty()) {
          const double* v = &buf[static_cast<size_t>(wanted[w].ba) * tile];
          for (size_t j = 0; j < count; ++j) transposed[w][ps[j] * P + qs[j]] = v[j];
        }
      }
    }
  });

  // 3. The upper triangles: K(q, p) for q < p, from the symmetric kernel itself or from K(B, A).
  for (size_t w = 0; w < wanted.size(); ++w) {
    if (wanted[w].ba < 0) continue;
    std::vector<double>& k = result.kernels[w].entries;
    mirrorLowerTriangle(transposed[w].empty() ? k : transposed[w], k, P, options.threads);
  }
  return result;
}

}  // namespace tp
