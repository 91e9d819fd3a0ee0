// Diagnostic collection and formatting.
#include "compiler/ir/Diagnostics.h"

#include <sstream>

namespace tp {

void Diagnostics::error(SourceLoc loc, std::string code, std::string message) {
  diags_.push_back({Severity::Error, loc, std::move(code), std::move(message)});
  ++errorCount_;
}

void Diagnostics::warning(SourceLoc loc, std::string code, std::string message) {
  diags_.push_back({Severity::Warning, loc, std::move(code), std::move(message)});
}

void Diagnostics::note(SourceLoc loc, std::string code, std::string message) {
  diags_.push_back({Severity::Note, loc, std::move(code), std::move(message)});
}

std::string Diagnostics::format(const std::string& file, const Diagnostic& d) {
  std::ostringstream out;
  out << file;
  if (d.loc.known()) out << ':' << d.loc.line << ':' << d.loc.col;
  switch (d.severity) {
    case Severity::Error: out << ": error: "; break;
    case Severity::Warning: out << ": warning: "; break;
    case Severity::Note: out << ": note: "; break;
  }
  out << d.message;
  return out.str();
}

std::string Diagnostics::format() const {
  std::string text;
  for (const auto& d : diags_) text += format(file_, d) + "\n";
  return text;
}

void internalError(const char* file, int line, const std::string& message) {
  throw InternalError(std::string("internal compiler error at ") + file + ":" +
                      std::to_string(line) + ": " + message);
}

}  // namespace tp
