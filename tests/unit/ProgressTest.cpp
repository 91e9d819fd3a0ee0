// The progress line: drawn on a terminal, silent on a pipe or with --quiet.
#include <gtest/gtest.h>

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include "TestUtil.h"

namespace tp {
namespace {

/// Runs tpc with `args` on a pseudo-terminal (stdout and stderr both) and returns all it
/// wrote. The line starts at once (TPC_PROGRESS_AFTER_MS=0), so a short run shows it.
std::string runOnTerminal(const std::vector<std::string>& args) {
  int master = -1;
  pid_t child = forkpty(&master, nullptr, nullptr, nullptr);
  if (child == 0) {
    if (chdir(TPC_SOURCE_DIR) != 0) _exit(120);
    setenv("TPC_PROGRESS_AFTER_MS", "0", 1);
    setenv("TERM", "xterm", 1);
    std::vector<char*> argv = {const_cast<char*>(TPC_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(TPC_BINARY, argv.data());
    _exit(121);
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(master, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));  // EIO at the child's exit
  int status = 0;
  waitpid(child, &status, 0);
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  return out;
}

const std::vector<std::string> kSimulate = {"simulate", "programs/mlp2_tanh.tp", "--param", "mup", "--data",
                                            "programs/data/mlp2_tanh.json", "--steps", "3", "--width", "512",
                                            "--seeds", "64"};  // ~1 s: several redraws 250 ms apart

TEST(Progress, ALongRunOnATerminalShowsWhatItDoesAndHowFar) {
  std::string out = runOnTerminal(kSimulate);
  EXPECT_NE(out.find("\rtpc simulate: width 512, 64 seeds"), std::string::npos) << out;
  EXPECT_NE(out.find("%"), std::string::npos) << out;
  // The summary follows on a clean line: the progress line is erased ("\r   \r") first.
  EXPECT_NE(out.find("\rsimulate programs/mlp2_tanh.tp  param mup"), std::string::npos) << out;
  std::string limit = runOnTerminal({"limit", "programs/mlp2_tanh.tp", "--param", "mup", "--data",
                                     "programs/data/mlp2_tanh.json", "--steps", "2", "--samples", "65536"});
  EXPECT_NE(limit.find("\rtpc limit: "), std::string::npos) << limit;
  EXPECT_NE(limit.find("\rlimit programs/mlp2_tanh.tp  param mup"), std::string::npos) << limit;
}

TEST(Progress, QuietOrNotATerminalShowsNothing) {
  std::vector<std::string> quiet = kSimulate;
  quiet.push_back("--quiet");
  std::string out = runOnTerminal(quiet);
  EXPECT_EQ(out.find("\rtpc simulate"), std::string::npos) << out;
  EXPECT_EQ(out.find("%"), std::string::npos) << out;
  // A pipe (test::runTpc): stderr has nothing but what it had before progress existed.
  ::setenv("TPC_PROGRESS_AFTER_MS", "0", 1);
  auto piped = test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                            "--steps 3 --width 512 --seeds 64 2>&1 >/dev/null");
  ::unsetenv("TPC_PROGRESS_AFTER_MS");
  EXPECT_EQ(piped.exitCode, 0);
  EXPECT_EQ(piped.out, "");
}

}  // namespace
}  // namespace tp
