// Replays the fuzz seeds and every input that once crashed a fuzz target (fuzz/regressions/).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "TestUtil.h"
#include "fuzz/Targets.h"

namespace tp {
namespace {

namespace fs = std::filesystem;

/// Feeds every regular file under `dir` (recursively) to `target`; returns how many. A target
/// aborts on a failure, which fails the whole test binary: what matters is getting through.
size_t replay(const std::string& dir, const std::function<void(const uint8_t*, size_t)>& target) {
  size_t count = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
    std::string bytes = test::readText(entry.path().string());
    target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++count;
  }
  return count;
}

TEST(FuzzRegression, SeedsAndPastCrashesGoThroughEveryTarget) {
  // The seeds scripts/fuzz.sh starts from: the example programs, the malformed programs of the
  // diagnostics golden tests, the example data files, the parametrization corpus.
  EXPECT_GE(replay(test::sourcePath("programs"), fuzz::frontend) +
                replay(test::sourcePath("tests/golden/diagnostics"), fuzz::frontend),
            100u);
  EXPECT_GE(replay(test::sourcePath("programs/data"), fuzz::dataset), 14u);
  EXPECT_GE(replay(test::sourcePath("fuzz/corpus/parametrization"), fuzz::parametrization), 5u);
  replay(test::sourcePath("fuzz/regressions/frontend"), fuzz::frontend);
  replay(test::sourcePath("fuzz/regressions/dataset"), fuzz::dataset);
  replay(test::sourcePath("fuzz/regressions/parametrization"), fuzz::parametrization);
  EXPECT_GE(replay(test::sourcePath("fuzz/corpus/report"), fuzz::report), 6u);
  replay(test::sourcePath("fuzz/regressions/report"), fuzz::report);
}

}  // namespace
}  // namespace tp
