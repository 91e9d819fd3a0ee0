// Evaluation of IR programs at a finite width n, with real Gaussian weights.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"

namespace tp {

/// A value at finite width. Vectors and scalars hold their coordinates;
/// params that are matrices are dense (row-major); matrix-valued update
/// expressions stay a sum of rank-one terms `coef · u vᵀ` and are never formed.
struct Tensor {
  enum class Kind { Vector, Dense, Terms };
  struct Term {
    double coef;
    std::shared_ptr<const std::vector<double>> u, v;
  };
  Kind kind = Kind::Vector;
  std::shared_ptr<std::vector<double>> data;  // Vector: coordinates; Dense: rows × cols
  size_t rows = 0, cols = 0;
  std::vector<Term> terms;

  static Tensor vector(std::vector<double> values);
  size_t size() const { return data ? data->size() : 0; }
  const std::vector<double>& values() const { return *data; }
};

/// How one param is scaled at width n: initial entries N(0, initStd²) (zero
/// when zeroInit), and `Update(P, E)` applies `P − updateScale · E`.
struct ParamScaling {
  double initStd = 0;
  double updateScale = 0;
  bool zeroInit = false;
};

/// Everything a finite-width evaluation needs besides the program.
struct FiniteWidthSetup {
  int width = 0;
  int threads = 1;
  std::map<std::string, double> hypers;
  std::map<std::string, ParamScaling> scaling;
  /// The value of an `Input` op (unrolled: of its split and example).
  std::function<std::vector<double>(const ir::Value&)> input;
};

/// Draws the initial params of one seed. Each row has its own random stream
/// keyed by (seed, param index, row), so results do not depend on threads.
std::map<std::string, Tensor> sampleParams(const ir::Program& program, const FiniteWidthSetup& setup, uint64_t seed);

/// Called with each result of an unrolled program and its coordinates.
using ResultSink = std::function<void(const ir::Result&, const std::vector<double>&)>;

/// Runs `program` from the given params (consumed: matrices are updated in
/// place). Values are freed after their last use unless `keepAll`; the
/// returned vector holds the kept values (empty Tensors for freed ones).
std::vector<Tensor> interpret(const ir::Program& program, const FiniteWidthSetup& setup,
                              std::map<std::string, Tensor> params, const ResultSink& sink, bool keepAll = false);

/// The dense n-dimensional entry (i, j) of a matrix-valued tensor (tests).
double matrixEntry(const Tensor& t, size_t i, size_t j);

}  // namespace tp
