// A progress line for long runs on a terminal: what is being done, how far, the time left.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tp {

/// How the evaluators report progress: `done` of `total` units of work (comparable units:
/// particles, matrix entries), from any thread. Empty: nobody is listening.
using ProgressFn = std::function<void(double done, double total)>;

/// "12 s", "3 min", "1.5 h", "103 days": a duration at the precision a person reads it.
std::string humanDuration(double seconds);

/// Whether a progress line belongs on stderr: it is a terminal (not a pipe or a file, and
/// TERM is not "dumb") and the user did not ask for --quiet.
bool progressWanted(bool quiet);

/// The line "tpc limit: Monte Carlo  37%  ~12 s left" on stderr, redrawn in place (carriage
/// return) four times a second by a thread of its own, from the run's second second on so
/// quick runs never show it, and erased by finish() or when the object dies. A phase without a measure
/// ("compiling 282 functions") shows its elapsed time. Disabled, every call does nothing.
class Progress {
public:
  Progress(std::string command, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Starts a phase: what is being done.
  void phase(const std::string& what);
  /// `done` of `total` of the current phase; the time left assumes the rate so far.
  void update(double done, double total);
  /// update() as a ProgressFn (empty when disabled, so evaluators skip the calls).
  ProgressFn callback();
  /// Stops drawing and erases the line: call before printing anything else (the destructor
  /// does it too). Later calls do nothing.
  void finish();
  /// Writes a line of its own to stderr (a warning) without mixing it into the progress line.
  void message(const std::string& line);

private:
  using Clock = std::chrono::steady_clock;
  std::string line() const;  // under mutex_
  void run();                // the drawing thread

  std::string command_, phase_;
  bool enabled_;
  Clock::time_point start_, phaseStart_;
  double done_ = 0, total_ = 0;
  size_t drawnWidth_ = 0;
  bool stopping_ = false;
  std::mutex mutex_;       // the state above
  std::mutex writeMutex_;  // one write to stderr at a time (taken without mutex_ held)
  std::condition_variable wake_;
  std::thread drawer_;
};

}  // namespace tp
