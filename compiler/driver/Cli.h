// The `tpc` command line: subcommands, options and exit codes (CLI.md).
#pragma once

namespace tp::driver {

/// Exit codes of CLI.md.
enum ExitCode { kSuccess = 0, kInvalidInput = 1, kBadUsage = 2, kInternalError = 3 };

/// Runs `tpc` with these arguments; returns the exit code. The only caller
/// that exits the process is `main`.
int runMain(int argc, char** argv);

}  // namespace tp::driver
