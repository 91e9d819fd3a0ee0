// Reproducible random numbers: seeds derived from keys, so samples never depend on thread count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tp {

/// splitmix64 step, for deriving seeds: advances `state` and returns a well-mixed 64-bit value.
uint64_t splitmix64(uint64_t& state);

/// Mixes several 64-bit keys (e.g. seed, param index, row) into one stream seed.
/// Each key goes through a splitmix64 round, so streamSeed(s, 1) and streamSeed(s, 2)
/// start unrelated streams, and the result depends on the order of the keys.
uint64_t streamSeed(uint64_t a, uint64_t b = 0, uint64_t c = 0);

/// xoshiro256++ (Blackman & Vigna, 2019) seeded from one 64-bit value via splitmix64.
/// A work item that owns its seed (e.g. streamSeed(seed, param, row)) draws the same
/// numbers whichever thread runs it.
class Rng {
public:
  explicit Rng(uint64_t seed);

  /// The next raw 64-bit output.
  uint64_t next();
  /// Uniform in the open interval (0, 1): never exactly 0 (so log is finite) nor 1.
  double uniform();
  /// Standard Gaussian by Box–Muller; the second value of each pair is cached.
  double normal();

private:
  uint64_t s_[4];
  double cached_ = 0.0;
  bool hasCached_ = false;
};

/// Fills out[0..count) with N(0, stddev²) from Rng(seed).
void fillNormal(uint64_t seed, double stddev, double* out, size_t count);

}  // namespace tp
