// Prints IR programs, one value per line, with types and source locations.
#include "compiler/ir/Printer.h"

#include <charconv>
#include <sstream>

namespace tp::ir {

std::string formatNumber(double x) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, res.ptr);
}

namespace {

std::string ref(ValueId id) { return "%" + std::to_string(id); }

std::string attrText(const Value& v) {
  switch (v.op) {
    case Op::Const: return " " + formatNumber(v.number);
    case Op::Pow: return ", " + formatNumber(v.number);
    case Op::Hyper:
    case Op::Input:
    case Op::Param: return " " + v.name;
    case Op::Apply: return " " + std::string(fnName(v.fn)) + std::string(static_cast<size_t>(v.order), '\'');
    case Op::Update:
    case Op::Scale: return " " + v.name;
    default: return "";
  }
}

std::string provenance(const Value& v) {
  std::string s;
  if (v.step >= 0) s += "t" + std::to_string(v.step);
  if (v.split == Split::Train) s += " train" + std::to_string(v.example);
  if (v.split == Split::Eval) s += " eval" + std::to_string(v.example);
  return s.empty() ? s : "[" + s + "] ";
}

}  // namespace

std::string print(const Program& p) {
  std::ostringstream out;
  out << "# program " << p.file << " (stage " << stageName(p.stage) << ")\n";
  out << "width " << p.widthName << "\n";
  for (const auto& i : p.inputs)
    out << (i.isTarget ? "target " : "input ") << i.name << (i.size ? "[" + std::to_string(i.size) + "]" : "")
        << "\n";
  for (const auto& prm : p.params) {
    out << "param " << prm.name << prm.type.str(p.widthName) << " " << roleName(prm.role);
    out << (prm.zeroInit ? " ~ 0" : " ~ N(0, " + toString(prm.variance) + ")") << "\n";
  }
  for (const auto& h : p.hypers) out << "hyper " << h.name << " = " << formatNumber(h.value) << "\n";
  for (const auto& o : p.outputs) out << "output " << o << "\n";
  for (const auto& b : p.parametrizations) {
    out << "parametrization " << b.name << (b.c ? " c=" + toString(*b.c) : "") << "\n";
    for (const auto& [name, e] : b.params) {
      out << "  " << name << ":";
      if (e.a) out << " a=" << toString(*e.a);
      if (e.b) out << " b=" << toString(*e.b);
      if (e.c) out << " c=" << toString(*e.c);
      out << "\n";
    }
  }
  if (p.stage == Stage::Unrolled || p.stage == Stage::Netsor) out << "steps " << p.steps << " batch " << p.batch << "\n";
  const char* sectionNames[] = {"forward", "backward", "update"};
  int lastSection = -1;
  for (size_t i = 0; i < p.values.size(); ++i) {
    const Value& v = p.values[i];
    if (p.stage < Stage::Unrolled && static_cast<int>(v.section) != lastSection) {
      lastSection = static_cast<int>(v.section);
      out << sectionNames[lastSection] << ":\n";
    }
    std::ostringstream line;
    line << "  " << provenance(v) << ref(static_cast<ValueId>(i));
    if (!v.label.empty()) line << " " << v.label;
    line << " = " << opName(v.op);
    for (size_t k = 0; k < v.operands.size(); ++k) line << (k ? ", " : " ") << ref(v.operands[k]);
    line << attrText(v) << " : " << v.type.str(p.widthName);
    std::string text = line.str();
    if (v.loc.known()) {
      if (text.size() < 56) text.append(56 - text.size(), ' ');
      text += "  # " + std::to_string(v.loc.line) + ":" + std::to_string(v.loc.col);
    }
    out << text << "\n";
  }
  if (p.loss != kNoValue) out << "loss = " << ref(p.loss) << "\n";
  for (const auto& [name, id] : p.updates) out << "update " << name << " = " << ref(id) << "\n";
  for (const auto& r : p.results)
    out << "result " << (r.kind == Result::Kind::Loss ? "loss" : "output " + r.name) << " step " << r.step
        << (r.kind == Result::Kind::Loss ? " batch " : " eval ") << r.example << " = " << ref(r.value) << "\n";
  return out.str();
}

}  // namespace tp::ir
