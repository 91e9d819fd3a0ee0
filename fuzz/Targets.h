// The fuzz targets' bodies: one function per reader of user input, shared by the libFuzzer
// executables (fuzz/*Fuzzer.cpp) and the regression test that replays fuzz/regressions/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tp::fuzz {

/// Each takes arbitrary bytes and returns normally when the reader either accepts them or
/// rejects them the way a user sees (diagnostics or a UserError with a message). Anything
/// else — an InternalError, another exception, a frontend result the IR verifier rejects,
/// a failure with no message — aborts, which is what libFuzzer reports as a crash.

/// The .tp frontend: parse, check and lower (`tpc check`), then verify the typed IR.
void frontend(const uint8_t* data, size_t size);

/// The data-file reader, against the input declarations of every example program.
void dataset(const uint8_t* data, size_t size);

/// The JSON parametrization reader, then its resolution against the example programs.
void parametrization(const uint8_t* data, size_t size);

/// `tpc report`'s reader of JSON reports, then the HTML page drawn from the report (whose
/// size must stay bounded: at most 64 MB from one input of at most libFuzzer's 1 MB).
void report(const uint8_t* data, size_t size);

}  // namespace tp::fuzz
