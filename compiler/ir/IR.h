// The typed SSA IR of tpc: types, the closed set of ops, values and programs.
//
// Semantics.
// - A *width vector* (type `[n]`) has one coordinate per neuron; `n` is the
//   width, a symbol taken to infinity. A *finite vector* (`[k]`) has a fixed
//   size; a *scalar* is a number. `[1]` and a scalar are interchangeable: in
//   arithmetic either one broadcasts against any vector.
// - A *matrix* type `[r, c]` has each dimension either `n` or finite. Matrices
//   are params (their value at the start of a step) or update terms built from
//   `outer`; no op multiplies two matrices.
// - Arithmetic is elementwise; a scalar-like operand broadcasts. Matrices only
//   add, subtract, negate and scale by scalars (update expressions).
// - Values are defined once, by one op, and every operand precedes its user.
// - A per-step program (stages typed, differentiated) describes one training
//   step on one example: `Input` reads the current example, `Param` the weight
//   at the start of the step, `Update` makes the weight after the step.
//   `Grad` is a placeholder for a reverse-mode gradient until `differentiate`.
// - An unrolled program is T steps × B examples in one straight line: each
//   `Input` names its example, `Param` is the initial weight, and each step's
//   `Update` takes the batch mean (`BatchMean`) of the per-example terms.
//   `results` says which values are the reported outputs and losses.
// - A normal-form (netsor) program is an unrolled one without `Update`,
//   `Outer` or matrix-valued values: every `MatVec`/`MatTVec` multiplies an
//   initial `Param`, and an updated weight is written out as
//   `W_t x = W_0 x − Σ_s Scale(W) · u_s (v_s · x)` (TP4 App. H).
// - The parametrization is not part of the IR: `Update(P, E)` means
//   `P − n^(−c_P − 2a_P) · E`, with the exponents supplied by the consumer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Rational.h"

namespace tp::ir {

/// One dimension of a shape: the width `n`, or a finite size.
struct Dim {
  bool isWidth = false;
  int size = 0;  // when finite
  static Dim width() { return {true, 0}; }
  static Dim finite(int k) { return {false, k}; }
  bool operator==(const Dim&) const = default;
};

enum class TypeKind { Scalar, Finite, Width, Matrix };

struct Type {
  TypeKind kind = TypeKind::Scalar;
  int size = 0;  // Finite: k
  Dim rows, cols;  // Matrix

  static Type scalar() { return {TypeKind::Scalar, 0, {}, {}}; }
  static Type finite(int k) { return {TypeKind::Finite, k, {}, {}}; }
  static Type width() { return {TypeKind::Width, 0, {}, {}}; }
  static Type matrix(Dim r, Dim c) { return {TypeKind::Matrix, 0, r, c}; }
  /// The type of a vector of dimension `d`.
  static Type vectorOf(Dim d) { return d.isWidth ? width() : finite(d.size); }

  bool isScalarLike() const { return kind == TypeKind::Scalar || (kind == TypeKind::Finite && size == 1); }
  bool isVector() const { return kind != TypeKind::Matrix; }
  bool isMatrix() const { return kind == TypeKind::Matrix; }
  bool isWidth() const { return kind == TypeKind::Width; }
  /// The dimension of a vector-like type (a scalar has finite dimension 1).
  Dim dim() const;
  bool operator==(const Type&) const = default;
  /// Same type up to the scalar/[1] equivalence.
  bool compatible(const Type& other) const;
  /// "scalar", "[3]", "[n]", "[n, 3]" (with the program's width name).
  std::string str(const std::string& widthName = "n") const;
};

enum class Role { Input, Hidden, Output, Bias };
const char* roleName(Role r);

/// Elementwise functions of the language (and `sqrt`, `log` on scalars).
enum class Fn { Id, Relu, Tanh, Sigmoid, Gelu, Erf, Sin, Cos, Exp, Softplus, Square, Abs, Step, Sqrt, Log };
const char* fnName(Fn f);
std::optional<Fn> fnByName(const std::string& name);
/// False for `sqrt` and `log`, which the language allows only on scalars and finite vectors.
bool fnOnWidthVectors(Fn f);

/// The closed set of ops. Attributes used by each are in brackets.
enum class Op {
  Const,         // [number] a scalar constant
  Hyper,         // [name] a hyperparameter
  Width,         // the width n, as a scalar
  Input,         // [name; example, split in unrolled programs] an input or target
  Param,         // [name] a param's value at the start of the step (unrolled: initial value)
  Add, Sub, Mul, Div,  // elementwise, scalar-like operands broadcast
  Neg,
  Pow,           // [number] elementwise power by a constant
  Apply,         // [fn, order] elementwise f^(order)(x)
  MatVec,        // W @ x
  MatTVec,       // W.T @ x
  Mean,          // (1/dim) Σ_i x_i  → scalar
  Sum,           // Σ_i x_i  → scalar
  Dot,           // Σ_i x_i y_i  → scalar
  Softmax,       // finite vector → finite vector
  CrossEntropy,  // (logits f, target distribution y) → −Σ y_i log softmax(f)_i
  Broadcast,     // scalar → the value's (vector) type, every coordinate equal
  Outer,         // u vᵀ (matrix)
  Grad,          // [name] placeholder: d loss / d operand (removed by differentiate)
  BatchMean,     // mean of the operands (the batch average of update terms)
  Update,        // (P, E) → P − n^(−c_P − 2a_P) · E  [name = param]
  Scale,         // [name = param] the scalar n^(−c_P − 2a_P) (normal form: updates written out)
};
const char* opName(Op op);

using ValueId = int;
constexpr ValueId kNoValue = -1;

enum class Section { Forward, Backward, Update };
enum class Split { None, Train, Eval };

struct Value {
  Op op = Op::Const;
  Type type;
  std::vector<ValueId> operands;
  // Attributes (meaning by op, see `Op`).
  double number = 0;
  std::string name;
  Fn fn = Fn::Id;
  int order = 0;
  // Provenance.
  std::string label;   // the program name this value was assigned to, if any ("h2", "d_W3")
  SourceLoc loc;
  Section section = Section::Forward;
  int step = -1;       // unrolled: the training step
  int example = -1;    // unrolled: index into the train or eval examples
  Split split = Split::None;
};

// ---- Declarations ----------------------------------------------------------

struct InputDecl {
  std::string name;
  int size = 0;  // 0 for a scalar
  bool isTarget = false;
  SourceLoc loc;
};

struct ParamDecl {
  std::string name;
  Type type;
  Role role = Role::Hidden;
  Rational variance = 1;  // of the initial entries, before the parametrization's n^(−2b)
  bool zeroInit = false;
  SourceLoc loc;
};

struct HyperDecl {
  std::string name;
  double value = 0;
  SourceLoc loc;
};

/// Exponents given for one param; unset ones come from the block's defaults.
struct ParamExponents {
  std::optional<Rational> a, b, c;
  SourceLoc loc;
};

/// A `parametrization NAME:` block of a program (or a JSON parametrization file).
struct ParametrizationBlock {
  std::string name;
  std::optional<Rational> c;
  std::map<std::string, ParamExponents> params;
  SourceLoc loc;
};

enum class Stage { Typed, Differentiated, Unrolled, Netsor };
const char* stageName(Stage s);

/// A reported value of an unrolled program.
struct Result {
  enum class Kind { Output, Loss } kind = Kind::Output;
  std::string name;  // the output's name, or "loss"
  int step = 0;
  int example = 0;   // eval example (outputs) or batch slot (losses)
  ValueId value = kNoValue;
};

struct Program {
  std::string file;
  std::string widthName = "n";
  std::vector<InputDecl> inputs;
  std::vector<ParamDecl> params;
  std::vector<HyperDecl> hypers;
  std::vector<std::string> outputs;
  std::vector<ParametrizationBlock> parametrizations;
  SourceLoc widthLoc;

  Stage stage = Stage::Typed;
  std::vector<Value> values;
  /// Per-step programs: the value each statement name is bound to.
  std::map<std::string, ValueId> names;
  ValueId loss = kNoValue;
  /// Per-step programs: the `Update` value of each updated param, in source order.
  std::vector<std::pair<std::string, ValueId>> updates;
  // Unrolled programs.
  int steps = 0;
  int batch = 0;
  std::vector<Result> results;

  const ParamDecl* findParam(const std::string& name) const;
  const InputDecl* findInput(const std::string& name) const;
  const HyperDecl* findHyper(const std::string& name) const;
  int paramIndex(const std::string& name) const;
  bool hasHiddenMatrix() const;
  const Value& at(ValueId id) const { return values.at(static_cast<size_t>(id)); }
};

/// The role a param of this shape has (input, hidden, output, bias), or
/// nothing when the shape does not scale with the width correctly.
std::optional<Role> roleOfShape(const std::vector<Dim>& dims);

}  // namespace tp::ir

namespace tp::ir {

/// Marks the values that `roots` depend on (the roots included).
std::vector<bool> liveValues(const Program& program, const std::vector<ValueId>& roots);

/// Drops the values not kept, renumbering operands, names, loss, updates and
/// results. Everything a kept value uses must be kept.
Program compact(const Program& program, const std::vector<bool>& keep);

}  // namespace tp::ir
