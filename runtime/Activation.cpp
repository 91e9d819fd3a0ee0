// Exact derivatives of every order of the elementwise functions, stable for large |x|.
#include "runtime/Activation.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <deque>
#include <mutex>
#include <numbers>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "runtime/Vectorize.h"

namespace tp {

namespace {

using Coeffs = std::vector<double>;

/// 2^k for an integral k in [−1022, 1023] given as a double, from the bits: k + 2^52 + 1023
/// holds k + 1023 in its low mantissa bits, which become the exponent field.
[[gnu::always_inline]] inline double powerOfTwo(double k) {
  const uint64_t biased = std::bit_cast<uint64_t>(k + (0x1p52 + 1023.0)) & ((uint64_t(1) << 52) - 1);
  return std::bit_cast<double>(biased << 52);
}

/// y = k·ln 2 + r: returns k (a double) and p = e^r − 1 by Horner's rule.
struct Reduced {
  double k, p;
};
[[gnu::always_inline]] inline Reduced reduce(double y) {
  using namespace elementary;
  const double k = std::floor(y * kInvLn2 + 0.5);
  const double r = (y - k * kLn2Hi) - k * kLn2Lo;
  double p = kTaylor[kTaylorDegree];
  for (int i = kTaylorDegree - 1; i >= 1; --i) p = p * r + kTaylor[static_cast<size_t>(i)];
  return {k, p * r};
}

[[gnu::always_inline]] inline double expm1Inline(double y) {
  const double clamped = y < elementary::kExpm1Floor ? elementary::kExpm1Floor : y;
  const Reduced r = reduce(clamped);
  const double scale = powerOfTwo(r.k);
  const double value = r.p * scale + (scale - 1.0);
  return y != y ? y : value;
}

[[gnu::always_inline]] inline double tanhInline(double x) {
  const double m = expm1Inline(-2.0 * std::fabs(x));
  return std::copysign(-m / (2.0 + m), x);
}

/// tanh over an array, in vector clones of tanhInline (the same operations in every lane).
TPC_VECTOR_CLONES void tanhArray(const double* in, double* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = tanhInline(in[i]);
}

/// The derivatives of the sigmoid s = σ(x) (and through tanh(x) = 2σ(2x) - 1,
/// of tanh) as polynomials in s, written in the basis s^a (1-s)^b, a + b = k + 1:
///   σ^(k)(x) = Σ_{a=1}^{k+1} c_a s^a (1-s)^{k+1-a}.
/// Differentiating one basis term with s' = s(1-s) gives
///   d/dx [s^a (1-s)^b] = a·s^a (1-s)^{b+1} − b·s^{a+1} (1-s)^b,
/// which maps the coefficients of order k to those of order k+1; the c_a are
/// the signed Eulerian numbers. This basis cancels far less than monomials in
/// s or t: with u = e^{-|x|}, s and 1 - s are u/(1+u) and 1/(1+u) (mirrored
/// for x > 0), each to full relative precision, one term dominates in the
/// tails, and at x = 0 the loss is about (π/2)^k (order 20: ~1e-12 relative
/// against 50-digit references). Monomials in s had lost 1e-5 relative by
/// order 15 and every digit of σ^(20)(0) = 0.
class SigmoidPolynomials {
public:
  SigmoidPolynomials() {
    // Orders up to kPrecomputed are built once and never change, so the hot
    // path reads them without a lock; higher orders are built under mu_.
    fixed_.push_back({0.0, 1.0});  // σ = s¹(1-s)⁰
    for (int k = 1; k <= kPrecomputed; ++k) fixed_.push_back(differentiate(fixed_.back()));
  }

  static const SigmoidPolynomials& instance() {
    static const SigmoidPolynomials polys;
    return polys;
  }

  /// c_0 .. c_{k+1} of σ^(k) (c_0 = 0 always, and c_{k+1} = 0 for k >= 1).
  const Coeffs& coeffs(int k) const {
    if (k <= kPrecomputed) return fixed_[k];
    std::lock_guard<std::mutex> lock(mu_);
    // A deque keeps references to its elements valid across push_back, and an
    // element is never modified after it is published, so the caller may read
    // it after the lock is released.
    while (kPrecomputed + static_cast<int>(extra_.size()) < k)
      extra_.push_back(differentiate(extra_.empty() ? fixed_.back() : extra_.back()));
    return extra_[k - kPrecomputed - 1];
  }

private:
  /// From the coefficients of order k (size k+2) to those of order k+1.
  static Coeffs differentiate(const Coeffs& c) {
    const size_t n = c.size() - 1;  // k + 1 = a + b
    Coeffs next(c.size() + 1, 0.0);
    for (size_t a = 1; a <= n; ++a) {
      next[a] += static_cast<double>(a) * c[a];          // s^a (1-s)^{b+1}
      next[a + 1] -= static_cast<double>(n - a) * c[a];  // s^{a+1} (1-s)^b
    }
    return next;
  }

  static constexpr int kPrecomputed = 12;
  std::vector<Coeffs> fixed_;  // orders 0 .. kPrecomputed
  mutable std::mutex mu_;
  mutable std::deque<Coeffs> extra_;  // orders kPrecomputed+1 ..
};

/// 1/(1+e^{-x}) without overflow of e^{-x} for very negative x.
double sigmoid(double x) {
  const double u = expNonPositive(-std::fabs(x));  // as the JIT: a NaN keeps its bits through fabs
  return x >= 0 ? 1.0 / (1.0 + u) : u / (1.0 + u);
}

/// Σ_a c_a s^a (1-s)^{n-a} with n = c.size() - 1 and s = σ(x). With
/// u = e^{-|x|} ≤ 1 and x ≥ 0: s = 1/(1+u), 1-s = u/(1+u), so the sum is
/// (1+u)^{-n} Σ_a c_a u^{n-a}, a Horner sum in u ∈ [0, 1] (u → 0 in the tails
/// underflows gracefully instead of producing inf · 0). For x < 0, σ(x) = 1 - σ(-x)
/// gives σ^(k)(x) = (-1)^{k+1} σ^(k)(-x), and the coefficients have the same
/// symmetry (c_{n-a} = (-1)^{k+1} c_a), so the mirrored sum is the sign flip.
/// (1+u)^n is a product of n factors (within n ulp). The JIT emits these very
/// operations (compiler/codegen/ActivationCodegen.cpp): keep the two in step.
double sigmoidDerivative(const Coeffs& c, double x) {
  const size_t n = c.size() - 1;
  const double u = expNonPositive(-std::fabs(x));
  double sum = 0;
  for (size_t a = 0; a < c.size(); ++a) sum = sum * u + c[a];
  const double p = 1.0 + u;
  double power = p;
  for (size_t i = 1; i < n; ++i) power = power * p;
  double value = sum / power;
  return x < 0 && n % 2 == 1 ? -value : value;  // n = k + 1: odd n is an even order
}

double sigmoidOrder(int k, double x) {
  return k == 0 ? sigmoid(x) : sigmoidDerivative(SigmoidPolynomials::instance().coeffs(k), x);
}

/// tanh(x) = 2σ(2x) - 1, so tanh^(k)(x) = 2^{k+1} σ^(k)(2x) for k >= 1.
double tanhDerivative(const Coeffs& c, int k, double x) {
  return std::ldexp(sigmoidDerivative(c, 2.0 * x), k + 1);
}

double tanhOrder(int k, double x) {
  return k == 0 ? tanhFunction(x) : tanhDerivative(SigmoidPolynomials::instance().coeffs(k), k, x);
}

/// Physicists' Hermite polynomial: H_0 = 1, H_1 = 2x, H_{n+1} = 2x H_n - 2n H_{n-1}.
double hermiteH(int n, double x) {
  double prev = 1.0, cur = 2.0 * x;
  if (n == 0) return prev;
  for (int i = 1; i < n; ++i) {
    double next = 2.0 * x * cur - 2.0 * i * prev;
    prev = cur;
    cur = next;
  }
  return cur;
}

/// Probabilists' Hermite polynomial: He_0 = 1, He_1 = x, He_{n+1} = x He_n - n He_{n-1}.
double hermiteHe(int n, double x) {
  double prev = 1.0, cur = x;
  if (n == 0) return prev;
  for (int i = 1; i < n; ++i) {
    double next = x * cur - i * prev;
    prev = cur;
    cur = next;
  }
  return cur;
}

double minusOnePow(int k) { return k % 2 == 0 ? 1.0 : -1.0; }

/// erf^(k)(x) = (2/√π) (-1)^(k-1) H_{k-1}(x) e^{-x²} for k >= 1 (Rodrigues' formula).
double erfOrder(int k, double x) {
  if (k == 0) return std::erf(x);
  double weight = expNonPositive(-x * x);
  if (weight == 0) return 0;  // the exact limit; avoids inf · 0 when H overflows
  return 2.0 / std::sqrt(std::numbers::pi) * minusOnePow(k - 1) * hermiteH(k - 1, x) * weight;
}

/// Φ^(j), the j-th derivative of the standard normal CDF: Φ^(0) = Φ and
/// Φ^(j) = φ^(j-1) with φ^(m)(x) = (-1)^m He_m(x) φ(x).
double normalCdfOrder(int j, double x) {
  if (j == 0) return 0.5 * std::erfc(-x / std::numbers::sqrt2);  // erfc keeps the left tail accurate
  double phi = expNonPositive(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
  if (phi == 0) return 0;
  return minusOnePow(j - 1) * hermiteHe(j - 1, x) * phi;
}

/// gelu(x) = x Φ(x); by Leibniz, gelu^(k) = x Φ^(k)(x) + k Φ^(k-1)(x).
double geluOrder(int k, double x) {
  double a = normalCdfOrder(k, x);
  double head = a == 0 ? 0.0 : x * a;  // the limit at x = ±inf is 0, not inf · 0
  return k == 0 ? head : head + k * normalCdfOrder(k - 1, x);
}

/// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}); softplus' = sigmoid.
double softplusOrder(int k, double x) {
  if (k == 0) return std::max(x, 0.0) + std::log1p(expNonPositive(-std::fabs(x)));
  return sigmoidOrder(k - 1, x);
}

/// sin^(k)(x) = sin(x + kπ/2), taken from the 4-cycle to stay exact in k.
double sinOrder(int k, double x) {
  switch (k % 4) {
    case 0: return std::sin(x);
    case 1: return std::cos(x);
    case 2: return -std::sin(x);
    default: return -std::cos(x);
  }
}

/// (x^{1/2})^(k) = (1/2)(1/2 - 1)···(1/2 - k + 1) x^{1/2 - k}.
double sqrtOrder(int k, double x) {
  if (k == 0) return std::sqrt(x);
  double c = 1.0;
  for (int i = 0; i < k; ++i) c *= 0.5 - i;
  return c * std::pow(x, 0.5 - k);
}

/// log^(k)(x) = (-1)^(k-1) (k-1)! / x^k, built as a product so that x^k does
/// not overflow before the factorial is divided in. NaN for x < 0, like log.
double logOrder(int k, double x) {
  if (k == 0) return std::log(x);
  if (x < 0) return std::nan("");
  double r = 1.0 / x;
  for (int i = 1; i < k; ++i) r *= -static_cast<double>(i) / x;
  return r;
}

double step(double x) { return std::isnan(x) ? x : (x > 0 ? 1.0 : 0.0); }
double sign(double x) { return std::isnan(x) ? x : (x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0)); }

}  // namespace

double expNonPositive(double y) {
  const double clamped = y < elementary::kExpFloor ? elementary::kExpFloor : y;  // NaN passes
  const Reduced r = reduce(clamped);
  const double k1 = r.k < -1022.0 ? -1022.0 : r.k;  // 2^k = 2^k1 · 2^(k − k1), both normal
  const double value = ((1.0 + r.p) * powerOfTwo(k1)) * powerOfTwo(r.k - k1);
  return y != y ? y : value;
}

double expm1NonPositive(double y) { return expm1Inline(y); }

double tanhFunction(double x) { return tanhInline(x); }

const std::vector<double>& sigmoidDerivativeCoefficients(int order) {
  if (order < 1) throw InternalError("sigmoidDerivativeCoefficients: order " + std::to_string(order) + " < 1");
  return SigmoidPolynomials::instance().coeffs(order);
}

double evalActivation(ir::Fn f, int order, double x) {
  if (order < 0) throw InternalError("evalActivation: negative derivative order " + std::to_string(order));
  const int k = order;
  switch (f) {
    case ir::Fn::Id: return k == 0 ? x : (k == 1 ? 1.0 : 0.0);
    case ir::Fn::Relu: return k == 0 ? std::max(x, 0.0) : (k == 1 ? step(x) : 0.0);
    case ir::Fn::Tanh: return tanhOrder(k, x);
    case ir::Fn::Sigmoid: return sigmoidOrder(k, x);
    case ir::Fn::Gelu: return geluOrder(k, x);
    case ir::Fn::Erf: return erfOrder(k, x);
    case ir::Fn::Sin: return sinOrder(k, x);
    case ir::Fn::Cos: return sinOrder(k % 4 + 1, x);  // cos = sin'
    case ir::Fn::Exp: return std::exp(x);
    case ir::Fn::Softplus: return softplusOrder(k, x);
    case ir::Fn::Square: return k == 0 ? x * x : (k == 1 ? 2.0 * x : (k == 2 ? 2.0 : 0.0));
    case ir::Fn::Abs: return k == 0 ? std::fabs(x) : (k == 1 ? sign(x) : 0.0);
    case ir::Fn::Step: return k == 0 ? step(x) : 0.0;
    case ir::Fn::Sqrt: return sqrtOrder(k, x);
    case ir::Fn::Log: return logOrder(k, x);
  }
  throw InternalError("evalActivation: unknown function " + std::to_string(static_cast<int>(f)));
}

void applyActivation(ir::Fn f, int order, const double* in, double* out, size_t n) {
  // The polynomial coefficients are looked up once per call rather than per
  // element (orders above the precomputed ones take a lock). Each loop reads
  // in[i] before writing out[i], so out == in is fine.
  const bool tanhPoly = f == ir::Fn::Tanh && order >= 1;
  const bool sigmoidPoly = (f == ir::Fn::Sigmoid && order >= 1) || (f == ir::Fn::Softplus && order >= 2);
  if (f == ir::Fn::Tanh && order == 0) {
    tanhArray(in, out, n);
  } else if (tanhPoly) {
    const Coeffs& c = SigmoidPolynomials::instance().coeffs(order);
    for (size_t i = 0; i < n; ++i) out[i] = tanhDerivative(c, order, in[i]);
  } else if (sigmoidPoly) {
    const Coeffs& c = SigmoidPolynomials::instance().coeffs(f == ir::Fn::Softplus ? order - 1 : order);
    for (size_t i = 0; i < n; ++i) out[i] = sigmoidDerivative(c, in[i]);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = evalActivation(f, order, in[i]);
  }
}

}  // namespace tp
