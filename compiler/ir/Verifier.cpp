// The IR verifier: SSA order, types, and stage invariants.
#include "compiler/ir/Verifier.h"

#include <sstream>

#include "compiler/ir/Builder.h"

namespace tp::ir {

std::string verify(const Program& p) {
  std::ostringstream errs;
  auto inRange = [&](ValueId id, size_t before) { return id >= 0 && static_cast<size_t>(id) < before; };
  for (size_t i = 0; i < p.values.size(); ++i) {
    const Value& v = p.values[i];
    std::vector<Type> types;
    bool operandsOk = true;
    for (ValueId id : v.operands) {
      if (!inRange(id, i)) {
        errs << "%" << i << ": operand %" << id << " does not precede its user\n";
        operandsOk = false;
        continue;
      }
      types.push_back(p.at(id).type);
    }
    if (!operandsOk) continue;
    TypeResult t = inferType(p, v.op, types, attrsOf(v));
    if (!t.type) errs << "%" << i << " (" << opName(v.op) << "): " << t.error << "\n";
    else if (!(*t.type == v.type)) errs << "%" << i << ": type " << v.type.str() << " but its op gives " << t.type->str() << "\n";
    if (v.op == Op::Grad && p.stage != Stage::Typed) errs << "%" << i << ": grad placeholder after differentiation\n";
    if (v.op == Op::Update && (v.operands.size() != 2 || !p.findParam(v.name)))
      errs << "%" << i << ": update of unknown param '" << v.name << "'\n";
    if (p.stage == Stage::Netsor && (v.op == Op::Update || v.op == Op::Outer || v.type.isMatrix()) && v.op != Op::Param)
      errs << "%" << i << ": " << opName(v.op) << " in a normal-form program\n";
    if (p.stage == Stage::Netsor && (v.op == Op::MatVec || v.op == Op::MatTVec) && p.at(v.operands[0]).op != Op::Param)
      errs << "%" << i << ": matrix product with an updated weight in a normal-form program\n";
    if (p.stage >= Stage::Unrolled && v.op == Op::Input && (v.split == Split::None || v.example < 0))
      errs << "%" << i << ": unrolled input without an example\n";
  }
  size_t n = p.values.size();
  if (p.loss != kNoValue && (!inRange(p.loss, n) || !p.at(p.loss).type.isScalarLike()))
    errs << "loss is not a scalar value\n";
  for (const auto& [name, id] : p.names)
    if (!inRange(id, n)) errs << "name '" << name << "' points outside the program\n";
  for (const auto& [name, id] : p.updates)
    if (!inRange(id, n) || p.at(id).op != Op::Update || p.at(id).name != name)
      errs << "update of '" << name << "' is not an update value\n";
  for (const auto& r : p.results)
    if (!inRange(r.value, n) || p.at(r.value).type.isMatrix()) errs << "result '" << r.name << "' is not a vector\n";
  return errs.str();
}

}  // namespace tp::ir
