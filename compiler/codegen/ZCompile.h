// A Z-program compiled by the JIT: its particle instructions fused into loops between means.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/passes/ZProgram.h"
#include "compiler/codegen/Jit.h"
#include "runtime/Dataset.h"
#include "runtime/ZEval.h"

namespace tp::codegen {

/// The particle instructions of a Z-program grouped into *passes*: pass p holds every
/// particle instruction whose operands are ready after the means of passes < p. A pass
/// splits into *pieces*, its instructions connected through operands with the means of
/// them; a piece's *shape* is its computation with the scalars, stored values and base
/// Gaussians it reads or writes renamed to parameters. One generated function per shape
/// loops over a range of particles, computes the instructions in registers, stores only
/// the values a later pass reads, and accumulates the piece's means; pieces of one shape
/// (a layer at another step, example or depth) call it with their own argument table, so
/// LLVM compiles each shape once. Scalar instructions run between passes, as in the
/// interpreter (scalarInstruction). Every mean is summed in the canonical order of
/// kMeanChunk-particle chunks, so the numbers equal the interpreter's (same IEEE
/// operations, no reassociation, no fused multiply-add) for any thread count.
class CompiledZProgram {
public:
  /// Compiles the shapes on `threads` workers (Jit::addAll). Each loop iteration computes
  /// `lanes` particles (4 or 8); 0 is the host's choice, particleLanes(). The numbers do not
  /// depend on it.
  CompiledZProgram(const passes::ZProgram& z, Jit& jit, int threads = 1, unsigned lanes = 0);
  ~CompiledZProgram();

  /// As runZProgram (the value of every result coordinate), with the particle chunks of
  /// each pass split over `threads` workers.
  std::vector<std::vector<double>> run(const Particles& particles, const Dataset& data, int threads,
                                       ZHealth* health = nullptr) const;

  size_t passes() const;
  /// Pieces over all passes, and the distinct shapes among them (the functions compiled).
  size_t pieces() const;
  size_t shapes() const;
  /// Particle values stored between passes (each K doubles), at most at once.
  size_t buffers() const;

  struct Plan;  // the schedule (ZCompile.cpp)

private:
  const passes::ZProgram& z_;
  std::unique_ptr<Plan> plan_;
};

/// Particles per loop iteration of the compiled shapes on this host: 8 (one 512-bit
/// register) with AVX-512, else 4.
unsigned particleLanes();

/// Writes the Z-program as a standalone module (`tpc compile`; the C interface is
/// docs/compile.md) to `path`, LLVM assembly for NAME.ll, else an object file: the pass
/// functions (internal), `tpc_limit` that runs them over caller-supplied particles in one
/// thread, and `tpc_limit_bases`, `tpc_limit_base_variance`, `tpc_limit_results`,
/// `tpc_limit_result_name`. The data's values are constants of the module; `resultNames`
/// names the result coordinates in the order of z.results. Returns "" or why the file
/// could not be written.
std::string writeStandalone(const passes::ZProgram& z, const Dataset& data, const std::vector<std::string>& resultNames,
                            const std::string& path);

}  // namespace tp::codegen
