// Checks parallelFor: exact coverage, a deterministic split, inline runs, exceptions and nesting.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/ThreadPool.h"

namespace tp {
namespace {

using Chunks = std::set<std::pair<size_t, size_t>>;

/// The chunks one call hands to fn.
Chunks chunksOf(int threads, size_t count, size_t minChunk = 1) {
  std::mutex mu;
  Chunks chunks;
  parallelFor(
      threads, count,
      [&](size_t b, size_t e) {
        std::lock_guard<std::mutex> lock(mu);
        chunks.insert({b, e});
      },
      minChunk);
  return chunks;
}

TEST(ThreadPool, CoversTheRangeExactlyOnce) {
  for (int threads : {-1, 0, 1, 2, 3, 4, 8, 17})
    for (size_t count : {0, 1, 2, 7, 100, 1000, 12345})
      for (size_t minChunk : {1, 64}) {
        std::vector<std::atomic<int>> hits(count);
        parallelFor(
            threads, count,
            [&](size_t b, size_t e) {
              ASSERT_LE(b, e);
              ASSERT_LE(e, count);
              for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
            },
            minChunk);
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " count " << count << " index " << i;
      }
}

TEST(ThreadPool, SplitDependsOnlyOnArguments) {
  // Balanced contiguous chunks [i·count/c, (i+1)·count/c), c = min(threads, count/minChunk).
  EXPECT_EQ(chunksOf(4, 10), (Chunks{{0, 2}, {2, 5}, {5, 7}, {7, 10}}));
  EXPECT_EQ(chunksOf(8, 3), (Chunks{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(chunksOf(8, 100, 40), (Chunks{{0, 50}, {50, 100}}));
  EXPECT_EQ(chunksOf(8, 100, 1000), (Chunks{{0, 100}}));
  for (int rep = 0; rep < 20; ++rep) EXPECT_EQ(chunksOf(7, 8192, 16), chunksOf(7, 8192, 16));
}

TEST(ThreadPool, ChunkedSumIsBitwiseReproducible) {
  // A reduction that adds per-chunk partial sums in chunk order gives the same
  // bits on every run, because the split does not depend on timing.
  const size_t n = 1 << 20;
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = 1.0 / (1.0 + i) * (i % 3 == 0 ? -1 : 1);
  auto sum = [&] {
    std::mutex mu;
    std::map<size_t, double> partial;  // chunk start -> partial sum, iterated in order
    parallelFor(6, n, [&](size_t b, size_t e) {
      double s = 0;
      for (size_t i = b; i < e; ++i) s += x[i];
      std::lock_guard<std::mutex> lock(mu);
      partial[b] = s;
    });
    double total = 0;
    for (const auto& [start, p] : partial) total += p;
    return total;
  };
  double first = sum();
  for (int rep = 0; rep < 20; ++rep) EXPECT_EQ(sum(), first);
}

TEST(ThreadPool, SingleThreadRunsInlineOnCaller) {
  const auto caller = std::this_thread::get_id();
  for (int threads : {0, 1}) {
    int calls = 0;
    parallelFor(threads, 1000, [&](size_t b, size_t e) {
      ++calls;  // no synchronisation needed: everything is on this thread
      EXPECT_EQ(std::this_thread::get_id(), caller);
      EXPECT_EQ(b, 0u);
      EXPECT_EQ(e, 1000u);
    });
    EXPECT_EQ(calls, 1);
  }
  // A count below two minimum chunks is one chunk, also inline.
  parallelFor(8, 100, [&](size_t, size_t) { EXPECT_EQ(std::this_thread::get_id(), caller); }, 64);
}

TEST(ThreadPool, UsesSeveralThreads) {
  // Each chunk waits (with a timeout) until all four have started, which only
  // happens if they run concurrently.
  std::atomic<int> started{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  parallelFor(4, 4, [&](size_t, size_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    started.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  EXPECT_EQ(ids.size(), 4u);
}

TEST(ThreadPool, RethrowsTheExceptionOfTheLowestChunk) {
  EXPECT_THROW(parallelFor(4, 100, [](size_t b, size_t) {
                 if (b >= 50) throw std::runtime_error("late");
               }),
               std::runtime_error);
  // Every chunk throws; the one reported is chunk 0's, on every run.
  for (int rep = 0; rep < 10; ++rep) {
    try {
      parallelFor(8, 800, [](size_t b, size_t) { throw std::runtime_error(std::to_string(b)); });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "0");
    }
  }
  // Inline runs propagate too, and the pool still works afterwards.
  EXPECT_THROW(parallelFor(1, 10, [](size_t, size_t) { throw std::logic_error("x"); }), std::logic_error);
  std::atomic<size_t> covered{0};
  parallelFor(4, 1000, [&](size_t b, size_t e) { covered += e - b; });
  EXPECT_EQ(covered.load(), 1000u);
}

TEST(ThreadPool, NestedCallsDoNotDeadlock) {
  const size_t outer = 16, inner = 1000;
  std::vector<std::atomic<int>> hits(outer * inner);
  parallelFor(4, outer, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      parallelFor(4, inner, [&](size_t ib, size_t ie) {
        for (size_t j = ib; j < ie; ++j) hits[i * inner + j].fetch_add(1);
      });
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, ConcurrentCallersShareThePool) {
  const int kCallers = 6;
  const size_t n = 50000;
  std::vector<std::vector<int>> out(kCallers, std::vector<int>(n, 0));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c)
    callers.emplace_back([&, c] {
      for (int rep = 0; rep < 20; ++rep)
        parallelFor(3, n, [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i) out[c][i] += 1;
        });
    });
  for (std::thread& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c)
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[c][i], 20);
}

}  // namespace
}  // namespace tp
