// Source locations and user-facing diagnostics, kept apart from internal errors.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace tp {

/// A position in a source file; line and column count from 1 (0 means unknown).
struct SourceLoc {
  int line = 0;
  int col = 0;
  bool known() const { return line > 0; }
};

enum class Severity { Error, Warning, Note };

/// One diagnostic: `file:line:col: error: message`. `code` is a stable short
/// identifier (e.g. "undefined-name") that tests and tools may match on.
struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLoc loc;
  std::string code;
  std::string message;
};

/// Collects diagnostics for one input file. Library code reports here and
/// returns failure; only `main` decides to exit.
class Diagnostics {
public:
  explicit Diagnostics(std::string file = "<input>") : file_(std::move(file)) {}

  void error(SourceLoc loc, std::string code, std::string message);
  void warning(SourceLoc loc, std::string code, std::string message);
  void note(SourceLoc loc, std::string code, std::string message);

  bool hasErrors() const { return errorCount_ > 0; }
  int errorCount() const { return errorCount_; }
  const std::vector<Diagnostic>& all() const { return diags_; }
  const std::string& file() const { return file_; }

  /// Every diagnostic, one per line, as `file:line:col: severity: message`.
  std::string format() const;
  static std::string format(const std::string& file, const Diagnostic& d);

private:
  std::string file_;
  std::vector<Diagnostic> diags_;
  int errorCount_ = 0;
};

/// A user error raised deep inside a computation (bad data, absurd request).
/// Caught by the driver, printed, and turned into exit code 1.
class UserError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A broken invariant of the compiler itself: exit code 3.
class InternalError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

[[noreturn]] void internalError(const char* file, int line, const std::string& message);

}  // namespace tp

/// Asserts an invariant of the compiler (not of the user's input).
#define TP_ASSERT(cond, msg)                                      \
  do {                                                            \
    if (!(cond)) ::tp::internalError(__FILE__, __LINE__, (msg));  \
  } while (0)
