// Ctrl-C and SIGTERM: stop at once, leaving no partially written output file behind.
#pragma once

#include <string>

namespace tp {

/// Exit status of a run interrupted by Ctrl-C (128 + SIGINT, as shells report it); SIGTERM
/// gives 128 + SIGTERM = 143.
inline constexpr int kInterruptedExit = 130;

/// Installs handlers for SIGINT and SIGTERM that remove the output file being written (if
/// any), print "tpc: interrupted" and exit with 128 + the signal. Only the main thread
/// receives them (the thread pool's workers block both), and it is the only one that
/// declares pending outputs. A run interrupted before
/// its report is written leaves nothing; outputs are written to a temporary name and
/// renamed, so an earlier file at the same path is never half-overwritten.
void installInterruptHandlers();

/// While alive, an interruption removes `path` (a temporary output being written).
class PendingOutput {
public:
  explicit PendingOutput(const std::string& path);
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;
};

}  // namespace tp
