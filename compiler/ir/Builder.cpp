// Typing rules of the IR and the checked builder.
#include "compiler/ir/Builder.h"

namespace tp::ir {

namespace {

TypeResult ok(Type t) { return {t, ""}; }
TypeResult fail(std::string why) { return {std::nullopt, std::move(why)}; }

std::string typeStr(const Program& p, const Type& t) { return t.str(p.widthName); }

/// Elementwise binary arithmetic on vectors: scalar-likes broadcast.
TypeResult elementwise(const Program& p, const char* what, const Type& a, const Type& b) {
  if (a.isScalarLike() && b.isScalarLike())
    return ok(a.kind == TypeKind::Finite || b.kind == TypeKind::Finite ? Type::finite(1) : Type::scalar());
  if (a.isScalarLike()) return ok(b);
  if (b.isScalarLike()) return ok(a);
  if (a == b) return ok(a);
  return fail(std::string("cannot ") + what + " a " + typeStr(p, a) + " vector and a " + typeStr(p, b) +
              " vector: shapes must match (or one side be a scalar)");
}

TypeResult arithmetic(const Program& p, Op op, const Type& a, const Type& b) {
  const char* what = op == Op::Add ? "add" : op == Op::Sub ? "subtract" : op == Op::Mul ? "multiply" : "divide";
  if (!a.isMatrix() && !b.isMatrix()) return elementwise(p, what, a, b);
  if (op == Op::Add || op == Op::Sub) {
    if (a.isMatrix() && b.isMatrix() && a == b) return ok(a);
    return fail(std::string("cannot ") + what + " a " + typeStr(p, a) + (a.isMatrix() ? " matrix" : " value") +
                " and a " + typeStr(p, b) + (b.isMatrix() ? " matrix" : " value"));
  }
  if (op == Op::Mul && a.isMatrix() && b.isScalarLike()) return ok(a);
  if (op == Op::Mul && b.isMatrix() && a.isScalarLike()) return ok(b);
  if (op == Op::Div && a.isMatrix() && b.isScalarLike()) return ok(a);
  return fail(std::string("cannot ") + what + " a " + typeStr(p, a) + " and a " + typeStr(p, b) +
              ": a matrix can only be scaled by a scalar");
}

}  // namespace

OpAttrs attrsOf(const Value& v) {
  OpAttrs a;
  a.number = v.number;
  a.name = v.name;
  a.fn = v.fn;
  a.order = v.order;
  a.type = v.type;
  return a;
}

TypeResult inferType(const Program& p, Op op, const std::vector<Type>& in, const OpAttrs& attrs) {
  auto arity = [&](size_t n) { return in.size() == n; };
  switch (op) {
    case Op::Const:
    case Op::Hyper:
    case Op::Width:
      return arity(0) ? ok(Type::scalar()) : fail("takes no operands");
    case Op::Input: {
      const InputDecl* d = p.findInput(attrs.name);
      if (!d) return fail("unknown input '" + attrs.name + "'");
      return ok(d->size == 0 ? Type::scalar() : Type::finite(d->size));
    }
    case Op::Param: {
      const ParamDecl* d = p.findParam(attrs.name);
      if (!d) return fail("unknown param '" + attrs.name + "'");
      return ok(d->type);
    }
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
      if (!arity(2)) return fail("takes two operands");
      return arithmetic(p, op, in[0], in[1]);
    case Op::Neg:
      return arity(1) ? ok(in[0]) : fail("takes one operand");
    case Op::Pow:
    case Op::Apply:
      if (!arity(1)) return fail("takes one operand");
      if (in[0].isMatrix()) return fail("cannot apply a function to a matrix");
      if (op == Op::Apply && in[0].isWidth() && !fnOnWidthVectors(attrs.fn))
        return fail(std::string(fnName(attrs.fn)) + " applies to scalars and finite vectors, not to a width vector");
      return ok(in[0]);
    case Op::MatVec:
    case Op::MatTVec: {
      if (!arity(2)) return fail("takes two operands");
      const Type& w = in[0];
      const Type& x = in[1];
      if (!w.isMatrix()) return fail("the left side of '@' must be a matrix param");
      Dim need = op == Op::MatVec ? w.cols : w.rows;
      Dim out = op == Op::MatVec ? w.rows : w.cols;
      std::string form = op == Op::MatVec ? "'@'" : "'.T @'";
      if (x.isMatrix() || !(x.dim() == need))
        return fail(form + " with a " + typeStr(p, w) + " matrix" + (op == Op::MatTVec ? " (transposed)" : "") +
                    " needs a " + Type::vectorOf(need).str(p.widthName) + " vector on the right, not a " +
                    typeStr(p, x) + (x.isMatrix() ? " matrix" : " value"));
      return ok(Type::vectorOf(out));
    }
    case Op::Mean:
    case Op::Sum:
      if (!arity(1)) return fail("takes one argument");
      if (in[0].isMatrix() || in[0].kind == TypeKind::Scalar)
        return fail(std::string(opName(op)) + " needs a vector, not a " + typeStr(p, in[0]) +
                    (in[0].isMatrix() ? " matrix" : ""));
      return ok(Type::scalar());
    case Op::Dot:
      if (!arity(2)) return fail("takes two arguments");
      if (in[0].isMatrix() || in[1].isMatrix() || !(in[0].dim() == in[1].dim()))
        return fail("dot needs two vectors of the same shape, not " + typeStr(p, in[0]) + " and " + typeStr(p, in[1]));
      return ok(Type::scalar());
    case Op::Softmax:
      if (!arity(1)) return fail("takes one argument");
      if (in[0].kind != TypeKind::Finite) return fail("softmax needs a finite vector, not a " + typeStr(p, in[0]) + (in[0].isWidth() ? " width vector" : ""));
      return ok(in[0]);
    case Op::CrossEntropy:
      if (!arity(2)) return fail("takes two arguments");
      if (in[0].kind != TypeKind::Finite || in[1].isMatrix() || in[1].isWidth() || !(in[0].dim() == in[1].dim()))
        return fail("cross_entropy needs logits and a target of the same finite shape, not " + typeStr(p, in[0]) +
                    " and " + typeStr(p, in[1]));
      return ok(Type::scalar());
    case Op::Broadcast:
      if (!arity(1) || !in[0].isScalarLike() || attrs.type.isMatrix()) return fail("broadcasts a scalar to a vector");
      return ok(attrs.type);
    case Op::Outer:
      if (!arity(2)) return fail("takes two arguments");
      if (in[0].isMatrix() || in[1].isMatrix()) return fail("outer needs two vectors");
      if (!in[0].isWidth() && !in[1].isWidth())
        return fail("outer of two finite vectors (" + typeStr(p, in[0]) + ", " + typeStr(p, in[1]) +
                    ") has no width dimension");
      return ok(Type::matrix(in[0].dim(), in[1].dim()));
    case Op::Grad:
      return arity(1) ? ok(in[0]) : fail("takes one operand");
    case Op::BatchMean:
      if (in.empty()) return fail("takes at least one operand");
      for (const Type& t : in)
        if (!t.compatible(in[0])) return fail("batch terms of different types");
      return ok(in[0]);
    case Op::Scale:
      if (!arity(0)) return fail("takes no operands");
      if (!p.findParam(attrs.name)) return fail("unknown param '" + attrs.name + "'");
      return ok(Type::scalar());
    case Op::Update:
      if (!arity(2)) return fail("takes two operands");
      if (!in[1].compatible(in[0]))
        return fail("the update of a " + typeStr(p, in[0]) + " param must have the same shape, not " +
                    typeStr(p, in[1]));
      return ok(in[0]);
  }
  return fail("unknown op");
}

ValueId Builder::add(Op op, std::vector<ValueId> operands, const OpAttrs& attrs, SourceLoc loc) {
  std::vector<Type> types;
  for (ValueId id : operands) {
    TP_ASSERT(id >= 0 && id < static_cast<ValueId>(program_.values.size()), "operand out of range");
    types.push_back(program_.at(id).type);
  }
  TypeResult t = inferType(program_, op, types, attrs);
  TP_ASSERT(t.type.has_value(), std::string("ill-typed ") + opName(op) + ": " + t.error);
  Value v;
  v.op = op;
  v.type = *t.type;
  v.operands = std::move(operands);
  v.number = attrs.number;
  v.name = attrs.name;
  v.fn = attrs.fn;
  v.order = attrs.order;
  v.loc = loc;
  v.section = section;
  v.step = step;
  v.example = example;
  v.split = split;
  program_.values.push_back(std::move(v));
  return static_cast<ValueId>(program_.values.size() - 1);
}

ValueId Builder::constant(double value, SourceLoc loc) {
  OpAttrs a;
  a.number = value;
  return add(Op::Const, {}, a, loc);
}

void Builder::setLabel(ValueId id, const std::string& label) {
  program_.values.at(static_cast<size_t>(id)).label = label;
}

}  // namespace tp::ir
