// Semantic analysis and lowering of a .tp file to the typed per-step IR.
#include "frontend/Lower.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/ir/Builder.h"
#include "frontend/Parser.h"

namespace tp::frontend {

using ir::Op;
using ir::OpAttrs;
using ir::Type;
using ir::ValueId;

namespace {

/// Abandons the current statement after its error has been reported.
struct StatementError {};

std::string baseName(const std::string& name, int* primes) {
  size_t end = name.find('\'');
  if (primes) *primes = end == std::string::npos ? 0 : static_cast<int>(name.size() - end);
  return end == std::string::npos ? name : name.substr(0, end);
}

std::string lineRef(SourceLoc loc) { return "line " + std::to_string(loc.line); }

const char* kFunctionList = "id relu tanh sigmoid gelu erf sin cos exp softplus square abs step sqrt log, "
                            "mean sum dot outer softmax cross_entropy";

class Lowering {
public:
  Lowering(const File& file, Diagnostics& diags) : file_(file), diags_(diags), b_(prog_) { prog_.file = file.path; }

  std::optional<ir::Program> run() {
    declarations();
    if (diags_.hasErrors()) return std::nullopt;
    sections();
    if (diags_.hasErrors()) return std::nullopt;
    prog_.stage = ir::Stage::Typed;
    return std::move(prog_);
  }

private:
  // ---- Declarations -------------------------------------------------------

  void declarations() {
    // 1. The width comes first: shapes refer to it.
    for (const Decl& d : file_.decls) {
      if (d.kind != Decl::Kind::Width) continue;
      if (!widthDecl_) {
        widthDecl_ = &d;
        prog_.widthName = d.names[0];
        prog_.widthLoc = d.nameLocs[0];
      } else {
        diags_.error(d.loc, "duplicate-width",
                     "a second 'width' declaration: the width is already '" + prog_.widthName + "' (" +
                         lineRef(widthDecl_->loc) + "); a program has exactly one");
      }
    }
    if (!widthDecl_) {
      diags_.error({1, 1}, "missing-width", "the program declares no width: add a line 'width n' before the sections");
      return;
    }
    declare(prog_.widthName, prog_.widthLoc);
    // 2. Everything else, in source order.
    for (const Decl& d : file_.decls) {
      switch (d.kind) {
        case Decl::Kind::Width: break;
        case Decl::Kind::Input:
        case Decl::Kind::Target: inputDecl(d); break;
        case Decl::Kind::Param: paramDecl(d); break;
        case Decl::Kind::Hyper: hyperDecl(d); break;
        case Decl::Kind::Output:
          for (size_t i = 0; i < d.names.size(); ++i) {
            if (outputLocs_.count(d.names[i]))
              diags_.error(d.nameLocs[i], "duplicate-output", "'" + d.names[i] + "' is already an output");
            outputLocs_[d.names[i]] = d.nameLocs[i];
            prog_.outputs.push_back(d.names[i]);
          }
          break;
      }
    }
  }

  bool declare(const std::string& name, SourceLoc loc) {
    auto it = declared_.find(name);
    if (it != declared_.end()) {
      diags_.error(loc, "duplicate-declaration", "'" + name + "' is already declared (" + lineRef(it->second) + ")");
      return false;
    }
    declared_[name] = loc;
    return true;
  }

  /// A dimension: the width's name or a positive integer.
  std::optional<ir::Dim> dim(const DimSyntax& d) {
    if (!d.isNumber) {
      if (d.text == prog_.widthName) return ir::Dim::width();
      diags_.error(d.loc, "unknown-dimension",
                   "unknown dimension '" + d.text + "': a dimension is the width '" + prog_.widthName +
                       "' or a positive integer");
      return std::nullopt;
    }
    auto r = parseRational(d.text);
    if (!r || denominator(*r) != 1 || *r < 1 || *r > 1000000) {
      diags_.error(d.loc, "bad-dimension", "a dimension must be a positive integer up to 1000000, not '" + d.text + "'");
      return std::nullopt;
    }
    return ir::Dim::finite(static_cast<int>(numerator(*r)));
  }

  void inputDecl(const Decl& d) {
    const std::string& name = d.names[0];
    bool target = d.kind == Decl::Kind::Target;
    if (!declare(name, d.nameLocs[0])) return;
    ir::InputDecl in{name, 0, target, d.nameLocs[0]};
    if (d.hasShape) {
      if (d.dims.size() != 1) {
        diags_.error(d.dims[1].loc, "bad-shape",
                     std::string(target ? "target" : "input") + " '" + name + "' must be a scalar or a vector with one dimension, like " + name + "[3]");
        return;
      }
      auto k = dim(d.dims[0]);
      if (!k) return;
      if (k->isWidth) {
        diags_.error(d.dims[0].loc, "width-input",
                     std::string(target ? "target" : "input") + " '" + name + "' has the width dimension '" +
                         prog_.widthName + "': inputs and targets are finite, like " + name + "[3]");
        return;
      }
      in.size = k->size;
    }
    prog_.inputs.push_back(in);
  }

  void paramDecl(const Decl& d) {
    const std::string& name = d.names[0];
    if (!declare(name, d.nameLocs[0])) return;
    if (d.dims.size() > 2) {
      diags_.error(d.dims[2].loc, "bad-shape",
                   "param '" + name + "' has " + std::to_string(d.dims.size()) +
                       " dimensions: a param is a matrix [.., ..] or a width vector [" + prog_.widthName + "]");
      return;
    }
    std::vector<ir::Dim> dims;
    for (const auto& ds : d.dims) {
      auto k = dim(ds);
      if (!k) return;
      dims.push_back(*k);
    }
    auto role = ir::roleOfShape(dims);
    if (!role) {
      std::string shape;
      for (size_t i = 0; i < d.dims.size(); ++i) shape += (i ? ", " : "") + d.dims[i].text;
      diags_.error(d.dims[0].loc, "no-width",
                   "param '" + name + "' of shape [" + shape + "] does not scale with the width '" +
                       prog_.widthName + "': a param needs the width in its shape ([" + prog_.widthName +
                       ", 3], [" + prog_.widthName + ", " + prog_.widthName + "], [1, " + prog_.widthName + "] or [" +
                       prog_.widthName + "])");
      return;
    }
    ir::ParamDecl p;
    p.name = name;
    p.role = *role;
    p.type = dims.size() == 1 ? Type::width() : Type::matrix(dims[0], dims[1]);
    p.loc = d.nameLocs[0];
    if (d.init == Decl::Init::Zero) p.zeroInit = true;
    if (d.init == Decl::Init::Normal) {
      auto mean = foldConstant(*d.mean, diags_);
      auto var = foldConstant(*d.variance, diags_);
      if (!mean || !var) return;
      if (*mean != 0) {
        diags_.error(d.mean->loc, "nonzero-mean", "the initial mean must be 0: write N(0, v)");
        return;
      }
      if (*var < 0) {
        diags_.error(d.variance->loc, "negative-variance", "the initial variance must be non-negative, not " + toString(*var));
        return;
      }
      p.variance = *var;
      if (*var == 0) p.zeroInit = true;
    }
    prog_.params.push_back(p);
  }

  void hyperDecl(const Decl& d) {
    const std::string& name = d.names[0];
    if (!declare(name, d.nameLocs[0])) return;
    auto v = foldConstant(*d.value, diags_);
    if (!v) return;
    prog_.hypers.push_back({name, toDouble(*v), d.nameLocs[0]});
  }

  // ---- Sections -----------------------------------------------------------

  void sections() {
    const Section* forward = nullptr;
    const Section* backward = nullptr;
    const Section* update = nullptr;
    std::map<std::string, SourceLoc> blockNames;
    for (const Section& s : file_.sections) {
      const Section** slot = s.kind == Section::Kind::Forward ? &forward
                             : s.kind == Section::Kind::Backward ? &backward
                             : s.kind == Section::Kind::Update ? &update : nullptr;
      if (slot) {
        if (*slot) {
          diags_.error(s.loc, "duplicate-section",
                       "a second '" + std::string(s.kind == Section::Kind::Forward ? "forward" : s.kind == Section::Kind::Backward ? "backward" : "update") +
                           ":' section (the first is at " + lineRef((*slot)->loc) + ")");
          continue;
        }
        *slot = &s;
      } else {
        if (blockNames.count(s.name))
          diags_.error(s.loc, "duplicate-section", "a second parametrization named '" + s.name + "'");
        blockNames[s.name] = s.loc;
        parametrizationBlock(s);
      }
    }
    if (!forward) {
      diags_.error({1, 1}, "missing-forward", "the program has no 'forward:' section");
      return;
    }
    if (diags_.hasErrors()) return;
    autoBackward_ = backward && backward->autoBackward;
    // Statement names and where they are defined, to tell "used before defined" from "undefined".
    for (const Section* s : {forward, backward})
      if (s)
        for (const auto& st : s->statements) definedAt_.emplace(st.target, st.targetLoc);

    // 1. Forward.
    b_.section = ir::Section::Forward;
    for (const auto& st : forward->statements) statement(st, ir::Section::Forward);
    for (const auto& name : prog_.outputs) {
      auto it = bound_.find(name);
      if (it == bound_.end()) {
        if (declared_.count(name) && !poisoned_.count(name))
          diags_.error(outputLocs_[name], "undefined-output",
                       "output '" + name + "' is declared as an input, param or hyper: an output must be a value the forward section defines");
        else if (!poisoned_.count(name))
          diags_.error(outputLocs_[name], "undefined-output",
                       "output '" + name + "' is never defined in the forward section");
      }
    }
    auto lossIt = bound_.find("loss");
    if (lossIt != bound_.end()) {
      const ir::Value& lv = prog_.at(lossIt->second);
      if (!lv.type.isScalarLike())
        diags_.error(definedAt_.at("loss"), "loss-not-scalar",
                     "'loss' must be a scalar, but it is a " + lv.type.str(prog_.widthName) + " value");
      else
        prog_.loss = lossIt->second;
    }
    bool needsLoss = autoBackward_ || (update && update->sgdHyper);
    if (needsLoss && prog_.loss == ir::kNoValue) {
      if (lossIt == bound_.end() && !poisoned_.count("loss")) {
        const Section* s = autoBackward_ ? backward : update;
        diags_.error(s->loc, "missing-loss",
                     std::string(autoBackward_ ? "'backward: auto'" : "'update: sgd(...)'") +
                         " differentiates 'loss', but the forward section defines no 'loss'");
      }
      return;
    }
    if (diags_.hasErrors()) return;
    if (prog_.loss != ir::kNoValue) lossDependencies();

    // 2. Backward.
    if (backward) {
      b_.section = ir::Section::Backward;
      for (const auto& st : backward->statements) statement(st, ir::Section::Backward);
    }
    // 3. Update.
    if (update) {
      b_.section = ir::Section::Update;
      if (update->sgdHyper) sgd(*update);
      for (const auto& st : update->statements) updateStatement(st);
    }
  }

  void parametrizationBlock(const Section& s) {
    ir::ParametrizationBlock block;
    block.name = s.name;
    block.loc = s.loc;
    for (const auto& line : s.exponents) {
      if (line.param.empty()) {
        const auto& e = line.entries[0];
        if (e.key != "c") {
          diags_.error(e.loc, "bad-exponent",
                       "unknown setting '" + e.key + "' in parametrization '" + s.name +
                           "' (expected 'c = ...' or a param line 'W: a = .., b = ..')");
          continue;
        }
        if (block.c) diags_.error(e.loc, "duplicate-exponent", "'c' is set twice in parametrization '" + s.name + "'");
        block.c = foldConstant(*e.value, diags_);
        continue;
      }
      auto declIt = declared_.find(line.param);
      bool isParam = false;
      for (const auto& p : prog_.params) isParam |= p.name == line.param;
      if (!isParam) {
        diags_.error(line.loc, "unknown-param",
                     "parametrization '" + s.name + "' names '" + line.param + "', which is not a param" +
                         (declIt == declared_.end() ? "" : " (it is declared at " + lineRef(declIt->second) + ")"));
        continue;
      }
      if (block.params.count(line.param)) {
        diags_.error(line.loc, "duplicate-exponent", "'" + line.param + "' appears twice in parametrization '" + s.name + "'");
        continue;
      }
      ir::ParamExponents ex;
      ex.loc = line.loc;
      for (const auto& e : line.entries) {
        std::optional<Rational>* slot = e.key == "a" ? &ex.a : e.key == "b" ? &ex.b : e.key == "c" ? &ex.c : nullptr;
        if (!slot) {
          diags_.error(e.loc, "bad-exponent", "unknown exponent '" + e.key + "' (expected a, b or c)");
          continue;
        }
        if (slot->has_value()) diags_.error(e.loc, "duplicate-exponent", "'" + e.key + "' is set twice for " + line.param);
        *slot = foldConstant(*e.value, diags_);
      }
      block.params[line.param] = ex;
    }
    for (const auto& p : prog_.params) {
      auto it = block.params.find(p.name);
      if (it == block.params.end() || !it->second.a || !it->second.b)
        diags_.error(it == block.params.end() ? s.loc : it->second.loc, "incomplete-parametrization",
                     "parametrization '" + s.name + "' gives no " +
                         (it == block.params.end() ? std::string("exponents") : !it->second.a ? "'a'" : "'b'") +
                         " for param '" + p.name + "'");
    }
    prog_.parametrizations.push_back(std::move(block));
  }

  void lossDependencies() {
    std::vector<ValueId> stack{prog_.loss};
    while (!stack.empty()) {
      ValueId id = stack.back();
      stack.pop_back();
      if (!lossDeps_.insert(id).second) continue;
      for (ValueId op : prog_.at(id).operands) stack.push_back(op);
    }
  }

  /// Checks that a statement may assign `name`.
  bool assignable(const Statement& st) {
    auto d = declared_.find(st.target);
    if (d != declared_.end()) {
      std::string what = st.target == prog_.widthName ? "the width" : prog_.findParam(st.target) ? "a param" : prog_.findHyper(st.target) ? "a hyper" : "an input";
      if (prog_.findInput(st.target) && prog_.findInput(st.target)->isTarget) what = "a target";
      diags_.error(st.targetLoc, "assign-declared",
                   "cannot assign '" + st.target + "': it is " + what + " (declared at " + lineRef(d->second) + ")" +
                       (what == "a param" ? "; params change only in the update section, with '-='" : ""));
      return false;
    }
    auto it = assignedAt_.find(st.target);
    if (it != assignedAt_.end()) {
      diags_.error(st.targetLoc, "reassigned",
                   "'" + st.target + "' is assigned twice (first at " + lineRef(it->second) +
                       "): every name is assigned once per step");
      return false;
    }
    if (autoBackward_ && st.target.rfind("d_", 0) == 0) {
      diags_.error(st.targetLoc, "reassigned",
                   "'" + st.target + "' is a gradient name defined by 'backward: auto'; choose another name");
      return false;
    }
    assignedAt_[st.target] = st.targetLoc;
    return true;
  }

  void statement(const Statement& st, ir::Section section) {
    if (!assignable(st)) return;
    try {
      ValueId v = expr(*st.value, section);
      b_.setLabel(v, st.target);
      bound_[st.target] = v;
      prog_.names[st.target] = v;
    } catch (const StatementError&) {
      poisoned_.insert(st.target);
    }
  }

  void updateStatement(const Statement& st) {
    const ir::ParamDecl* p = prog_.findParam(st.target);
    if (!p) {
      auto d = declared_.find(st.target);
      std::string detail = d != declared_.end() ? " (it is declared at " + lineRef(d->second) + ")"
                           : bound_.count(st.target) ? " (it is a value computed in the step)" : "";
      diags_.error(st.targetLoc, "update-non-param",
                   "'" + st.target + "' is not a param: only params can be updated" + detail);
      return;
    }
    if (updated_.count(st.target)) {
      diags_.error(st.targetLoc, "reassigned",
                   "param '" + st.target + "' is updated twice (first at " + lineRef(updated_[st.target]) +
                       "): write one update with the sum");
      return;
    }
    updated_[st.target] = st.targetLoc;
    try {
      ValueId e = expr(*st.value, ir::Section::Update);
      addUpdate(st.target, e, st.value->loc, st.targetLoc);
    } catch (const StatementError&) {
    }
  }

  void addUpdate(const std::string& param, ValueId delta, SourceLoc exprLoc, SourceLoc loc) {
    ValueId p = leaf(param, loc);
    const Type& want = prog_.at(p).type;
    const Type& got = prog_.at(delta).type;
    if (!got.compatible(want))
      error(exprLoc, "update-shape",
            "the update of param '" + param + "' must have its shape " + want.str(prog_.widthName) + ", but it is " +
                got.str(prog_.widthName) + (want.isMatrix() && !got.isMatrix() ? " (a matrix update is built with outer(u, v))" : ""));
    OpAttrs a;
    a.name = param;
    ValueId u = checked(Op::Update, {p, delta}, a, exprLoc);
    b_.setLabel(u, param);
    prog_.updates.emplace_back(param, u);
  }

  void sgd(const Section& update) {
    const std::string& h = *update.sgdHyper;
    if (!prog_.findHyper(h)) {
      diags_.error(update.sgdLoc, "sgd-not-hyper",
                   "sgd(" + h + "): '" + h + "' is not a hyper; declare it with 'hyper " + h + " = 0.1'");
      return;
    }
    for (const auto& p : prog_.params) {
      auto it = leaves_.find(p.name);
      if (it == leaves_.end() || !lossDeps_.count(it->second)) continue;  // loss does not depend on it
      updated_[p.name] = update.sgdLoc;
      ValueId lr = leaf(h, update.sgdLoc);
      ValueId g = grad(p.name, it->second, update.sgdLoc);
      ValueId e = b_.add(Op::Mul, {lr, g}, {}, update.sgdLoc);
      addUpdate(p.name, e, update.sgdLoc, update.sgdLoc);
    }
  }

  // ---- Expressions ---------------------------------------------------------

  [[noreturn]] void error(SourceLoc loc, const std::string& code, const std::string& message) {
    diags_.error(loc, code, message);
    throw StatementError{};
  }

  ValueId checked(Op op, std::vector<ValueId> operands, const OpAttrs& attrs, SourceLoc loc) {
    std::vector<Type> types;
    for (ValueId id : operands) types.push_back(prog_.at(id).type);
    ir::TypeResult t = ir::inferType(prog_, op, types, attrs);
    if (!t.type) error(loc, "type", t.error);
    return b_.add(op, std::move(operands), attrs, loc);
  }

  /// The Input, Hyper or Param value of a declared name (one per name).
  ValueId leaf(const std::string& name, SourceLoc loc) {
    auto it = leaves_.find(name);
    if (it != leaves_.end()) return it->second;
    OpAttrs a;
    a.name = name;
    Op op = prog_.findParam(name) ? Op::Param : prog_.findHyper(name) ? Op::Hyper : Op::Input;
    ValueId id = b_.add(op, {}, a, loc);
    leaves_[name] = id;
    return id;
  }

  ValueId grad(const std::string& of, ValueId target, SourceLoc loc) {
    auto it = grads_.find(of);
    if (it != grads_.end()) return it->second;
    OpAttrs a;
    a.name = of;
    ValueId g = b_.add(Op::Grad, {target}, a, loc);
    b_.setLabel(g, "d_" + of);
    grads_[of] = g;
    return g;
  }

  ValueId name(const Expr& e, ir::Section section) {
    int primes = 0;
    std::string base = baseName(e.text, &primes);
    if (primes)
      error(e.loc, "prime-not-call",
            "'" + e.text + "' is not a call: a ' suffix marks the derivative of a function, as in tanh'(h)");
    if (auto it = bound_.find(base); it != bound_.end()) return it->second;
    if (poisoned_.count(base)) throw StatementError{};
    if (const ir::ParamDecl* p = prog_.findParam(base)) {
      if (p->type.isMatrix())
        error(e.loc, "matrix-in-arithmetic",
              "param '" + base + "' is a " + p->type.str(prog_.widthName) + " matrix: use it as '" + base +
                  " @ v' or '" + base + ".T @ v'");
      return leaf(base, e.loc);
    }
    if (prog_.findInput(base) || prog_.findHyper(base)) return leaf(base, e.loc);
    if (base == prog_.widthName)
      error(e.loc, "width-as-value", "'" + base + "' is the width: a dimension, not a value");
    if (base.rfind("d_", 0) == 0 && base.size() > 2) {
      std::string of = base.substr(2);
      if (!autoBackward_)
        error(e.loc, "undefined-name", "'" + base + "' is not defined (gradients d_... are defined by 'backward: auto')");
      if (section == ir::Section::Forward)
        error(e.loc, "undefined-name", "'" + base + "' is a gradient: it can be used only in the backward and update sections");
      ValueId target = ir::kNoValue;
      if (auto it = bound_.find(of); it != bound_.end() && prog_.at(it->second).section == ir::Section::Forward)
        target = it->second;
      else if (prog_.findParam(of) && leaves_.count(of))
        target = leaves_[of];
      if (target == ir::kNoValue || !lossDeps_.count(target))
        error(e.loc, "undefined-gradient",
              "'" + base + "' is not defined: 'loss' does not depend on '" + of + "'");
      return grad(of, target, e.loc);
    }
    auto later = definedAt_.find(base);
    if (later != definedAt_.end())
      error(e.loc, "use-before-definition",
            "'" + base + "' is used before it is defined (at " + lineRef(later->second) + ")");
    error(e.loc, "undefined-name", "'" + base + "' is not defined");
  }

  /// The matrix param on the left of '@': `W` or `W.T`.
  ValueId matrixOperand(const Expr& left, bool* transposed) {
    const Expr* n = &left;
    *transposed = false;
    if (left.kind == Expr::Kind::Transpose) {
      n = left.args[0].get();
      *transposed = true;
    }
    if (n->kind == Expr::Kind::Name) {
      if (const ir::ParamDecl* p = prog_.findParam(n->text)) {
        if (!p->type.isMatrix())
          error(n->loc, "bias-in-matmul",
                "'" + n->text + "' is a width vector (a bias-like param), not a matrix: it cannot be used with '@'");
        return leaf(n->text, n->loc);
      }
    }
    error(left.loc, "matmul-non-param",
          "the left side of '@' must be a matrix param, as in 'W @ v' or 'W.T @ v'");
  }

  ValueId call(const Expr& e, ir::Section section) {
    int primes = 0;
    std::string base = baseName(e.text, &primes);
    auto arity = [&](size_t n) {
      if (e.args.size() != n)
        error(e.loc, "arity",
              "'" + base + "' takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
                  std::to_string(e.args.size()));
    };
    auto noPrimes = [&]() {
      if (primes) error(e.loc, "prime-not-activation", "'" + base + "' has no derivative form '" + e.text + "'");
    };
    if (auto fn = ir::fnByName(base)) {
      arity(1);
      OpAttrs a;
      a.fn = *fn;
      a.order = primes;
      return checked(Op::Apply, {expr(*e.args[0], section)}, a, e.loc);
    }
    static const std::map<std::string, std::pair<Op, size_t>> kReductions = {
        {"mean", {Op::Mean, 1}},   {"sum", {Op::Sum, 1}},         {"dot", {Op::Dot, 2}},
        {"outer", {Op::Outer, 2}}, {"softmax", {Op::Softmax, 1}}, {"cross_entropy", {Op::CrossEntropy, 2}},
    };
    auto it = kReductions.find(base);
    if (it == kReductions.end())
      error(e.loc, "unknown-function", "unknown function '" + base + "' (known: " + kFunctionList + ")");
    noPrimes();
    arity(it->second.second);
    if (it->second.first == Op::Outer && section != ir::Section::Update)
      error(e.loc, "outer-outside-update", "outer(...) is only allowed in the update section");
    std::vector<ValueId> args;
    for (const auto& a : e.args) args.push_back(expr(*a, section));
    return checked(it->second.first, args, {}, e.loc);
  }

  ValueId expr(const Expr& e, ir::Section section) {
    switch (e.kind) {
      case Expr::Kind::Number: {
        auto r = parseRational(e.text);
        return b_.constant(r ? toDouble(*r) : 0.0, e.loc);
      }
      case Expr::Kind::Name: return name(e, section);
      case Expr::Kind::Call: return call(e, section);
      case Expr::Kind::Transpose:
        error(e.loc, "transpose-misuse", "'.T' is only allowed on a matrix param on the left of '@', as in 'W.T @ v'");
      case Expr::Kind::Unary: return checked(Op::Neg, {expr(*e.args[0], section)}, {}, e.loc);
      case Expr::Kind::Binary: break;
    }
    if (e.op == '@') {
      bool transposed = false;
      ValueId w = matrixOperand(*e.args[0], &transposed);
      ValueId x = expr(*e.args[1], section);
      return checked(transposed ? Op::MatTVec : Op::MatVec, {w, x}, {}, e.loc);
    }
    if (e.op == '^') {
      ValueId base = expr(*e.args[0], section);
      Diagnostics fold(diags_.file());
      auto p = foldConstant(*e.args[1], fold);
      if (!p) {
        const Diagnostic& why = fold.all().front();
        error(why.loc, why.code == "not-constant" ? "non-constant-power" : why.code,
              why.code == "not-constant" ? "the exponent of '**' must be a constant number" : why.message);
      }
      OpAttrs a;
      a.number = toDouble(*p);
      return checked(Op::Pow, {base}, a, e.loc);
    }
    ValueId l = expr(*e.args[0], section);
    ValueId r = expr(*e.args[1], section);
    Op op = e.op == '+' ? Op::Add : e.op == '-' ? Op::Sub : e.op == '*' ? Op::Mul : Op::Div;
    return checked(op, {l, r}, {}, e.loc);
  }

  const File& file_;
  Diagnostics& diags_;
  ir::Program prog_;
  ir::Builder b_;
  const Decl* widthDecl_ = nullptr;
  bool autoBackward_ = false;
  std::map<std::string, SourceLoc> declared_;
  std::map<std::string, SourceLoc> outputLocs_;
  std::map<std::string, SourceLoc> definedAt_;
  std::map<std::string, SourceLoc> assignedAt_;
  std::map<std::string, SourceLoc> updated_;
  std::map<std::string, ValueId> bound_;
  std::map<std::string, ValueId> leaves_;
  std::map<std::string, ValueId> grads_;
  std::set<std::string> poisoned_;
  std::set<ValueId> lossDeps_;
};

}  // namespace

std::optional<Rational> foldConstant(const Expr& e, Diagnostics& diags) {
  switch (e.kind) {
    case Expr::Kind::Number: {
      auto r = parseRational(e.text);
      if (!r) diags.error(e.loc, "malformed-number", "malformed number '" + e.text + "'");
      return r;
    }
    case Expr::Kind::Unary: {
      auto v = foldConstant(*e.args[0], diags);
      if (!v) return std::nullopt;
      return Rational(-*v);
    }
    case Expr::Kind::Binary: {
      if (e.op == '@') break;
      auto l = foldConstant(*e.args[0], diags);
      auto r = foldConstant(*e.args[1], diags);
      if (!l || !r) return std::nullopt;
      switch (e.op) {
        case '+': return Rational(*l + *r);
        case '-': return Rational(*l - *r);
        case '*': return Rational(*l * *r);
        case '/':
          if (*r == 0) {
            diags.error(e.loc, "division-by-zero", "division by zero in a constant expression");
            return std::nullopt;
          }
          return Rational(*l / *r);
        case '^': {
          if (denominator(*r) != 1 || abs(*r) > 64) {
            diags.error(e.args[1]->loc, "bad-power", "a constant power needs an integer exponent between -64 and 64");
            return std::nullopt;
          }
          int k = static_cast<int>(numerator(*r));
          if (*l == 0 && k < 0) {
            diags.error(e.loc, "division-by-zero", "division by zero in a constant expression (0 to a negative power)");
            return std::nullopt;
          }
          Rational out = 1;
          for (int i = 0; i < std::abs(k); ++i) out *= *l;
          return k < 0 ? Rational(1 / out) : out;
        }
      }
      break;
    }
    case Expr::Kind::Name:
      diags.error(e.loc, "not-constant", "'" + e.text + "' is not a constant: expected a number such as 0.5 or 1/3");
      return std::nullopt;
    default: break;
  }
  diags.error(e.loc, "not-constant", "expected a constant number such as 0.5 or 1/3");
  return std::nullopt;
}

std::optional<ir::Program> compileSource(const std::string& source, const std::string& path, Diagnostics& diags) {
  File file = parse(source, path, diags);
  if (diags.hasErrors()) return std::nullopt;
  if (file.decls.empty() && file.sections.empty()) {
    diags.error({1, 1}, "empty-program", "the file is empty: a program needs 'width n', declarations and a 'forward:' section");
    return std::nullopt;
  }
  return lower(file, diags);
}

std::optional<ir::Program> compileFile(const std::string& path, Diagnostics& diags) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diags.error({}, "unreadable-file", "is a directory, not a .tp program");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error({}, "unreadable-file", "cannot read the file");
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string source = text.str();
  if (source.find('\0') != std::string::npos) {
    diags.error({}, "binary-file", "the file contains NUL bytes: not a .tp program");
    return std::nullopt;
  }
  return compileSource(source, path, diags);
}

std::optional<ir::Program> lower(const File& file, Diagnostics& diags) { return Lowering(file, diags).run(); }

}  // namespace tp::frontend
