// Estimates of time and memory from the program staged at 1, 2 and 3 steps.
#include "compiler/driver/Budget.h"

#include <algorithm>
#include <sstream>
#include <thread>

#include "compiler/passes/ZProgram.h"

namespace tp::driver {

namespace {

// This machine's speeds, measured on the 2-core development machine with one thread
// (bench/estimates.sh compares the estimates with measured runs). They are estimates for
// refusing absurd requests, not promises: a factor of 2 either way is expected.

/// simulate: one multiply-add with a matrix entry (a product or a rank-one update, memory bound).
constexpr double kSecondsPerMatrixEntry = 1.2e-9;
/// simulate: one coordinate of a width-sized vector operation.
constexpr double kSecondsPerVectorEntry = 2e-9;
/// simulate: one initial Gaussian entry of a param.
constexpr double kSecondsPerGaussian = 1.5e-8;
/// One IR value of the unrolled program in memory (the value, its operands, labels).
constexpr double kBytesPerValue = 200;

/// limit: deriving one Z-program instruction (unroll, normal form, Master Theorem).
constexpr double kDeriveSecondsPerInstruction = 6e-6;
/// limit --backend jit: LLVM's optimisation and code generation, per instruction.
constexpr double kCompileSecondsPerInstruction = 5e-5;
/// limit: one particle instruction on one particle, compiled / interpreted. Monte Carlo runs
/// every particle twice: in the full run and in one of the 16 groups of its standard errors.
constexpr double kJitSecondsPerLane = 5e-10;
constexpr double kInterpSecondsPerLane = 3e-9;
constexpr double kRunsPerParticle = 2;
/// One Z-program instruction in memory, with the netsor program it came from.
constexpr double kBytesPerInstruction = 500;

/// The threads that run at once: --threads beyond the machine's cores share them.
double usefulThreads(int threads) {
  return std::max(1.0, std::min<double>(threads, std::max(1u, std::thread::hardware_concurrency())));
}

/// `options` with `steps` training steps.
PipelineOptions atSteps(PipelineOptions options, int steps) {
  options.schedule.steps = steps;
  return options;
}

/// The number of entries of a dimension at width n.
double entries(ir::Dim d, double n) { return d.isWidth ? n : static_cast<double>(d.size); }

/// Per seed at width n: matrix entries touched, vector coordinates computed.
struct SimulationWork {
  double matrixEntries = 0, vectorEntries = 0;
};

SimulationWork simulationWork(const ir::Program& unrolled, double n) {
  SimulationWork w;
  for (const ir::Value& v : unrolled.values) {
    if (v.op == ir::Op::MatVec || v.op == ir::Op::MatTVec) {
      const ir::Type& m = unrolled.at(v.operands[0]).type;
      w.matrixEntries += entries(m.rows, n) * entries(m.cols, n);
    } else if (v.op == ir::Op::Outer && v.type.isMatrix()) {
      w.matrixEntries += entries(v.type.rows, n) * entries(v.type.cols, n);  // applied once by its Update
    } else if (v.type.isWidth()) {
      w.vectorEntries += n;
    }
  }
  return w;
}

std::string scientific(double x) {
  std::ostringstream s;
  s.precision(2);
  s << x;
  return s.str();
}

}  // namespace

double extrapolateSteps(const std::array<double, 3>& f, int steps) {
  const double t = steps;
  return f[0] + (t - 1) * (f[1] - f[0]) + (t - 1) * (t - 2) / 2 * (f[2] - 2 * f[1] + f[0]);
}

Cost simulationCost(const ir::Program& typed, const PipelineOptions& options, const std::vector<int>& widths,
                    int seeds, int runsPerSeed, int threads) {
  // Per width: matrix and vector work of the unrolled program at 1, 2, 3 steps.
  Cost cost;
  std::array<ir::Program, 3> small;
  for (int t = 1; t <= 3; ++t) small[t - 1] = runUntil(typed, "unrolled", atSteps(options, t));
  const int steps = options.schedule.steps;
  double values = extrapolateSteps({double(small[0].values.size()), double(small[1].values.size()),
                                    double(small[2].values.size())}, steps);
  double mostEntries = 0;
  for (int width : widths) {
    const double n = width;
    std::array<double, 3> matrix{}, vector{};
    for (int i = 0; i < 3; ++i) {
      SimulationWork w = simulationWork(small[i], n);
      matrix[i] = w.matrixEntries;
      vector[i] = w.vectorEntries;
    }
    double gaussians = 0;
    for (const ir::ParamDecl& p : typed.params)
      gaussians += p.type.isMatrix() ? entries(p.type.rows, n) * entries(p.type.cols, n) : entries(p.type.dim(), n);
    double matrixEntries = extrapolateSteps(matrix, steps);
    mostEntries = std::max(mostEntries, matrixEntries);
    double perRun = kSecondsPerMatrixEntry * matrixEntries / usefulThreads(threads) +
                    kSecondsPerVectorEntry * extrapolateSteps(vector, steps) + kSecondsPerGaussian * gaussians;
    cost.seconds += perRun * seeds * runsPerSeed;
  }
  cost.bytes = kBytesPerValue * values;
  cost.size = values;
  cost.counted = "an unrolled program of ~" + scientific(values) + " values touching ~" + scientific(mostEntries) +
                 " matrix entries per run";
  return cost;
}

Cost featureLimitCost(const ir::Program& typed, const PipelineOptions& options, const ir::Parametrization& pz,
                      size_t particles, bool jit, int threads) {
  std::array<double, 3> instructions{}, particleInstructions{};
  for (int t = 1; t <= 3; ++t) {
    passes::ZProgram z = passes::deriveZProgram(runUntil(typed, "netsor", atSteps(options, t)), pz);
    instructions[t - 1] = static_cast<double>(z.instrs.size());
    for (const passes::ZInstr& ins : z.instrs) particleInstructions[t - 1] += ins.particle ? 1 : 0;
  }
  const int steps = options.schedule.steps;
  const double total = extrapolateSteps(instructions, steps);
  const double lanes = extrapolateSteps(particleInstructions, steps) * static_cast<double>(particles) * kRunsPerParticle;
  Cost cost;
  const double workers = usefulThreads(threads);
  cost.seconds = kDeriveSecondsPerInstruction * total + (jit ? kCompileSecondsPerInstruction * total / workers : 0) +
                 (jit ? kJitSecondsPerLane : kInterpSecondsPerLane) * lanes / workers;
  cost.bytes = kBytesPerInstruction * total;
  cost.size = total;
  cost.counted = "a Z-program of ~" + scientific(total) + " instructions" +
                 (particles ? " over " + std::to_string(particles) + " particles" : "");
  return cost;
}

}  // namespace tp::driver
