// The finite-width interpreter: runs IR programs with width-n vectors and dense weights.
#include "runtime/Interpreter.h"

#include <algorithm>
#include <cmath>

#include "runtime/Activation.h"
#include "runtime/Random.h"
#include "runtime/ThreadPool.h"

namespace tp {

using ir::Op;
using ir::Value;
using ir::ValueId;

Tensor Tensor::vector(std::vector<double> values) {
  Tensor t;
  t.kind = Kind::Vector;
  t.data = std::make_shared<std::vector<double>>(std::move(values));
  return t;
}

namespace {

/// Rows of a dense matrix of which each thread takes at least this many (a
/// chunk smaller than this costs more to hand out than to compute).
constexpr size_t kMinRowsPerChunk = 64;

size_t dimSize(ir::Dim d, int width) { return d.isWidth ? static_cast<size_t>(width) : static_cast<size_t>(d.size); }

size_t vectorSize(const ir::Type& t, int width) {
  return t.kind == ir::TypeKind::Width ? static_cast<size_t>(width) : t.kind == ir::TypeKind::Finite ? static_cast<size_t>(t.size) : 1;
}

class Machine {
public:
  Machine(const ir::Program& p, const FiniteWidthSetup& s) : p_(p), s_(s) {}

  std::vector<Tensor> run(std::map<std::string, Tensor> params, const ResultSink& sink, bool keepAll) {
    params_ = std::move(params);
    // 1. Last use of every value, so buffers can be freed (and params updated in place).
    std::vector<size_t> lastUse(p_.values.size(), 0);
    for (size_t i = 0; i < p_.values.size(); ++i) {
      lastUse[i] = i;
      for (ValueId op : p_.values[i].operands) lastUse[static_cast<size_t>(op)] = i;
    }
    std::vector<std::vector<const ir::Result*>> resultsAt(p_.values.size());
    for (const auto& r : p_.results) resultsAt[static_cast<size_t>(r.value)].push_back(&r);
    // 2. Execute in order.
    vals_.assign(p_.values.size(), Tensor{});
    for (size_t i = 0; i < p_.values.size(); ++i) {
      const Value& v = p_.values[i];
      bool ownsFirst = !v.operands.empty() && lastUse[static_cast<size_t>(v.operands[0])] == i &&
                       std::count(v.operands.begin(), v.operands.end(), v.operands[0]) == 1;
      vals_[i] = eval(v, ownsFirst);
      for (const ir::Result* r : resultsAt[i]) sink(*r, vals_[i].values());
      if (!keepAll)
        for (ValueId op : v.operands)
          if (lastUse[static_cast<size_t>(op)] == i) vals_[static_cast<size_t>(op)] = Tensor{};
    }
    return std::move(vals_);
  }

private:
  const Tensor& arg(const Value& v, size_t k) { return vals_[static_cast<size_t>(v.operands[k])]; }

  static double combine(Op op, double a, double b) {
    switch (op) {
      case Op::Add: return a + b;
      case Op::Sub: return a - b;
      case Op::Mul: return a * b;
      default: return a / b;
    }
  }

  Tensor elementwise(Op op, const Tensor& a, const Tensor& b) {
    size_t n = std::max(a.size(), b.size());
    std::vector<double> out(n);
    const auto& x = a.values();
    const auto& y = b.values();
    bool xs = x.size() == 1, ys = y.size() == 1;
    for (size_t i = 0; i < n; ++i) out[i] = combine(op, x[xs ? 0 : i], y[ys ? 0 : i]);
    return Tensor::vector(std::move(out));
  }

  /// Arithmetic on matrix-valued update expressions (sums of rank-one terms).
  Tensor termArithmetic(Op op, const Tensor& a, const Tensor& b) {
    Tensor out;
    out.kind = Tensor::Kind::Terms;
    if (op == Op::Add || op == Op::Sub) {
      out.terms = a.terms;
      for (auto t : b.terms) {
        if (op == Op::Sub) t.coef = -t.coef;
        out.terms.push_back(t);
      }
      return out;
    }
    const Tensor& m = a.kind == Tensor::Kind::Terms ? a : b;
    double s = (a.kind == Tensor::Kind::Terms ? b : a).values()[0];
    out.terms = m.terms;
    for (auto& t : out.terms) t.coef = op == Op::Div ? t.coef / s : t.coef * s;
    return out;
  }

  static std::shared_ptr<const std::vector<double>> shared(const Tensor& t) { return t.data; }

  Tensor matVec(const Tensor& w, const Tensor& x, bool transposed) {
    TP_ASSERT(w.kind == Tensor::Kind::Dense, "matrix product with a non-dense matrix");
    const double* W = w.data->data();
    const auto& xs = x.values();
    size_t rows = w.rows, cols = w.cols;
    if (!transposed) {
      std::vector<double> y(rows);
      parallelFor(s_.threads, rows, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
          const double* row = W + i * cols;
          double acc = 0;
          for (size_t j = 0; j < cols; ++j) acc += row[j] * xs[j];
          y[i] = acc;
        }
      }, kMinRowsPerChunk);
      return Tensor::vector(std::move(y));
    }
    std::vector<double> y(cols, 0.0);
    parallelFor(s_.threads, cols, [&](size_t begin, size_t end) {
      for (size_t i = 0; i < rows; ++i) {
        const double* row = W + i * cols;
        double xi = xs[i];
        for (size_t j = begin; j < end; ++j) y[j] += row[j] * xi;
      }
    }, kMinRowsPerChunk);
    return Tensor::vector(std::move(y));
  }

  /// P − scale · E, in place when P is not used again.
  Tensor update(const Value& v, bool ownsParam) {
    const ParamScaling& sc = s_.scaling.at(v.name);
    const Tensor& p = arg(v, 0);
    const Tensor& e = arg(v, 1);
    Tensor out = p;
    if (!ownsParam) out.data = std::make_shared<std::vector<double>>(*p.data);
    std::vector<double>& P = *out.data;
    if (p.kind == Tensor::Kind::Vector) {
      const auto& E = e.values();
      for (size_t i = 0; i < P.size(); ++i) P[i] -= sc.updateScale * E[E.size() == 1 ? 0 : i];
      return out;
    }
    size_t cols = p.cols;
    parallelFor(s_.threads, p.rows, [&](size_t begin, size_t end) {
      for (const auto& t : e.terms) {
        const double* u = t.u->data();
        const double* w = t.v->data();
        double c = sc.updateScale * t.coef;
        for (size_t i = begin; i < end; ++i) {
          double ci = c * u[t.u->size() == 1 ? 0 : i];
          double* row = P.data() + i * cols;
          for (size_t j = 0; j < cols; ++j) row[j] -= ci * w[t.v->size() == 1 ? 0 : j];
        }
      }
    }, kMinRowsPerChunk);
    return out;
  }

  Tensor eval(const Value& v, bool ownsFirst) {
    switch (v.op) {
      case Op::Const: return Tensor::vector({v.number});
      case Op::Hyper: return Tensor::vector({s_.hypers.at(v.name)});
      case Op::Width: return Tensor::vector({static_cast<double>(s_.width)});
      case Op::Input: return Tensor::vector(s_.input(v));
      case Op::Param: {
        auto it = params_.find(v.name);
        TP_ASSERT(it != params_.end(), "no value for param " + v.name);
        Tensor t = std::move(it->second);
        params_.erase(it);
        return t;
      }
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
      case Op::Div:
        if (arg(v, 0).kind == Tensor::Kind::Terms || arg(v, 1).kind == Tensor::Kind::Terms)
          return termArithmetic(v.op, arg(v, 0), arg(v, 1));
        return elementwise(v.op, arg(v, 0), arg(v, 1));
      case Op::Neg: {
        if (arg(v, 0).kind == Tensor::Kind::Terms) {
          Tensor out = arg(v, 0);
          for (auto& t : out.terms) t.coef = -t.coef;
          return out;
        }
        std::vector<double> out = arg(v, 0).values();
        for (double& x : out) x = -x;
        return Tensor::vector(std::move(out));
      }
      case Op::Pow: {
        std::vector<double> out = arg(v, 0).values();
        double p = v.number;
        bool integer = std::floor(p) == p && std::fabs(p) < 64;
        for (double& x : out) x = integer ? std::pow(x, static_cast<int>(p)) : std::pow(x, p);
        return Tensor::vector(std::move(out));
      }
      case Op::Apply: {
        std::vector<double> out = arg(v, 0).values();
        applyActivation(v.fn, v.order, out.data(), out.data(), out.size());
        return Tensor::vector(std::move(out));
      }
      case Op::MatVec: return matVec(arg(v, 0), arg(v, 1), false);
      case Op::MatTVec: return matVec(arg(v, 0), arg(v, 1), true);
      case Op::Mean:
      case Op::Sum: {
        const auto& x = arg(v, 0).values();
        double s = 0;
        for (double xi : x) s += xi;
        return Tensor::vector({v.op == Op::Mean ? s / static_cast<double>(x.size()) : s});
      }
      case Op::Dot: {
        const auto& x = arg(v, 0).values();
        const auto& y = arg(v, 1).values();
        double s = 0;
        for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
        return Tensor::vector({s});
      }
      case Op::Softmax: return Tensor::vector(softmax(arg(v, 0).values()));
      case Op::CrossEntropy: {
        // −Σ y_i log softmax(f)_i = Σ y_i (logsumexp(f) − f_i), computed stably.
        const auto& f = arg(v, 0).values();
        const auto& y = arg(v, 1).values();
        double m = *std::max_element(f.begin(), f.end());
        double z = 0;
        for (double fi : f) z += std::exp(fi - m);
        double lse = m + std::log(z);
        double ce = 0;
        for (size_t i = 0; i < f.size(); ++i) ce += y[y.size() == 1 ? 0 : i] * (lse - f[i]);
        return Tensor::vector({ce});
      }
      case Op::Broadcast:
        return Tensor::vector(std::vector<double>(vectorSize(v.type, s_.width), arg(v, 0).values()[0]));
      case Op::Outer: {
        Tensor out;
        out.kind = Tensor::Kind::Terms;
        out.terms.push_back({1.0, shared(arg(v, 0)), shared(arg(v, 1))});
        return out;
      }
      case Op::BatchMean: {
        double inv = 1.0 / static_cast<double>(v.operands.size());
        if (arg(v, 0).kind == Tensor::Kind::Terms) {
          Tensor out;
          out.kind = Tensor::Kind::Terms;
          for (size_t k = 0; k < v.operands.size(); ++k)
            for (auto t : arg(v, k).terms) {
              t.coef *= inv;
              out.terms.push_back(t);
            }
          return out;
        }
        size_t n = 0;
        for (size_t k = 0; k < v.operands.size(); ++k) n = std::max(n, arg(v, k).size());
        std::vector<double> out(n, 0.0);
        for (size_t k = 0; k < v.operands.size(); ++k) {
          const auto& x = arg(v, k).values();
          for (size_t i = 0; i < n; ++i) out[i] += inv * x[x.size() == 1 ? 0 : i];
        }
        return Tensor::vector(std::move(out));
      }
      case Op::Update: return update(v, ownsFirst);
      case Op::Scale: return Tensor::vector({s_.scaling.at(v.name).updateScale});
      case Op::Grad: break;
    }
    TP_ASSERT(false, std::string("the interpreter cannot run ") + ir::opName(v.op));
  }

  static std::vector<double> softmax(const std::vector<double>& f) {
    double m = *std::max_element(f.begin(), f.end());
    std::vector<double> out(f.size());
    double z = 0;
    for (size_t i = 0; i < f.size(); ++i) z += out[i] = std::exp(f[i] - m);
    for (double& x : out) x /= z;
    return out;
  }

  const ir::Program& p_;
  const FiniteWidthSetup& s_;
  std::map<std::string, Tensor> params_;
  std::vector<Tensor> vals_;
};

}  // namespace

std::map<std::string, Tensor> sampleParams(const ir::Program& program, const FiniteWidthSetup& setup, uint64_t seed) {
  std::map<std::string, Tensor> out;
  for (size_t k = 0; k < program.params.size(); ++k) {
    const ir::ParamDecl& p = program.params[k];
    const ParamScaling& sc = setup.scaling.at(p.name);
    Tensor t;
    if (p.type.isMatrix()) {
      t.kind = Tensor::Kind::Dense;
      t.rows = dimSize(p.type.rows, setup.width);
      t.cols = dimSize(p.type.cols, setup.width);
    } else {
      t.kind = Tensor::Kind::Vector;
      t.rows = 1;
      t.cols = static_cast<size_t>(setup.width);
    }
    t.data = std::make_shared<std::vector<double>>(t.rows * t.cols, 0.0);
    if (!sc.zeroInit) {
      double* base = t.data->data();
      size_t cols = t.cols;
      parallelFor(setup.threads, t.rows, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) fillNormal(streamSeed(seed, k, i), sc.initStd, base + i * cols, cols);
      }, kMinRowsPerChunk);
    }
    out[p.name] = std::move(t);
  }
  return out;
}

std::vector<Tensor> interpret(const ir::Program& program, const FiniteWidthSetup& setup,
                              std::map<std::string, Tensor> params, const ResultSink& sink, bool keepAll) {
  return Machine(program, setup).run(std::move(params), sink, keepAll);
}

double matrixEntry(const Tensor& t, size_t i, size_t j) {
  if (t.kind == Tensor::Kind::Dense) return (*t.data)[i * t.cols + j];
  double s = 0;
  for (const auto& term : t.terms)
    s += term.coef * (*term.u)[term.u->size() == 1 ? 0 : i] * (*term.v)[term.v->size() == 1 ? 0 : j];
  return s;
}

}  // namespace tp
