// Signal handlers that remove the pending temporary output and exit (async-signal-safe calls only).
#include "runtime/Interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace tp {

namespace {

// The path of the temporary output being written, or empty. A fixed buffer: a signal
// handler may not allocate; `pendingSet` says when the buffer holds a whole path.
char pendingPath[4096];
std::atomic<bool> pendingSet{false};

extern "C" void onInterrupt(int signal) {
  if (pendingSet.load()) unlink(pendingPath);
  const char message[] = "\ntpc: interrupted\n";
  ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
  _exit(128 + signal);
}

}  // namespace

void installInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

PendingOutput::PendingOutput(const std::string& path) {
  pendingSet.store(false);
  std::strncpy(pendingPath, path.c_str(), sizeof pendingPath - 1);
  pendingPath[sizeof pendingPath - 1] = '\0';
  pendingSet.store(path.size() < sizeof pendingPath);
}

PendingOutput::~PendingOutput() { pendingSet.store(false); }

}  // namespace tp
