// The checked builder of IR values and the one place that states the typing rules.
#pragma once

#include <string>
#include <vector>

#include "compiler/ir/IR.h"

namespace tp::ir {

/// Attributes of a new value (see `Op` for which op uses which).
struct OpAttrs {
  double number = 0;
  std::string name;
  Fn fn = Fn::Id;
  int order = 0;
  Type type;  // Broadcast: the vector type to fill
};

/// The attributes of an existing value (to rebuild or re-check it).
OpAttrs attrsOf(const Value& v);

/// The result type of `op` applied to operands of these types, or the reason
/// it does not type-check (worded for users: the frontend prints it).
struct TypeResult {
  std::optional<Type> type;
  std::string error;
};
TypeResult inferType(const Program& program, Op op, const std::vector<Type>& operands, const OpAttrs& attrs);

/// Appends values to a program, checking every operand and type. The frontend
/// checks user errors first (with `inferType`); a failure here is a compiler bug.
class Builder {
public:
  explicit Builder(Program& program) : program_(program) {}

  ValueId add(Op op, std::vector<ValueId> operands, const OpAttrs& attrs, SourceLoc loc);
  ValueId constant(double value, SourceLoc loc);
  /// Gives a value the program name it was assigned to.
  void setLabel(ValueId id, const std::string& label);
  const Value& at(ValueId id) const { return program_.at(id); }
  Program& program() { return program_; }

  // Provenance stamped on every new value.
  Section section = Section::Forward;
  int step = -1;
  int example = -1;
  Split split = Split::None;

private:
  Program& program_;
};

}  // namespace tp::ir
