// The feature-learning limit of a normal-form program as a Z-program: per-particle and scalar instructions.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"

namespace tp::passes {

/// One instruction of a Z-program. A Z-program is straight-line and
/// loop-free. A *particle* instruction computes one number per particle — a
/// sample of the limit `Z` of a width vector's coordinates, scaled by its
/// exact power of n — and a *scalar* instruction one number; operands may be
/// either (a scalar operand of a particle instruction is the same for every
/// particle). `Mean` is the only reduction: the expectation over particles.
struct ZInstr {
  enum class Kind {
    Base,   // particle: base Gaussian `index` (independent N(0, variance))
    Const,  // scalar: value
    Input,  // scalar: coordinate `index` of input `name` of example `example` in `split`
    Add, Sub, Mul, Div,
    Neg,
    Pow,    // x^value
    Apply,  // fn^(order)(x)
    Mean,   // scalar: E over the particles of operand 0
    Pivot,  // scalar: operand0^value if operand0 > kPivotTolerance · operand1, else 0 (Gram–Schmidt: a
            // direction the earlier fields of a family already span has no new field)
  };
  Kind kind = Kind::Const;
  bool particle = false;
  std::vector<int> operands;
  double value = 0;
  int index = 0;
  std::string name;
  ir::Split split = ir::Split::None;
  int example = -1;
  ir::Fn fn = ir::Fn::Id;
  int order = 0;
  ir::ValueId origin = ir::kNoValue;  // the normal-form value it comes from
};

/// A base Gaussian: a column of an input-layer matrix, a row of a readout,
/// a bias, each with its initial variance (after the parametrization's scaling);
/// or a *field*: the j-th independent standard Gaussian ξ_j of an n×n matrix's
/// family (W x) or of its transpose's (Wᵀ y), from which the Ẑ of every product
/// with it is built.
struct ZBase {
  std::string param;
  int index = 0;  // column (input layer), row (readout), field number; 0 for a bias
  double variance = 1;
  bool field = false;
  bool transposed = false;  // a field of Wᵀ
};

/// A reported number of the program: the limit of a result's coordinate.
struct ZResult {
  ir::Result result;
  /// Per coordinate: the scalar slot, or −1 when the limit is exactly 0
  /// (the value vanishes with n), or −2 when it diverges.
  std::vector<int> slots;
};

struct ZProgram {
  std::vector<ZBase> bases;
  std::vector<ZInstr> instrs;
  std::vector<ZResult> results;
  int steps = 0;
};

/// Whether every per-particle nonlinearity is smooth (no relu, abs or step and none of their
/// derivatives): tensor Gauss–Hermite then converges geometrically; across a kink only slowly
/// (measured on mlp1_relu: 8e-3 off at order 64), so `--method auto` samples instead.
bool smoothParticleFunctions(const ZProgram& z);

/// The largest degree, as a polynomial in the base Gaussians, of anything the program
/// averages (a Mean's operand); −1 when some particle value is not a polynomial (a
/// nonlinearity other than id or square of a random argument, a division by one).
/// A program of linear nonlinearities averages degree ≤ 2 (products of two
/// linear fields): `--method exact` evaluates those exactly.
int meanDegree(const ZProgram& z);

inline constexpr int kZeroSlot = -1;
/// A residual variance at most this fraction of the vector's own second moment is a
/// direction already spanned (rounding, or sampling of an exactly dependent vector).
inline constexpr double kPivotTolerance = 1e-10;
inline constexpr int kDivergentSlot = -2;

/// Derives the Z-program of a normal-form program under a parametrization
/// (Master Theorem, TP4 §7 and App. H; DESIGN.md §2–3).
///
/// Every value is its exact width exponent (analyzeExponents) times a Θ(1)
/// limit, and only the parts of the leading exponent survive: a sum keeps the
/// operands of its own exponent, products multiply limits and add exponents,
/// a contraction over the width is a particle mean at the law-of-large-numbers
/// exponent `1 + e_x + e_y` (a smaller exponent means the mean vanishes by
/// symmetry: the value is a fluctuation and the limit of the sum it enters
/// does not see it). Input-layer columns, readout rows and biases are the base
/// Gaussians; `Scale(P)` is `n^(−c−2a)`.
///
/// An `n×n` matrix W (entries N(0, σ²/n) after scaling) gives two independent
/// families of Gaussian fields, one for W x and one for Wᵀ y. Each family keeps
/// the vectors it was applied to orthonormalised (Gram–Schmidt with particle
/// moments: x̃_1, x̃_2, … with E[Z^x̃_i Z^x̃_j] = δ_ij) and one standard Gaussian
/// ξ_j per direction, so that
///   Ẑ^{W x} = σ Σ_j E[Z^x Z^x̃_j] ξ_j        (Cov(Ẑ^{Wx}, Ẑ^{Wx'}) = σ² E[Z^x Z^x'])
///   Ż^{W x} = σ Σ_j Z^ỹ_j E[ξ'_j Z^x]        (over the Wᵀ family's directions ỹ_j, fields ξ'_j)
/// — the Master Theorem's Ż = σ² Σ_i Z^{y_i} E[∂Z^x/∂Ẑ^{Wᵀy_i}] in an orthonormal
/// basis, with the derivative by Stein's lemma E[ξ F(ξ)] = E[F'(ξ)]. Only the
/// fields Z^x depends on (per particle) enter Ż; the others contribute exactly 0.
/// Throws UserError with `file:line:col` for what it does not cover.
/// Pre: stage netsor; `pz` covers every param.
ZProgram deriveZProgram(const ir::Program& netsor, const ir::Parametrization& pz);

/// The Z-program as text, one instruction per line (`tpc ir --stage limit`).
std::string printZProgram(const ZProgram& z, const ir::Program& netsor);

}  // namespace tp::passes
