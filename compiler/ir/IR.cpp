// Names and small queries of the IR's types, ops and programs.
#include "compiler/ir/IR.h"

namespace tp::ir {

Dim Type::dim() const {
  switch (kind) {
    case TypeKind::Scalar: return Dim::finite(1);
    case TypeKind::Finite: return Dim::finite(size);
    case TypeKind::Width: return Dim::width();
    case TypeKind::Matrix: break;
  }
  TP_ASSERT(false, "dim() of a matrix type");
}

bool Type::compatible(const Type& other) const {
  if (isScalarLike() && other.isScalarLike()) return true;
  return *this == other;
}

std::string Type::str(const std::string& widthName) const {
  auto dimStr = [&](Dim d) { return d.isWidth ? widthName : std::to_string(d.size); };
  switch (kind) {
    case TypeKind::Scalar: return "scalar";
    case TypeKind::Finite: return "[" + std::to_string(size) + "]";
    case TypeKind::Width: return "[" + widthName + "]";
    case TypeKind::Matrix: return "[" + dimStr(rows) + ", " + dimStr(cols) + "]";
  }
  return "?";
}

const char* roleName(Role r) {
  switch (r) {
    case Role::Input: return "input";
    case Role::Hidden: return "hidden";
    case Role::Output: return "output";
    case Role::Bias: return "bias";
  }
  return "?";
}

namespace {
struct FnInfo {
  Fn fn;
  const char* name;
};
constexpr FnInfo kFns[] = {
    {Fn::Id, "id"},       {Fn::Relu, "relu"}, {Fn::Tanh, "tanh"},         {Fn::Sigmoid, "sigmoid"},
    {Fn::Gelu, "gelu"},   {Fn::Erf, "erf"},   {Fn::Sin, "sin"},           {Fn::Cos, "cos"},
    {Fn::Exp, "exp"},     {Fn::Softplus, "softplus"}, {Fn::Square, "square"}, {Fn::Abs, "abs"},
    {Fn::Step, "step"},   {Fn::Sqrt, "sqrt"}, {Fn::Log, "log"},
};
}  // namespace

const char* fnName(Fn f) {
  for (const auto& info : kFns)
    if (info.fn == f) return info.name;
  return "?";
}

std::optional<Fn> fnByName(const std::string& name) {
  for (const auto& info : kFns)
    if (name == info.name) return info.fn;
  return std::nullopt;
}

bool fnOnWidthVectors(Fn f) { return f != Fn::Sqrt && f != Fn::Log; }

const char* opName(Op op) {
  switch (op) {
    case Op::Const: return "const";
    case Op::Hyper: return "hyper";
    case Op::Width: return "width";
    case Op::Input: return "input";
    case Op::Param: return "param";
    case Op::Add: return "add";
    case Op::Sub: return "sub";
    case Op::Mul: return "mul";
    case Op::Div: return "div";
    case Op::Neg: return "neg";
    case Op::Pow: return "pow";
    case Op::Apply: return "apply";
    case Op::MatVec: return "matvec";
    case Op::MatTVec: return "matTvec";
    case Op::Mean: return "mean";
    case Op::Sum: return "sum";
    case Op::Dot: return "dot";
    case Op::Softmax: return "softmax";
    case Op::CrossEntropy: return "cross_entropy";
    case Op::Broadcast: return "broadcast";
    case Op::Outer: return "outer";
    case Op::Grad: return "grad";
    case Op::BatchMean: return "batch_mean";
    case Op::Update: return "update";
    case Op::Scale: return "scale";
  }
  return "?";
}

const char* stageName(Stage s) {
  switch (s) {
    case Stage::Typed: return "typed";
    case Stage::Differentiated: return "differentiated";
    case Stage::Unrolled: return "unrolled";
    case Stage::Netsor: return "netsor";
  }
  return "?";
}

const ParamDecl* Program::findParam(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

const InputDecl* Program::findInput(const std::string& name) const {
  for (const auto& i : inputs)
    if (i.name == name) return &i;
  return nullptr;
}

const HyperDecl* Program::findHyper(const std::string& name) const {
  for (const auto& h : hypers)
    if (h.name == name) return &h;
  return nullptr;
}

int Program::paramIndex(const std::string& name) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name) return static_cast<int>(i);
  return -1;
}

bool Program::hasHiddenMatrix() const {
  for (const auto& p : params)
    if (p.role == Role::Hidden) return true;
  return false;
}

std::optional<Role> roleOfShape(const std::vector<Dim>& dims) {
  if (dims.size() == 1) return dims[0].isWidth ? std::optional<Role>(Role::Bias) : std::nullopt;
  if (dims.size() != 2) return std::nullopt;
  if (dims[0].isWidth && dims[1].isWidth) return Role::Hidden;
  if (dims[0].isWidth) return Role::Input;
  if (dims[1].isWidth) return Role::Output;
  return std::nullopt;
}

}  // namespace tp::ir

namespace tp::ir {

std::vector<bool> liveValues(const Program& p, const std::vector<ValueId>& roots) {
  std::vector<bool> live(p.values.size(), false);
  for (ValueId r : roots)
    if (r != kNoValue) live[static_cast<size_t>(r)] = true;
  for (size_t i = p.values.size(); i-- > 0;)
    if (live[i])
      for (ValueId op : p.values[i].operands) live[static_cast<size_t>(op)] = true;
  return live;
}

Program compact(const Program& p, const std::vector<bool>& keep) {
  Program out = p;
  out.values.clear();
  std::vector<ValueId> remap(p.values.size(), kNoValue);
  for (size_t i = 0; i < p.values.size(); ++i) {
    if (!keep[i]) continue;
    Value v = p.values[i];
    for (ValueId& op : v.operands) {
      TP_ASSERT(remap[static_cast<size_t>(op)] != kNoValue, "compact dropped a used value");
      op = remap[static_cast<size_t>(op)];
    }
    remap[i] = static_cast<ValueId>(out.values.size());
    out.values.push_back(std::move(v));
  }
  auto map = [&](ValueId id) { return id == kNoValue ? kNoValue : remap[static_cast<size_t>(id)]; };
  out.names.clear();
  for (const auto& [name, id] : p.names)
    if (map(id) != kNoValue) out.names[name] = map(id);
  out.loss = map(p.loss);
  out.updates.clear();
  for (const auto& [name, id] : p.updates)
    if (map(id) != kNoValue) out.updates.emplace_back(name, map(id));
  out.results.clear();
  for (Result r : p.results) {
    r.value = map(r.value);
    TP_ASSERT(r.value != kNoValue, "compact dropped a result");
    out.results.push_back(r);
  }
  return out;
}

}  // namespace tp::ir
