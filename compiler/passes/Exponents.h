// Width-exponent analysis: how the coordinates of every value scale with the width n.
#pragma once

#include <compare>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"

namespace tp::passes {

/// A width exponent: coordinates of size Θ(n^e) for an exact rational e, or
/// exactly zero / superpolynomially small ("-inf"), or superpolynomially
/// large ("inf", e.g. `exp` of a growing argument).
class Exponent {
public:
  static Exponent zero() { return Exponent(Kind::NegInf, 0); }
  static Exponent infinite() { return Exponent(Kind::PosInf, 0); }
  static Exponent of(const Rational& r) { return Exponent(Kind::Finite, r); }

  bool isZero() const { return kind_ == Kind::NegInf; }
  bool isInfinite() const { return kind_ == Kind::PosInf; }
  bool isFinite() const { return kind_ == Kind::Finite; }
  /// The rational value (only when finite).
  const Rational& value() const { return value_; }
  /// "-inf", "inf", or the rational ("-1/2").
  std::string str() const;

  /// n^e · n^f. Zero times anything (even "inf") is zero.
  Exponent operator+(const Exponent& other) const;
  Exponent operator+(const Rational& r) const { return *this + of(r); }
  /// e · p for a rational power (p > 0 keeps the kind, p < 0 swaps the infinities, p = 0 gives 0).
  Exponent times(const Rational& p) const;
  std::strong_ordering operator<=>(const Exponent& other) const;
  bool operator==(const Exponent& other) const = default;

private:
  enum class Kind { NegInf, Finite, PosInf };
  Exponent(Kind k, Rational v) : kind_(k), value_(std::move(v)) {}
  Kind kind_;
  Rational value_;
};

Exponent maxOf(const Exponent& a, const Exponent& b);

/// The exponents of one value of a normal-form program: `init` of the value
/// computed with the initial params (every `Scale` set to 0), `update` of the
/// difference the training updates make (`value − init`; "-inf" at step 0).
struct ValueExponents {
  Exponent init = Exponent::zero();
  Exponent update = Exponent::zero();
  Exponent total() const { return maxOf(init, update); }
};

/// Assigns every value of a normal-form program its width exponents under
/// a parametrization (DESIGN.md §2, TP4 App. H.3).
///
/// Each value is kept as a sum of *parts*, each Θ(n^e) times a Θ(1) program
/// vector, and each part knows its parity under flipping the sign of every
/// param's initial weights (even, odd, or mixed). A contraction over the width
/// (`dot`, `mean`, a readout `W x`, `Wᵀ y` of an input layer) is a law of large
/// numbers, `n^(1+e_x+e_y)`, unless the product of the parts is odd in some
/// param: then its expectation vanishes by symmetry and the central limit
/// theorem gives `n^(1/2+e_x+e_y)` — the NNGP output at initialisation is the
/// case that matters. A hidden `W x` is `n^(1/2−a−b)` times Θ(1) (Ẑ + Ż,
/// whether or not x depends on W). `Scale(P)` is `n^(−c−2a)`. A nonlinearity
/// of `x_0 + δx` with `δx` small against its scale is linearised,
/// `φ(x_0 + δx) − φ(x_0) ≈ φ'(x_0) δx`, which is where the kernel regime
/// appears. The data are taken to be generic (no input is identically zero).
/// Pre: stage netsor; `pz` covers every param. Post: one entry per value.
std::vector<ValueExponents> analyzeExponents(const ir::Program& netsor, const ir::Parametrization& pz);

}  // namespace tp::passes
