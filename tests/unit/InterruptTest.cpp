// Ctrl-C stops a run at once and leaves no report, not even a partial temporary file.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "TestUtil.h"
#include "runtime/Interrupt.h"

namespace tp {
namespace {

namespace fs = std::filesystem;

TEST(Interrupt, ASignalWhileWritingRemovesThePendingFile) {
  // In a child: a temporary output being written, then SIGINT: the child exits 130 and the
  // file is gone. After the PendingOutput ends, the same signal leaves the file alone.
  const std::string path = ::testing::TempDir() + "/pending.tmp";
  for (bool pending : {true, false}) {
    fs::remove(path);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      installInterruptHandlers();
      std::ofstream(path) << "half a report";
      if (pending) {
        PendingOutput guard(path);
        raise(SIGINT);
      }
      raise(SIGINT);
      _exit(0);  // not reached
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), kInterruptedExit);
    EXPECT_EQ(fs::exists(path), !pending);
  }
}

TEST(Interrupt, CtrlCStopsALongLimitWithoutAReport) {
  // A Monte Carlo limit that runs for many seconds, interrupted after half a second.
  const std::string report = ::testing::TempDir() + "/interrupted.json";
  fs::remove(report);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (chdir(TPC_SOURCE_DIR) != 0) _exit(99);
    execl(TPC_BINARY, TPC_BINARY, "limit", "programs/mlp3_relu.tp", "--param", "mup", "--data",
          "programs/data/mlp3_relu.json", "--steps", "3", "--method", "montecarlo", "--samples", "2000000",
          "--json", report.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(child, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kInterruptedExit);
  EXPECT_FALSE(fs::exists(report));
  for (const auto& entry : fs::directory_iterator(::testing::TempDir()))
    EXPECT_EQ(entry.path().filename().string().rfind("interrupted.json", 0), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace tp
