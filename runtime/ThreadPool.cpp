// A persistent worker pool behind parallelFor: fixed chunking, caller participates, nesting runs inline.
#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <pthread.h>
#include <signal.h>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tp {

namespace {

/// True on a thread that is currently running a chunk (a pool worker or a
/// caller helping out). A parallelFor issued there runs its chunks on that same
/// thread: waiting for the pool from inside the pool could deadlock it.
thread_local bool tInsideChunk = false;

/// Workers are created on demand up to this many; more requested threads still
/// give more chunks (the split is unchanged), they are just shared out.
constexpr size_t kMaxWorkers = 256;

/// One parallelFor call. Held by shared_ptr: a queue entry may outlive the
/// call (a worker that wakes late finds no chunk left and drops it).
struct Job {
  const std::function<void(size_t, size_t)>* fn = nullptr;
  size_t count = 0;
  size_t chunks = 0;
  std::atomic<size_t> nextChunk{0};

  std::mutex mu;
  std::condition_variable allDone;
  size_t finished = 0;  // guarded by mu
  size_t errorChunk = std::numeric_limits<size_t>::max();
  std::exception_ptr error;

  /// Claims and runs chunks until none is left.
  void runChunks() {
    bool outer = tInsideChunk;
    tInsideChunk = true;
    for (;;) {
      size_t i = nextChunk.fetch_add(1);
      if (i >= chunks) break;
      std::exception_ptr caught;
      try {
        (*fn)(i * count / chunks, (i + 1) * count / chunks);
      } catch (...) {
        caught = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu);
      if (caught && i < errorChunk) {
        errorChunk = i;
        error = caught;
      }
      if (++finished == chunks) allDone.notify_all();
    }
    tInsideChunk = outer;
  }

  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    allDone.wait(lock, [&] { return finished == chunks; });
  }
};

class Pool {
public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  /// Queues `copies` invitations to help with `job`, growing the pool to at
  /// least `copies` workers (up to kMaxWorkers).
  void submit(const std::shared_ptr<Job>& job, size_t copies) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t wanted = std::min(copies, kMaxWorkers);
      while (workers_.size() < wanted)
        workers_.emplace_back([this] {
          // Ctrl-C and SIGTERM go to the main thread, whose handler (runtime/Interrupt) may
          // then read what only that thread writes.
          sigset_t interrupts;
          sigemptyset(&interrupts);
          sigaddset(&interrupts, SIGINT);
          sigaddset(&interrupts, SIGTERM);
          pthread_sigmask(SIG_BLOCK, &interrupts, nullptr);
          workerLoop();
        });
      for (size_t i = 0; i < copies; ++i) queue_.push_back(job);
    }
    cv_.notify_all();
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

private:
  Pool() = default;

  void workerLoop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and nothing left to help with
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->runChunks();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

}  // namespace

void parallelFor(int threads, size_t count, const std::function<void(size_t, size_t)>& fn,
                 size_t minChunk) {
  if (count == 0) return;
  // 1. The split: a function of (count, threads, minChunk) only.
  size_t byThreads = threads > 1 ? static_cast<size_t>(threads) : 1;
  size_t bySize = std::max<size_t>(1, count / std::max<size_t>(1, minChunk));
  size_t chunks = std::min(byThreads, bySize);
  if (chunks == 1) {
    fn(0, count);
    return;
  }

  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->count = count;
  job->chunks = chunks;
  // 2. Invite chunks - 1 helpers unless nested; the caller works too, so the
  //    job finishes even if every worker is busy elsewhere.
  if (!tInsideChunk) Pool::instance().submit(job, chunks - 1);
  job->runChunks();
  // 3. Wait for chunks claimed by workers, then report the lowest failing chunk.
  job->wait();
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace tp
