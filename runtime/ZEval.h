// The reference interpreter of Z-programs over weighted particles: Monte Carlo samples or a tensor quadrature rule.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/passes/ZProgram.h"
#include "runtime/Dataset.h"
#include "runtime/Progress.h"
#include "runtime/Simulator.h"

namespace tp {

/// A weighted set of draws of the base Gaussians: E g ≈ Σ_i weights[i] g(draw i).
struct Particles {
  size_t count = 0;
  std::vector<std::vector<double>> bases;  // [base][particle]
  std::vector<double> weights;             // sum to 1
};

/// `count` independent draws, weights 1/count, from streams keyed by (seed, base):
/// the same seed gives the same particles on every machine and thread count.
Particles monteCarloParticles(const passes::ZProgram& z, size_t count, uint64_t seed);

/// The 2d points ±√d·σ_b e_b (weights 1/2d) over the d base Gaussians: exact for every
/// polynomial of degree ≤ 3 (odd moments vanish by symmetry, E[x_b x_c] = σ_b² δ_bc).
/// A linear Z then is its coefficient vector over the base Gaussians (twice, ±√d-scaled),
/// and every average of a product of two is exact: `--method exact`.
Particles exactParticles(const passes::ZProgram& z);

/// The tensor-product Gauss–Hermite rule of `order` points per base Gaussian
/// (order^bases particles). Throws UserError when that exceeds `maxParticles`.
Particles quadratureParticles(const passes::ZProgram& z, int order, size_t maxParticles);

/// A mean over particles is summed in chunks of this many particles; within a chunk, particle
/// i goes to lane i mod kMeanLanes, each lane summed in order from 0, and the chunk's sum is
/// (lane 0 + lane 1) + (lane 2 + lane 3); the chunk sums are added in order. That is the one
/// summation order of every backend and thread count (the JIT's vector loops are 4 wide).
inline constexpr size_t kMeanChunk = 4096;
inline constexpr size_t kMeanLanes = 4;

/// Σ weights[k]·x[k] over the particles [begin, end) of one chunk, in the canonical order.
double chunkSum(const double* weights, const double* x, size_t begin, size_t end);

/// The value of a scalar instruction other than Mean, from the scalars before it.
double scalarInstruction(const passes::ZInstr& ins, const std::vector<double>& scalar, const Dataset& data);

/// What a run's scalars say about its numerics; both backends compute the same scalars, so
/// they report the same.
struct ZHealth {
  /// The first scalar instruction (in program order, an order of computation) whose value
  /// is not finite — where an overflow or a NaN entered — and that value; −1: all finite.
  int instruction = -1;
  double value = 0;
  /// Gram–Schmidt steps (Pivot) that found a direction already spanned, to the tolerance
  /// kPivotTolerance, and created no new Gaussian field: the Z-program's pseudo-inverse of a
  /// singular covariance.
  int droppedFields = 0;
};

/// The value of every result coordinate from the program's scalars (0 vanishing, +inf
/// diverging); with `health`, what the scalars say about the run.
std::vector<std::vector<double>> resultValues(const passes::ZProgram& z, const std::vector<double>& scalar,
                                              ZHealth* health = nullptr);

/// Runs the Z-program once over `particles` (instruction by instruction, each
/// particle instruction a loop over the particles, buffers freed after their
/// last use) and returns the value of every result coordinate, in the order of
/// `z.results` (0 for a vanishing one, +inf for a diverging one).
std::vector<std::vector<double>> runZProgram(const passes::ZProgram& z, const Particles& particles,
                                             const Dataset& data, ZHealth* health = nullptr);

/// The largest number of particle buffers live at once in runZProgram: with the base
/// Gaussians' own storage, its memory is (that + bases) · 8 · K bytes.
size_t peakParticleBuffers(const passes::ZProgram& z);

struct FeatureLimitOptions;

/// Monte Carlo's standard errors come from this many disjoint groups of particles.
inline constexpr size_t kMonteCarloGroups = 16;

/// The coarse quadrature order of featureLimit's error estimate (2/3 of `order`).
inline int coarseQuadratureOrder(int order) { return std::max(1, 2 * order / 3); }

/// Bytes of particle data featureLimit holds at once: per particle, `storedValues` (the
/// backend's live particle buffers), the base Gaussians and the weight, 8 bytes each.
/// Monte Carlo: the full run, and on the other threads up to kMonteCarloGroups group runs of
/// K/16 particles each (with copies of their bases). Quadrature: the fine rule (order^d)
/// and the coarse one at once.
double monteCarloBytes(size_t storedValues, size_t bases, size_t samples, int threads);
double quadratureBytes(size_t storedValues, size_t bases, int order);

/// Monte Carlo particles for a target standard error (the default of `--samples`).
struct SampleChoice {
  size_t samples = 0;
  double pilotStderr = 0;       // the largest standard error of the pilot run
  bool limitedByMemory = false;  // the target needed more particles than fit the budget
};

/// The particles of chooseSamples' pilot run: the fewest an automatic Monte Carlo uses.
inline constexpr size_t kPilotParticles = size_t(1) << 14;

/// A pilot run of 2^14 particles measures the largest standard error s of any reported
/// number; standard errors fall like 1/√K, so K = 2^14 (s/target)², rounded up to a power
/// of two, at least 2^14 and at most what fits `memoryBytes` (peakParticleBuffers).
SampleChoice chooseSamples(const passes::ZProgram& z, const ir::Program& netsor, const Dataset& data,
                           const FeatureLimitOptions& options, double targetStderr, size_t memoryBytes);

/// Runs a Z-program over particles; empty: the interpreter (runZProgram). The JIT
/// backend (jit/ZCompile) plugs in here.
using ZRunner = std::function<std::vector<std::vector<double>>(const Particles&, const Dataset&, ZHealth*)>;

struct FeatureLimitOptions {
  std::string method = "quadrature";  // "exact", "quadrature" or "montecarlo"
  int order = 48;                      // quadrature: points per base Gaussian
  size_t samples = 1 << 16;            // montecarlo: particles
  uint64_t seed = 0;
  size_t maxParticles = size_t(1) << 24;
  int threads = 1;  // montecarlo: the full run and the 16 group runs are independent tasks
  ZRunner runner;   // empty: the interpreter
  ProgressFn progress;  // particles run (Monte Carlo: the full run and the groups; quadrature: both rules)
};

struct FeatureLimitResult {
  std::string method;
  size_t particles = 0;
  int order = 0;                  // quadrature
  /// Quadrature: max |Q_order − Q_(2·order/3)| over every reported number (an estimate
  /// of the error of the coarser rule, so a bound for the finer one when it converges).
  double quadratureError = 0;
  std::vector<StepSummary> steps;  // means; variance 0 (the limit is deterministic); stderr (Monte Carlo)
  ZHealth health;  // of the run over all particles (the fine rule for quadrature)
};

/// The limit's outputs and losses at every step t = 0..T: exact (a program that
/// averages polynomials of degree ≤ 3, see exactParticles), quadrature (with
/// its error estimate) or Monte Carlo (standard errors from 16 independent
/// groups of particles: sd of the group results / √16).
FeatureLimitResult featureLimit(const passes::ZProgram& z, const ir::Program& netsor, const Dataset& data,
                                const FeatureLimitOptions& options);

}  // namespace tp
