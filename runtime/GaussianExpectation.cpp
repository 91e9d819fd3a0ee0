// Gaussian expectations of activation pairs: arc-cosine, erf and exponential closed forms, else Gauss–Hermite.
#include "runtime/GaussianExpectation.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "runtime/Activation.h"
#include "runtime/Quadrature.h"
#include "runtime/Vectorize.h"

namespace tp {

namespace {

using ir::Fn;
using std::numbers::pi;

// ---------------------------------------------------------------------------
// Piecewise-polynomial and erf functions: linear combinations of atoms.
// ---------------------------------------------------------------------------

/// The building blocks of the closed forms. Every derivative of id, square,
/// relu, step and abs, and erf, erf', is a short combination of atoms at ±x.
enum class Atom { One, Lin, Quad, Relu, Step, Erf, ErfPrime };

/// coef · atom(mirrored ? −x : x).
struct Term {
  double coef;
  Atom atom;
  bool mirrored = false;
};

/// f^(k) as a combination of atoms (empty: identically zero), or nullopt.
/// The a.e. derivatives follow evalActivation: relu' = step, abs' = sign =
/// step(x) − step(−x) (0 at 0, like sign), step' = 0.
std::optional<std::vector<Term>> atomTerms(Fn f, int k) {
  using V = std::vector<Term>;
  switch (f) {
    case Fn::Id: return k == 0 ? V{{1, Atom::Lin}} : k == 1 ? V{{1, Atom::One}} : V{};
    case Fn::Square:
      return k == 0 ? V{{1, Atom::Quad}} : k == 1 ? V{{2, Atom::Lin}} : k == 2 ? V{{2, Atom::One}} : V{};
    case Fn::Relu: return k == 0 ? V{{1, Atom::Relu}} : k == 1 ? V{{1, Atom::Step}} : V{};
    case Fn::Step: return k == 0 ? V{{1, Atom::Step}} : V{};
    case Fn::Abs:
      if (k == 0) return V{{1, Atom::Relu}, {1, Atom::Relu, true}};
      if (k == 1) return V{{1, Atom::Step}, {-1, Atom::Step, true}};
      return V{};
    case Fn::Erf:
      if (k == 0) return V{{1, Atom::Erf}};
      if (k == 1) return V{{1, Atom::ErfPrime}};
      return std::nullopt;
    default: return std::nullopt;
  }
}

/// E[atom(v)], v ~ N(0, b), b > 0 (the same at −v). erf' = (2/√π)e^{−x²} and
/// E[e^{−v²}] = 1/sqrt(1 + 2b).
double atomMean(Atom atom, double b) {
  switch (atom) {
    case Atom::One: return 1.0;
    case Atom::Lin: return 0.0;
    case Atom::Quad: return b;
    case Atom::Relu: return std::sqrt(b / (2 * pi));
    case Atom::Step: return 0.5;
    case Atom::Erf: return 0.0;
    case Atom::ErfPrime: return 2 / std::sqrt(pi * (1 + 2 * b));
  }
  return 0.0;
}

// The reduction points of halfPlaneAngle, tan(π/8) rounded and its arctangent (exact to an ulp).
const double kTanPiOver8 = std::tan(pi / 8), kAtanOfTanPiOver8 = std::atan(kTanPiOver8);
const double kTanPiOver16 = std::tan(pi / 16), kTan3PiOver16 = std::tan(3 * pi / 16);

/// halfPlaneAngle, inlined into the loops that vectorise it.
[[gnu::always_inline]] inline double angleOf(double r, double c) {
  // 1. The first octant: t = small/big ∈ [0, 1].
  const double x = std::fabs(c), big = std::max(x, r), small = std::min(x, r);
  // 2. atan t = atan c_k + atan((t − c_k)/(1 + t·c_k)) with c_k = tan(kπ/8) nearest to t (k = 0, 1, 2),
  //    in one division of (small − c_k·big) by (big + c_k·small): |t'| ≤ tan(π/16) < 0.2.
  const bool past1 = small > kTanPiOver16 * big, past3 = small > kTan3PiOver16 * big;
  const double ck = past3 ? 1.0 : (past1 ? kTanPiOver8 : 0.0);
  const double atanCk = past3 ? pi / 4 : (past1 ? kAtanOfTanPiOver8 : 0.0);
  const double denominator = big + ck * small;
  const double t = (small - ck * big) / (denominator > 0 ? denominator : 1.0);
  // 3. The Taylor series of atan to t²³ (the first omitted term is below 0.2²⁴/25 < 1e-18),
  //    by Estrin's scheme, whose short dependency chains keep vector units busy.
  const double s = t * t, s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
  auto pair = [s](double even, double odd) { return even - s * odd; };
  const double q0 = pair(1.0, 1.0 / 3), q1 = pair(1.0 / 5, 1.0 / 7), q2 = pair(1.0 / 9, 1.0 / 11),
               q3 = pair(1.0 / 13, 1.0 / 15), q4 = pair(1.0 / 17, 1.0 / 19), q5 = pair(1.0 / 21, 1.0 / 23);
  const double p = (q0 + s2 * q1) + s4 * (q2 + s2 * q3) + s8 * (q4 + s2 * q5);
  double a = atanCk + t * p;
  // 4. Undo the reductions: the octant (r > |c|), then the half plane (c < 0).
  a = r > x ? pi / 2 - a : a;
  return c < 0 ? pi - a : a;
}


/// E[A(u)·B(v)] for atoms A ≤ B (in enum order), a, b > 0, |c| ≤ sqrt(ab).
///
/// The derivations use four facts:
///  (S) Stein's lemma: E[u·h(v)] = c·E[h'(v)]  (so Lin × anything).
///  (R) regression: u = (c/b)·v + w, w ⟂ v, Var w = a − c²/b  (Quad × anything).
///  (T) tilting: e^{−v²}·N(0, Σ) ∝ N(0, Σ') with Σ' = (Σ⁻¹ + diag(0, 2))⁻¹,
///      Var'(u) = a − 2c²/(1 + 2b), normaliser E[e^{−v²}] = 1/sqrt(1 + 2b)
///      (anything × erf').
///  (E) erf(x) = E_N[sign(√2·x + N)], N ~ N(0, 1), with Sheppard's
///      E[sign X · sign Y] = (2/π)·asin ρ_XY  (anything × erf).
/// plus relu = (x + |x|)/2, step = (1 + sign x)/2 and parity (an odd function
/// of u times an even one of v, or the reverse, has mean 0).
/// `r` = sqrt(ab − c²) = sqrt(ab)·sin θ and `theta` = atan2(r, c) = halfPlaneAngle(r, c) (cos θ = c / sqrt(ab)) are
/// passed in, so that pairs on the same arguments share them (arcGeometry).
inline double atomPair(Atom A, Atom B, double a, double b, double c, double r, double theta) {
  const double tb = 1 + 2 * b;
  switch (A) {
    case Atom::One: return atomMean(B, b);
    case Atom::Lin:  // (S) with E[h'(v)] of each B
      switch (B) {
        case Atom::Lin: return c;
        case Atom::Quad: return 0.0;
        case Atom::Relu: return c / 2;
        case Atom::Step: return c / std::sqrt(2 * pi * b);  // E[δ(v)] = density at 0
        case Atom::Erf: return 2 * c / std::sqrt(pi * tb);
        case Atom::ErfPrime: return 0.0;  // erf'' is odd
        default: break;
      }
      break;
    case Atom::Quad:  // (R): E[u²h(v)] = (c/b)²·E[v²h(v)] + (a − c²/b)·E[h(v)]
      switch (B) {
        case Atom::Quad: return a * b + 2 * c * c;                       // Isserlis
        case Atom::Relu: return (a * b + c * c) / std::sqrt(2 * pi * b);  // E[v²relu v] = 2b^{3/2}/√(2π)
        case Atom::Step: return a / 2;
        case Atom::Erf: return 0.0;
        case Atom::ErfPrime: return 2 * (a * tb - 2 * c * c) / (std::sqrt(pi) * tb * std::sqrt(tb));  // (T)
        default: break;
      }
      break;
    case Atom::Relu:
      switch (B) {
        // Cho & Saul (2009), "Kernel methods for deep learning": half the
        // arc-cosine kernel of degree 1, sqrt(ab)/(2π)·(sin θ + (π − θ) cos θ).
        case Atom::Relu: return (r + (pi - theta) * c) / (2 * pi);
        // The degree-(1, 0) mixture, by the same polar-coordinate integral:
        // sqrt(a)(1 + cos θ)/(2 sqrt(2π)).
        case Atom::Step: return (std::sqrt(a * b) + c) / (2 * std::sqrt(2 * pi * b));
        case Atom::Erf: return c / std::sqrt(pi * tb);  // relu = (x + |x|)/2, (S), parity
        case Atom::ErfPrime:  // (1/2)·(2/√π)·E[|u|e^{−v²}] by (T), E'|u| = sqrt(2 Var'(u)/π)
          return std::sqrt(2.0) / pi * std::sqrt(std::max(a * tb - 2 * c * c, 0.0)) / tb;
        default: break;
      }
      break;
    case Atom::Step:
      switch (B) {
        case Atom::Step: return (pi - theta) / (2 * pi);  // Cho & Saul (2009), half of degree 0
        case Atom::Erf:  // (E): step = (1 + sign)/2, ρ = √2·c / sqrt(a(1 + 2b))
          return std::asin(std::clamp(std::sqrt(2.0) * c / std::sqrt(a * tb), -1.0, 1.0)) / pi;
        case Atom::ErfPrime: return 1 / std::sqrt(pi * tb);  // (T): P'(u > 0) = 1/2
        default: break;
      }
      break;
    case Atom::Erf:
      switch (B) {
        // Williams (1997), "Computing with infinite networks", the erf kernel
        // (also (E) twice): (2/π)·asin(2c / sqrt((1 + 2a)(1 + 2b))).
        case Atom::Erf: return 2 / pi * std::asin(std::clamp(2 * c / std::sqrt((1 + 2 * a) * tb), -1.0, 1.0));
        case Atom::ErfPrime: return 0.0;  // parity
        default: break;
      }
      break;
    case Atom::ErfPrime:
      // (4/π)·E[e^{−u²−v²}] = (4/π)·det(I + 2Σ)^{−1/2}.
      if (B == Atom::ErfPrime) return 4 / pi / std::sqrt((1 + 2 * a) * tb - 4 * c * c);
      break;
  }
  throw InternalError("atomPair: atoms out of order");
}

/// Σ_{s,t} coef_s coef_t E[A_s(±u) B_t(±v)]; a mirror flips the sign of c.
double atomCombination(const std::vector<Term>& fs, const std::vector<Term>& gs, double a, double b,
                       double c, double r, double theta) {
  double total = 0;
  for (const Term& s : fs)
    for (const Term& t : gs) {
      double cst = s.mirrored != t.mirrored ? -c : c;
      double th = s.mirrored != t.mirrored ? pi - theta : theta;  // θ(−c) = π − θ(c)
      double e = s.atom <= t.atom ? atomPair(s.atom, t.atom, a, b, cst, r, th)
                                  : atomPair(t.atom, s.atom, b, a, cst, r, th);
      total += s.coef * t.coef * e;
    }
  return total;
}

// ---------------------------------------------------------------------------
// exp, sin, cos: real parts of complex exponentials.
// ---------------------------------------------------------------------------

using Complex = std::complex<double>;

/// f^(k)(x) = Re(amp · e^{rate·x}).
struct Wave {
  Complex amp, rate;
};

/// exp^(k) = exp; sin^(k)(x) = sin(x + kπ/2) = Re(−i·i^k·e^{ix});
/// cos^(k)(x) = cos(x + kπ/2) = Re(i^k·e^{ix}).
std::optional<Wave> waveOf(Fn f, int k) {
  static const Complex kPowersOfI[4] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
  const Complex ik = kPowersOfI[k % 4], i(0, 1);
  switch (f) {
    case Fn::Exp: return Wave{1.0, 1.0};
    case Fn::Sin: return Wave{-i * ik, i};
    case Fn::Cos: return Wave{ik, i};
    default: return std::nullopt;
  }
}

/// E[e^{λu + μv}] = exp((λ²a + 2λμc + μ²b)/2), the Gaussian moment
/// generating function, valid for complex λ, μ.
Complex mgf(Complex lambda, Complex mu, double a, double b, double c) {
  return std::exp((lambda * lambda * a + 2.0 * lambda * mu * c + mu * mu * b) / 2.0);
}

/// E[Re(A e^{λu}) · Re(B e^{μv})] by Re X · Re Y = (Re XY + Re XȲ)/2.
double wavePair(const Wave& f, const Wave& g, double a, double b, double c) {
  return 0.5 * (f.amp * g.amp * mgf(f.rate, g.rate, a, b, c)).real() +
         0.5 * (f.amp * std::conj(g.amp) * mgf(f.rate, std::conj(g.rate), a, b, c)).real();
}

// ---------------------------------------------------------------------------
// Dispatch.
// ---------------------------------------------------------------------------

/// E[f^(k)(u)], u ~ N(0, var), var > 0, if a closed form is known.
std::optional<double> singleClosedForm(Fn f, int k, double var) {
  if (auto terms = atomTerms(f, k)) {
    double total = 0;
    for (const Term& t : *terms) total += t.coef * atomMean(t.atom, var);
    return total;
  }
  if (auto w = waveOf(f, k)) return (w->amp * mgf(w->rate, 0.0, var, 0.0, 0.0)).real();
  return std::nullopt;
}

/// f^(k)(x) = α + β·x exactly (including f^(k) ≡ 0), if so.
std::optional<std::pair<double, double>> affineCoefficients(Fn f, int k) {
  auto terms = atomTerms(f, k);
  if (!terms) return std::nullopt;
  double alpha = 0, beta = 0;
  for (const Term& t : *terms) {
    if (t.atom == Atom::One) alpha += t.coef;
    else if (t.atom == Atom::Lin) beta += t.coef;
    else return std::nullopt;
  }
  return std::pair{alpha, beta};
}

/// E[(α + βu)·g^(gk)(v)] = α·E[g^(gk)] + β·c·E[g^(gk+1)] (Stein's lemma), when
/// the needed one-dimensional expectations are closed forms.
std::optional<double> affinePair(std::pair<double, double> ab, Fn g, int gk, double varV, double c) {
  auto [alpha, beta] = ab;
  double total = 0;
  if (alpha != 0) {
    auto m = singleClosedForm(g, gk, varV);
    if (!m) return std::nullopt;
    total += alpha * *m;
  }
  if (beta != 0 && c != 0) {
    auto m = singleClosedForm(g, gk + 1, varV);
    if (!m) return std::nullopt;
    total += beta * c * *m;
  }
  return total;
}

/// The coarser rule that the a-posteriori error estimate compares with.
int coarseOrder(int order) { return order >= 2 ? order / 2 : 2; }

/// Σ_i w_i f^(k)(sqrt(var)·x_i).
double singleRule(Fn f, int k, double var, int order) {
  const GaussHermiteRule& rule = gaussHermite(order);
  const size_t n = rule.nodes.size();
  std::vector<double> y(n);
  const double s = std::sqrt(var);
  for (size_t i = 0; i < n; ++i) y[i] = s * rule.nodes[i];
  applyActivation(f, k, y.data(), y.data(), n);
  double total = 0;
  for (size_t i = 0; i < n; ++i)
    if (rule.weights[i] != 0) total += rule.weights[i] * y[i];
  return total;
}

/// The tensor rule on u = sqrt(a)·z1, v = (c/sqrt(a))·z1 + sqrt(b − c²/a)·z2
/// (a > 0): the Cholesky factor of the covariance, so z1, z2 are independent
/// standard Gaussians. Nodes whose weight underflowed to 0 are skipped, and so
/// are rows where f^(fk)(u) = 0 (half of them for relu and step), which also
/// keeps 0·inf from turning into NaN.
double tensorRule(Fn f, int fk, Fn g, int gk, double a, double b, double c, int order) {
  const GaussHermiteRule& rule = gaussHermite(order);
  const size_t n = rule.nodes.size();
  const std::vector<double>& x = rule.nodes;
  const std::vector<double>& w = rule.weights;
  const double sa = std::sqrt(a), slope = c / sa, rest = std::sqrt(std::max(b - c * c / a, 0.0));
  std::vector<double> fu(n), v(n);
  for (size_t i = 0; i < n; ++i) fu[i] = sa * x[i];
  applyActivation(f, fk, fu.data(), fu.data(), n);
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (w[i] == 0 || fu[i] == 0) continue;
    for (size_t j = 0; j < n; ++j) v[j] = slope * x[i] + rest * x[j];
    applyActivation(g, gk, v.data(), v.data(), n);
    double inner = 0;
    for (size_t j = 0; j < n; ++j)
      if (w[j] != 0) inner += w[j] * v[j];
    total += w[i] * fu[i] * inner;
  }
  return total;
}

PairExpectation withErrorEstimate(double fine, double coarse) { return {fine, std::fabs(fine - coarse), false}; }

void checkVariance(double var, const char* what) {
  if (!(var >= 0) || !std::isfinite(var))
    throw std::invalid_argument(std::string(what) + " must be finite and >= 0, got " + std::to_string(var));
}

void checkOrders(int k1, int k2, int order) {
  if (k1 < 0 || k2 < 0) throw std::invalid_argument("Gaussian expectation: negative derivative order");
  if (order < 1 || order > kMaxGaussHermiteOrder)
    throw std::invalid_argument("Gaussian expectation: quadrature order " + std::to_string(order) +
                                " outside 1.." + std::to_string(kMaxGaussHermiteOrder));
}

/// Checks a covariance and clamps it into [−sqrt(ab), sqrt(ab)]. The relative
/// slack 1e-9 accepts covariances that kernel recursions push a few ulps past
/// the Cauchy–Schwarz bound, and nothing that is genuinely not positive
/// semi-definite.
double checkedCovariance(double a, double b, double c) {
  checkVariance(a, "varU");
  checkVariance(b, "varV");
  if (!std::isfinite(c)) throw std::invalid_argument("Gaussian expectation: the covariance is not finite");
  if (c * c <= a * b) return c;  // the common case, without a square root
  const double bound = std::sqrt(a * b);
  if (std::fabs(c) > bound * (1 + 1e-9))
    throw std::invalid_argument("Gaussian expectation: covariance " + std::to_string(c) +
                                " exceeds sqrt(varU·varV) = " + std::to_string(bound));
  return std::clamp(c, -bound, bound);
}

/// E[f^(k)(u)], u ~ N(0, var), with the closed form if allowed and known.
PairExpectation singleExpectation(Fn f, int k, double var, int order, bool allowClosedForm) {
  if (var == 0) return {evalActivation(f, k, 0.0), 0.0, true};
  if (allowClosedForm)
    if (auto e = singleClosedForm(f, k, var)) return {*e, 0.0, true};
  return withErrorEstimate(singleRule(f, k, var, order), singleRule(f, k, var, coarseOrder(order)));
}

PairExpectation pairExpectation(Fn f, int fk, Fn g, int gk, double a, double b, double c, int order,
                                bool allowClosedForm) {
  return PreparedPair(f, fk, g, gk, order, allowClosedForm).evaluate(a, b, c);
}

}  // namespace

PairExpectation expectPair(ir::Fn f, int fk, ir::Fn g, int gk, double varU, double varV, double cov, int order) {
  return pairExpectation(f, fk, g, gk, varU, varV, cov, order, true);
}

PairExpectation expectPairQuadrature(ir::Fn f, int fk, ir::Fn g, int gk, double varU, double varV, double cov,
                                     int order) {
  return pairExpectation(f, fk, g, gk, varU, varV, cov, order, false);
}

struct PreparedPair::Impl {
  std::vector<Term> ft, gt;                 // Atoms
  Wave fw{}, gw{};                          // Waves
  std::pair<double, double> affine{0, 0};   // AffineLeft (f affine) / AffineRight (g affine)
  // Atoms with one unmirrored term each, in atomPair's order: coef · atomPair(A, B, ...).
  bool single = false;
  Atom A = Atom::One, B = Atom::One;
  double coef = 0;
};

PreparedPair::PreparedPair(Fn f, int fk, Fn g, int gk, int order, bool allowClosedForm)
    : f_(f), g_(g), fk_(fk), gk_(gk), order_(order), allowClosedForm_(allowClosedForm) {
  checkOrders(fk, gk, order);
  auto impl = std::make_shared<Impl>();
  if (allowClosedForm) {
    auto ft = atomTerms(f, fk), gt = atomTerms(g, gk);
    auto fw = waveOf(f, fk), gw = waveOf(g, gk);
    auto fa = affineCoefficients(f, fk), ga = affineCoefficients(g, gk);
    // affinePair is nullopt exactly when a needed 1-D closed form is missing,
    // whatever the (positive) variance and (nonzero) covariance.
    if (ft && gt) {
      kind_ = Kind::Atoms;
      impl->ft = *ft;
      impl->gt = *gt;
      if (ft->size() == 1 && gt->size() == 1 && !(*ft)[0].mirrored && !(*gt)[0].mirrored &&
          (*ft)[0].atom <= (*gt)[0].atom) {
        impl->single = true;
        impl->A = (*ft)[0].atom;
        impl->B = (*gt)[0].atom;
        impl->coef = (*ft)[0].coef * (*gt)[0].coef;
      }
    } else if (fw && gw) {
      kind_ = Kind::Waves;
      impl->fw = *fw;
      impl->gw = *gw;
    } else if (fa && affinePair(*fa, g, gk, 1.0, 0.5)) {
      kind_ = Kind::AffineLeft;
      impl->affine = *fa;
    } else if (ga && affinePair(*ga, f, fk, 1.0, 0.5)) {
      kind_ = Kind::AffineRight;
      impl->affine = *ga;
    }
  }
  impl_ = std::move(impl);
}

double PreparedPair::closed(double a, double b, double c) const {
  switch (kind_) {
    case Kind::Atoms: {
      double r = std::sqrt(std::max(a * b - c * c, 0.0));
      return atomCombination(impl_->ft, impl_->gt, a, b, c, r, angleOf(r, c));
    }
    case Kind::Waves: return wavePair(impl_->fw, impl_->gw, a, b, c);
    case Kind::AffineLeft: return *affinePair(impl_->affine, g_, gk_, b, c);
    case Kind::AffineRight: return *affinePair(impl_->affine, f_, fk_, a, c);
    case Kind::Quadrature: break;
  }
  throw InternalError("PreparedPair: no closed form");
}

/// A zero variance pins that variable to 0 (and forces c = 0): the pair is a
/// constant times a one-dimensional expectation. A zero constant wins even
/// over an infinite expectation, since the integrand is 0 everywhere.
PairExpectation PreparedPair::degenerate(double a, double b) const {
  bool uFixed = a == 0;
  double fixed = uFixed ? evalActivation(f_, fk_, 0.0) : evalActivation(g_, gk_, 0.0);
  if (fixed == 0) return {0.0, 0.0, true};
  PairExpectation e = uFixed ? singleExpectation(g_, gk_, b, order_, allowClosedForm_)
                             : singleExpectation(f_, fk_, a, order_, allowClosedForm_);
  return {fixed * e.value, std::fabs(fixed) * e.error, e.closedForm};
}

PairExpectation PreparedPair::evaluate(double a, double b, double c) const {
  c = checkedCovariance(a, b, c);
  if (a == 0 || b == 0) return degenerate(a, b);
  if (kind_ != Kind::Quadrature) return {closed(a, b, c), 0.0, true};
  return withErrorEstimate(tensorRule(f_, fk_, g_, gk_, a, b, c, order_),
                           tensorRule(f_, fk_, g_, gk_, a, b, c, coarseOrder(order_)));
}

double PreparedPair::value(double a, double b, double c) const {
  c = checkedCovariance(a, b, c);
  if (a == 0 || b == 0) return degenerate(a, b).value;
  if (kind_ != Kind::Quadrature) return closed(a, b, c);
  return tensorRule(f_, fk_, g_, gk_, a, b, c, order_);
}

double halfPlaneAngle(double r, double c) { return angleOf(r, c); }

namespace {

constexpr double kMaxFinite = std::numeric_limits<double>::max();

/// r = sqrt(ab − c²) and θ = halfPlaneAngle(r, c) for n entries.
TPC_VECTOR_CLONES void polarParts(const double* __restrict a, const double* __restrict b, const double* __restrict c,
                                  size_t n, double* __restrict r, double* __restrict theta) {
  for (size_t j = 0; j < n; ++j) {
    r[j] = std::sqrt(std::max(a[j] * b[j] - c[j] * c[j], 0.0));
    theta[j] = angleOf(r[j], c[j]);
  }
}

}  // namespace

void PairGeometry::compute(const double* a, const double* b, const double* c, size_t n) {
  varU.assign(a, a + n);
  varV.assign(b, b + n);
  computeFromVariances(c, n);
}

void PairGeometry::computeFromVariances(const double* c, size_t n) {
  const double* a = varU.data();
  const double* b = varV.data();
  cov.resize(n);
  r.resize(n);
  theta.resize(n);
  // The full checks of expectPair only when some entry leaves the common path.
  double unusual = 0;  // a count in a double (exact), the form of the check that GCC vectorises
  for (size_t j = 0; j < n; ++j)
    unusual += ((a[j] >= 0) & (b[j] >= 0) & (std::fabs(a[j] * b[j]) <= kMaxFinite) & (c[j] * c[j] <= a[j] * b[j])) ? 0.0 : 1.0;
  if (unusual == 0) std::copy(c, c + n, cov.begin());
  else
    for (size_t j = 0; j < n; ++j) cov[j] = checkedCovariance(a[j], b[j], c[j]);
  polarParts(a, b, cov.data(), n, r.data(), theta.data());
}

namespace {

/// out[j] = coef · E[A(u) B(v)] over a geometry with positive variances, for the
/// atom pairs of ReLU networks (the arc-cosine kernels of degree 1, 1/0, 0), in
/// loops the compiler can vectorise; false for other pairs.
TPC_VECTOR_CLONES bool arcCosineValues(Atom A, Atom B, double coef, const PairGeometry& g, double* __restrict out) {
  const size_t n = g.varU.size();
  const double* a = g.varU.data();
  const double* b = g.varV.data();
  const double* c = g.cov.data();
  const double* r = g.r.data();
  const double* theta = g.theta.data();
  if (A == Atom::Relu && B == Atom::Relu)
    for (size_t j = 0; j < n; ++j) out[j] = coef * ((r[j] + (pi - theta[j]) * c[j]) / (2 * pi));
  else if (A == Atom::Relu && B == Atom::Step)
    for (size_t j = 0; j < n; ++j) out[j] = coef * ((std::sqrt(a[j] * b[j]) + c[j]) / (2 * std::sqrt(2 * pi * b[j])));
  else if (A == Atom::Step && B == Atom::Step)
    for (size_t j = 0; j < n; ++j) out[j] = coef * ((pi - theta[j]) / (2 * pi));
  else
    return false;
  return true;
}

}  // namespace

void PreparedPair::values(const PairGeometry& g, double* out) const {
  const size_t n = g.varU.size();
  double zeroVariances = 0;  // a count in a double (exact), the form of the check that GCC vectorises
  for (size_t j = 0; j < n; ++j) zeroVariances += ((g.varU[j] > 0) & (g.varV[j] > 0)) ? 0.0 : 1.0;
  if (zeroVariances == 0 && impl_->single && arcCosineValues(impl_->A, impl_->B, impl_->coef, g, out)) return;
  for (size_t j = 0; j < n; ++j) {
    double a = g.varU[j], b = g.varV[j], c = g.cov[j];
    if (a == 0 || b == 0) out[j] = degenerate(a, b).value;
    else if (impl_->single) out[j] = impl_->coef * atomPair(impl_->A, impl_->B, a, b, c, g.r[j], g.theta[j]);
    else if (kind_ == Kind::Atoms) out[j] = atomCombination(impl_->ft, impl_->gt, a, b, c, g.r[j], g.theta[j]);
    else if (kind_ != Kind::Quadrature) out[j] = closed(a, b, c);
    else out[j] = tensorRule(f_, fk_, g_, gk_, a, b, c, order_);
  }
}

double expectSingle(ir::Fn f, int k, double var, int order) {
  checkOrders(k, 0, order);
  checkVariance(var, "var");
  return singleExpectation(f, k, var, order, true).value;
}

}  // namespace tp
