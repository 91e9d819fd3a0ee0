// Width exponents of every value of a normal-form program, by parts with sign-flip parities.
#include "compiler/passes/Exponents.h"

#include <algorithm>

namespace tp::passes {

using ir::Fn;
using ir::Op;
using ir::Program;
using ir::Value;

// ---- Exponent ------------------------------------------------------------------

std::string Exponent::str() const {
  if (kind_ == Kind::NegInf) return "-inf";
  if (kind_ == Kind::PosInf) return "inf";
  return toString(value_);
}

Exponent Exponent::operator+(const Exponent& o) const {
  if (isZero() || o.isZero()) return zero();
  if (isInfinite() || o.isInfinite()) return infinite();
  return of(value_ + o.value_);
}

Exponent Exponent::times(const Rational& p) const {
  if (p == 0) return of(0);
  if (isFinite()) return of(value_ * p);
  bool large = isInfinite() == (p > 0);
  return large ? infinite() : zero();
}

std::strong_ordering Exponent::operator<=>(const Exponent& o) const {
  if (kind_ != o.kind_) return static_cast<int>(kind_) <=> static_cast<int>(o.kind_);
  if (kind_ != Kind::Finite) return std::strong_ordering::equal;
  return value_ < o.value_ ? std::strong_ordering::less
                           : (value_ > o.value_ ? std::strong_ordering::greater : std::strong_ordering::equal);
}

Exponent maxOf(const Exponent& a, const Exponent& b) { return a < b ? b : a; }

namespace {

// ---- Parities and parts -----------------------------------------------------------

/// Behaviour under flipping the sign of one param's initial weights.
enum Sign : uint8_t { kEven = 0, kOdd = 1, kMixed = 2 };
using Parity = std::vector<uint8_t>;  // one Sign per param

/// The parity of a product: odd·odd = even, odd·even = odd, mixed absorbs.
Parity product(const Parity& a, const Parity& b) {
  Parity out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = (a[i] == kMixed || b[i] == kMixed) ? kMixed : (a[i] ^ b[i]);
  return out;
}

bool anyOdd(const Parity& p) { return std::find(p.begin(), p.end(), kOdd) != p.end(); }

/// Θ(n^e) times a Θ(1) program vector of the given parity.
struct Part {
  Exponent e;
  Parity parity;
};

/// A sum of parts; parts of equal parity are merged (the larger exponent wins).
struct Size {
  std::vector<Part> parts;

  void add(const Part& p) {
    if (p.e.isZero()) return;
    for (auto& q : parts)
      if (q.parity == p.parity) {
        q.e = maxOf(q.e, p.e);
        return;
      }
    parts.push_back(p);
  }
  void addAll(const Size& s) {
    for (const auto& p : s.parts) add(p);
  }
  Exponent max() const {
    Exponent m = Exponent::zero();
    for (const auto& p : parts) m = maxOf(m, p.e);
    return m;
  }
  /// The parity of the whole sum: a param's sign where all parts agree, mixed otherwise.
  Parity joined(size_t sources) const {
    if (parts.empty()) return Parity(sources, kEven);
    Parity out = parts[0].parity;
    for (const auto& p : parts)
      for (size_t i = 0; i < out.size(); ++i)
        if (out[i] != p.parity[i]) out[i] = kMixed;
    return out;
  }
};

/// The value with the initial params (`init`), the value itself (`total`)
/// and the change the updates make (`delta`). The total is kept on its own
/// because init and delta can cancel: tanh'(h) of an h that grows is small
/// although its init and its delta are both Θ(1).
struct Abstract {
  Size init, delta, total;
};

/// Lowers every part to at most `bound`: |total − init| ≤ max(|total|, |init|).
Size capped(Size s, const Exponent& bound) {
  for (auto& p : s.parts) p.e = std::min(p.e, bound);
  return s;
}

/// The delta of a value, no larger than its total and its init allow.
void boundDelta(Abstract& a) { a.delta = capped(a.delta, maxOf(a.total.max(), a.init.max())); }

/// Pairwise products of parts; `contraction` sums over the width: a law of
/// large numbers (n^1) unless the product is odd in a param (its mean is zero
/// by symmetry: central limit, n^(1/2)).
Size multiply(const Size& x, const Size& y, bool contraction) {
  Size out;
  for (const auto& p : x.parts)
    for (const auto& q : y.parts) {
      Parity par = product(p.parity, q.parity);
      Exponent e = p.e + q.e;
      if (contraction) e = e + (anyOdd(par) ? Rational(1, 2) : Rational(1));
      out.add({e, par});
    }
  return out;
}

/// (x0 + dx)(y0 + dy): init x0 y0, delta x0 dy + dx y0 + dx dy, total x y.
Abstract bilinear(const Abstract& x, const Abstract& y, bool contraction) {
  Abstract out;
  out.init = multiply(x.init, y.init, contraction);
  out.total = multiply(x.total, y.total, contraction);
  out.delta = multiply(x.init, y.delta, contraction);
  out.delta.addAll(multiply(x.delta, y.init, contraction));
  out.delta.addAll(multiply(x.delta, y.delta, contraction));
  boundDelta(out);
  return out;
}

/// Applies a map of parts to both halves (for ops linear in their operand).
template <class F>
Abstract linear(const Abstract& x, F f) {
  Abstract out;
  for (const auto& p : x.init.parts) out.init.add(f(p));
  for (const auto& p : x.delta.parts) out.delta.add(f(p));
  for (const auto& p : x.total.parts) out.total.add(f(p));
  return out;
}

// ---- Elementwise functions ---------------------------------------------------------

/// How |f(x)| scales with |x| = n^e, and f's symmetry.
struct Shape {
  bool zeroFn = false;    // identically zero (almost everywhere)
  bool constant = false;  // a nonzero constant
  Rational small = 0;     // |f(x)| ~ |x|^small as x → 0 (0: f(0) ≠ 0; negative: a pole)
  /// Decays: faster than any power, so for a growing argument with a density
  /// at 0 the mean is carried by the n^(−e) fraction of coordinates of order 1.
  enum class Tail { Power, Decays, Explodes } tail = Tail::Power;
  Rational large = 0;     // |f(x)| ~ |x|^large as |x| → ∞ (Power)
  Rational diff = 1;      // |f(x) − f(0)| ~ |x|^diff as x → 0 (0: f jumps at 0)
  Sign parity = kMixed;   // odd, even or neither
};

Shape power(const Rational& p) {
  Shape s;
  s.constant = p == 0;
  s.small = s.large = s.diff = p;
  bool integer = denominator(p) == 1;
  s.parity = !integer ? kMixed : (numerator(p) % 2 == 0 ? kEven : kOdd);
  return s;
}

Shape zeroFn() {
  Shape s;
  s.zeroFn = true;
  return s;
}

Shape smooth(Rational small, Shape::Tail tail, Rational large, Sign parity) {
  Shape s;
  s.small = small;
  s.tail = tail;
  s.large = large;
  s.parity = parity;
  s.diff = parity == kEven ? 2 : 1;  // an even smooth f: f(x) − f(0) ~ x²
  return s;
}

Shape jump(Sign parity) {
  Shape s;
  s.diff = 0;
  s.parity = parity;
  return s;
}

/// The k-th derivative of a bounded odd function that decays after one derivative (tanh, erf).
Shape oddSigmoidal(int k) {
  if (k == 0) return smooth(1, Shape::Tail::Power, 0, kOdd);
  return k % 2 ? smooth(0, Shape::Tail::Decays, 0, kEven) : smooth(1, Shape::Tail::Decays, 0, kOdd);
}

/// The logistic sigmoid and its derivatives (σ − 1/2 is odd).
Shape sigmoid(int k) {
  if (k == 0) return smooth(0, Shape::Tail::Power, 0, kMixed);
  return k % 2 ? smooth(0, Shape::Tail::Decays, 0, kEven) : smooth(1, Shape::Tail::Decays, 0, kOdd);
}

Shape shapeOf(Fn f, int k) {
  using T = Shape::Tail;
  switch (f) {
    case Fn::Id: return k == 0 ? power(1) : (k == 1 ? power(0) : zeroFn());
    case Fn::Relu: return k == 0 ? smooth(1, T::Power, 1, kMixed) : (k == 1 ? jump(kMixed) : zeroFn());
    case Fn::Step: return k == 0 ? jump(kMixed) : zeroFn();
    case Fn::Tanh:
    case Fn::Erf: return oddSigmoidal(k);
    case Fn::Sigmoid: return sigmoid(k);
    case Fn::Softplus: return k == 0 ? smooth(0, T::Power, 1, kMixed) : sigmoid(k - 1);
    case Fn::Gelu:
      if (k == 0) return smooth(1, T::Power, 1, kMixed);
      if (k == 1) return smooth(0, T::Power, 0, kMixed);
      return k % 2 ? smooth(1, T::Decays, 0, kOdd) : smooth(0, T::Decays, 0, kEven);
    case Fn::Sin: return k % 2 ? smooth(0, T::Power, 0, kEven) : smooth(1, T::Power, 0, kOdd);
    case Fn::Cos: return k % 2 ? smooth(1, T::Power, 0, kOdd) : smooth(0, T::Power, 0, kEven);
    case Fn::Exp: return smooth(0, T::Explodes, 0, kMixed);
    case Fn::Square: return k == 0 ? power(2) : (k == 1 ? power(1) : (k == 2 ? power(0) : zeroFn()));
    case Fn::Abs: return k == 0 ? smooth(1, T::Power, 1, kEven) : (k == 1 ? jump(kOdd) : zeroFn());
    case Fn::Sqrt: return power(Rational(1, 2) - k);
    case Fn::Log: return k == 0 ? smooth(0, T::Power, 0, kMixed) : power(Rational(-k));
  }
  return smooth(0, T::Power, 1, kMixed);
}

/// The exponent of f(x) for |x| = n^e.
Exponent sizeOf(const Shape& s, const Exponent& e) {
  if (s.zeroFn) return Exponent::zero();
  if (s.constant) return Exponent::of(0);
  if (e.isZero()) return s.small > 0 ? Exponent::zero() : (s.small == 0 ? Exponent::of(0) : Exponent::infinite());
  bool grows = e.isInfinite() || e.value() > 0;
  if (!grows) return e.times(s.small);
  switch (s.tail) {
    case Shape::Tail::Power: return e.times(s.large);
    case Shape::Tail::Decays: return e.times(-1);  // only the n^(−e) fraction of coordinates near 0 counts
    case Shape::Tail::Explodes: return Exponent::infinite();
  }
  return e;
}

Parity parityAfter(const Shape& s, Parity p) {
  for (auto& x : p)
    if (x == kOdd) x = s.parity == kOdd ? kOdd : (s.parity == kEven ? kEven : kMixed);
  return p;
}

Parity mixedWhereDependent(Parity p) {
  for (auto& x : p)
    if (x == kOdd) x = kMixed;
  return p;
}

/// f(x) for f of shape `s` with derivative of shape `ds`: the init is f(x0),
/// the total f(x); the delta is linearised, f'(x0)·δx, when δx is smaller
/// than x0 and O(1); otherwise it is the size of f(x) − f(x0) (DESIGN.md §2).
Abstract applyShape(const Shape& s, const Shape& ds, const Abstract& x, size_t sources) {
  Abstract out;
  Exponent eI = x.init.max(), eD = x.delta.max(), eT = x.total.max();
  Parity pI = x.init.joined(sources);
  out.init.add({sizeOf(s, eI), parityAfter(s, pI)});
  out.total.add({sizeOf(s, eT), parityAfter(s, x.total.joined(sources))});
  if (s.zeroFn || s.constant || eD.isZero()) return out;
  bool small = eD < eI && eD <= Exponent::of(0);
  if (small && !ds.zeroFn) {
    Size slope;
    slope.add({sizeOf(ds, eI), parityAfter(ds, pI)});
    out.delta = multiply(slope, x.delta, false);
  } else if (small) {  // a jump: the fraction of coordinates that cross it, n^(eD − eI)
    out.delta.add({eI.isFinite() ? eD + Exponent::of(-eI.value()) : eD, Parity(sources, kMixed)});
  } else if (eD <= Exponent::of(0)) {
    out.delta.add({s.diff == 0 ? Exponent::of(0) : eD.times(s.diff), Parity(sources, kMixed)});
  } else {
    out.delta.add({maxOf(sizeOf(s, eT), sizeOf(s, eI)), Parity(sources, kMixed)});
  }
  boundDelta(out);
  return out;
}

// ---- The analysis ---------------------------------------------------------------------

class Analyzer {
public:
  Analyzer(const Program& p, const ir::Parametrization& pz) : p_(p), pz_(pz), sources_(p.params.size()) {}

  std::vector<ValueExponents> run() {
    vals_.reserve(p_.values.size());
    for (const auto& v : p_.values) {
      vals_.push_back(eval(v));
      if (!v.type.isWidth()) forgetParity(vals_.back());
    }
    std::vector<ValueExponents> out;
    out.reserve(vals_.size());
    for (const auto& a : vals_) out.push_back({a.init.max(), a.delta.max()});
    return out;
  }

private:
  /// A scalar (or finite vector) multiplies a width vector as a common factor:
  /// whether a later sum over coordinates is a LLN or a CLT depends only on
  /// the coordinates, so scalars carry no parity (mean(h · s) with h odd in a
  /// weight is n^(−1/2)·|s| whatever s depends on).
  void forgetParity(Abstract& a) const {
    for (Size* s : {&a.init, &a.delta, &a.total}) {
      Exponent e = s->max();
      s->parts.clear();
      s->add({e, Parity(sources_, kEven)});
    }
  }

  const Abstract& arg(const Value& v, size_t k) const { return vals_[static_cast<size_t>(v.operands[k])]; }

  Abstract constant(const Exponent& e) const {
    Abstract a;
    a.init.add({e, Parity(sources_, kEven)});
    a.total = a.init;
    return a;
  }

  /// The initial entries of a param are n^(−(a+b)) times Θ(1), odd in the param.
  Part paramPart(const std::string& name) const {
    const ir::ParamDecl* d = p_.findParam(name);
    const ir::Exponents& e = pz_.params.at(name);
    Parity par(sources_, kEven);
    par[static_cast<size_t>(p_.paramIndex(name))] = kOdd;
    return {d->zeroInit ? Exponent::zero() : Exponent::of(-(e.a + e.b)), par};
  }

  /// W x or Wᵀ x with an initial weight (the only matrix products of the normal form).
  Abstract matrixProduct(const Value& v) const {
    const ir::ParamDecl* d = p_.findParam(p_.at(v.operands[0]).name);
    Part w = paramPart(d->name);
    const Abstract& x = arg(v, 1);
    if (d->role == ir::Role::Hidden)  // W = n^(1/2−a−b) W̄ and W̄x is Θ(1)·|x| (Ẑ + Ż)
      return linear(x, [&](const Part& p) { return Part{p.e + w.e + Rational(1, 2), product(p.parity, w.parity)}; });
    bool transposed = v.op == Op::MatTVec;
    bool sumsOverWidth = (transposed ? d->type.rows : d->type.cols).isWidth;
    Size weight;
    weight.add(w);
    Abstract out;
    out.init = multiply(weight, x.init, sumsOverWidth);
    out.delta = multiply(weight, x.delta, sumsOverWidth);
    out.total = multiply(weight, x.total, sumsOverWidth);
    return out;
  }

  /// (1/dim) Σ_i x_i or Σ_i x_i: over the width, a contraction with the constant vector.
  Abstract reduce(const Value& v) const {
    const Abstract& x = arg(v, 0);
    if (!p_.at(v.operands[0]).type.isWidth()) return x;
    Abstract ones = constant(Exponent::of(v.op == Op::Mean ? -1 : 0));
    return bilinear(ones, x, true);
  }

  Abstract eval(const Value& v) const {
    switch (v.op) {
      case Op::Const: return v.number == 0 ? Abstract{} : constant(Exponent::of(0));
      case Op::Hyper: return hyperValue(v.name) == 0 ? Abstract{} : constant(Exponent::of(0));
      case Op::Width: return constant(Exponent::of(1));
      case Op::Input: return constant(Exponent::of(0));
      case Op::Param: {
        Abstract a;
        if (!v.type.isMatrix()) a.init.add(paramPart(v.name));
        a.total = a.init;
        return a;
      }
      case Op::Scale: {
        const ir::Exponents& e = pz_.params.at(v.name);
        Abstract a;
        a.delta.add({Exponent::of(-e.c - 2 * e.a), Parity(sources_, kEven)});
        a.total = a.delta;
        return a;
      }
      case Op::Add:
      case Op::Sub:
      case Op::BatchMean: {
        Abstract out;
        for (size_t k = 0; k < v.operands.size(); ++k) {
          out.init.addAll(arg(v, k).init);
          out.delta.addAll(arg(v, k).delta);
          out.total.addAll(arg(v, k).total);
        }
        return out;
      }
      case Op::Neg:
      case Op::Broadcast: return arg(v, 0);
      case Op::Mul: return bilinear(arg(v, 0), arg(v, 1), false);
      case Op::Div: return bilinear(arg(v, 0), applyShape(power(-1), power(-2), arg(v, 1), sources_), false);
      case Op::Pow: return applyShape(power(Rational(v.number)), powerDerivative(v.number), arg(v, 0), sources_);
      case Op::Apply: return applyShape(shapeOf(v.fn, v.order), shapeOf(v.fn, v.order + 1), arg(v, 0), sources_);
      case Op::MatVec:
      case Op::MatTVec: return matrixProduct(v);
      case Op::Dot:
        return bilinear(arg(v, 0), arg(v, 1), p_.at(v.operands[0]).type.isWidth());
      case Op::Mean:
      case Op::Sum: return reduce(v);
      case Op::Softmax: {  // bounded coordinates that sum to 1; a Θ(1)-Lipschitz map
        const Abstract& x = arg(v, 0);
        Abstract out;
        out.init.add({Exponent::of(0), mixedWhereDependent(x.init.joined(sources_))});
        out.total.add({Exponent::of(0), mixedWhereDependent(x.total.joined(sources_))});
        if (!x.delta.max().isZero())
          out.delta.add({std::min(x.delta.max(), Exponent::of(0)), Parity(sources_, kMixed)});
        return out;
      }
      case Op::CrossEntropy:  // log k at f = 0, growing like |f|: the shape of softplus
        return applyShape(shapeOf(Fn::Softplus, 0), shapeOf(Fn::Softplus, 1), arg(v, 0), sources_);
      case Op::Outer:
      case Op::Grad:
      case Op::Update: break;
    }
    TP_ASSERT(false, std::string("exponent analysis: unexpected op ") + ir::opName(v.op));
  }

  static Shape powerDerivative(double p) {
    if (p == 0) return zeroFn();
    return power(Rational(p) - 1);
  }

  double hyperValue(const std::string& name) const {
    const ir::HyperDecl* h = p_.findHyper(name);
    return h ? h->value : 1.0;
  }

  const Program& p_;
  const ir::Parametrization& pz_;
  size_t sources_;
  std::vector<Abstract> vals_;
};

}  // namespace

std::vector<ValueExponents> analyzeExponents(const Program& netsor, const ir::Parametrization& pz) {
  TP_ASSERT(netsor.stage == ir::Stage::Netsor, "the exponent analysis expects a normal-form program");
  return Analyzer(netsor, pz).run();
}

}  // namespace tp::passes
