// The progress line: composed from the latest state and drawn by one thread, so the
// evaluators' threads only store numbers and output never interleaves.
#include "runtime/Progress.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tp {

namespace {

/// Nothing is drawn during a run's first second, then every quarter second.
constexpr std::chrono::milliseconds kQuietStart{1000};
constexpr std::chrono::milliseconds kRedrawInterval{250};

/// The quiet start; TPC_PROGRESS_AFTER_MS replaces it (tests of the line use short runs).
std::chrono::milliseconds quietStart() {
  if (const char* forced = std::getenv("TPC_PROGRESS_AFTER_MS")) return std::chrono::milliseconds(std::atol(forced));
  return kQuietStart;
}

void writeAll(const std::string& text) {
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

}  // namespace

std::string humanDuration(double seconds) {
  char text[32];
  if (seconds < 120) std::snprintf(text, sizeof text, "%.0f s", std::ceil(seconds));
  else if (seconds < 120 * 60) std::snprintf(text, sizeof text, "%.0f min", std::ceil(seconds / 60));
  else if (seconds < 48 * 3600) std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
  else std::snprintf(text, sizeof text, "%.0f days", seconds / 86400);
  return text;
}

bool progressWanted(bool quiet) {
  const char* term = std::getenv("TERM");
  return !quiet && ::isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
}

Progress::Progress(std::string command, bool enabled)
    : command_(std::move(command)), enabled_(enabled), start_(Clock::now()), phaseStart_(start_) {
  if (!enabled_) return;
  // The drawing thread must not take Ctrl-C: the main thread's handler removes pending output.
  sigset_t block, previous;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &previous);
  drawer_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

Progress::~Progress() { finish(); }

void Progress::finish() {
  if (!enabled_ || !drawer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  drawer_.join();
  if (drawnWidth_ > 0) writeAll("\r" + std::string(drawnWidth_, ' ') + "\r");
}

void Progress::phase(const std::string& what) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = what;
  phaseStart_ = Clock::now();
  done_ = total_ = 0;
}

void Progress::update(double done, double total) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = done;
  total_ = total;
}

void Progress::message(const std::string& line) {
  if (!enabled_) {
    writeAll(line + "\n");
    return;
  }
  // Erase the drawn line, print the message on its own line; the drawer redraws below it.
  std::lock_guard<std::mutex> writing(writeMutex_);
  size_t width = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(width, drawnWidth_);
  }
  writeAll("\r" + std::string(width, ' ') + "\r" + line + "\n");
}

ProgressFn Progress::callback() {
  if (!enabled_) return {};
  return [this](double done, double total) { update(done, total); };
}

std::string Progress::line() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - phaseStart_).count();
  std::string text = command_ + ": " + phase_;
  if (total_ <= 0) return text + "  (" + humanDuration(elapsed) + ")";
  const double fraction = std::clamp(done_ / total_, 0.0, 1.0);
  char percent[16];
  std::snprintf(percent, sizeof percent, "  %3.0f%%", 100 * fraction);
  text += percent;
  if (fraction > 0 && fraction < 1) text += "  ~" + humanDuration(elapsed * (1 - fraction) / fraction) + " left";
  return text;
}

void Progress::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (wake_.wait_until(lock, start_ + quietStart(), [this] { return stopping_; })) return;
  while (!stopping_) {
    // Pad over a longer line drawn before, so none of its characters remain. The write
    // happens outside the lock: a slow terminal must not stall the threads that update().
    std::string text = line();
    std::string out = "\r" + text;
    if (text.size() < drawnWidth_) out += std::string(drawnWidth_ - text.size(), ' ');
    drawnWidth_ = std::max(drawnWidth_, text.size());
    lock.unlock();
    {
      std::lock_guard<std::mutex> writing(writeMutex_);
      writeAll(out);
    }
    lock.lock();
    wake_.wait_for(lock, kRedrawInterval, [this] { return stopping_; });
  }
}

}  // namespace tp
