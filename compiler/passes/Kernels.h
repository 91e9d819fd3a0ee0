// Derivation of a program's infinite-width kernels (NNGP and effective NTK) as a per-pair scalar program.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/IR.h"
#include "compiler/ir/Parametrization.h"

namespace tp::passes {

/// One instruction of a kernel program. A kernel program is evaluated for a
/// pair of examples (A, B); instruction i writes slot i. The same program run
/// on (A, A) gives A's *diagonal* slots, which Expect instructions read for
/// the variances.
struct KernelInstr {
  enum class Kind {
    Const,     // value
    InputDot,  // value · Σ_i a_i b_i, a = input `inputA` of A, b = input `inputB` of B
    Sum,       // Σ coef · slot[x] · slot[y]   (x or y = −1: the factor is 1)
    Expect2,   // E[f^(fk)(u) g^(gk)(v)], Var u = diagA[varA], Var v = diagB[varB], Cov = slot[cov]
    Expect1,   // E[f^(fk)(u)], Var u = diagA[varA] (or diagB[varB] when varA = −1)
  };
  struct Product {
    double coef = 1;
    int x = -1, y = -1;
  };
  Kind kind = Kind::Const;
  double value = 0;
  std::string inputA, inputB;
  std::vector<Product> terms;
  ir::Fn f = ir::Fn::Id, g = ir::Fn::Id;
  int fk = 0, gk = 0;
  int varA = -1, varB = -1, cov = -1;
};

using KernelProgram = std::vector<KernelInstr>;

/// A kernel over pairs of examples: slot `ab` of the pair program gives
/// K(A, B) and slot `ba` gives K(B, A) (the same slot when K is symmetric by
/// construction); −1 means the kernel is exactly 0.
struct KernelEntry {
  int ab = -1, ba = -1;
};

/// What `deriveKernels` finds in a program (DESIGN.md §1, §3).
///
/// Outputs: the program's single output `f` of `outputSize` coordinates.
/// At initialisation `f_k(A)` is a centred Gaussian with covariance
/// `nngp[k][l]` over pairs of examples. In the kernel regime one step with
/// a batch changes it by
///   f_k(A) ← f_k(A) − (1/|batch|) Σ_{B ∈ batch} Σ_r ntk[k][r](A, B) · s_r(B),
/// where `s` is the *seed*: the finite backward value (usually the loss
/// gradient `df = f − y`) that every update term is linear in, recomputed
/// from the current outputs at each step. The kernel includes the program's
/// own update coefficients (its learning rates) and the parametrization's
/// n^(−c−2a), so `--set lr=1` gives the usual NTK of gradient descent.
struct KernelDerivation {
  std::string output;
  int outputSize = 1;
  KernelProgram program;
  std::vector<std::vector<KernelEntry>> nngp;  // [k][l]
  /// The seed value (`ir::kNoValue` when nothing trains) and its coordinates.
  ir::ValueId seed = ir::kNoValue;
  int seedSize = 0;
  std::vector<std::vector<KernelEntry>> ntk;  // [k][r]
  /// The initial output grows with n (an unstable parametrization): the NNGP
  /// is infinite; `why` names the param.
  bool nngpDiverges = false;
  /// An update moves the output by a growing amount: the kernel is infinite.
  bool ntkDiverges = false;
  std::string why;
  /// Per param: "kept" when its update moves the output by Θ(1), else why it drops out.
  std::vector<std::pair<std::string, std::string>> contributions;
};

/// Derives the kernels of a differentiated per-step program by the Master
/// Theorem at initialisation. Every forward width vector must be a sum of
/// Gaussian fields (input layer `W x`, bias, hidden `W y`) or a nonlinearity
/// of one; every backward width vector a sum of terms `s_r · Z · φ(G)` with
/// one backward Gaussian Z (a readout column, or a transposed hidden matrix
/// applied to a backward vector, independent of the forward fields: exact at
/// initialisation, TP2); and every update term `outer(u, v)` (or a bias
/// update) linear in the seed. Width exponents are tracked exactly: a term
/// whose power of n vanishes drops out, a growing one sets a `Diverges` flag.
/// Throws UserError with `file:line:col` for a value outside this class.
KernelDerivation deriveKernels(const ir::Program& differentiated, const ir::Parametrization& pz);

}  // namespace tp::passes
