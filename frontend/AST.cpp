// Printing of the AST (the `parsed` stage of `tpc ir`).
#include "frontend/AST.h"

#include <sstream>

namespace tp::frontend {

namespace {

std::string at(SourceLoc loc) { return "@" + std::to_string(loc.line) + ":" + std::to_string(loc.col); }

std::string printExpr(const Expr& e) {
  auto args = [&]() {
    std::string s;
    for (const auto& a : e.args) s += " " + printExpr(*a);
    return s;
  };
  switch (e.kind) {
    case Expr::Kind::Number: return e.text;
    case Expr::Kind::Name: return e.text;
    case Expr::Kind::Unary: return "(neg" + args() + ")";
    case Expr::Kind::Binary: return std::string("(") + (e.op == '^' ? std::string("**") : std::string(1, e.op)) + args() + ")";
    case Expr::Kind::Call: return "(call " + e.text + args() + ")";
    case Expr::Kind::Transpose: return "(T" + args() + ")";
  }
  return "?";
}

const char* declKind(Decl::Kind k) {
  switch (k) {
    case Decl::Kind::Width: return "width";
    case Decl::Kind::Input: return "input";
    case Decl::Kind::Target: return "target";
    case Decl::Kind::Param: return "param";
    case Decl::Kind::Hyper: return "hyper";
    case Decl::Kind::Output: return "output";
  }
  return "?";
}

}  // namespace

std::string printAst(const File& file) {
  std::ostringstream out;
  out << "(file " << file.path << "\n";
  for (const auto& d : file.decls) {
    out << "  (" << declKind(d.kind);
    for (const auto& n : d.names) out << " " << n;
    if (d.hasShape) {
      out << " [";
      for (size_t i = 0; i < d.dims.size(); ++i) out << (i ? " " : "") << d.dims[i].text;
      out << "]";
    }
    if (d.init == Decl::Init::Zero) out << " ~0";
    if (d.init == Decl::Init::Normal) out << " ~N(" << printExpr(*d.mean) << ", " << printExpr(*d.variance) << ")";
    if (d.value) out << " = " << printExpr(*d.value);
    out << ") " << at(d.loc) << "\n";
  }
  const char* kinds[] = {"forward", "backward", "update", "parametrization"};
  for (const auto& s : file.sections) {
    out << "  (" << kinds[static_cast<int>(s.kind)];
    if (!s.name.empty()) out << " " << s.name;
    if (s.autoBackward) out << " auto";
    if (s.sgdHyper) out << " sgd(" << *s.sgdHyper << ")";
    out << " " << at(s.loc) << "\n";
    for (const auto& st : s.statements)
      out << "    (" << (st.minusAssign ? "-= " : "= ") << st.target << " " << printExpr(*st.value) << ") "
          << at(st.loc) << "\n";
    for (const auto& line : s.exponents) {
      out << "    (" << (line.param.empty() ? "*" : line.param);
      for (const auto& e : line.entries) out << " " << e.key << "=" << printExpr(*e.value);
      out << ") " << at(line.loc) << "\n";
    }
    out << "  )\n";
  }
  out << ")\n";
  return out.str();
}

}  // namespace tp::frontend
