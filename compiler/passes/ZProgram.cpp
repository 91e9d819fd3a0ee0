// Z-program derivation: the leading-order limit of every normal-form value, as particle and scalar instructions.
#include "compiler/passes/ZProgram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>

#include "compiler/ir/Diagnostics.h"
#include "compiler/passes/Exponents.h"

namespace tp::passes {

using ir::Op;
using ir::Role;
using ir::Value;
using ir::ValueId;

namespace {

/// The limit of one normal-form value: Θ(n^e) times, per coordinate, the
/// limit held in a slot (kZeroSlot: exactly 0). A width vector has one slot
/// (particle or scalar), a finite value one per coordinate. `fluctuation`
/// marks a contraction whose mean vanishes by symmetry: its true size is
/// n^e but no slot holds it, so it may only drop out of a larger sum.
struct Limit {
  Exponent e = Exponent::zero();
  std::vector<int> slots;
  bool fluctuation = false;
};

/// A set of field numbers (base indices) as a bitset.
class Fields {
public:
  void insert(int i) {
    size_t w = static_cast<size_t>(i) / 64;
    if (words_.size() <= w) words_.resize(w + 1, 0);
    words_[w] |= uint64_t(1) << (static_cast<size_t>(i) % 64);
  }
  void merge(const Fields& other) {
    if (words_.size() < other.words_.size()) words_.resize(other.words_.size(), 0);
    for (size_t w = 0; w < other.words_.size(); ++w) words_[w] |= other.words_[w];
  }
  bool contains(int i) const {
    size_t w = static_cast<size_t>(i) / 64;
    return w < words_.size() && (words_[w] >> (static_cast<size_t>(i) % 64)) & 1;
  }

private:
  std::vector<uint64_t> words_;
};

/// The Gaussian fields of one n×n matrix W, or of its transpose: the vectors it was applied
/// to, orthonormalised (slots of x̃_j), and the standard Gaussian ξ_j of each direction.
struct Family {
  std::vector<int> directions;  // particle slots x̃_j, E[x̃_i x̃_j] = δ_ij (or 0 for a degenerate one)
  std::vector<int> fields;      // Base slots ξ_j
};

class Derivation {
public:
  Derivation(const ir::Program& p, const ir::Parametrization& pz)
      : p_(p), pz_(pz), exponents_(analyzeExponents(p, pz)) {}

  ZProgram run() {
    z_.steps = p_.steps;
    limits_.resize(p_.values.size());
    for (size_t i = 0; i < p_.values.size(); ++i) limits_[i] = eval(p_.values[i], static_cast<ValueId>(i));
    for (const ir::Result& r : p_.results) {
      const Limit& l = limits_[static_cast<size_t>(r.value)];
      ZResult out{r, {}};
      for (int s : l.slots) {
        if (l.e.isZero() || (l.e.isFinite() && l.e.value() < 0)) out.slots.push_back(kZeroSlot);
        else if (l.e.isInfinite() || l.e.value() > 0) out.slots.push_back(kDivergentSlot);
        else if (l.fluctuation)
          fail(p_.at(r.value), "a Gaussian-process output (readout a + b = 1/2): its initial value stays random");
        else out.slots.push_back(s);
      }
      z_.results.push_back(std::move(out));
    }
    return std::move(z_);
  }

private:
  [[noreturn]] void fail(const Value& v, const std::string& what) const {
    throw UserError(p_.file + ":" + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col) +
                    ": the feature-learning limit does not support " + what);
  }

  // ---- Emitting instructions ------------------------------------------------------

  int emit(ZInstr ins) {
    // The fields a particle instruction depends on: those of its particle operands (a scalar,
    // a mean included, is deterministic in the limit and carries none).
    Fields deps;
    if (ins.particle) {
      if (ins.kind == ZInstr::Kind::Base && z_.bases[static_cast<size_t>(ins.index)].field) deps.insert(ins.index);
      for (int o : ins.operands) deps.merge(fieldsOf_[static_cast<size_t>(o)]);
    }
    fieldsOf_.push_back(std::move(deps));
    z_.instrs.push_back(std::move(ins));
    return static_cast<int>(z_.instrs.size() - 1);
  }
  bool particle(int slot) const { return slot >= 0 && z_.instrs[static_cast<size_t>(slot)].particle; }

  int constant(double c) {
    auto [it, fresh] = constants_.emplace(c, 0);
    if (fresh) {
      ZInstr ins;
      ins.kind = ZInstr::Kind::Const;
      ins.value = c;
      it->second = emit(ins);
    }
    return it->second;
  }

  int op(ZInstr::Kind kind, std::vector<int> operands, ValueId origin, double value = 0) {
    ZInstr ins;
    ins.kind = kind;
    ins.value = value;
    ins.origin = origin;
    for (int s : operands) ins.particle = ins.particle || particle(s);
    if (kind == ZInstr::Kind::Mean) ins.particle = false;
    ins.operands = std::move(operands);
    return emit(ins);
  }

  /// a + b of two slots (either may be kZeroSlot).
  int add(int a, int b, ValueId origin) {
    if (a == kZeroSlot) return b;
    if (b == kZeroSlot) return a;
    return op(ZInstr::Kind::Add, {a, b}, origin);
  }
  int mul(int a, int b, ValueId origin) {
    if (a == kZeroSlot || b == kZeroSlot) return kZeroSlot;
    return op(ZInstr::Kind::Mul, {a, b}, origin);
  }
  int scaled(double c, int a, ValueId origin) {
    if (a == kZeroSlot || c == 0) return kZeroSlot;
    return c == 1 ? a : mul(constant(c), a, origin);
  }
  /// E over particles (a scalar stays itself).
  int mean(int a, ValueId origin) {
    if (a == kZeroSlot) return kZeroSlot;
    return particle(a) ? op(ZInstr::Kind::Mean, {a}, origin) : a;
  }

  // ---- Limits of values -----------------------------------------------------------

  const Limit& limitOf(ValueId v) const { return limits_[static_cast<size_t>(v)]; }
  Exponent exponentOf(ValueId v) const { return exponents_[static_cast<size_t>(v)].total(); }
  static size_t coordinates(const Value& v) { return v.type.isScalarLike() || v.type.isWidth() ? 1 : v.type.size; }

  Limit zero(const Value& v) const { return Limit{Exponent::zero(), std::vector<int>(coordinates(v), kZeroSlot)}; }

  /// Slot k of a limit, broadcasting a one-slot limit.
  static int slot(const Limit& l, size_t k) { return l.slots.size() == 1 ? l.slots[0] : l.slots[k]; }

  /// The leading-order sum Σ coef_i · x_i: the operands of the value's own exponent.
  Limit sum(const Value& v, ValueId id, const std::vector<std::pair<double, ValueId>>& terms) {
    Limit out{exponentOf(id), std::vector<int>(coordinates(v), kZeroSlot)};
    if (out.e.isZero()) return out;
    for (const auto& [coef, x] : terms) {
      const Limit& l = limitOf(x);
      if (l.e.isZero() || l.e < out.e) continue;  // a smaller part drops out of the limit
      if (out.e < l.e) fail(v, "a sum whose leading terms cancel");
      if (l.fluctuation) {
        out.fluctuation = true;
        continue;
      }
      for (size_t k = 0; k < out.slots.size(); ++k) out.slots[k] = add(out.slots[k], scaled(coef, slot(l, k), id), id);
    }
    return out;
  }

  /// Both operands' product (Mul), quotient (Div).
  Limit product(const Value& v, ValueId id, ZInstr::Kind kind) {
    const Limit& a = limitOf(v.operands[0]);
    const Limit& b = limitOf(v.operands[1]);
    Limit out{exponentOf(id), std::vector<int>(coordinates(v), kZeroSlot)};
    if (out.e.isZero() || a.e.isZero() || (kind == ZInstr::Kind::Mul && b.e.isZero())) return zero(v);
    if (a.fluctuation || b.fluctuation) {  // a fluctuation times a finite limit: still one (no slot)
      if (kind == ZInstr::Kind::Div && b.fluctuation) fail(v, "a division by a Gaussian fluctuation");
      out.fluctuation = true;
      return out;
    }
    for (size_t k = 0; k < out.slots.size(); ++k) {
      int x = slot(a, k), y = slot(b, k);
      if (kind == ZInstr::Kind::Div && y == kZeroSlot) fail(v, "a division by a value whose limit is 0");
      out.slots[k] = kind == ZInstr::Kind::Mul ? mul(x, y, id) : (x == kZeroSlot ? kZeroSlot : op(kind, {x, y}, id));
    }
    return out;
  }

  static constexpr int kNoOperand = -4;

  /// Σ_α x_α y_α over the width (y = kNoOperand: Σ_α x_α), scaled by `per` (1 for a sum, 1/n for a mean),
  /// as a particle mean at the law-of-large-numbers exponent.
  Limit contraction(const Value& v, ValueId id, int x, const Exponent& ex, int y, const Exponent& ey, bool perCoordinate) {
    Limit out{exponentOf(id), {kZeroSlot}};
    if (out.e.isZero()) return out;
    Exponent lln = ex + ey + (perCoordinate ? Rational(0) : Rational(1));
    if (out.e < lln) {  // the mean vanishes by symmetry: a CLT fluctuation
      out.fluctuation = true;
      return out;
    }
    out.slots[0] = mean(y == kNoOperand ? x : mul(x, y, id), id);
    return out;
  }

  Rational weightExponent(const std::string& param) const {
    const auto& e = pz_.params.at(param);
    return -(e.a + e.b);
  }

  /// The base Gaussian of a param's column/row (kZeroSlot for a zero-initialised param).
  int base(const std::string& param, int index) {
    const ir::ParamDecl* d = p_.findParam(param);
    if (d->zeroInit) return kZeroSlot;
    auto [it, fresh] = bases_.emplace(std::make_pair(param, index), 0);
    if (fresh) {
      z_.bases.push_back({param, index, toDouble(d->variance)});
      ZInstr ins;
      ins.kind = ZInstr::Kind::Base;
      ins.particle = true;
      ins.index = static_cast<int>(z_.bases.size() - 1);
      ins.name = param;
      it->second = emit(ins);
    }
    return it->second;
  }

  Limit eval(const Value& v, ValueId id) {
    Exponent e = exponentOf(id);
    if (v.type.isMatrix()) return Limit{e, {}};  // matrices enter through MatVec / MatTVec
    if (e.isZero()) return zero(v);
    if (e.isInfinite()) fail(v, "a value that grows faster than any power of n");
    switch (v.op) {
      case Op::Const: return Limit{e, {constant(v.number)}};
      case Op::Hyper: return Limit{e, {constant(p_.findHyper(v.name)->value)}};
      case Op::Width:
      case Op::Scale: return Limit{e, {constant(1)}};
      case Op::Input: {
        Limit out{e, {}};
        for (size_t k = 0; k < coordinates(v); ++k) {
          ZInstr ins;
          ins.kind = ZInstr::Kind::Input;
          ins.name = v.name;
          ins.split = v.split;
          ins.example = v.example;
          ins.index = static_cast<int>(k);
          ins.origin = id;
          out.slots.push_back(emit(ins));
        }
        return out;
      }
      case Op::Param:  // a bias (width vector); finite params are not in the language
        if (!v.type.isWidth()) fail(v, "a finite param");
        return Limit{e, {base(v.name, 0)}};
      case Op::Add: return sum(v, id, {{1.0, v.operands[0]}, {1.0, v.operands[1]}});
      case Op::Sub: return sum(v, id, {{1.0, v.operands[0]}, {-1.0, v.operands[1]}});
      case Op::Neg: return sum(v, id, {{-1.0, v.operands[0]}});
      case Op::BatchMean: {
        std::vector<std::pair<double, ValueId>> terms;
        for (ValueId x : v.operands) terms.push_back({1.0 / static_cast<double>(v.operands.size()), x});
        return sum(v, id, terms);
      }
      case Op::Broadcast: {
        const Limit& x = limitOf(v.operands[0]);
        return Limit{e, std::vector<int>(coordinates(v), x.slots[0]), x.fluctuation};
      }
      case Op::Mul: return product(v, id, ZInstr::Kind::Mul);
      case Op::Div: return product(v, id, ZInstr::Kind::Div);
      case Op::Pow: {
        const Limit& x = limitOf(v.operands[0]);
        if (x.fluctuation) fail(v, "a power of a Gaussian fluctuation");
        Limit out{e, {}};
        for (int s : x.slots) {
          if (s == kZeroSlot && v.number <= 0) fail(v, "a non-positive power of a value whose limit is 0");
          out.slots.push_back(s == kZeroSlot ? kZeroSlot : op(ZInstr::Kind::Pow, {s}, id, v.number));
        }
        return out;
      }
      case Op::Apply: return apply(v, id);
      case Op::Softmax:
      case Op::CrossEntropy: return softmax(v, id);
      case Op::MatVec:
      case Op::MatTVec: return matrixProduct(v, id);
      case Op::Dot: {
        const Value& a = p_.at(v.operands[0]);
        const Limit& x = limitOf(v.operands[0]);
        const Limit& y = limitOf(v.operands[1]);
        if (a.type.isWidth()) return contraction(v, id, x.slots[0], x.e, y.slots[0], y.e, false);
        Limit out{e, {kZeroSlot}};
        if (x.e + y.e < e) fail(v, "a dot product whose leading terms cancel");
        if (x.fluctuation || y.fluctuation) fail(v, "a dot product with a Gaussian fluctuation");
        for (size_t k = 0; k < x.slots.size(); ++k) out.slots[0] = add(out.slots[0], mul(x.slots[k], slot(y, k), id), id);
        return out;
      }
      case Op::Mean:
      case Op::Sum: {
        const Value& a = p_.at(v.operands[0]);
        const Limit& x = limitOf(v.operands[0]);
        if (a.type.isWidth()) return contraction(v, id, x.slots[0], x.e, kNoOperand, Exponent::of(0), v.op == Op::Mean);
        if (x.fluctuation) fail(v, "a reduction of a Gaussian fluctuation");
        Limit out{e, {kZeroSlot}};
        for (int s : x.slots) out.slots[0] = add(out.slots[0], s, id);
        if (v.op == Op::Mean) out.slots[0] = scaled(1.0 / static_cast<double>(x.slots.size()), out.slots[0], id);
        return out;
      }
      default: fail(v, std::string("the op '") + ir::opName(v.op) + "' yet");
    }
  }

  /// φ^(k)(x): of a Θ(1) argument, the function itself; of a vanishing one, φ^(k)(0) when that
  /// is the leading part, or φ^(k+1)(0)·x when φ^(k)(0) = 0 (a linear start).
  Limit apply(const Value& v, ValueId id) {
    const Limit& x = limitOf(v.operands[0]);
    Exponent e = exponentOf(id);
    if (x.fluctuation) fail(v, "a nonlinearity of a Gaussian fluctuation");
    Limit out{e, {}};
    for (int s : x.slots) {
      if (x.e == Exponent::of(0) && s == kZeroSlot) {  // a coordinate that is exactly 0: φ^(k)(0)
        out.slots.push_back(kConstantAtZero);
      } else if (x.e == Exponent::of(0)) {
        ZInstr ins;
        ins.kind = ZInstr::Kind::Apply;
        ins.fn = v.fn;
        ins.order = v.order;
        ins.origin = id;
        ins.operands = {s};
        ins.particle = particle(s);
        out.slots.push_back(emit(ins));
      } else if (e == Exponent::of(0) && (x.e.isZero() || x.e < Exponent::of(0))) {
        out.slots.push_back(kConstantAtZero);  // resolved below
      } else if (e == x.e) {
        ZInstr ins;
        ins.kind = ZInstr::Kind::Apply;
        ins.fn = v.fn;
        ins.order = v.order + 1;
        ins.operands = {constant(0)};
        ins.origin = id;
        out.slots.push_back(mul(emit(ins), s, id));
      } else {
        fail(v, "a nonlinearity of an argument that does not stay of order 1");
      }
    }
    for (int& s : out.slots)
      if (s == kConstantAtZero) {
        ZInstr ins;
        ins.kind = ZInstr::Kind::Apply;
        ins.fn = v.fn;
        ins.order = v.order;
        ins.operands = {constant(0)};
        ins.origin = id;
        s = emit(ins);
      }
    return out;
  }
  static constexpr int kConstantAtZero = -3;

  /// fn of a scalar slot (kZeroSlot: fn(0)).
  int scalarFn(ir::Fn fn, int x, ValueId origin) {
    ZInstr ins;
    ins.kind = ZInstr::Kind::Apply;
    ins.fn = fn;
    ins.origin = origin;
    ins.operands = {x == kZeroSlot ? constant(0) : x};
    return emit(ins);
  }

  /// softmax(f) and cross_entropy(f, y) = Σ_i y_i (log Σ_j e^{f_j} − f_i) of finite logits f: of
  /// Θ(1) logits, those scalar formulas; of vanishing logits (μP's f_0), their values at f = 0,
  /// 1/k and Σ_i y_i log k.
  Limit softmax(const Value& v, ValueId id) {
    const Limit& f = limitOf(v.operands[0]);
    size_t k = f.slots.size();
    bool vanishing = f.e.isZero() || f.e < Exponent::of(0);
    if (!vanishing && Exponent::of(0) < f.e) fail(v, "a softmax of logits that grow with n");
    if (!vanishing && f.fluctuation) fail(v, "a softmax of Gaussian-process logits");
    Limit out{exponentOf(id), {}};
    std::vector<int> logits(k, kZeroSlot);
    if (!vanishing) logits = f.slots;
    int total = kZeroSlot;
    std::vector<int> exps;
    for (int s : logits) {
      exps.push_back(scalarFn(ir::Fn::Exp, s, id));
      total = add(total, exps.back(), id);
    }
    if (v.op == Op::Softmax) {
      for (int e : exps) out.slots.push_back(op(ZInstr::Kind::Div, {e, total}, id));
      return out;
    }
    const Limit& y = limitOf(v.operands[1]);
    int lse = scalarFn(ir::Fn::Log, total, id), ce = kZeroSlot;
    for (size_t i = 0; i < k; ++i) {
      int diff = logits[i] == kZeroSlot ? lse : op(ZInstr::Kind::Sub, {lse, logits[i]}, id);
      ce = add(ce, mul(slot(y, i), diff, id), id);
    }
    out.slots.push_back(ce);
    return out;
  }

  /// W x and Wᵀ y for an input layer W[n, d] (columns U_j) and a readout W[k, n] (rows V_r).
  Limit matrixProduct(const Value& v, ValueId id) {
    const Value& w = p_.at(v.operands[0]);
    const ir::ParamDecl* decl = w.op == Op::Param ? p_.findParam(w.name) : nullptr;
    if (!decl) fail(v, "a product with a matrix that is not a param");
    const Limit& x = limitOf(v.operands[1]);
    Exponent scale = Exponent::of(weightExponent(decl->name));
    if (decl->zeroInit) return zero(v);
    bool transposed = v.op == Op::MatTVec;
    Exponent e = exponentOf(id);
    if (decl->role == Role::Hidden) return hiddenProduct(v, id, *decl, transposed);
    // Input layer W x and readout Wᵀ y: a combination of base Gaussians with finite coefficients.
    bool combination = (decl->role == Role::Input) != transposed;
    if (combination) {
      if (x.fluctuation) fail(v, "a matrix applied to a Gaussian fluctuation");
      Limit out{e, {kZeroSlot}};
      if (e.isZero()) return out;
      if (x.e + scale < e) fail(v, "a matrix product whose leading terms cancel");
      for (size_t j = 0; j < x.slots.size(); ++j) out.slots[0] = add(out.slots[0], mul(base(decl->name, int(j)), x.slots[j], id), id);
      return out;
    }
    // Readout W x and input layer Wᵀ y: one contraction per row / column.
    Limit out{e, {}};
    size_t rows = coordinates(v);
    for (size_t r = 0; r < rows; ++r) {
      Limit c = contraction(v, id, base(decl->name, int(r)), scale, x.slots[0], x.e, false);
      out.fluctuation = out.fluctuation || c.fluctuation;
      out.slots.push_back(c.slots[0]);
    }
    return out;
  }

  /// W̄ x (or W̄ᵀ x) for an n×n matrix, W = n^(1/2−a−b) W̄: Ẑ from W's family (a new field
  /// for the part of x no earlier product spanned), Ż from its transpose's.
  Limit hiddenProduct(const Value& v, ValueId id, const ir::ParamDecl& decl, bool transposed) {
    const Limit& x = limitOf(v.operands[1]);
    Exponent e = exponentOf(id);
    if (e.isZero() || x.slots[0] == kZeroSlot) return zero(v);
    if (x.fluctuation) fail(v, "a matrix applied to a Gaussian fluctuation");
    if (x.e + Exponent::of(weightExponent(decl.name) + Rational(1, 2)) != e)
      fail(v, "a matrix product whose leading terms cancel");
    int in = x.slots[0];
    if (!particle(in)) fail(v, "an n×n matrix applied to a vector with the same value in every coordinate");
    double sigma = std::sqrt(toDouble(decl.variance));
    Family& own = families_[{decl.name, transposed}];
    const Family& dual = families_[{decl.name, !transposed}];

    // Ẑ: project x on the family's directions (modified Gram–Schmidt), a new field for the rest.
    int hat = kZeroSlot, rest = in;
    for (size_t j = 0; j < own.directions.size(); ++j) {
      int c = mean(mul(rest, own.directions[j], id), id);
      hat = add(hat, mul(c, own.fields[j], id), id);
      rest = op(ZInstr::Kind::Sub, {rest, mul(c, own.directions[j], id)}, id);
    }
    int size2 = mean(mul(in, in, id), id), rest2 = rest == in ? size2 : mean(mul(rest, rest, id), id);
    int length = op(ZInstr::Kind::Pivot, {rest2, size2}, id, 0.5);
    int inverse = op(ZInstr::Kind::Pivot, {rest2, size2}, id, -0.5);
    int xi = field(decl.name, transposed, static_cast<int>(own.fields.size()));
    hat = add(hat, mul(length, xi, id), id);
    own.directions.push_back(mul(rest, inverse, id));
    own.fields.push_back(xi);

    // Ż: σ Σ_j Z^ỹ_j E[ξ'_j Z^x] over the transpose's fields that x depends on.
    int dot = kZeroSlot;
    for (size_t j = 0; j < dual.fields.size(); ++j) {
      int f = dual.fields[j];
      if (!fieldsOf_[static_cast<size_t>(in)].contains(z_.instrs[static_cast<size_t>(f)].index)) continue;
      dot = add(dot, mul(mean(mul(f, in, id), id), dual.directions[j], id), id);
    }
    return Limit{e, {scaled(sigma, add(hat, dot, id), id)}};
  }

  /// A new standard Gaussian field of W's (or Wᵀ's) family.
  int field(const std::string& param, bool transposed, int number) {
    z_.bases.push_back({param, number, 1.0, true, transposed});
    ZInstr ins;
    ins.kind = ZInstr::Kind::Base;
    ins.particle = true;
    ins.index = static_cast<int>(z_.bases.size() - 1);
    ins.name = param;
    return emit(ins);
  }

  const ir::Program& p_;
  const ir::Parametrization& pz_;
  std::vector<ValueExponents> exponents_;
  std::vector<Limit> limits_;
  ZProgram z_;
  std::map<double, int> constants_;
  std::map<std::pair<std::string, int>, int> bases_;
  std::map<std::pair<std::string, bool>, Family> families_;  // (matrix, transposed)
  std::vector<Fields> fieldsOf_;                             // per instruction
};

std::string kindName(ZInstr::Kind k) {
  switch (k) {
    case ZInstr::Kind::Base: return "base";
    case ZInstr::Kind::Const: return "const";
    case ZInstr::Kind::Input: return "input";
    case ZInstr::Kind::Add: return "add";
    case ZInstr::Kind::Sub: return "sub";
    case ZInstr::Kind::Mul: return "mul";
    case ZInstr::Kind::Div: return "div";
    case ZInstr::Kind::Neg: return "neg";
    case ZInstr::Kind::Pow: return "pow";
    case ZInstr::Kind::Apply: return "apply";
    case ZInstr::Kind::Mean: return "E";
    case ZInstr::Kind::Pivot: return "pivot";
  }
  return "?";
}

}  // namespace

ZProgram deriveZProgram(const ir::Program& netsor, const ir::Parametrization& pz) {
  TP_ASSERT(netsor.stage == ir::Stage::Netsor, "deriveZProgram expects a normal-form program");
  return Derivation(netsor, pz).run();
}

bool smoothParticleFunctions(const ZProgram& z) {
  for (const ZInstr& ins : z.instrs)
    if (ins.particle && ins.kind == ZInstr::Kind::Apply &&
        (ins.fn == ir::Fn::Relu || ins.fn == ir::Fn::Abs || ins.fn == ir::Fn::Step))
      return false;
  return true;
}

int meanDegree(const ZProgram& z) {
  constexpr int kNotPolynomial = -1;
  std::vector<int> degree(z.instrs.size(), 0);
  int largest = 0;
  for (size_t i = 0; i < z.instrs.size(); ++i) {
    const ZInstr& ins = z.instrs[i];
    auto of = [&](size_t j) { return degree[static_cast<size_t>(ins.operands[j])]; };
    int d = 0;
    if (!ins.particle) {
      if (ins.kind == ZInstr::Kind::Mean) largest = std::max(largest, of(0));
    } else {
      switch (ins.kind) {
        case ZInstr::Kind::Base: d = 1; break;
        case ZInstr::Kind::Add:
        case ZInstr::Kind::Sub: d = std::max(of(0), of(1)); break;
        case ZInstr::Kind::Mul: d = of(0) + of(1); break;
        case ZInstr::Kind::Div:
          if (of(1) != 0) return kNotPolynomial;
          d = of(0);
          break;
        case ZInstr::Kind::Neg: d = of(0); break;
        case ZInstr::Kind::Pow:
          if (of(0) == 0) break;
          if (ins.value < 0 || ins.value != std::floor(ins.value) || ins.value > 8) return kNotPolynomial;
          d = of(0) * static_cast<int>(ins.value);
          break;
        case ZInstr::Kind::Apply: {
          if (of(0) == 0) break;
          // The order-k derivative of id (x, 1, 0, …) and of square (x², 2x, 2, 0, …).
          int top = ins.fn == ir::Fn::Id ? 1 : ins.fn == ir::Fn::Square ? 2 : -1;
          if (top < 0) return kNotPolynomial;
          d = of(0) * std::max(0, top - ins.order);
          break;
        }
        default: return kNotPolynomial;
      }
    }
    degree[i] = d;
  }
  return largest;
}

std::string printZProgram(const ZProgram& z, const ir::Program& netsor) {
  std::ostringstream out;
  out.precision(17);
  out << "# Z-program of " << netsor.file << " (" << z.bases.size() << " base Gaussians, " << z.instrs.size()
      << " instructions)\n";
  for (size_t i = 0; i < z.bases.size(); ++i) {
    const ZBase& b = z.bases[i];
    if (b.field)
      out << "base " << i << " = field " << b.index << " of " << b.param << (b.transposed ? ".T" : "") << " ~ N(0, 1)\n";
    else
      out << "base " << i << " = " << b.param << "[" << b.index << "] ~ N(0, " << b.variance << ")\n";
  }
  for (size_t i = 0; i < z.instrs.size(); ++i) {
    const ZInstr& ins = z.instrs[i];
    out << (ins.particle ? "  Z" : "  s") << i << " = " << kindName(ins.kind);
    switch (ins.kind) {
      case ZInstr::Kind::Base: out << " " << ins.index; break;
      case ZInstr::Kind::Const: out << " " << ins.value; break;
      case ZInstr::Kind::Input:
        out << " " << ins.name << "[" << ins.index << "] " << (ins.split == ir::Split::Eval ? "eval" : "train")
            << ins.example;
        break;
      case ZInstr::Kind::Apply: out << " " << ir::fnName(ins.fn) << std::string(static_cast<size_t>(ins.order), '\''); break;
      case ZInstr::Kind::Pow: out << " ^" << ins.value; break;
      case ZInstr::Kind::Pivot: out << " ^" << ins.value; break;
      default: break;
    }
    for (int o : ins.operands) out << " " << (z.instrs[static_cast<size_t>(o)].particle ? "Z" : "s") << o;
    if (ins.origin != ir::kNoValue) {
      const Value& v = netsor.at(ins.origin);
      out << "    # %" << ins.origin;
      if (!v.label.empty()) out << " " << v.label;
      if (v.step >= 0) out << " t" << v.step;
    }
    out << "\n";
  }
  for (const ZResult& r : z.results) {
    out << (r.result.kind == ir::Result::Kind::Loss ? "loss" : r.result.name) << " t" << r.result.step << " #"
        << r.result.example << " =";
    for (int s : r.slots)
      out << " " << (s == kZeroSlot ? "0" : s == kDivergentSlot ? "inf" : "s" + std::to_string(s));
    out << "\n";
  }
  return out.str();
}

}  // namespace tp::passes
