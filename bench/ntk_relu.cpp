// Benchmark: the NTK of bench/programs/mlp5_relu.tp on P inputs, derived from the program and
// evaluated by the kernel-program evaluator (fused per entry, tiled, threaded).
//
//   tpc_bench_ntk PROGRAM P THREADS REPEATS INPUTS.bin OUT.bin [jit|interp]
//
// The backend (default jit, as `tpc limit`) evaluates the off-diagonal tiles; a jit run's time
// includes creating the JIT session and compiling the program.
// Inputs: P×10 standard Gaussians / sqrt(10) (std::mt19937_64 seed 0), written to INPUTS.bin
// (float64, row-major) for the reference; the NTK goes to OUT.bin (P×P float64). Prints one
// line of JSON: {"seconds": best over REPEATS (derivation + evaluation), "P": ..., "threads": ...}.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "compiler/codegen/Jit.h"
#include "compiler/codegen/KernelCompile.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/ir/Parametrization.h"
#include "runtime/KernelLimit.h"

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::cerr << "usage: tpc_bench_ntk PROGRAM P THREADS REPEATS INPUTS.bin OUT.bin [jit|interp]\n";
    return 2;
  }
  const std::string backend = argc == 8 ? argv[7] : "jit";
  const size_t P = std::stoul(argv[2]), D = 10;
  const int threads = std::stoi(argv[3]), repeats = std::stoi(argv[4]);
  tp::Diagnostics diags(argv[1]);
  auto typed = tp::driver::frontendProgram(argv[1], diags);
  if (!typed) {
    std::cerr << diags.format();
    return 1;
  }
  tp::ir::Program program = tp::driver::runUntil(*typed, "differentiated", {});
  std::mt19937_64 rng(0);
  std::normal_distribution<double> z;
  std::vector<tp::ExampleInputs> xs(P);
  std::vector<double> flat;
  for (auto& x : xs) {
    std::vector<double> v(D);
    for (double& c : v) c = z(rng) / std::sqrt(static_cast<double>(D));
    flat.insert(flat.end(), v.begin(), v.end());
    x = {{"x", v}, {"y", {0.0}}};
  }
  std::ofstream(argv[5], std::ios::binary).write(reinterpret_cast<const char*>(flat.data()),
                                                 static_cast<std::streamsize>(flat.size() * sizeof(double)));
  double best = 1e300;
  tp::KernelMatrices k;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    tp::passes::KernelDerivation d =
        tp::passes::deriveKernels(program, tp::ir::resolveParametrization(program, "ntk", std::nullopt));
    tp::KernelEvalOptions o;
    o.threads = threads;
    std::unique_ptr<tp::codegen::Jit> jit;
    if (backend == "jit") {
      jit = std::make_unique<tp::codegen::Jit>();
      o.compiled = tp::codegen::compileKernelTiles(d.program, tp::kernelEntries(d), *jit);
    }
    k = tp::kernelMatrices(d, xs, o);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const auto& ntk = k.ntk[0][0].entries;
  std::ofstream(argv[6], std::ios::binary).write(reinterpret_cast<const char*>(ntk.data()),
                                                 static_cast<std::streamsize>(ntk.size() * sizeof(double)));
  std::printf("{\"seconds\": %.6f, \"repeats\": %d, \"threads\": %d, \"P\": %zu, \"backend\": \"%s\"}\n", best, repeats,
              threads, P, backend.c_str());
  return 0;
}
