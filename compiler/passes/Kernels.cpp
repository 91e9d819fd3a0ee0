// NNGP and effective NTK of a program: symbolic forms of every value at initialisation, emitted as a pair program.
#include "compiler/passes/Kernels.h"

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "compiler/ir/Diagnostics.h"

namespace tp::passes {

using ir::Fn;
using ir::Op;
using ir::Value;
using ir::ValueId;

namespace {

/// A linear combination of forward Gaussian fields: field id → coefficient.
using Linear = std::map<int, double>;

/// A forward factor fn^(order)(G) of a backward term (a Gaussian G itself is id^(0)).
struct Factor {
  Fn fn = Fn::Id;
  int order = 0;
  Linear g;
};

/// coef · s_seed · Z_field · factor: one term of a backward width vector.
struct BackTerm {
  double coef = 1;
  int seed = 0;
  int field = 0;
  std::optional<Factor> factor;
};

/// coef · outer(u, v), u and v given as form ids.
struct OuterTerm {
  double coef = 1;
  int u = 0, v = 0;
};

/// What a value is at initialisation in the limit. Coordinates are n^e times
/// the normalised limit this describes (finite values have e = 0 unless Gaussian).
struct Form {
  enum class Kind { Zero, Matrix, Known, Input, Gaussian, Function, Seed, Backward, Updates } kind = Kind::Zero;
  Rational e = 0;
  std::vector<double> known;  // Known: the coordinates (one for a width vector)
  std::string input;          // Input: scale · the example's input `input`
  double scale = 1;           // Input, Function, Seed
  std::vector<Linear> g;      // Gaussian: per coordinate (one for a width vector); Function: the argument
  Fn fn = Fn::Id;             // Function: scale · fn^(order)(g[0])
  int order = 0;
  ValueId seed = ir::kNoValue;    // Seed: scale · that finite value (depends on the outputs or targets)
  std::vector<BackTerm> terms;    // Backward
  std::vector<OuterTerm> outers;  // Updates
};

struct FwdField {
  enum class Kind { InputLayer, Bias, Hidden, Readout } kind;
  std::string param;
  std::string input;  // InputLayer
  int arg = -1;       // Hidden, Readout: the form multiplied
  int row = 0;        // Readout
};

struct BackField {
  enum class Kind { ReadoutColumn, Transpose } kind;
  std::string param;
  int row = 0;    // ReadoutColumn
  int arg = -1;   // Transpose: the backward form multiplied, restricted to `seed`
  int seed = 0;
};

/// A seed coordinate: (value, coordinate) of the program's seed, or (kAdjoint, k) for the output f_k.
constexpr ValueId kAdjoint = -2;

/// Where a param meets the forward pass, for the output's sensitivities.
struct Site {
  std::string param;
  ValueId value;  // the MatVec (or the bias Param)
  int arg = -1;   // the form multiplied (hidden, readout) or the input form (input layer)
};

constexpr int kZero = -1;  // a slot that is exactly 0
constexpr int kOne = -2;   // a factor that is exactly 1

std::string str(const Linear& l) {
  std::ostringstream s;
  s.precision(17);
  for (const auto& [id, c] : l) s << id << '*' << c << ';';
  return s.str();
}

std::string str(const std::optional<Factor>& f) {
  if (!f) return "1";
  return std::string(ir::fnName(f->fn)) + "^" + std::to_string(f->order) + "(" + str(f->g) + ")";
}

/// Value numbers of the functions (A, B) ↦ slot(A, B) and of their mirrors (A, B) ↦ slot(B, A),
/// in one numbering, so that slot i is symmetric exactly when both numbers agree. Structural:
/// sums compare as multisets of products (each product unordered), an expectation
/// E[f(u) g(v)] mirrors to E[g(u') f(v')] with the variances swapped, InputDot swaps its inputs.
struct SlotNumbers {
  std::vector<int> value, mirror;
};

SlotNumbers numberSlots(const KernelProgram& program) {
  SlotNumbers n;
  std::map<std::string, int> ids;
  auto id = [&](const std::string& key) { return ids.emplace(key, static_cast<int>(ids.size())).first->second; };
  auto number = [](const std::vector<int>& numbers, int slot) { return slot < 0 ? -1 : numbers[static_cast<size_t>(slot)]; };
  auto sumKey = [&](const KernelInstr& ins, const std::vector<int>& numbers) {
    std::vector<std::string> terms;
    for (const KernelInstr::Product& t : ins.terms) {
      int x = number(numbers, t.x), y = number(numbers, t.y);
      std::ostringstream k;
      k.precision(17);
      k << t.coef << "*" << std::min(x, y) << "*" << std::max(x, y);
      terms.push_back(k.str());
    }
    std::sort(terms.begin(), terms.end());
    std::string key = "S";
    for (const std::string& t : terms) key += ":" + t;
    return key;
  };
  auto fn = [](Fn f, int k) { return std::string(ir::fnName(f)) + "^" + std::to_string(k); };
  for (const KernelInstr& ins : program) {
    std::ostringstream value;
    value.precision(17);
    std::string key, mirrorKey;
    switch (ins.kind) {
      case KernelInstr::Kind::Const:
        value << ins.value;
        key = mirrorKey = "C:" + value.str();
        break;
      case KernelInstr::Kind::InputDot:
        value << ins.value;
        key = "I:" + ins.inputA + ":" + ins.inputB + ":" + value.str();
        mirrorKey = "I:" + ins.inputB + ":" + ins.inputA + ":" + value.str();
        break;
      case KernelInstr::Kind::Sum:
        key = sumKey(ins, n.value);
        mirrorKey = sumKey(ins, n.mirror);
        break;
      case KernelInstr::Kind::Expect2: {
        std::string a = std::to_string(number(n.value, ins.varA)), b = std::to_string(number(n.value, ins.varB));
        key = "E2:" + fn(ins.f, ins.fk) + ":" + fn(ins.g, ins.gk) + ":" + a + ":" + b + ":" +
              std::to_string(number(n.value, ins.cov));
        mirrorKey = "E2:" + fn(ins.g, ins.gk) + ":" + fn(ins.f, ins.fk) + ":" + b + ":" + a + ":" +
                    std::to_string(number(n.mirror, ins.cov));
        break;
      }
      case KernelInstr::Kind::Expect1: {
        std::string side = ins.varA >= 0 ? "A" : "B", other = ins.varA >= 0 ? "B" : "A";
        std::string rest = fn(ins.f, ins.fk) + ":" + std::to_string(number(n.value, ins.varA >= 0 ? ins.varA : ins.varB));
        key = "E1" + side + ":" + rest;
        mirrorKey = "E1" + other + ":" + rest;
        break;
      }
    }
    n.value.push_back(id(key));
    n.mirror.push_back(id(mirrorKey));
  }
  return n;
}

/// Points `ba` at `ab` for every kernel entry whose slot is symmetric by construction
/// (K(A, B) = K(B, A) for all pairs), so that evaluators compute it once per pair.
void shareSymmetricEntries(KernelDerivation& d) {
  SlotNumbers n = numberSlots(d.program);
  auto share = [&](KernelEntry& e) {
    if (e.ab >= 0 && n.value[static_cast<size_t>(e.ab)] == n.mirror[static_cast<size_t>(e.ab)]) e.ba = e.ab;
  };
  for (auto& row : d.nngp)
    for (KernelEntry& e : row) share(e);
  for (auto& row : d.ntk)
    for (KernelEntry& e : row) share(e);
}

class Derivation {
public:
  Derivation(const ir::Program& p, const ir::Parametrization& pz) : p_(p), pz_(pz) {}

  KernelDerivation run() {
    if (p_.outputs.size() != 1)
      throw UserError(p_.file + ": the kernel limit needs exactly one output, the program has " +
                      std::to_string(p_.outputs.size()));
    KernelDerivation d;
    d.output = p_.outputs[0];
    ValueId out = p_.names.at(d.output);
    const Value& ov = p_.at(out);
    if (ov.type.isWidth() || ov.type.isMatrix()) unsupported(ov, "a width vector as the output");
    d.outputSize = ov.type.isScalarLike() ? 1 : ov.type.size;

    std::vector<ValueId> roots{out};
    for (const auto& [param, u] : p_.updates) roots.push_back(u);
    live_ = ir::liveValues(p_, roots);
    valueForm_.assign(p_.values.size(), -1);
    for (size_t i = 0; i < p_.values.size(); ++i)
      if (live_[i]) valueForm_[i] = addForm(eval(p_.values[i], static_cast<ValueId>(i)));
    adjoints(out, d.outputSize);
    nngp(out, d);
    ntk(d);
    d.program = std::move(program_);
    shareSymmetricEntries(d);
    return d;
  }

private:
  // ---- Errors and exponents -------------------------------------------------------

  [[noreturn]] void unsupported(const Value& v, const std::string& why) const {
    throw UserError(p_.file + ":" + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col) +
                    ": the kernel limit does not support " + why);
  }

  const ir::Exponents& ex(const std::string& param) const { return pz_.params.at(param); }
  double variance(const std::string& param) const { return toDouble(p_.findParam(param)->variance); }

  // ---- Forms ----------------------------------------------------------------------

  int addForm(Form f) {
    forms_.push_back(std::move(f));
    return static_cast<int>(forms_.size() - 1);
  }
  const Form& formOf(ValueId v) const { return forms_[static_cast<size_t>(valueForm_[static_cast<size_t>(v)])]; }
  const Form& operand(const Value& v, size_t k) const { return formOf(v.operands[k]); }
  int operandId(const Value& v, size_t k) const { return valueForm_[static_cast<size_t>(v.operands[k])]; }

  static Form zero() { return Form{}; }
  static Form known(std::vector<double> x) {
    Form f;
    f.kind = Form::Kind::Known;
    f.known = std::move(x);
    for (double c : f.known)
      if (c != 0) return f;
    return zero();
  }
  static Form seedOf(ValueId v) {
    Form f;
    f.kind = Form::Kind::Seed;
    f.seed = v;
    return f;
  }
  static bool scalarKnown(const Form& f) { return f.kind == Form::Kind::Known && f.known.size() == 1; }

  static Form scaled(Form f, double c) {
    if (c == 0) return zero();
    switch (f.kind) {
      case Form::Kind::Known:
        for (double& x : f.known) x *= c;
        break;
      case Form::Kind::Gaussian:
        for (auto& l : f.g)
          for (auto& [id, coef] : l) coef *= c;
        break;
      case Form::Kind::Input:
      case Form::Kind::Function:
      case Form::Kind::Seed: f.scale *= c; break;
      case Form::Kind::Backward:
        for (auto& t : f.terms) t.coef *= c;
        break;
      case Form::Kind::Updates:
        for (auto& t : f.outers) t.coef *= c;
        break;
      case Form::Kind::Zero:
      case Form::Kind::Matrix: break;
    }
    return f;
  }

  /// The larger-exponent part of a + b when both are sums (Gaussian, Backward, Updates).
  static Form merge(Form a, const Form& b) {
    if (b.e > a.e) return b;
    if (a.e > b.e) return a;
    if (a.kind == Form::Kind::Gaussian) {
      size_t n = std::max(a.g.size(), b.g.size());
      std::vector<Linear> out(n);
      for (size_t i = 0; i < n; ++i) {
        out[i] = a.g[a.g.size() == 1 ? 0 : i];
        for (const auto& [id, c] : b.g[b.g.size() == 1 ? 0 : i]) out[i][id] += c;
      }
      a.g = std::move(out);
    }
    a.terms.insert(a.terms.end(), b.terms.begin(), b.terms.end());
    a.outers.insert(a.outers.end(), b.outers.begin(), b.outers.end());
    return a;
  }

  /// A finite value the program computes from the outputs and targets: opaque, a seed.
  Form finiteOrFail(const Value& v, ValueId id, const std::string& why) const {
    if (v.type.isWidth() || v.type.isMatrix()) unsupported(v, why);
    return seedOf(id);
  }

  Form add(const Value& v, ValueId id, Form a, const Form& b, double sign) const {
    if (b.kind == Form::Kind::Zero) return a;
    if (a.kind == Form::Kind::Zero) return scaled(b, sign);
    if (a.kind == Form::Kind::Known && b.kind == Form::Kind::Known) {
      size_t n = std::max(a.known.size(), b.known.size());
      std::vector<double> out(n);
      for (size_t i = 0; i < n; ++i)
        out[i] = a.known[a.known.size() == 1 ? 0 : i] + sign * b.known[b.known.size() == 1 ? 0 : i];
      return known(out);
    }
    bool sums = a.kind == b.kind && (a.kind == Form::Kind::Gaussian || a.kind == Form::Kind::Backward ||
                                     a.kind == Form::Kind::Updates);
    if (sums) return merge(std::move(a), scaled(b, sign));
    if (a.kind == Form::Kind::Input && b.kind == Form::Kind::Input && a.input == b.input) {
      a.scale += sign * b.scale;
      return a.scale == 0 ? zero() : a;
    }
    return finiteOrFail(v, id, "a sum of a Gaussian and a nonlinear or constant term (only sums of Gaussian fields)");
  }

  static bool forward(const Form& f) { return f.kind == Form::Kind::Gaussian || f.kind == Form::Kind::Function; }

  Form mul(const Value& v, ValueId id, const Form& a, const Form& b) const {
    if (a.kind == Form::Kind::Zero || b.kind == Form::Kind::Zero) return zero();
    if (scalarKnown(b)) return scaled(a, b.known[0]);
    if (scalarKnown(a)) return scaled(b, a.known[0]);
    if (a.kind == Form::Kind::Known && b.kind == Form::Kind::Known) {
      std::vector<double> out(std::max(a.known.size(), b.known.size()));
      for (size_t i = 0; i < out.size(); ++i)
        out[i] = a.known[a.known.size() == 1 ? 0 : i] * b.known[b.known.size() == 1 ? 0 : i];
      return known(out);
    }
    if (v.type.isWidth()) {
      const Form* back = a.kind == Form::Kind::Backward ? &a : b.kind == Form::Kind::Backward ? &b : nullptr;
      const Form* fwd = back == &a ? &b : &a;
      if (back && forward(*fwd)) {
        if (fwd->e != 0) unsupported(v, "a gradient times a vanishing or growing forward vector");
        Form out = *back;
        for (auto& t : out.terms) {
          if (t.factor) unsupported(v, "a gradient times two forward functions (a 3-variable expectation)");
          t.factor = Factor{fwd->kind == Form::Kind::Function ? fwd->fn : Fn::Id,
                            fwd->kind == Form::Kind::Function ? fwd->order : 0, fwd->g[0]};
          t.coef *= fwd->kind == Form::Kind::Function ? fwd->scale : 1.0;
        }
        return out;
      }
    }
    return finiteOrFail(v, id, "a product of two random width vectors");
  }

  int fwdField(FwdField f) {
    std::string key = std::to_string(static_cast<int>(f.kind)) + ":" + f.param + ":" + f.input + ":" +
                      std::to_string(f.arg) + ":" + std::to_string(f.row);
    auto [it, fresh] = fwdFieldIds_.emplace(key, static_cast<int>(fwdFields_.size()));
    if (fresh) fwdFields_.push_back(std::move(f));
    return it->second;
  }

  int backField(BackField f) {
    std::string key = std::to_string(static_cast<int>(f.kind)) + ":" + f.param + ":" + std::to_string(f.row) +
                      ":" + std::to_string(f.arg) + ":" + std::to_string(f.seed);
    auto [it, fresh] = backFieldIds_.emplace(key, static_cast<int>(backFields_.size()));
    if (fresh) backFields_.push_back(std::move(f));
    return it->second;
  }

  int seedId(ValueId value, int coordinate) {
    auto key = std::make_pair(value, coordinate);
    auto [it, fresh] = seedIds_.emplace(key, static_cast<int>(seeds_.size()));
    if (fresh) seeds_.push_back(key);
    return it->second;
  }

  static Form gaussianOf(std::vector<Linear> g, Rational e) {
    Form f;
    f.kind = Form::Kind::Gaussian;
    f.g = std::move(g);
    f.e = std::move(e);
    return f;
  }

  Form matVec(const Value& v) {
    const ir::ParamDecl* w = p_.findParam(p_.at(v.operands[0]).name);
    const Form& x = operand(v, 1);
    if (w->zeroInit || x.kind == Form::Kind::Zero) return zero();
    const ir::Exponents& e = ex(w->name);
    switch (w->role) {
      case ir::Role::Input: {
        if (x.kind != Form::Kind::Input) unsupported(v, "an input layer applied to anything but an input");
        int f = fwdField({FwdField::Kind::InputLayer, w->name, x.input, -1, 0});
        return gaussianOf({Linear{{f, x.scale}}}, -(e.a + e.b));
      }
      case ir::Role::Hidden: {
        if (!forward(x) && x.kind != Form::Kind::Known) unsupported(v, "a hidden matrix applied to a gradient");
        int f = fwdField({FwdField::Kind::Hidden, w->name, "", operandId(v, 1), 0});
        return gaussianOf({Linear{{f, 1.0}}}, Rational(1, 2) - e.a - e.b + x.e);
      }
      case ir::Role::Output: {
        if (!forward(x) && x.kind != Form::Kind::Known) unsupported(v, "a readout applied to a gradient");
        std::vector<Linear> rows;
        for (int r = 0; r < w->type.rows.size; ++r)
          rows.push_back(Linear{{fwdField({FwdField::Kind::Readout, w->name, "", operandId(v, 1), r}), 1.0}});
        return gaussianOf(rows, Rational(1, 2) - e.a - e.b + x.e);
      }
      case ir::Role::Bias: break;
    }
    unsupported(v, "this matrix product");
  }

  /// Wᵀ u for a hidden W: one transposed field per seed of u.
  Form transpose(const std::string& param, int u, const Rational& eu) {
    const ir::Exponents& e = ex(param);
    Form out;
    out.kind = Form::Kind::Backward;
    out.e = Rational(1, 2) - e.a - e.b + eu;
    std::map<int, bool> seeds;
    for (const BackTerm& t : forms_[static_cast<size_t>(u)].terms) seeds[t.seed] = true;
    for (const auto& [seed, unused] : seeds)
      out.terms.push_back({1.0, seed, backField({BackField::Kind::Transpose, param, 0, u, seed}), std::nullopt});
    return out;
  }

  /// Wᵀ s for a readout W[k, n] and finite coefficients coef[r][seed].
  Form readoutColumns(const std::string& param, const std::vector<std::map<int, double>>& coef) {
    const ir::Exponents& e = ex(param);
    Form out;
    out.kind = Form::Kind::Backward;
    out.e = -(e.a + e.b);
    for (size_t r = 0; r < coef.size(); ++r)
      for (const auto& [seed, c] : coef[r])
        out.terms.push_back({c, seed, backField({BackField::Kind::ReadoutColumn, param, static_cast<int>(r), -1, 0}),
                             std::nullopt});
    return out;
  }

  Form matTVec(const Value& v) {
    const ir::ParamDecl* w = p_.findParam(p_.at(v.operands[0]).name);
    const Form& u = operand(v, 1);
    if (w->zeroInit || u.kind == Form::Kind::Zero) return zero();
    if (w->role == ir::Role::Hidden) {
      if (u.kind != Form::Kind::Backward) unsupported(v, "a transposed hidden matrix applied to a forward vector");
      return transpose(w->name, operandId(v, 1), u.e);
    }
    if (w->role == ir::Role::Output) {
      if (u.kind == Form::Kind::Known) unsupported(v, "a readout transpose applied to a constant");
      ValueId s = u.kind == Form::Kind::Seed ? u.seed : v.operands[1];
      double c = u.kind == Form::Kind::Seed ? u.scale : 1.0;
      std::vector<std::map<int, double>> coef(static_cast<size_t>(w->type.rows.size));
      for (size_t r = 0; r < coef.size(); ++r) coef[r][seedId(s, static_cast<int>(r))] = c;
      return readoutColumns(w->name, coef);
    }
    unsupported(v, "the transpose of an input layer (a gradient with respect to the input)");
  }

  Form eval(const Value& v, ValueId id) {
    switch (v.op) {
      case Op::Const: return known({v.number});
      case Op::Hyper: return known({p_.findHyper(v.name)->value});
      case Op::Input: {
        Form f;
        f.kind = Form::Kind::Input;
        f.input = v.name;
        return f;
      }
      case Op::Param: {
        const ir::ParamDecl* w = p_.findParam(v.name);
        if (v.type.isMatrix()) {
          Form f;
          f.kind = Form::Kind::Matrix;
          return f;
        }
        if (w->zeroInit) return zero();
        int f = fwdField({FwdField::Kind::Bias, v.name, "", -1, 0});
        return gaussianOf({Linear{{f, 1.0}}}, -(ex(v.name).a + ex(v.name).b));
      }
      case Op::Add: return add(v, id, operand(v, 0), operand(v, 1), 1);
      case Op::Sub: return add(v, id, operand(v, 0), operand(v, 1), -1);
      case Op::Neg: return scaled(operand(v, 0), -1);
      case Op::Mul: return mul(v, id, operand(v, 0), operand(v, 1));
      case Op::Div: {
        const Form& b = operand(v, 1);
        if (scalarKnown(b)) return scaled(operand(v, 0), 1.0 / b.known[0]);
        return finiteOrFail(v, id, "division by a random or non-scalar value");
      }
      case Op::Broadcast: {
        const Form& a = operand(v, 0);
        if (v.type.isWidth() && a.kind != Form::Kind::Known && a.kind != Form::Kind::Zero)
          unsupported(v, "a random scalar spread over a width vector");
        return a;
      }
      case Op::Apply: {
        Form x = operand(v, 0);
        if (v.type.isWidth()) {
          if (x.kind == Form::Kind::Zero) x = gaussianOf({Linear{}}, 0);  // φ(0): a Gaussian of variance 0
          if (x.kind == Form::Kind::Known) unsupported(v, "a nonlinearity of a constant width vector");
          if (x.kind != Form::Kind::Gaussian) unsupported(v, "a nonlinearity of a nonlinearity or of a gradient");
          if (x.e != 0) unsupported(v, "a nonlinearity of a vanishing or growing vector");
          x.kind = Form::Kind::Function;
          x.fn = v.fn;
          x.order = v.order;
          x.scale = 1;
          return x;
        }
        return finiteOrFail(v, id, "");
      }
      case Op::MatVec: return matVec(v);
      case Op::MatTVec: return matTVec(v);
      case Op::Outer: {
        // A random finite first factor (`outer(f - y, z)` written inline) is a seed.
        int u = operandId(v, 0);
        auto k = operand(v, 0).kind;
        if (!p_.at(v.operands[0]).type.isWidth() && (k == Form::Kind::Gaussian || k == Form::Kind::Input))
          u = addForm(seedOf(v.operands[0]));
        Form f;
        f.kind = Form::Kind::Updates;
        f.outers.push_back({1.0, u, operandId(v, 1)});
        return f;
      }
      case Op::Update: return zero();  // read by ntk()
      case Op::Pow:
      case Op::Softmax:
      case Op::CrossEntropy: return finiteOrFail(v, id, std::string("'") + ir::opName(v.op) + "' of a width vector");
      case Op::Mean:
      case Op::Sum:
      case Op::Dot:
        if (p_.at(v.operands[0]).type.isWidth())
          unsupported(v, std::string("a reduction ('") + ir::opName(v.op) + "') over the width");
        return finiteOrFail(v, id, "");  // a finite sum (of targets, outputs): computed by the dynamics
      default: break;
    }
    unsupported(v, std::string("the op '") + ir::opName(v.op) + "'");
  }

  // ---- Sensitivities of the output (reverse mode at initialisation) --------------

  void accumulate(std::map<ValueId, int>& adj, ValueId v, Form f) {
    if (f.kind == Form::Kind::Zero) return;
    auto it = adj.find(v);
    if (it == adj.end()) {
      adj[v] = addForm(std::move(f));
      return;
    }
    forms_[static_cast<size_t>(it->second)] = merge(forms_[static_cast<size_t>(it->second)], f);
  }

  /// True when a forward value can carry a sensitivity (it is random at initialisation).
  bool random(ValueId v) const {
    auto k = formOf(v).kind;
    return k == Form::Kind::Gaussian || k == Form::Kind::Function || k == Form::Kind::Seed;
  }

  void adjoints(ValueId out, int size) {
    std::vector<bool> upstream = ir::liveValues(p_, {out});
    // Finite sensitivities: value → [coordinate] → {adjoint seed → coefficient}.
    std::map<ValueId, std::vector<std::map<int, double>>> fin;
    std::map<ValueId, int> wide;  // width vector → its sensitivity form
    fin[out].resize(static_cast<size_t>(size));
    for (int k = 0; k < size; ++k) fin[out][static_cast<size_t>(k)][seedId(kAdjoint, k)] = 1.0;
    auto addFinite = [&](ValueId to, const std::vector<std::map<int, double>>& c, double s) {
      if (!random(to)) return;
      const Value& tv = p_.at(to);
      size_t n = tv.type.isScalarLike() ? 1 : static_cast<size_t>(tv.type.size);
      auto& dst = fin[to];
      dst.resize(n);
      for (size_t i = 0; i < c.size(); ++i)
        for (const auto& [seed, x] : c[i]) dst[n == 1 ? 0 : i][seed] += s * x;
    };
    for (ValueId id = out; id >= 0; --id) {
      if (!upstream[static_cast<size_t>(id)]) continue;
      const Value& v = p_.at(id);
      if (!v.type.isWidth()) {
        auto it = fin.find(id);
        if (it == fin.end()) continue;
        auto c = it->second;
        switch (v.op) {
          case Op::MatVec: {
            const ir::ParamDecl* w = p_.findParam(p_.at(v.operands[0]).name);
            if (w->role != ir::Role::Output) unsupported(v, "this matrix product in the output");
            sites_.push_back({w->name, id, operandId(v, 1)});
            finiteSensitivity_[id] = c;
            if (!w->zeroInit && random(v.operands[1])) accumulate(wide, v.operands[1], readoutColumns(w->name, c));
            break;
          }
          case Op::Add: addFinite(v.operands[0], c, 1); addFinite(v.operands[1], c, 1); break;
          case Op::Sub: addFinite(v.operands[0], c, 1); addFinite(v.operands[1], c, -1); break;
          case Op::Neg: addFinite(v.operands[0], c, -1); break;
          case Op::Broadcast: addFinite(v.operands[0], c, 1); break;
          case Op::Mul:
          case Op::Div: {
            const Form& b = operand(v, 1);
            if (scalarKnown(b)) { addFinite(v.operands[0], c, v.op == Op::Mul ? b.known[0] : 1 / b.known[0]); break; }
            const Form& a = operand(v, 0);
            if (v.op == Op::Mul && scalarKnown(a)) { addFinite(v.operands[1], c, a.known[0]); break; }
            [[fallthrough]];
          }
          default:
            for (ValueId o : v.operands)
              if (random(o)) unsupported(v, "an output that is a nonlinear function of the readout");
        }
        continue;
      }
      auto it = wide.find(id);
      if (it == wide.end()) continue;
      int a = it->second;
      adjointOfSite_[id] = a;
      Form adj = forms_[static_cast<size_t>(a)];
      switch (v.op) {
        case Op::MatVec: {
          const ir::ParamDecl* w = p_.findParam(p_.at(v.operands[0]).name);
          sites_.push_back({w->name, id, operandId(v, 1)});
          if (w->role == ir::Role::Hidden && !w->zeroInit && random(v.operands[1]))
            accumulate(wide, v.operands[1], transpose(w->name, a, adj.e));
          break;
        }
        case Op::Param: sites_.push_back({v.name, id, -1}); break;
        case Op::Add:
        case Op::Sub:
          if (random(v.operands[0])) accumulate(wide, v.operands[0], adj);
          if (random(v.operands[1])) accumulate(wide, v.operands[1], scaled(adj, v.op == Op::Sub ? -1 : 1));
          break;
        case Op::Neg: accumulate(wide, v.operands[0], scaled(adj, -1)); break;
        case Op::Mul:
        case Op::Div: {
          const Form& b = operand(v, 1);
          const Form& x = operand(v, 0);
          if (scalarKnown(b)) {
            accumulate(wide, v.operands[0], scaled(adj, v.op == Op::Mul ? b.known[0] : 1 / b.known[0]));
          } else if (v.op == Op::Mul && scalarKnown(x)) {
            accumulate(wide, v.operands[1], scaled(adj, x.known[0]));
          } else if (v.op == Op::Mul && (x.kind == Form::Kind::Known || b.kind == Form::Kind::Known)) {
            unsupported(v, "a product with a constant vector");
          } else if (random(v.operands[0]) || random(v.operands[1])) {
            unsupported(v, "a product of two random width vectors");
          }
          break;
        }
        case Op::Apply: {
          const Form& x = operand(v, 0);
          if (x.kind != Form::Kind::Gaussian) break;  // a constant argument
          Form d = adj;
          for (auto& t : d.terms) {
            if (t.factor) unsupported(v, "a gradient through two nonlinearities at once");
            t.factor = Factor{v.fn, v.order + 1, x.g[0]};
          }
          accumulate(wide, v.operands[0], d);
          break;
        }
        case Op::Broadcast:
          if (random(v.operands[0])) unsupported(v, "a random scalar spread over a width vector");
          break;
        default:
          unsupported(v, std::string("the op '") + ir::opName(v.op) + "' between the params and the output");
      }
    }
  }

  // ---- Slots ----------------------------------------------------------------------

  int emit(const std::string& key, KernelInstr ins) {
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    program_.push_back(std::move(ins));
    return slots_[key] = static_cast<int>(program_.size() - 1);
  }

  int constant(double c) {
    std::ostringstream k;
    k.precision(17);
    k << "C:" << c;
    KernelInstr ins;
    ins.kind = KernelInstr::Kind::Const;
    ins.value = c;
    return emit(k.str(), ins);
  }

  /// Σ coef · x · y over the terms that are not exactly zero.
  int sum(const std::string& key, std::vector<KernelInstr::Product> terms) {
    std::vector<KernelInstr::Product> kept;
    for (const auto& t : terms)
      if (t.coef != 0) kept.push_back(t);
    if (kept.empty()) return kZero;
    if (kept.size() == 1 && kept[0].coef == 1 && kept[0].y == -1) return kept[0].x;
    KernelInstr ins;
    ins.kind = KernelInstr::Kind::Sum;
    ins.terms = std::move(kept);
    return emit(key, ins);
  }

  int fieldCov(int i, int j) {
    const FwdField& a = fwdFields_[static_cast<size_t>(i)];
    const FwdField& b = fwdFields_[static_cast<size_t>(j)];
    if (a.kind != b.kind || a.param != b.param || a.row != b.row) return kZero;
    std::string key = "F:" + std::to_string(i) + ":" + std::to_string(j);
    double v = variance(a.param);
    switch (a.kind) {
      case FwdField::Kind::InputLayer: {
        KernelInstr ins;
        ins.kind = KernelInstr::Kind::InputDot;
        ins.value = v;
        ins.inputA = a.input;
        ins.inputB = b.input;
        return emit(key, ins);
      }
      case FwdField::Kind::Bias: return constant(v);
      case FwdField::Kind::Hidden:
      case FwdField::Kind::Readout: {
        int m = moment(a.arg, b.arg);
        return m == kZero ? kZero : sum(key, {{v, m, -1}});
      }
    }
    return kZero;
  }

  int linCov(const Linear& x, const Linear& y) {
    std::vector<KernelInstr::Product> terms;
    for (const auto& [i, ci] : x)
      for (const auto& [j, cj] : y)
        if (int s = fieldCov(i, j); s != kZero) terms.push_back({ci * cj, s, -1});
    return sum("L:" + str(x) + "|" + str(y), terms);
  }

  /// A slot for a variance, which Expect instructions need even when it is 0.
  int varianceSlot(const Linear& g) {
    int s = linCov(g, g);
    return s == kZero ? constant(0) : s;
  }

  int expect2(const Factor& fa, const Factor& fb) {
    std::string key = "E2:" + str(std::optional<Factor>(fa)) + "|" + str(std::optional<Factor>(fb));
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    if (fa.fn == Fn::Id && fa.order == 0 && fb.fn == Fn::Id && fb.order == 0) return linCov(fa.g, fb.g);
    KernelInstr ins;
    ins.kind = KernelInstr::Kind::Expect2;
    ins.f = fa.fn;
    ins.fk = fa.order;
    ins.g = fb.fn;
    ins.gk = fb.order;
    ins.varA = varianceSlot(fa.g);
    ins.varB = varianceSlot(fb.g);
    int c = linCov(fa.g, fb.g);
    ins.cov = c == kZero ? constant(0) : c;
    return emit(key, ins);
  }

  int expect1(const Factor& f, bool sideA) {
    if (f.fn == Fn::Id && f.order == 0) return kZero;
    std::string key = std::string("E1:") + (sideA ? "A:" : "B:") + str(std::optional<Factor>(f));
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    KernelInstr ins;
    ins.kind = KernelInstr::Kind::Expect1;
    ins.f = f.fn;
    ins.fk = f.order;
    (sideA ? ins.varA : ins.varB) = varianceSlot(f.g);
    return emit(key, ins);
  }

  static Factor factorOf(const Form& f) {
    return Factor{f.kind == Form::Kind::Function ? f.fn : Fn::Id, f.kind == Form::Kind::Function ? f.order : 0, f.g[0]};
  }

  /// E[Z^x(A) Z^y(B)] for forward width forms x, y (normalised).
  int moment(int x, int y) {
    const Form& fx = forms_[static_cast<size_t>(x)];
    const Form& fy = forms_[static_cast<size_t>(y)];
    if (fx.kind == Form::Kind::Zero || fy.kind == Form::Kind::Zero) return kZero;
    std::string key = "M:" + std::to_string(x) + ":" + std::to_string(y);
    if (fx.kind == Form::Kind::Known && fy.kind == Form::Kind::Known) return constant(fx.known[0] * fy.known[0]);
    if (fx.kind == Form::Kind::Known || fy.kind == Form::Kind::Known) {
      bool xKnown = fx.kind == Form::Kind::Known;
      const Form& r = xKnown ? fy : fx;
      int m = expect1(factorOf(r), !xKnown);
      double c = (xKnown ? fx.known[0] : fy.known[0]) * (r.kind == Form::Kind::Function ? r.scale : 1.0);
      return m == kZero ? kZero : sum(key, {{c, m, -1}});
    }
    double c = (fx.kind == Form::Kind::Function ? fx.scale : 1.0) * (fy.kind == Form::Kind::Function ? fy.scale : 1.0);
    int e = expect2(factorOf(fx), factorOf(fy));
    return e == kZero ? kZero : sum(key, {{c, e, -1}});
  }

  int factorMoment(const std::optional<Factor>& a, const std::optional<Factor>& b) {
    if (!a && !b) return constant(1);
    if (!b) return expect1(*a, true);
    if (!a) return expect1(*b, false);
    return expect2(*a, *b);
  }

  int backFieldCov(int i, int j) {
    const BackField& a = backFields_[static_cast<size_t>(i)];
    const BackField& b = backFields_[static_cast<size_t>(j)];
    if (a.kind != b.kind || a.param != b.param || a.row != b.row) return kZero;
    double v = variance(a.param);
    if (a.kind == BackField::Kind::ReadoutColumn) return constant(v);
    int m = backMoment(a.arg, a.seed, b.arg, b.seed);
    return m == kZero ? kZero : sum("BF:" + std::to_string(i) + ":" + std::to_string(j), {{v, m, -1}});
  }

  /// The coefficient of s_σx(A)·s_σy(B) in E[Z^x(A) Z^y(B)] for backward forms x, y.
  int backMoment(int x, int sx, int y, int sy) {
    std::string key = "B:" + std::to_string(x) + ":" + std::to_string(sx) + ":" + std::to_string(y) + ":" +
                      std::to_string(sy);
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    std::vector<KernelInstr::Product> terms;
    for (const BackTerm& tx : forms_[static_cast<size_t>(x)].terms) {
      if (tx.seed != sx) continue;
      for (const BackTerm& ty : forms_[static_cast<size_t>(y)].terms) {
        if (ty.seed != sy) continue;
        int f = backFieldCov(tx.field, ty.field);
        if (f == kZero) continue;
        int m = factorMoment(tx.factor, ty.factor);
        if (m != kZero) terms.push_back({tx.coef * ty.coef, f, m});
      }
    }
    return sum(key, terms);
  }

  // ---- The kernels ----------------------------------------------------------------

  void nngp(ValueId out, KernelDerivation& d) {
    const Form& f = formOf(out);
    size_t k = static_cast<size_t>(d.outputSize);
    d.nngp.assign(k, std::vector<KernelEntry>(k));
    if (f.kind == Form::Kind::Zero) return;
    if (f.kind != Form::Kind::Gaussian) unsupported(p_.at(out), "an output that is not a Gaussian at initialisation");
    if (f.e > 0) {
      d.nngpDiverges = true;
      d.why = "the initial output grows like n^(" + toString(f.e) + ")";
      return;
    }
    if (f.e < 0) return;  // f_0 → 0
    auto at = [&](size_t i) -> const Linear& { return f.g[f.g.size() == 1 ? 0 : i]; };
    for (size_t a = 0; a < k; ++a)
      for (size_t b = 0; b < k; ++b) d.nngp[a][b] = {linCov(at(a), at(b)), linCov(at(b), at(a))};
  }

  /// Adds coef·x·y (both orientations) to K[k][r] for the contribution's exponent.
  struct Accumulator {
    std::map<std::pair<int, int>, std::vector<KernelInstr::Product>> ab, ba;
  };

  void ntk(KernelDerivation& d) {
    Accumulator acc;
    ValueId seedValue = ir::kNoValue;
    std::map<std::string, std::string> verdict;
    for (const auto& entry : p_.updates) {
      const std::string& param = entry.first;
      const ValueId update = entry.second;  // not a structured binding: lambdas below capture it
      const ir::Exponents& e = ex(param);
      const Rational scaleExp = -e.c - 2 * e.a;
      const Form& upd = operand(p_.at(update), 1);
      const ir::ParamDecl* w = p_.findParam(param);
      std::vector<OuterTerm> terms = upd.outers;
      if (upd.kind == Form::Kind::Backward) terms.push_back({1.0, operandId(p_.at(update), 1), -1});
      else if (upd.kind != Form::Kind::Updates && upd.kind != Form::Kind::Zero)
        unsupported(p_.at(update), "this update (only sums of outer products, or a gradient for a bias)");
      std::optional<Rational> largest;
      for (const Site& site : sites_) {
        if (site.param != param) continue;
        for (const OuterTerm& t : terms) {
          const Form& u = forms_[static_cast<size_t>(t.u)];
          if (u.kind == Form::Kind::Zero) continue;
          auto noteSeed = [&](ValueId s) {
            if (seedValue != ir::kNoValue && seedValue != s)
              unsupported(p_.at(update), "updates driven by two different finite values ('" + p_.at(seedValue).label +
                                             "' and '" + p_.at(s).label + "'): the kernel limit needs one loss gradient");
            seedValue = s;
          };
          // D2 = y(A)·v(B) (and v(A)·y(B)), with its exponent.
          // (kOne: the factor 1, a bias has no D2.)
          Rational d2Exp = 0;
          int d2ab = kOne, d2ba = kOne;
          if (w->role == ir::Role::Hidden || w->role == ir::Role::Output) {
            const Form& v = forms_[static_cast<size_t>(t.v)];
            const Form& y = forms_[static_cast<size_t>(site.arg)];
            if (v.kind == Form::Kind::Zero || y.kind == Form::Kind::Zero) continue;
            if (!forward(v) && v.kind != Form::Kind::Known)
              unsupported(p_.at(update), "an update outer(u, v) whose v is not a forward vector");
            d2Exp = 1 + y.e + v.e;
            d2ab = moment(site.arg, t.v);
            d2ba = moment(t.v, site.arg);
          } else if (w->role == ir::Role::Input) {
            const Form& v = forms_[static_cast<size_t>(t.v)];
            const Form& y = forms_[static_cast<size_t>(site.arg)];
            if (v.kind != Form::Kind::Input) unsupported(p_.at(update), "an input-layer update outer(u, v) whose v is not an input");
            KernelInstr ins;
            ins.kind = KernelInstr::Kind::InputDot;
            ins.value = v.scale * y.scale;
            ins.inputA = y.input;
            ins.inputB = v.input;
            d2ab = emit("I:" + y.input + ":" + v.input + ":" + std::to_string(ins.value), ins);
            std::swap(ins.inputA, ins.inputB);
            d2ba = emit("I:" + v.input + ":" + y.input + ":" + std::to_string(ins.value), ins);
          }
          if (d2ab == kZero) continue;
          // D1 = sensitivity(A)·u(B) per (output k, seed r).
          if (w->role == ir::Role::Output) {
            if (u.kind == Form::Kind::Known) unsupported(p_.at(update), "a readout update by a constant");
            ValueId s = u.kind == Form::Kind::Seed ? u.seed : static_cast<ValueId>(-1);
            if (s == -1) unsupported(p_.at(update), "a readout update whose first factor is not a finite gradient");
            noteSeed(s);
            Rational x = scaleExp + d2Exp;
            if (!contributes(x, param, d, largest)) continue;
            const auto& c = finiteSensitivity_.at(site.value);
            for (size_t row = 0; row < c.size(); ++row)
              for (const auto& [adjSeed, coef] : c[row]) {
                int k = seeds_[static_cast<size_t>(adjSeed)].second;
                double total = t.coef * u.scale * coef;
                acc.ab[{k, static_cast<int>(row)}].push_back({total, d2ab, -1});
                acc.ba[{k, static_cast<int>(row)}].push_back({total, d2ba, -1});
              }
            continue;
          }
          if (u.kind != Form::Kind::Backward) unsupported(p_.at(update), "an update whose first factor is not a gradient");
          auto adjIt = adjointOfSite_.find(site.value);
          if (adjIt == adjointOfSite_.end()) continue;
          const Form& adj = forms_[static_cast<size_t>(adjIt->second)];
          Rational x = scaleExp + 1 + adj.e + u.e + d2Exp;
          if (!contributes(x, param, d, largest)) continue;
          std::map<int, bool> uSeeds, kSeeds;
          for (const BackTerm& bt : u.terms) uSeeds[bt.seed] = true;
          for (const BackTerm& bt : adj.terms) kSeeds[bt.seed] = true;
          for (const auto& [ks, unused1] : kSeeds)
            for (const auto& [us, unused2] : uSeeds) {
              noteSeed(seeds_[static_cast<size_t>(us)].first);
              int k = seeds_[static_cast<size_t>(ks)].second, r = seeds_[static_cast<size_t>(us)].second;
              int ab = backMoment(adjIt->second, ks, t.u, us), ba = backMoment(t.u, us, adjIt->second, ks);
              if (ab == kZero && ba == kZero) continue;
              auto push = [&](auto& m, int d1, int d2s) {
                if (d1 == kZero) return;
                m[{k, r}].push_back({t.coef, d1, d2s == kOne ? -1 : d2s});
              };
              push(acc.ab, ab, d2ab);
              push(acc.ba, ba, d2ba);
            }
        }
      }
      if (!largest) d.contributions.push_back({param, "no path from its update to the output"});
      else if (*largest == 0) d.contributions.push_back({param, "kept"});
      else if (*largest < 0)
        d.contributions.push_back({param, "dropped: its update moves the output by n^(" + toString(*largest) + ")"});
      else d.contributions.push_back({param, "diverges: its update moves the output by n^(" + toString(*largest) + ")"});
    }
    d.seed = seedValue;
    if (seedValue == ir::kNoValue) return;
    const Value& sv = p_.at(seedValue);
    d.seedSize = sv.type.isScalarLike() ? 1 : sv.type.size;
    d.ntk.assign(static_cast<size_t>(d.outputSize), std::vector<KernelEntry>(static_cast<size_t>(d.seedSize)));
    for (auto& [kr, terms] : acc.ab) {
      auto [k, r] = kr;
      d.ntk[static_cast<size_t>(k)][static_cast<size_t>(r)].ab = sum("K:" + std::to_string(k) + ":" + std::to_string(r), terms);
    }
    for (auto& [kr, terms] : acc.ba) {
      auto [k, r] = kr;
      d.ntk[static_cast<size_t>(k)][static_cast<size_t>(r)].ba = sum("KT:" + std::to_string(k) + ":" + std::to_string(r), terms);
    }
  }

  /// Whether a contribution of exponent x survives; records the largest and a divergence.
  bool contributes(const Rational& x, const std::string& param, KernelDerivation& d, std::optional<Rational>& largest) {
    if (!largest || x > *largest) largest = x;
    if (x > 0 && !d.ntkDiverges) {
      d.ntkDiverges = true;
      d.why = "the update of " + param + " moves the output by n^(" + toString(x) + ")";
    }
    return x == 0;
  }

  const ir::Program& p_;
  const ir::Parametrization& pz_;
  std::vector<bool> live_;
  std::vector<Form> forms_;
  std::vector<int> valueForm_;
  std::vector<FwdField> fwdFields_;
  std::vector<BackField> backFields_;
  std::map<std::string, int> fwdFieldIds_, backFieldIds_;
  std::vector<std::pair<ValueId, int>> seeds_;
  std::map<std::pair<ValueId, int>, int> seedIds_;
  std::vector<Site> sites_;
  std::map<ValueId, int> adjointOfSite_;
  std::map<ValueId, std::vector<std::map<int, double>>> finiteSensitivity_;
  KernelProgram program_;
  std::map<std::string, int> slots_;
};

}  // namespace

KernelDerivation deriveKernels(const ir::Program& differentiated, const ir::Parametrization& pz) {
  return Derivation(differentiated, pz).run();
}

}  // namespace tp::passes
