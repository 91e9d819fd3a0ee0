// Helpers shared by the unit tests: paths, files, running the tpc binary, compiling programs.
#pragma once

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "compiler/driver/Pipeline.h"
#include "compiler/ir/IR.h"
#include "frontend/Lower.h"
#include "runtime/KernelEval.h"

namespace tp::test {

inline std::string sourcePath(const std::string& rel) { return std::string(TPC_SOURCE_DIR) + "/" + rel; }

/// `count` examples {x: d coordinates N(0, 1/d), y: 0} from a seeded generator.
inline std::vector<ExampleInputs> randomInputs(int count, int d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::vector<ExampleInputs> xs;
  for (int i = 0; i < count; ++i) {
    std::vector<double> x(static_cast<size_t>(d));
    for (double& v : x) v = z(rng) / std::sqrt(d);
    xs.push_back({{"x", x}, {"y", {0.0}}});
  }
  return xs;
}

inline std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Compiles a program of the repository to stage `typed` (fails the test on diagnostics).
inline ir::Program typedProgram(const std::string& rel) {
  Diagnostics diags(rel);
  auto p = frontend::compileSource(readText(sourcePath(rel)), rel, diags);
  if (!p) throw std::runtime_error("does not compile: " + diags.format());
  return *p;
}

struct CommandResult {
  int exitCode = -1;
  std::string out;  // stdout (stderr is merged when `mergeStderr`)
};

/// Runs the tpc binary with arguments (a shell string), from the source directory.
inline CommandResult runTpc(const std::string& args, bool mergeStderr = true) {
  std::string cmd = std::string("cd '") + TPC_SOURCE_DIR + "' && '" + TPC_BINARY + "' " + args +
                    (mergeStderr ? " 2>&1" : " 2>/dev/null");
  CommandResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace tp::test
