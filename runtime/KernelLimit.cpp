// Kernel-regime training dynamics: exact Gaussian propagation, or sampled initial outputs.
#include "runtime/KernelLimit.h"

#include <cmath>

#include "compiler/ir/Diagnostics.h"
#include "runtime/Quadrature.h"
#include "runtime/Random.h"

namespace tp {

using ir::Op;
using ir::ValueId;

std::vector<passes::KernelEntry> kernelEntries(const passes::KernelDerivation& d) {
  std::vector<passes::KernelEntry> wanted;
  for (const auto& row : d.nngp) wanted.insert(wanted.end(), row.begin(), row.end());
  for (const auto& row : d.ntk) wanted.insert(wanted.end(), row.begin(), row.end());
  return wanted;
}

KernelMatrices kernelMatrices(const passes::KernelDerivation& d, const std::vector<ExampleInputs>& examples,
                              const KernelEvalOptions& options) {
  KernelValues v = evaluateKernels(d.program, examples, kernelEntries(d), options);
  KernelMatrices m;
  m.quadratureError = v.quadratureError;
  size_t next = 0;
  for (const auto& row : d.nngp) {
    m.nngp.emplace_back();
    for (size_t i = 0; i < row.size(); ++i) m.nngp.back().push_back(std::move(v.kernels[next++]));
  }
  for (const auto& row : d.ntk) {
    m.ntk.emplace_back();
    for (size_t i = 0; i < row.size(); ++i) m.ntk.back().push_back(std::move(v.kernels[next++]));
  }
  return m;
}

std::map<std::string, std::vector<std::vector<double>>> nngpKernels(const ir::Program& differentiated,
                                                                   const ir::Parametrization& pz,
                                                                   const std::vector<ExampleInputs>& examples,
                                                                   int order) {
  passes::KernelDerivation d = passes::deriveKernels(differentiated, pz);
  if (d.nngpDiverges) throw UserError("the NNGP diverges: " + d.why);
  KernelEvalOptions o;
  o.order = order;
  KernelMatrices m = kernelMatrices(d, examples, o);
  size_t P = examples.size();
  std::vector<std::vector<double>> k(P, std::vector<double>(P));
  for (size_t p = 0; p < P; ++p)
    for (size_t q = 0; q < P; ++q) k[p][q] = m.nngp[0][0].at(p, q);
  return {{d.output, k}};
}

namespace {

/// The program's finite tail — the seed (loss gradient) and the loss as
/// functions of the output, inputs, targets and hypers — run by the interpreter
/// with the output read as an input.
class FiniteTail {
public:
  FiniteTail(const ir::Program& p, const passes::KernelDerivation& d) : output_(p.names.at(d.output)) {
    std::vector<ValueId> roots;
    if (d.seed != ir::kNoValue) roots.push_back(d.seed);
    if (p.loss != ir::kNoValue) roots.push_back(p.loss);
    ir::Program q = p;
    q.values[static_cast<size_t>(output_)].op = Op::Input;
    q.values[static_cast<size_t>(output_)].name = kOutputInput;
    q.values[static_cast<size_t>(output_)].operands.clear();
    std::vector<bool> keep = ir::liveValues(q, roots);
    for (size_t i = 0; i < keep.size(); ++i)
      if (keep[i] && (q.values[i].type.isWidth() || q.values[i].type.isMatrix())) {
        const ir::Value& v = q.values[i];
        throw UserError(p.file + ":" + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col) +
                        ": the kernel limit needs the loss and its gradient to depend on the width only through the output");
      }
    q.names.clear();
    q.updates.clear();
    q.outputs.clear();
    std::vector<ValueId> ids(q.values.size(), ir::kNoValue);
    ValueId next = 0;
    for (size_t i = 0; i < keep.size(); ++i)
      if (keep[i]) ids[i] = next++;
    seed_ = d.seed == ir::kNoValue ? ir::kNoValue : ids[static_cast<size_t>(d.seed)];
    loss_ = p.loss == ir::kNoValue ? ir::kNoValue : ids[static_cast<size_t>(p.loss)];
    q.loss = ir::kNoValue;
    tail_ = ir::compact(q, keep);
    for (const auto& h : p.hypers) setup_.hypers[h.name] = h.value;
  }

  /// The seed s and the loss at output f for one example.
  std::pair<std::vector<double>, double> operator()(const std::vector<double>& f, const ExampleInputs& example) const {
    FiniteWidthSetup setup = setup_;
    setup.width = 1;
    setup.input = [&](const ir::Value& v) { return v.name == kOutputInput ? f : example.at(v.name); };
    std::vector<Tensor> vals = interpret(tail_, setup, {}, [](const ir::Result&, const std::vector<double>&) {}, true);
    std::vector<double> s = seed_ == ir::kNoValue ? std::vector<double>{} : vals[static_cast<size_t>(seed_)].values();
    double loss = loss_ == ir::kNoValue ? 0.0 : vals[static_cast<size_t>(loss_)].values()[0];
    return {s, loss};
  }

private:
  static constexpr const char* kOutputInput = "(output)";
  ValueId output_;
  ValueId seed_ = ir::kNoValue, loss_ = ir::kNoValue;
  ir::Program tail_;
  FiniteWidthSetup setup_;
};

/// Dense row-major matrices of the dynamics (rows: (example, coordinate)).
using Matrix = std::vector<std::vector<double>>;

/// Lower Cholesky factor of a positive semi-definite matrix; a pivot below
/// kCholeskyTolerance of the largest diagonal entry is a zero direction (its column is 0,
/// counted in `dropped`): a singular or slightly indefinite covariance gets a factor of
/// its positive part instead of a NaN.
Matrix cholesky(const Matrix& a, int* dropped = nullptr) {
  size_t n = a.size();
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, a[i][i]);
  Matrix l(n, std::vector<double>(n, 0.0));
  for (size_t j = 0; j < n; ++j) {
    double d = a[j][j];
    for (size_t k = 0; k < j; ++k) d -= l[j][k] * l[j][k];
    if (d <= kCholeskyTolerance * scale) {
      if (dropped) ++*dropped;
      continue;
    }
    l[j][j] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i][j];
      for (size_t k = 0; k < j; ++k) s -= l[i][k] * l[j][k];
      l[i][j] = s / l[j][j];
    }
  }
  return l;
}

class Dynamics {
public:
  Dynamics(const ir::Program& program, const passes::KernelDerivation& d, const Dataset& data,
           const passes::Schedule& schedule, const KernelLimitOptions& options)
      : d_(d), schedule_(schedule), options_(options), tail_(program, d), k_(d.outputSize) {
    for (size_t e = 0; e < data.train.count; ++e) examples_.push_back(example(data.train, e));
    for (size_t e = 0; e < data.eval.count; ++e) examples_.push_back(example(data.eval, e));
    trainCount_ = data.train.count;
    kernels_ = kernelMatrices(d, examples_, options.eval);
    rows_ = examples_.size() * static_cast<size_t>(k_);
  }

  KernelLimitResult run() {
    KernelLimitResult r;
    r.quadratureError = kernels_.quadratureError;
    r.evalKernels = evalBlock();
    Matrix sigma = nngpMatrix();
    bool random = false;
    for (size_t i = 0; i < rows_; ++i) random = random || sigma[i][i] > 0;
    if (affineSeed()) {
      r.method = "exact";
      exact(sigma, r);
    } else if (!random) {
      r.method = "deterministic";
      sampled({std::vector<double>(rows_, 0.0)}, r);
    } else {
      r.method = "montecarlo";
      r.samples = options_.samples;
      Matrix l = cholesky(sigma, &r.droppedDirections);
      Rng rng(streamSeed(options_.seed, 0x6b65726e656cULL));
      std::vector<std::vector<double>> draws;
      for (int s = 0; s < options_.samples; ++s) {
        std::vector<double> z(rows_), f(rows_, 0.0);
        for (double& x : z) x = rng.normal();
        for (size_t i = 0; i < rows_; ++i)
          for (size_t j = 0; j <= i; ++j) f[i] += l[i][j] * z[j];
        draws.push_back(std::move(f));
      }
      sampled(draws, r);
    }
    return r;
  }

private:
  static ExampleInputs example(const DataSplit& split, size_t e) {
    ExampleInputs in;
    for (const auto& [name, column] : split.columns) in[name] = column[e];
    return in;
  }

  size_t row(size_t example, int k) const { return example * static_cast<size_t>(k_) + static_cast<size_t>(k); }

  Matrix nngpMatrix() const {
    Matrix s(rows_, std::vector<double>(rows_, 0.0));
    size_t P = examples_.size();
    for (int k = 0; k < k_; ++k)
      for (int l = 0; l < k_; ++l)
        for (size_t p = 0; p < P; ++p)
          for (size_t q = 0; q < P; ++q) s[row(p, k)][row(q, l)] = kernels_.nngp[size_t(k)][size_t(l)].at(p, q);
    return s;
  }

  KernelMatrices evalBlock() const {
    size_t P = examples_.size(), E = P - trainCount_;
    auto block = [&](const KernelMatrix& m) {
      KernelMatrix out{E, std::vector<double>(E * E)};
      for (size_t p = 0; p < E; ++p)
        for (size_t q = 0; q < E; ++q) out.entries[p * E + q] = m.at(trainCount_ + p, trainCount_ + q);
      return out;
    };
    KernelMatrices m;
    for (const auto& rowK : kernels_.nngp) {
      m.nngp.emplace_back();
      for (const auto& x : rowK) m.nngp.back().push_back(block(x));
    }
    for (const auto& rowK : kernels_.ntk) {
      m.ntk.emplace_back();
      for (const auto& x : rowK) m.ntk.back().push_back(block(x));
    }
    return m;
  }

  std::vector<size_t> batch(int t) const {
    size_t b = schedule_.batch > 0 ? static_cast<size_t>(schedule_.batch) : trainCount_;
    std::vector<size_t> out;
    for (size_t j = 0; j < b; ++j) out.push_back((static_cast<size_t>(t) * b + j) % trainCount_);
    return out;
  }

  std::vector<double> outputAt(const std::vector<double>& f, size_t example) const {
    return std::vector<double>(f.begin() + static_cast<long>(row(example, 0)),
                               f.begin() + static_cast<long>(row(example, 0) + static_cast<size_t>(k_)));
  }

  /// Whether s(f) = s(0) + J f exactly (to rounding) on every training example: checked at
  /// f = 0, the unit vectors and two further points.
  bool affineSeed() {
    if (d_.seed == ir::kNoValue) return true;
    jacobian_.assign(trainCount_, {});
    offset_.assign(trainCount_, {});
    for (size_t e = 0; e < trainCount_; ++e) {
      std::vector<double> zero(static_cast<size_t>(k_), 0.0);
      std::vector<double> s0 = tail_(zero, examples_[e]).first;
      Matrix j(s0.size(), std::vector<double>(static_cast<size_t>(k_)));
      for (int k = 0; k < k_; ++k) {
        std::vector<double> unit = zero;
        unit[static_cast<size_t>(k)] = 1;
        std::vector<double> s = tail_(unit, examples_[e]).first;
        for (size_t r = 0; r < s.size(); ++r) j[r][static_cast<size_t>(k)] = s[r] - s0[r];
      }
      for (double probe : {2.75, -13.5}) {
        std::vector<double> f(static_cast<size_t>(k_));
        for (int k = 0; k < k_; ++k) f[static_cast<size_t>(k)] = probe * (1 + 0.37 * k);
        std::vector<double> s = tail_(f, examples_[e]).first;
        for (size_t r = 0; r < s.size(); ++r) {
          double want = s0[r];
          for (int k = 0; k < k_; ++k) want += j[r][static_cast<size_t>(k)] * f[static_cast<size_t>(k)];
          if (!(std::fabs(s[r] - want) <= 1e-9 * (1 + std::fabs(want)))) return false;
        }
      }
      jacobian_[e] = j;
      offset_[e] = s0;
    }
    return true;
  }

  /// Δ = −(1/|B|) Σ_b K(·, b) s_b for seed values s_b (one per batch example).
  std::vector<double> kernelStep(const std::vector<size_t>& b, const std::vector<std::vector<double>>& s) const {
    std::vector<double> delta(rows_, 0.0);
    if (kernels_.ntk.empty()) return delta;
    size_t P = examples_.size();
    double w = 1.0 / static_cast<double>(b.size());
    for (size_t i = 0; i < b.size(); ++i)
      for (int k = 0; k < k_; ++k)
        for (size_t r = 0; r < s[i].size(); ++r) {
          const KernelMatrix& m = kernels_.ntk[size_t(k)][r];
          for (size_t p = 0; p < P; ++p) delta[row(p, k)] -= w * m.at(p, b[i]) * s[i][r];
        }
    return delta;
  }

  /// f_t = M f_0 + m with f_0 ~ N(0, Σ): exact means and variances; the loss
  /// expectation by Gauss–Hermite over each example's k-dimensional marginal.
  void exact(const Matrix& sigma, KernelLimitResult& r) {
    std::vector<double> m(rows_, 0.0);
    Matrix M(rows_, std::vector<double>(rows_, 0.0));
    for (size_t i = 0; i < rows_; ++i) M[i][i] = 1;
    for (int t = 0;; ++t) {
      Matrix cov = covariance(M, sigma);
      r.steps.push_back(summary(t, m, cov));
      if (t == schedule_.steps || d_.seed == ir::kNoValue) {
        if (t < schedule_.steps) {  // nothing trains: the limit is constant
          for (int u = t + 1; u <= schedule_.steps; ++u) {
            r.steps.push_back(r.steps.back());
            r.steps.back().t = u;
          }
        }
        break;
      }
      std::vector<size_t> b = batch(t);
      // s_b = J_b f(b) + s0_b: the mean part, then each column of M.
      std::vector<std::vector<double>> sMean;
      for (size_t e : b) sMean.push_back(affineSeedAt(e, outputAt(m, e), true));
      std::vector<double> dm = kernelStep(b, sMean);
      Matrix newM = M;
      for (size_t c = 0; c < rows_; ++c) {
        std::vector<double> col(rows_);
        for (size_t i = 0; i < rows_; ++i) col[i] = M[i][c];
        std::vector<std::vector<double>> s;
        for (size_t e : b) s.push_back(affineSeedAt(e, outputAt(col, e), false));
        std::vector<double> dc = kernelStep(b, s);
        for (size_t i = 0; i < rows_; ++i) newM[i][c] += dc[i];
      }
      for (size_t i = 0; i < rows_; ++i) m[i] += dm[i];
      M = std::move(newM);
    }
  }

  std::vector<double> affineSeedAt(size_t e, const std::vector<double>& f, bool withOffset) const {
    const Matrix& j = jacobian_[e];
    std::vector<double> s = withOffset ? offset_[e] : std::vector<double>(j.size(), 0.0);
    for (size_t r = 0; r < j.size(); ++r)
      for (int k = 0; k < k_; ++k) s[r] += j[r][static_cast<size_t>(k)] * f[static_cast<size_t>(k)];
    return s;
  }

  /// M Σ Mᵀ.
  Matrix covariance(const Matrix& M, const Matrix& sigma) const {
    Matrix ms(rows_, std::vector<double>(rows_, 0.0)), c(rows_, std::vector<double>(rows_, 0.0));
    for (size_t i = 0; i < rows_; ++i)
      for (size_t k = 0; k < rows_; ++k)
        if (M[i][k] != 0)
          for (size_t j = 0; j < rows_; ++j) ms[i][j] += M[i][k] * sigma[k][j];
    for (size_t i = 0; i < rows_; ++i)
      for (size_t j = 0; j < rows_; ++j)
        for (size_t k = 0; k < rows_; ++k) c[i][j] += ms[i][k] * M[j][k];
    return c;
  }

  /// E[loss(f)] for f ~ N(mean, cov) (k-dimensional): tensor Gauss–Hermite on
  /// the Cholesky factor, 32 points for k = 1, fewer in more dimensions
  /// (exact for a loss polynomial of degree < 2·points in each direction).
  double expectedLoss(size_t e, const std::vector<double>& mean, const Matrix& cov) const {
    size_t k = mean.size();
    int points = k == 1 ? 32 : k == 2 ? 24 : k == 3 ? 12 : 6;
    const GaussHermiteRule& rule = gaussHermite(points);
    Matrix l = cholesky(cov);
    double total = 0;
    std::vector<size_t> idx(k, 0);
    for (;;) {
      double w = 1;
      std::vector<double> f = mean;
      for (size_t i = 0; i < k; ++i) {
        w *= rule.weights[idx[i]];
        for (size_t j = 0; j <= i; ++j) f[i] += l[i][j] * rule.nodes[idx[j]];
      }
      if (w != 0) total += w * tail_(f, examples_[e]).second;
      size_t i = 0;
      while (i < k && ++idx[i] == rule.nodes.size()) idx[i++] = 0;
      if (i == k) break;
    }
    return total;
  }

  StepSummary summary(int t, const std::vector<double>& m, const Matrix& cov) const {
    StepSummary s;
    s.t = t;
    size_t E = examples_.size() - trainCount_;
    auto& out = s.outputs[d_.output];
    for (size_t e = 0; e < E; ++e) {
      Summary x;
      for (int k = 0; k < k_; ++k) {
        size_t i = row(trainCount_ + e, k);
        x.mean.push_back(m[i]);
        x.variance.push_back(std::max(cov[i][i], 0.0));
        x.stderror.push_back(0.0);
      }
      out.push_back(x);
    }
    std::vector<size_t> b = batch(t);
    double loss = 0;
    for (size_t e : b) {
      Matrix c(static_cast<size_t>(k_), std::vector<double>(static_cast<size_t>(k_)));
      for (int k = 0; k < k_; ++k)
        for (int l = 0; l < k_; ++l) c[size_t(k)][size_t(l)] = cov[row(e, k)][row(e, l)];
      loss += expectedLoss(e, outputAt(m, e), c);
    }
    s.loss = {{loss / static_cast<double>(b.size())}, {0.0}, {0.0}};
    return s;
  }

  /// Each draw of f_0 trained by the kernel dynamics; summaries over draws.
  void sampled(std::vector<std::vector<double>> fs, KernelLimitResult& r) {
    for (int t = 0; t <= schedule_.steps; ++t) {
      std::vector<size_t> b = batch(t);
      std::vector<double> losses;
      std::vector<std::vector<double>> next;
      for (auto& f : fs) {
        std::vector<std::vector<double>> seeds;
        double loss = 0;
        for (size_t e : b) {
          auto [s, l] = tail_(outputAt(f, e), examples_[e]);
          seeds.push_back(s);
          loss += l;
        }
        losses.push_back(loss / static_cast<double>(b.size()));
        if (t < schedule_.steps && d_.seed != ir::kNoValue) {
          std::vector<double> delta = kernelStep(b, seeds);
          std::vector<double> g = f;
          for (size_t i = 0; i < rows_; ++i) g[i] += delta[i];
          next.push_back(std::move(g));
        }
      }
      StepSummary s;
      s.t = t;
      s.loss = summarise(losses);
      size_t E = examples_.size() - trainCount_;
      for (size_t e = 0; e < E; ++e) {
        Summary x;
        for (int k = 0; k < k_; ++k) {
          std::vector<double> v;
          for (const auto& f : fs) v.push_back(f[row(trainCount_ + e, k)]);
          Summary one = summarise(v);
          x.mean.push_back(one.mean[0]);
          x.variance.push_back(one.variance[0]);
          x.stderror.push_back(one.stderror[0]);
        }
        s.outputs[d_.output].push_back(x);
      }
      r.steps.push_back(s);
      if (!next.empty()) fs = std::move(next);
    }
  }

  static Summary summarise(const std::vector<double>& v) {
    double n = static_cast<double>(v.size()), mean = 0, var = 0;
    for (double x : v) mean += x / n;
    for (double x : v) var += (x - mean) * (x - mean);
    var = v.size() > 1 ? var / (n - 1) : 0.0;
    return {{mean}, {var}, {std::sqrt(var / n)}};
  }

  const passes::KernelDerivation& d_;
  const passes::Schedule& schedule_;
  KernelLimitOptions options_;
  FiniteTail tail_;
  int k_;
  std::vector<ExampleInputs> examples_;
  size_t trainCount_ = 0, rows_ = 0;
  KernelMatrices kernels_;
  std::vector<Matrix> jacobian_;                // [train example]: ∂s/∂f
  std::vector<std::vector<double>> offset_;     // [train example]: s(0)
};

}  // namespace

KernelLimitResult kernelLimit(const ir::Program& program, const passes::KernelDerivation& d, const Dataset& data,
                              const passes::Schedule& schedule, const KernelLimitOptions& options) {
  return Dynamics(program, d, data, schedule, options).run();
}

}  // namespace tp
