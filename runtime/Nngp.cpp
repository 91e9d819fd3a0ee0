// NNGP kernels of a program: Gaussian fields, their covariances, and pair expectations.
#include "runtime/Nngp.h"

#include <cmath>
#include <tuple>

#include "runtime/Activation.h"
#include "runtime/GaussianExpectation.h"

namespace tp {

using ir::Op;
using ir::Value;
using ir::ValueId;

namespace {

/// A linear combination of fields: field id → coefficient.
using Linear = std::map<int, double>;

/// What a forward value is in the limit, for one example. A width vector has
/// one coordinate (a typical one); a finite vector one per coordinate.
struct Form {
  enum class Kind { Known, Gaussian, Function } kind = Kind::Known;
  std::vector<double> known;  // Known: the coordinates
  std::vector<Linear> g;      // Gaussian: the coordinates; Function: the argument
  ir::Fn fn = ir::Fn::Id;     // Function: scale · fn^(order)(g)
  int order = 0;
  double scale = 1;
};

/// A Gaussian source: a matrix applied to a vector, or a bias, for one example.
struct Field {
  enum class Kind { InputLayer, Hidden, Readout, Bias } kind = Kind::Bias;
  std::string param;
  ValueId arg = ir::kNoValue;  // the vector multiplied (Hidden, Readout)
  int example = 0;
  int row = 0;                 // Readout
  std::vector<double> x;       // InputLayer: the finite input
};

Field makeField(Field::Kind kind, const std::string& param, ValueId arg = ir::kNoValue, int example = 0, int row = 0) {
  Field f;
  f.kind = kind;
  f.param = param;
  f.arg = arg;
  f.example = example;
  f.row = row;
  return f;
}

class Nngp {
public:
  Nngp(const ir::Program& p, const ir::Parametrization& pz, const std::vector<ExampleInputs>& examples, int order)
      : p_(p), pz_(pz), examples_(examples), order_(order) {}

  NngpResult run() {
    std::vector<ValueId> outputs;
    for (const auto& name : p_.outputs) outputs.push_back(p_.names.at(name));
    live_ = ir::liveValues(p_, outputs);
    forms_.resize(examples_.size());
    for (size_t e = 0; e < examples_.size(); ++e) {
      forms_[e].resize(p_.values.size());
      for (size_t i = 0; i < p_.values.size(); ++i)
        if (live_[i]) forms_[e][i] = eval(p_.values[i], static_cast<int>(i), static_cast<int>(e));
    }
    NngpResult result;
    for (const auto& name : p_.outputs) {
      ValueId out = p_.names.at(name);
      size_t n = examples_.size();
      std::vector<std::vector<double>> k(n, std::vector<double>(n, 0.0));
      for (size_t a = 0; a < n; ++a)
        for (size_t b = 0; b <= a; ++b) k[a][b] = k[b][a] = outputCovariance(out, a, b);
      result.kernels[name] = std::move(k);
    }
    return result;
  }

private:
  [[noreturn]] void unsupported(const Value& v, const std::string& why) const {
    throw UserError(p_.file + ":" + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col) +
                    ": the kernel limit does not support this yet: " + why);
  }

  /// n^e in the limit: 1, 0, or a divergence (an unstable parametrization).
  double widthFactor(const Rational& e, const std::string& param) const {
    if (e > 0) throw UserError("the NNGP diverges: " + param + " makes the initial output grow like n^(" + toString(e) + ")");
    return e == 0 ? 1.0 : 0.0;
  }

  static Form known(std::vector<double> x) {
    Form f;
    f.known = std::move(x);
    return f;
  }

  static Form gaussian(std::vector<Linear> g) {
    Form f;
    f.kind = Form::Kind::Gaussian;
    f.g = std::move(g);
    return f;
  }

  int addField(Field f) {
    fields_.push_back(std::move(f));
    return static_cast<int>(fields_.size() - 1);
  }

  const Form& arg(const Value& v, size_t k, int e) const { return forms_[static_cast<size_t>(e)][static_cast<size_t>(v.operands[k])]; }

  static Form scaled(Form f, double c) {
    if (f.kind == Form::Kind::Known)
      for (double& x : f.known) x *= c;
    else if (f.kind == Form::Kind::Gaussian)
      for (auto& l : f.g)
        for (auto& [id, coef] : l) coef *= c;
    else
      f.scale *= c;
    return f;
  }

  static bool isZero(const Form& f) {
    if (f.kind != Form::Kind::Known) return false;
    for (double x : f.known)
      if (x != 0) return false;
    return true;
  }

  /// a + sign · b, broadcasting a single coordinate.
  Form add(const Value& v, Form a, const Form& b, double sign) const {
    if (isZero(b)) return a;
    if (isZero(a)) return scaled(b, sign);
    if (a.kind == Form::Kind::Known && b.kind == Form::Kind::Known) {
      size_t n = std::max(a.known.size(), b.known.size());
      std::vector<double> out(n);
      for (size_t i = 0; i < n; ++i)
        out[i] = a.known[a.known.size() == 1 ? 0 : i] + sign * b.known[b.known.size() == 1 ? 0 : i];
      return known(out);
    }
    if (a.kind != Form::Kind::Gaussian || b.kind != Form::Kind::Gaussian)
      unsupported(v, "a sum with a nonlinear or constant term (only sums of Gaussian fields)");
    size_t n = std::max(a.g.size(), b.g.size());
    std::vector<Linear> out(n);
    for (size_t i = 0; i < n; ++i) {
      out[i] = a.g[a.g.size() == 1 ? 0 : i];
      for (const auto& [id, c] : b.g[b.g.size() == 1 ? 0 : i]) out[i][id] += sign * c;
    }
    return gaussian(out);
  }

  Form eval(const Value& v, int id, int e) {
    const ExampleInputs& in = examples_[static_cast<size_t>(e)];
    switch (v.op) {
      case Op::Const: return known({v.number});
      case Op::Hyper: return known({p_.findHyper(v.name)->value});
      case Op::Input: return known(in.at(v.name));
      case Op::Param: {  // a bias: one field shared by every example
        if (v.type.isMatrix()) return Form{};
        auto [it, fresh] = biasField_.emplace(v.name, 0);
        if (fresh) it->second = addField(makeField(Field::Kind::Bias, v.name));
        return gaussian({Linear{{it->second, 1.0}}});
      }
      case Op::Add: return add(v, arg(v, 0, e), arg(v, 1, e), 1);
      case Op::Sub: return add(v, arg(v, 0, e), arg(v, 1, e), -1);
      case Op::Neg: return scaled(arg(v, 0, e), -1);
      case Op::Broadcast: return arg(v, 0, e);
      case Op::Mul:
      case Op::Div: {
        const Form& a = arg(v, 0, e);
        const Form& b = arg(v, 1, e);
        bool bScalar = b.kind == Form::Kind::Known && b.known.size() == 1;
        bool aScalar = a.kind == Form::Kind::Known && a.known.size() == 1;
        if (v.op == Op::Div) {
          if (!bScalar) unsupported(v, "division by a non-constant");
          return scaled(a, 1.0 / b.known[0]);
        }
        if (bScalar) return scaled(a, b.known[0]);
        if (aScalar) return scaled(b, a.known[0]);
        if (a.kind == Form::Kind::Known && b.kind == Form::Kind::Known) {
          std::vector<double> out(std::max(a.known.size(), b.known.size()));
          for (size_t i = 0; i < out.size(); ++i)
            out[i] = a.known[a.known.size() == 1 ? 0 : i] * b.known[b.known.size() == 1 ? 0 : i];
          return known(out);
        }
        unsupported(v, "a product of two random vectors");
      }
      case Op::Apply: {
        Form x = arg(v, 0, e);
        if (x.kind == Form::Kind::Known) {
          for (double& c : x.known) c = evalActivation(v.fn, v.order, c);
          return x;
        }
        if (x.kind != Form::Kind::Gaussian) unsupported(v, "a nonlinearity of a nonlinearity");
        x.kind = Form::Kind::Function;
        x.fn = v.fn;
        x.order = v.order;
        return x;
      }
      case Op::MatVec: return matVec(v, id, e);
      default: unsupported(v, std::string("the op '") + ir::opName(v.op) + "' in the forward pass");
    }
  }

  Form matVec(const Value& v, int id, int e) {
    const ir::ParamDecl* w = p_.findParam(p_.at(v.operands[0]).name);
    const Form& x = arg(v, 1, e);
    if (w->zeroInit) return known(std::vector<double>(v.type.isWidth() ? 1 : static_cast<size_t>(v.type.size), 0.0));
    switch (w->role) {
      case ir::Role::Input: {
        if (x.kind != Form::Kind::Known) unsupported(v, "an input layer applied to a random vector");
        Field f = makeField(Field::Kind::InputLayer, w->name);
        f.x = x.known;
        return gaussian({Linear{{addField(f), 1.0}}});
      }
      case ir::Role::Hidden: {
        Field f = makeField(Field::Kind::Hidden, w->name, v.operands[1], e);
        return gaussian({Linear{{addField(f), 1.0}}});
      }
      case ir::Role::Output: {
        std::vector<Linear> rows;
        for (int r = 0; r < w->type.rows.size; ++r) {
          Field f = makeField(Field::Kind::Readout, w->name, v.operands[1], e, r);
          rows.push_back(Linear{{addField(f), 1.0}});
        }
        return gaussian(rows);
      }
      case ir::Role::Bias: break;
    }
    unsupported(v, "this matrix product");
  }

  // ---- Covariances ----------------------------------------------------------------

  double fieldCovariance(int i, int j) {
    auto key = std::minmax(i, j);
    if (auto it = fieldCov_.find(key); it != fieldCov_.end()) return it->second;
    const Field& a = fields_[static_cast<size_t>(i)];
    const Field& b = fields_[static_cast<size_t>(j)];
    double cov = 0;
    if (a.kind == b.kind && a.param == b.param && a.row == b.row) {
      const ir::Exponents& ex = pz_.params.at(a.param);
      double v = toDouble(p_.findParam(a.param)->variance);
      switch (a.kind) {
        case Field::Kind::InputLayer: {
          double dot = 0;
          for (size_t k = 0; k < a.x.size(); ++k) dot += a.x[k] * b.x[k];
          cov = v * widthFactor(-2 * (ex.a + ex.b), a.param) * dot;
          break;
        }
        case Field::Kind::Bias: cov = v * widthFactor(-2 * (ex.a + ex.b), a.param); break;
        case Field::Kind::Hidden:
        case Field::Kind::Readout: {
          double factor = v * widthFactor(1 - 2 * (ex.a + ex.b), a.param);
          cov = factor == 0 ? 0 : factor * moment(a.arg, a.example, b.arg, b.example);
          break;
        }
      }
    }
    return fieldCov_[key] = cov;
  }

  double linearCovariance(const Linear& x, const Linear& y) {
    double s = 0;
    for (const auto& [i, ci] : x)
      for (const auto& [j, cj] : y) s += ci * cj * fieldCovariance(i, j);
    return s;
  }

  /// E[Z^{x(example a)} Z^{y(example b)}] for width vectors x, y.
  double moment(ValueId x, int a, ValueId y, int b) {
    auto key = std::make_tuple(x, a, y, b);
    if (auto it = moments_.find(key); it != moments_.end()) return it->second;
    const Form& fx = forms_[static_cast<size_t>(a)][static_cast<size_t>(x)];
    const Form& fy = forms_[static_cast<size_t>(b)][static_cast<size_t>(y)];
    double m;
    if (fx.kind == Form::Kind::Known || fy.kind == Form::Kind::Known) {
      const Form& k = fx.kind == Form::Kind::Known ? fx : fy;
      const Form& r = fx.kind == Form::Kind::Known ? fy : fx;
      m = k.known[0] * mean(r);
    } else {
      double varX = linearCovariance(fx.g[0], fx.g[0]), varY = linearCovariance(fy.g[0], fy.g[0]);
      double cov = linearCovariance(fx.g[0], fy.g[0]);
      if (fx.kind == Form::Kind::Gaussian && fy.kind == Form::Kind::Gaussian) {
        m = cov;
      } else {
        m = fx.scale * fy.scale * expectPair(fx.fn, fx.order, fy.fn, fy.order, varX, varY, cov, order_).value;
      }
    }
    return moments_[key] = m;
  }

  double mean(const Form& f) {
    if (f.kind == Form::Kind::Known) return f.known[0];
    if (f.kind == Form::Kind::Gaussian) return 0;
    return f.scale * expectSingle(f.fn, f.order, linearCovariance(f.g[0], f.g[0]), order_);
  }

  double outputCovariance(ValueId out, size_t a, size_t b) {
    const Form& fa = forms_[a][static_cast<size_t>(out)];
    const Form& fb = forms_[b][static_cast<size_t>(out)];
    if (isZero(fa) || isZero(fb)) return 0;
    if (fa.kind != Form::Kind::Gaussian || fb.kind != Form::Kind::Gaussian)
      unsupported(p_.at(out), "an output that is not a Gaussian at initialisation");
    return linearCovariance(fa.g[0], fb.g[0]);
  }

  const ir::Program& p_;
  const ir::Parametrization& pz_;
  const std::vector<ExampleInputs>& examples_;
  int order_;
  std::vector<bool> live_;
  std::vector<std::vector<Form>> forms_;  // [example][value]
  std::vector<Field> fields_;
  std::map<std::string, int> biasField_;
  std::map<std::pair<int, int>, double> fieldCov_;
  std::map<std::tuple<ValueId, int, ValueId, int>, double> moments_;
};

}  // namespace

NngpResult nngpKernels(const ir::Program& typed, const ir::Parametrization& pz, const std::vector<ExampleInputs>& examples,
                       int order) {
  return Nngp(typed, pz, examples, order).run();
}

}  // namespace tp
