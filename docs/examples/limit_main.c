/* A C program that evaluates an infinite-width limit compiled by `tpc compile`.
 *
 *   tpc compile programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json --steps 3 -o limit.o
 *   cc -O2 docs/examples/limit_main.c limit.o -lm -o limit
 *   ./limit 65536      # Monte Carlo over 65536 particles (its own random numbers)
 *   ./limit exact      # the 2d-point rule: exact for programs of degree <= 3 (linear networks)
 *
 * It prints one line per result coordinate: its name and value. docs/compile.md describes
 * the interface declared below.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t tpc_limit_bases(void);
double tpc_limit_base_variance(int64_t b);
int64_t tpc_limit_results(void);
const char* tpc_limit_result_name(int64_t r);
int tpc_limit(const double* const* bases, const double* weights, int64_t count, double* results);

/* splitmix64: uniform doubles in (0, 1). */
static uint64_t state = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

int main(int argc, char** argv) {
  const int exact = argc > 1 && strcmp(argv[1], "exact") == 0;
  const int64_t d = tpc_limit_bases(), results = tpc_limit_results();
  const int64_t count = exact ? 2 * d : (argc > 1 ? atoll(argv[1]) : 65536);
  if (count < 1) {
    fprintf(stderr, "usage: %s [PARTICLES | exact]\n", argv[0]);
    return 2;
  }
  double** bases = malloc((size_t)(d > 0 ? d : 1) * sizeof *bases);
  double* weights = malloc((size_t)count * sizeof *weights);
  double* values = malloc((size_t)(results > 0 ? results : 1) * sizeof *values);
  if (!bases || !weights || !values) return 1;
  for (int64_t b = 0; b < d; ++b) {
    bases[b] = calloc((size_t)count, sizeof **bases);
    if (!bases[b]) return 1;
    const double variance = tpc_limit_base_variance(b);
    if (exact) { /* particles 2b and 2b+1 sit at ±sqrt(d·variance) on axis b */
      bases[b][2 * b] = sqrt((double)d * variance);
      bases[b][2 * b + 1] = -sqrt((double)d * variance);
    } else { /* Box–Muller: independent N(0, variance) draws */
      for (int64_t k = 0; k < count; ++k) {
        double r = sqrt(-2.0 * log(uniform())), angle = 2.0 * 3.14159265358979323846 * uniform();
        bases[b][k] = sqrt(variance) * r * cos(angle);
      }
    }
  }
  for (int64_t k = 0; k < count; ++k) weights[k] = 1.0 / (double)count;
  if (tpc_limit((const double* const*)bases, weights, count, values) != 0) {
    fprintf(stderr, "tpc_limit: out of memory\n");
    return 1;
  }
  for (int64_t r = 0; r < results; ++r) printf("%s %.17g\n", tpc_limit_result_name(r), values[r]);
  for (int64_t b = 0; b < d; ++b) free(bases[b]);
  free(bases);
  free(weights);
  free(values);
  return 0;
}
