// Deterministic data-parallel loops over a persistent pool of worker threads.
#pragma once

#include <cstddef>
#include <functional>

namespace tp {

/// Runs fn(begin, end) over [0, count) split into contiguous chunks on up to
/// `threads` threads (threads <= 1, or count small: inline on the caller).
/// Blocks until all chunks finish; rethrows the first exception.
///
/// The split depends only on (count, threads, minChunk), never on timing:
/// chunks = min(threads, count / minChunk) (at least 1), and chunk i is
/// [i·count/chunks, (i+1)·count/chunks). Every chunk runs even if another one
/// throws, and "first" means the exception of the lowest-numbered chunk, so a
/// failure is reported the same way on every run. The calling thread runs
/// chunks too; a parallelFor called from inside a chunk runs inline, so
/// nesting cannot deadlock the pool.
void parallelFor(int threads, size_t count, const std::function<void(size_t, size_t)>& fn,
                 size_t minChunk = 1);

}  // namespace tp
