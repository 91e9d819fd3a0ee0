// Normal form: updated weights written out as initial weights plus outer-product terms.
#include "compiler/passes/NormalForm.h"

#include <map>
#include <tuple>

#include "compiler/ir/Builder.h"

namespace tp::passes {

using ir::Op;
using ir::OpAttrs;
using ir::Program;
using ir::Value;
using ir::ValueId;

namespace {

class NormalFormer {
public:
  explicit NormalFormer(const Program& in) : in_(in), b_(out_) {
    out_ = in;
    out_.values.clear();
    out_.results.clear();
    out_.stage = ir::Stage::Netsor;
  }

  Program run() {
    map_.assign(in_.values.size(), ir::kNoValue);
    for (size_t i = 0; i < in_.values.size(); ++i) {
      const Value& v = in_.values[i];
      b_.section = v.section;
      b_.step = v.step;
      b_.example = v.example;
      b_.split = v.split;
      map_[i] = rewrite(v);
      if (map_[i] != ir::kNoValue && !v.label.empty()) b_.setLabel(map_[i], v.label);
    }
    for (ir::Result r : in_.results) {
      r.value = map_[static_cast<size_t>(r.value)];
      out_.results.push_back(r);
    }
    std::vector<ValueId> roots;
    for (const auto& r : out_.results) roots.push_back(r.value);
    return ir::compact(out_, ir::liveValues(out_, roots));
  }

private:
  /// The new value of `v`, or nothing for matrix-valued expressions (applied lazily).
  ValueId rewrite(const Value& v) {
    if (v.type.isMatrix() && v.op != Op::Param) return ir::kNoValue;
    switch (v.op) {
      case Op::MatVec: return apply(v.operands[0], mapped(v.operands[1]), false, v.loc);
      case Op::MatTVec: return apply(v.operands[0], mapped(v.operands[1]), true, v.loc);
      case Op::Update: {  // a vector param: P − Scale(P) · E
        ValueId scaled = b_.add(Op::Mul, {scale(v.name, v.loc), mapped(v.operands[1])}, {}, v.loc);
        return b_.add(Op::Sub, {mapped(v.operands[0]), scaled}, {}, v.loc);
      }
      default: {
        std::vector<ValueId> operands;
        for (ValueId o : v.operands) operands.push_back(mapped(o));
        return b_.add(v.op, operands, ir::attrsOf(v), v.loc);
      }
    }
  }

  ValueId mapped(ValueId id) const {
    ValueId m = map_[static_cast<size_t>(id)];
    TP_ASSERT(m != ir::kNoValue, "normal form: a matrix value used as a vector");
    return m;
  }

  ValueId scale(const std::string& param, SourceLoc loc) {
    if (auto it = scales_.find(param); it != scales_.end()) return it->second;
    OpAttrs a;
    a.name = param;
    return scales_[param] = b_.add(Op::Scale, {}, a, loc);
  }

  /// `M x` (or `Mᵀ x` when `transposed`) for the matrix expression `m` of the
  /// input program and the vector `x` of the output program, memoised.
  ValueId apply(ValueId m, ValueId x, bool transposed, SourceLoc productLoc) {
    auto key = std::make_tuple(m, x, transposed);
    if (auto it = applied_.find(key); it != applied_.end()) return it->second;
    const Value& v = in_.at(m);
    auto sub = [&](size_t k) { return apply(v.operands[k], x, transposed, productLoc); };
    ValueId out = ir::kNoValue;
    switch (v.op) {
      case Op::Param:
        out = b_.add(transposed ? Op::MatTVec : Op::MatVec, {mapped(m), x}, {}, productLoc);
        break;
      case Op::Update: {  // (P − s E) x = P x − s (E x)
        ValueId base = sub(0);
        ValueId term = b_.add(Op::Mul, {scale(v.name, v.loc), sub(1)}, {}, v.loc);
        out = b_.add(Op::Sub, {base, term}, {}, productLoc);
        break;
      }
      case Op::BatchMean: {
        std::vector<ValueId> terms;
        for (size_t k = 0; k < v.operands.size(); ++k) terms.push_back(sub(k));
        out = b_.add(Op::BatchMean, terms, {}, v.loc);
        break;
      }
      case Op::Add:
      case Op::Sub:
        out = b_.add(v.op, {sub(0), sub(1)}, {}, v.loc);
        break;
      case Op::Neg: out = b_.add(Op::Neg, {sub(0)}, {}, v.loc); break;
      case Op::Mul: {  // one operand is a scalar
        size_t matrix = in_.at(v.operands[0]).type.isMatrix() ? 0 : 1;
        out = b_.add(Op::Mul, {mapped(v.operands[1 - matrix]), sub(matrix)}, {}, v.loc);
        break;
      }
      case Op::Div: out = b_.add(Op::Div, {sub(0), mapped(v.operands[1])}, {}, v.loc); break;
      case Op::Outer: {  // (u vᵀ) x = u (v·x);  (u vᵀ)ᵀ y = v (u·y)
        ValueId u = mapped(v.operands[transposed ? 1 : 0]);
        ValueId w = mapped(v.operands[transposed ? 0 : 1]);
        ValueId dot = b_.add(Op::Dot, {w, x}, {}, v.loc);
        out = b_.add(Op::Mul, {u, dot}, {}, v.loc);
        break;
      }
      default: TP_ASSERT(false, std::string("normal form: unexpected matrix op ") + ir::opName(v.op));
    }
    applied_[key] = out;
    return out;
  }

  const Program& in_;
  Program out_;
  ir::Builder b_;
  std::vector<ValueId> map_;
  std::map<std::tuple<ValueId, ValueId, bool>, ValueId> applied_;
  std::map<std::string, ValueId> scales_;
};

}  // namespace

Program normalForm(const Program& unrolled) {
  TP_ASSERT(unrolled.stage == ir::Stage::Unrolled, "normal form expects an unrolled program");
  return NormalFormer(unrolled).run();
}

}  // namespace tp::passes
