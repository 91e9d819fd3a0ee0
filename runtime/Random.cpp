// splitmix64 seeding, the xoshiro256++ generator and Box–Muller Gaussians.
#include "runtime/Random.h"

#include <cmath>
#include <numbers>

namespace tp {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t splitmix64(uint64_t& state) {
  // Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (2014).
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t streamSeed(uint64_t a, uint64_t b, uint64_t c) {
  // Chain the keys through the mixer rather than xor-ing them together, so that
  // e.g. (a, b) and (b, a), or (a ^ 1, b ^ 1), do not collide.
  uint64_t state = a;
  state = splitmix64(state) ^ b;
  state = splitmix64(state) ^ c;
  return splitmix64(state);
}

Rng::Rng(uint64_t seed) {
  // splitmix64 is a bijection of its counter, so at most one of four outputs
  // can be 0 and the forbidden all-zero xoshiro state cannot occur.
  uint64_t state = seed;
  for (uint64_t& word : s_) word = splitmix64(state);
}

uint64_t Rng::next() {
  // xoshiro256++ 1.0, Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021).
  const uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  // The top 52 bits give k in [0, 2^52); (k + 1/2) · 2^-52 is the midpoint of
  // one of 2^52 equal cells. k + 1/2 needs 53 significant bits, so it is exact
  // in a double, and the result lies in [2^-53, 1 - 2^-53]: never 0 nor 1.
  // (With 53 bits, k + 1/2 would round up to 2^53 and give exactly 1.)
  const double k = static_cast<double>(next() >> 12);
  return (k + 0.5) * 0x1.0p-52;
}

double Rng::normal() {
  if (hasCached_) {
    hasCached_ = false;
    return cached_;
  }
  // Box–Muller: for independent u1, u2 uniform on (0, 1), r·cos θ and r·sin θ
  // with r = √(-2 ln u1), θ = 2π u2 are independent standard Gaussians.
  const double r = std::sqrt(-2.0 * std::log(uniform()));
  const double theta = 2.0 * std::numbers::pi * uniform();
  cached_ = r * std::sin(theta);
  hasCached_ = true;
  return r * std::cos(theta);
}

void fillNormal(uint64_t seed, double stddev, double* out, size_t count) {
  Rng rng(seed);
  for (size_t i = 0; i < count; ++i) out[i] = stddev * rng.normal();
}

}  // namespace tp
