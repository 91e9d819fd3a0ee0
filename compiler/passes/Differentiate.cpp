// Reverse-mode differentiation of `loss` on the per-step IR.
#include "compiler/passes/Differentiate.h"

#include "compiler/ir/Builder.h"

namespace tp::passes {

using ir::Op;
using ir::OpAttrs;
using ir::Program;
using ir::Value;
using ir::ValueId;

namespace {

/// True when the (order+1)-th derivative of f is identically zero (almost
/// everywhere), so an `Apply(f, order)` passes no gradient.
bool nextDerivativeVanishes(ir::Fn f, int order) {
  switch (f) {
    case ir::Fn::Id:
    case ir::Fn::Relu:
    case ir::Fn::Abs: return order >= 1;
    case ir::Fn::Step: return true;
    case ir::Fn::Square: return order >= 2;
    default: return false;
  }
}

class Reverse {
public:
  explicit Reverse(const Program& in) : in_(in), b_(out_) {
    out_ = in;
    out_.values.clear();
    remap_.assign(in.values.size(), ir::kNoValue);
    adj_.assign(in.values.size(), ir::kNoValue);
    active_.assign(in.values.size(), false);
    for (size_t i = 0; i < in.values.size(); ++i) {
      const Value& v = in.values[i];
      bool a = v.op == Op::Param;
      for (ValueId op : v.operands) a = a || active_[static_cast<size_t>(op)];
      active_[i] = a;
      needsSweep_ = needsSweep_ || v.op == Op::Grad;
    }
  }

  Program run() {
    // 1. Copy the program; at the first placeholder, emit the reverse sweep.
    bool swept = false;
    std::vector<ValueId> copied;
    for (size_t i = 0; i < in_.values.size(); ++i) {
      const Value& v = in_.values[i];
      if (!swept && needsSweep_ && (v.op == Op::Grad || v.section != ir::Section::Forward)) {
        sweep();  // the gradients follow the forward section
        swept = true;
      }
      if (v.op == Op::Grad) {
        ValueId target = v.operands[0];
        ValueId g = adj_[static_cast<size_t>(target)];
        TP_ASSERT(g != ir::kNoValue, "gradient of a value loss does not depend on: " + v.label);
        remap_[i] = g;
        continue;
      }
      Value copy = v;
      for (ValueId& op : copy.operands) op = remap_[static_cast<size_t>(op)];
      out_.values.push_back(std::move(copy));
      remap_[i] = static_cast<ValueId>(out_.values.size() - 1);
      copied.push_back(remap_[i]);
    }
    // 2. Renumber every reference, then drop gradient values nothing uses.
    auto map = [&](ValueId id) { return id == ir::kNoValue ? id : remap_[static_cast<size_t>(id)]; };
    for (auto& [name, id] : out_.names) id = map(id);
    for (auto& [name, id] : out_.updates) id = map(id);
    out_.loss = map(in_.loss);
    out_.stage = ir::Stage::Differentiated;
    for (const auto& [name, id] : out_.names) copied.push_back(id);  // a named gradient is kept
    std::vector<bool> keep = ir::liveValues(out_, copied);
    return ir::compact(out_, keep);
  }

private:
  ValueId emit(Op op, std::vector<ValueId> operands, SourceLoc loc, const OpAttrs& attrs = {}) {
    return b_.add(op, std::move(operands), attrs, loc);
  }
  ValueId constant(double x, SourceLoc loc) { return b_.constant(x, loc); }
  const ir::Type& typeOf(ValueId newId) const { return out_.at(newId).type; }

  /// Adds `contribution` to the adjoint of the (old) value `operand`, summing
  /// out broadcast dimensions when the operand was a scalar.
  void accumulate(ValueId operand, ValueId contribution, SourceLoc loc) {
    size_t k = static_cast<size_t>(operand);
    if (!active_[k]) return;
    if (in_.values[k].type.isScalarLike() && !typeOf(contribution).isScalarLike())
      contribution = emit(Op::Sum, {contribution}, loc);
    adj_[k] = adj_[k] == ir::kNoValue ? contribution : emit(Op::Add, {adj_[k], contribution}, loc);
  }

  void sweep() {
    b_.section = ir::Section::Backward;
    firstGenerated_ = out_.values.size();
    TP_ASSERT(in_.loss != ir::kNoValue, "differentiate without loss");
    adj_[static_cast<size_t>(in_.loss)] = constant(1.0, in_.at(in_.loss).loc);
    for (size_t i = static_cast<size_t>(in_.loss) + 1; i-- > 0;) {
      ValueId g = adj_[i];
      if (g == ir::kNoValue || !active_[i]) continue;
      const Value& v = in_.values[i];
      nameAdjoint(g, v);
      propagate(v, static_cast<ValueId>(i), g);
    }
  }

  void nameAdjoint(ValueId g, const Value& v) {
    std::string base = v.op == Op::Param ? v.name : v.label;
    if (base.empty() || static_cast<size_t>(g) < firstGenerated_ || !out_.at(g).label.empty()) return;
    b_.setLabel(g, "d_" + base);
  }

  /// Applies the vector–Jacobian product of one op.
  void propagate(const Value& v, ValueId self, ValueId g) {
    SourceLoc loc = v.loc;
    auto arg = [&](size_t k) { return remap_[static_cast<size_t>(v.operands[k])]; };
    auto acc = [&](size_t k, ValueId c) { accumulate(v.operands[k], c, loc); };
    switch (v.op) {
      case Op::Add:
        acc(0, g);
        acc(1, g);
        break;
      case Op::Sub:
        acc(0, g);
        acc(1, emit(Op::Neg, {g}, loc));
        break;
      case Op::Mul:
        if (active_[static_cast<size_t>(v.operands[0])]) acc(0, emit(Op::Mul, {g, arg(1)}, loc));
        if (active_[static_cast<size_t>(v.operands[1])]) acc(1, emit(Op::Mul, {g, arg(0)}, loc));
        break;
      case Op::Div:
        if (active_[static_cast<size_t>(v.operands[0])]) acc(0, emit(Op::Div, {g, arg(1)}, loc));
        if (active_[static_cast<size_t>(v.operands[1])]) {
          // d(a/b)/db = −a/b²
          ValueId q = emit(Op::Div, {remap_[static_cast<size_t>(self)], arg(1)}, loc);
          acc(1, emit(Op::Neg, {emit(Op::Mul, {g, q}, loc)}, loc));
        }
        break;
      case Op::Neg: acc(0, emit(Op::Neg, {g}, loc)); break;
      case Op::Pow: {
        double p = v.number;
        if (p == 0) break;
        if (p == 1) {
          acc(0, g);
          break;
        }
        ValueId d = constant(p, loc);
        if (p != 2) {
          OpAttrs a;
          a.number = p - 1;
          d = emit(Op::Mul, {d, emit(Op::Pow, {arg(0)}, loc, a)}, loc);
        } else {
          d = emit(Op::Mul, {d, arg(0)}, loc);
        }
        acc(0, emit(Op::Mul, {g, d}, loc));
        break;
      }
      case Op::Apply: {
        if (v.fn == ir::Fn::Id && v.order == 0) {
          acc(0, g);
          break;
        }
        if (nextDerivativeVanishes(v.fn, v.order)) break;
        OpAttrs a;
        a.fn = v.fn;
        a.order = v.order + 1;
        acc(0, emit(Op::Mul, {g, emit(Op::Apply, {arg(0)}, loc, a)}, loc));
        break;
      }
      case Op::MatVec:
        acc(1, emit(Op::MatTVec, {arg(0), g}, loc));
        acc(0, emit(Op::Outer, {g, arg(1)}, loc));
        break;
      case Op::MatTVec:
        acc(1, emit(Op::MatVec, {arg(0), g}, loc));
        acc(0, emit(Op::Outer, {arg(1), g}, loc));
        break;
      case Op::Mean: {
        const ir::Type& t = in_.at(v.operands[0]).type;
        ValueId size = t.isWidth() ? emit(Op::Width, {}, loc) : constant(t.dim().size, loc);
        OpAttrs a;
        a.type = t;
        acc(0, emit(Op::Broadcast, {emit(Op::Div, {g, size}, loc)}, loc, a));
        break;
      }
      case Op::Sum: {
        OpAttrs a;
        a.type = in_.at(v.operands[0]).type;
        acc(0, emit(Op::Broadcast, {g}, loc, a));
        break;
      }
      case Op::Dot:
        acc(0, emit(Op::Mul, {g, arg(1)}, loc));
        acc(1, emit(Op::Mul, {g, arg(0)}, loc));
        break;
      case Op::Softmax: {
        // ds = s ⊙ (g − ⟨g, s⟩)
        ValueId s = remap_[static_cast<size_t>(self)];
        ValueId t = emit(Op::Sub, {g, emit(Op::Dot, {g, s}, loc)}, loc);
        acc(0, emit(Op::Mul, {s, t}, loc));
        break;
      }
      case Op::CrossEntropy: {
        // CE = (Σy)·logsumexp(f) − ⟨y, f⟩: dCE/df = (Σy)·softmax(f) − y, dCE/dy = −log softmax(f).
        ValueId sm = emit(Op::Softmax, {arg(0)}, loc);
        ValueId y = arg(1);
        ValueId ySum = typeOf(y).kind == ir::TypeKind::Scalar ? y : emit(Op::Sum, {y}, loc);
        acc(0, emit(Op::Mul, {g, emit(Op::Sub, {emit(Op::Mul, {sm, ySum}, loc), y}, loc)}, loc));
        if (active_[static_cast<size_t>(v.operands[1])]) {
          OpAttrs a;
          a.fn = ir::Fn::Log;
          acc(1, emit(Op::Mul, {emit(Op::Neg, {g}, loc), emit(Op::Apply, {sm}, loc, a)}, loc));
        }
        break;
      }
      case Op::Broadcast: acc(0, emit(Op::Sum, {g}, loc)); break;
      case Op::Const:
      case Op::Hyper:
      case Op::Width:
      case Op::Input:
      case Op::Param: break;
      case Op::Outer:
      case Op::Grad:
      case Op::BatchMean:
      case Op::Update:
      case Op::Scale: TP_ASSERT(false, std::string("cannot differentiate through ") + ir::opName(v.op));
    }
  }

  const Program& in_;
  Program out_;
  ir::Builder b_;
  std::vector<ValueId> remap_, adj_;
  std::vector<bool> active_;
  size_t firstGenerated_ = 0;
  bool needsSweep_ = false;
};

}  // namespace

Program differentiate(const Program& typed) {
  TP_ASSERT(typed.stage == ir::Stage::Typed, "differentiate expects a typed program");
  return Reverse(typed).run();
}

}  // namespace tp::passes
