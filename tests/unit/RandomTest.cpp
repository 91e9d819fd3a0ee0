// Checks the seeded generators: reproducibility, independent streams and Gaussian moments.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/Random.h"

namespace tp {
namespace {

TEST(Random, Splitmix64MatchesReference) {
  // First outputs of the reference splitmix64.c from state 0.
  uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(state), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix64(state), 0x06c45d188009454fULL);
}

TEST(Random, EqualSeedsGiveEqualStreams) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next());
  for (int i = 0; i < 1001; ++i) ASSERT_EQ(a.normal(), b.normal());  // odd count: crosses the cache
  std::vector<double> x(777), y(777);
  fillNormal(streamSeed(7, 3, 5), 0.5, x.data(), x.size());
  fillNormal(streamSeed(7, 3, 5), 0.5, y.data(), y.size());
  EXPECT_EQ(x, y);
  EXPECT_EQ(streamSeed(7, 3), streamSeed(7, 3, 0));
}

TEST(Random, DifferentKeysGiveDifferentStreams) {
  const std::vector<uint64_t> seeds = {streamSeed(1, 2),    streamSeed(1, 3),    streamSeed(2, 1),
                                       streamSeed(1, 2, 1), streamSeed(0),       streamSeed(0, 0, 1),
                                       streamSeed(3, 0),    streamSeed(0, 3)};
  for (size_t i = 0; i < seeds.size(); ++i)
    for (size_t j = i + 1; j < seeds.size(); ++j) {
      EXPECT_NE(seeds[i], seeds[j]) << i << " " << j;
      // Two distinct streams agree on a 64-bit output with probability 2^-64.
      Rng a(seeds[i]), b(seeds[j]);
      int equal = 0;
      for (int k = 0; k < 100; ++k) equal += a.next() == b.next();
      EXPECT_EQ(equal, 0) << i << " " << j;
    }
}

TEST(Random, NeighbouringStreamsAreUncorrelated) {
  // Rows seeded by consecutive keys must look independent. The sample
  // correlation of n independent pairs has standard error 1/√n ≈ 0.0032 for
  // n = 1e5; 5 standard errors fail by chance with probability ~6e-7.
  const size_t n = 100000;
  std::vector<double> x(n), y(n);
  fillNormal(streamSeed(9, 0, 0), 1.0, x.data(), n);
  fillNormal(streamSeed(9, 0, 1), 1.0, y.data(), n);
  double xy = 0;
  for (size_t i = 0; i < n; ++i) xy += x[i] * y[i];
  EXPECT_LT(std::fabs(xy / n), 5 / std::sqrt(double(n)));
}

TEST(Random, NormalMoments) {
  // For n i.i.d. standard Gaussians the sample moment (1/n)Σ xᵖ has standard
  // error √(Var(xᵖ)/n), with E x² = 1, E x⁴ = 3, E x⁶ = 15, E x⁸ = 105:
  //   mean:   Var(x)  = 1                 → SE = 1e-3
  //   x²:     Var(x²) = 3 - 1 = 2         → SE ≈ 1.41e-3
  //   x³:     Var(x³) = 15                → SE ≈ 3.87e-3
  //   x⁴:     Var(x⁴) = 105 - 9 = 96      → SE ≈ 9.80e-3
  // Each check allows 5 SE (a chance failure ~6e-7 for any seed), so the test
  // does not depend on the seed chosen, yet a wrong scale (e.g. variance off
  // by 1%) or a non-Gaussian shape (e.g. uniform: E x⁴ = 1.8) fails it.
  const size_t n = 1000000;
  std::vector<double> x(n);
  fillNormal(streamSeed(2024), 1.0, x.data(), n);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (double v : x) {
    m1 += v;
    m2 += v * v;
    m3 += v * v * v;
    m4 += v * v * v * v;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  const double rootN = std::sqrt(double(n));
  EXPECT_NEAR(m1, 0.0, 5 * 1 / rootN);
  EXPECT_NEAR(m2, 1.0, 5 * std::sqrt(2.0) / rootN);
  EXPECT_NEAR(m3, 0.0, 5 * std::sqrt(15.0) / rootN);
  EXPECT_NEAR(m4, 3.0, 5 * std::sqrt(96.0) / rootN);
}

TEST(Random, FillNormalScalesByStddev) {
  // Same seed, so the samples are exactly proportional.
  const size_t n = 1000;
  std::vector<double> unit(n), scaled(n);
  fillNormal(5, 1.0, unit.data(), n);
  fillNormal(5, 2.5, scaled.data(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(scaled[i], 2.5 * unit[i]);
}

TEST(Random, UniformIsInOpenUnitInterval) {
  // Mean of n uniforms has standard error √(1/12n) ≈ 9.1e-5 for n = 1e7; allow 5 SE.
  const size_t n = 10000000;
  Rng rng(123);
  double sum = 0, lo = 1, hi = 0;
  for (size_t i = 0; i < n; ++i) {
    double u = rng.uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / (12.0 * n)));
  // The extremes of 1e7 draws lie within ~1e-6 of the ends (P(miss) = e^-10 each).
  EXPECT_LT(lo, 1e-6);
  EXPECT_GT(hi, 1 - 1e-6);
}

}  // namespace
}  // namespace tp
