// The issue's acceptance check: `tpc simulate` of a one-hidden-layer μP tanh
// network approaches the known mean-field limit (TP4 Thm 6.1, DESIGN.md §6) as
// the width grows.
//
// The limit is computed here from scratch, independently of tpc's code: the
// network is programs/mlp1_tanh.tp (x[d] -> h = W1 x -> z = tanh h -> f = W2 z,
// loss ½(f − y)², full-batch SGD with the file's lr) and the data is
// programs/data/mlp1_tanh.json.
//
// Derivation (LANGUAGE.md "Semantics of a step" and "Parametrizations").
// A param is W = n^(−a) w with w_ij ~ N(0, v n^(−2b)); `P -= E` applies
// P ← P − n^(−c−2a) · mean_b E. For `mup`, c = 0 and
//   W1 (input, a = −1/2, b = 1/2): W1 = n^(1/2) w, Var w = v1/n, so the rows
//       U_α = W1[α, :] are iid N(0, v1 I_d), independent of n;
//   W2 (output, a = 1/2, b = 1/2): W2 = n^(−1/2) w, Var w = v2/n, so
//       Var W2 = v2/n² and V_α = n W2[0, α] are iid N(0, v2).
// Forward: f(ξ) = Σ_α W2_α tanh(ξ·U_α) = (1/n) Σ_α V_α tanh(ξ·U_α).
// Backward: df = χ = f − y, dz_α = W2_α χ, dh_α = dz_α tanh'(h_α).
// Updates (all from pre-step values, batch mean over b):
//   W2 ← W2 − n^(−1) · lr · mean_b χ_b tanh(h_α,b)
//        ⇒ V_α ← V_α − lr · mean_b χ_b tanh(ξ_b·U_α)
//   W1 ← W1 − n^(+1) · lr · mean_b dh_b x_bᵀ = W1 − n · lr · mean_b χ_b W2_α tanh'(h_α,b) ξ_b
//        ⇒ U_α ← U_α − lr · mean_b χ_b ξ_b V_α tanh'(ξ_b·U_α)
// Every neuron (U_α, V_α) evolves by the same deterministic map, which only
// couples the neurons through the scalars χ_b = f(ξ_b) − y_b. By the LLN
// f(ξ) → f̊_t(ξ) = E[V_t tanh(ξ·U_t)], with (U_t, V_t) the image of the
// initial Gaussians (U_0, V_0) under that map driven by χ̊_b = f̊_t(ξ_b) − y_b.
// This is DESIGN.md §6 / TP4 Thm 6.1 with the batch mean. The expectations
// over the d + 1 Gaussians are evaluated by tensor Gauss–Hermite quadrature,
// tracking (U_t, V_t) at every node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numbers>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

const std::string kSource = TPC_SOURCE_DIR;
const std::string kProgram = kSource + "/programs/mlp1_tanh.tp";
const std::string kData = kSource + "/programs/data/mlp1_tanh.json";
const std::string kBinary = kSource + "/build/tpc";  // the suite always builds into build/
constexpr int kSteps = 4;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A constant like "1/2", "0.5" or "2".
double parseConstant(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::stod(s);
  return std::stod(s.substr(0, slash)) / std::stod(s.substr(slash + 1));
}

/// The model the limit below is derived for, read from the .tp file. The
/// statements are checked textually so that a change to the program makes this
/// test fail loudly instead of comparing against the wrong limit.
struct Model {
  int d = 0;
  double v1 = 1, v2 = 1, lr = 0;
  std::vector<std::vector<double>> trainX, evalX;
  std::vector<double> trainY;
};

Model loadModel() {
  Model m;
  std::string src = readFile(kProgram);
  EXPECT_FALSE(src.empty()) << kProgram;
  std::smatch match;
  std::regex input(R"(input\s+x\[(\d+)\])");
  std::regex w1(R"(param\s+W1\[n,\s*(\d+)\]\s*(~\s*N\(0,\s*([^)]*)\))?)");
  std::regex w2(R"(param\s+W2\[1,\s*n\]\s*(~\s*N\(0,\s*([^)]*)\))?)");
  std::regex lr(R"(hyper\s+lr\s*=\s*([0-9.eE+\-/]+))");
  EXPECT_TRUE(std::regex_search(src, match, input));
  m.d = std::stoi(match[1]);
  EXPECT_TRUE(std::regex_search(src, match, w1));
  EXPECT_EQ(std::stoi(match[1]), m.d);
  if (match[3].matched) m.v1 = parseConstant(match[3]);
  EXPECT_TRUE(std::regex_search(src, match, w2));
  if (match[2].matched) m.v2 = parseConstant(match[2]);
  EXPECT_TRUE(std::regex_search(src, match, lr));
  m.lr = parseConstant(match[1]);
  for (const char* line : {"target y", "output f", "h = W1 @ x", "z = tanh(h)", "f = W2 @ z",
                           "loss = 0.5 * (f - y) ** 2", "df = f - y", "dz = W2.T @ df", "dh = dz * tanh'(h)",
                           "W2 -= lr * outer(df, z)", "W1 -= lr * outer(dh, x)"})
    EXPECT_NE(src.find(line), std::string::npos) << "mlp1_tanh.tp no longer contains `" << line << "`";

  json data = json::parse(readFile(kData));
  m.trainX = data["train"]["x"].get<std::vector<std::vector<double>>>();
  m.trainY = data["train"]["y"].get<std::vector<double>>();
  m.evalX = data.contains("eval") ? data["eval"]["x"].get<std::vector<std::vector<double>>>() : m.trainX;
  return m;
}

/// Gauss–Hermite rule for a standard normal: E g(Z) ≈ Σ_i w_i g(x_i), exact for
/// polynomials of degree < 2m. Computed from scratch (no library):
///  - the nodes are the eigenvalues of the Jacobi matrix of the probabilists'
///    Hermite polynomials (zero diagonal, off-diagonal √k, k = 1..m−1); each is
///    isolated by Sturm-sequence bisection (robust for any m: NR's Newton with
///    asymptotic initial guesses loses roots beyond m ≈ 200) and then polished
///    by Newton on the orthonormal polynomial q_m, with q_m' = √m q_{m−1};
///  - the weights are the Christoffel numbers w_i = 1 / Σ_{j<m} q_j(x_i)².
/// q_j(x) grows like x^j/√j!, which overflows a double at the outer nodes for
/// m ≳ 300, hence long double for the recurrences.
struct Rule {
  std::vector<double> x, w;
};

/// q_0..q_{m} of the orthonormal probabilists' Hermite polynomials at x.
std::vector<long double> orthonormalHermite(int m, long double x) {
  std::vector<long double> q(static_cast<size_t>(m) + 1);
  q[0] = 1;
  if (m >= 1) q[1] = x;
  for (int j = 2; j <= m; ++j) q[j] = (x * q[j - 1] - std::sqrt(static_cast<long double>(j - 1)) * q[j - 2]) /
                                      std::sqrt(static_cast<long double>(j));
  return q;
}

Rule gaussHermite(int m) {
  // Number of eigenvalues of the Jacobi matrix below x (Sturm count of J − x I).
  auto below = [m](double x) {
    int count = 0;
    double d = -x;
    for (int k = 0; k < m; ++k) {
      if (k > 0) d = -x - static_cast<double>(k) / d;  // β_k² = k
      if (d == 0) d = -1e-300;
      if (d < 0) ++count;
    }
    return count;
  };
  const double bound = 2 * std::sqrt(static_cast<double>(m)) + 1;  // Gershgorin
  Rule r;
  for (int i = 0; i < m; ++i) {
    double lo = -bound, hi = bound;  // the (i+1)-th smallest eigenvalue lies in (lo, hi]
    for (int it = 0; it < 200 && hi - lo > 1e-15 * std::max(1.0, std::abs(lo)); ++it) {
      double mid = 0.5 * (lo + hi);
      (below(mid) > i ? hi : lo) = mid;
    }
    long double x = 0.5L * (lo + hi);
    for (int it = 0; it < 3; ++it) {
      auto q = orthonormalHermite(m, x);
      x -= q[m] / (std::sqrt(static_cast<long double>(m)) * q[m - 1]);
    }
    auto q = orthonormalHermite(m - 1, x);
    long double s = 0;
    for (long double v : q) s += v * v;
    r.x.push_back(static_cast<double>(x));
    r.w.push_back(static_cast<double>(1 / s));
  }
  return r;
}

/// The mean-field limit at steps 0..T: f̊_t on every eval input and the
/// training loss mean_b ½(f̊_t(ξ_b) − y_b)². Also E[tanh²(ξ·U_0)] per eval
/// input, the per-neuron variance behind Var f_0 = v2 E[tanh²(ξ·U_0)] / n.
struct Limit {
  std::vector<std::vector<double>> f;  // [t][e]
  std::vector<double> loss;            // [t]
  std::vector<double> tanh2;           // [e]
};

/// `orders[k]` Gauss–Hermite nodes for the k-th Gaussian: U's d coordinates,
/// then V.
///
/// Symmetry halves the work: the map (U_t, V_t) → (U_{t+1}, V_{t+1}) commutes
/// with (U, V) → (−U, −V) (tanh is odd, tanh' even, and χ is a shared scalar),
/// and so do the integrands V_t tanh(ξ·U_t) and tanh²(ξ·U_0), which are even.
/// The product rule is symmetric too (even orders: no node is its own mirror),
/// so the nodes with V_0 < 0, at twice their weight, give the same sums.
///
/// The node states are split into two fixed halves, one per thread, so the
/// sums (and the result) do not depend on timing.
Limit meanFieldLimit(const Model& m, const std::vector<int>& orders, int steps) {
  const size_t d = static_cast<size_t>(m.d), dims = d + 1;
  std::vector<Rule> rules;
  size_t nodes = 1;
  for (size_t k = 0; k < dims; ++k) {
    EXPECT_EQ(orders[k] % 2, 0) << "the symmetric reduction needs even orders";
    rules.push_back(gaussHermite(orders[k]));
    if (k == d) {  // V: keep the negative half (the nodes come sorted ascending), double the weights
      Rule& r = rules.back();
      r.x.resize(r.x.size() / 2);
      r.w.resize(r.w.size() / 2);
      for (double& w : r.w) w *= 2;
    }
    nodes *= rules.back().x.size();
  }
  // Node state, flat: U (d per node), V, and the product quadrature weight.
  std::vector<double> U(nodes * d), V(nodes), W(nodes);
  for (size_t q = 0; q < nodes; ++q) {
    size_t rest = q;
    double w = 1;
    for (size_t k = 0; k < dims; ++k) {
      const Rule& rule = rules[k];
      size_t i = rest % rule.x.size();
      rest /= rule.x.size();
      w *= rule.w[i];
      if (k < d)
        U[q * d + k] = std::sqrt(m.v1) * rule.x[i];
      else
        V[q] = std::sqrt(m.v2) * rule.x[i];
    }
    W[q] = w;
  }
  const size_t B = m.trainX.size(), E = m.evalX.size();
  auto pre = [&](size_t q, const std::vector<double>& xi) {
    double h = 0;
    for (size_t k = 0; k < d; ++k) h += U[q * d + k] * xi[k];
    return h;
  };
  // Runs body(begin, end, sums) on two halves of the nodes and adds the sums.
  auto reduce = [&](size_t width, auto body) {
    std::vector<double> a(width, 0.0), b(width, 0.0);
    std::thread other([&] { body(nodes / 2, nodes, b); });
    body(0, nodes / 2, a);
    other.join();
    for (size_t i = 0; i < width; ++i) a[i] += b[i];
    return a;
  };
  Limit lim;
  lim.tanh2 = reduce(E, [&](size_t begin, size_t end, std::vector<double>& s) {
    for (size_t q = begin; q < end; ++q)
      for (size_t e = 0; e < E; ++e) s[e] += W[q] * std::pow(std::tanh(pre(q, m.evalX[e])), 2);
  });
  for (int t = 0; t <= steps; ++t) {
    // f̊_t on the eval inputs (first E) and on the training batch (next B).
    std::vector<double> f = reduce(E + B, [&](size_t begin, size_t end, std::vector<double>& s) {
      for (size_t q = begin; q < end; ++q) {
        for (size_t e = 0; e < E; ++e) s[e] += W[q] * V[q] * std::tanh(pre(q, m.evalX[e]));
        for (size_t b = 0; b < B; ++b) s[E + b] += W[q] * V[q] * std::tanh(pre(q, m.trainX[b]));
      }
    });
    lim.f.emplace_back(f.begin(), f.begin() + static_cast<long>(E));
    std::vector<double> chi(B);
    double loss = 0;
    for (size_t b = 0; b < B; ++b) {
      chi[b] = f[E + b] - m.trainY[b];
      loss += 0.5 * chi[b] * chi[b] / static_cast<double>(B);
    }
    lim.loss.push_back(loss);
    if (t == steps) break;
    reduce(0, [&](size_t begin, size_t end, std::vector<double>&) {
      std::vector<double> dU(d);
      for (size_t q = begin; q < end; ++q) {
        double dV = 0;
        std::fill(dU.begin(), dU.end(), 0.0);
        for (size_t b = 0; b < B; ++b) {
          double th = std::tanh(pre(q, m.trainX[b]));
          dV += chi[b] * th;
          double g = chi[b] * V[q] * (1 - th * th);
          for (size_t k = 0; k < d; ++k) dU[k] += g * m.trainX[b][k];
        }
        // Both from the pre-step (U, V): V is written after dU used it.
        for (size_t k = 0; k < d; ++k) U[q * d + k] -= m.lr * dU[k] / static_cast<double>(B);
        V[q] -= m.lr * dV / static_cast<double>(B);
      }
    });
  }
  return lim;
}

/// One `tpc simulate` run: seed means, seed variances and standard errors.
/// Each run gets its own range of seeds [firstSeed, firstSeed + seeds): the
/// simulator draws row i of a param from a stream keyed by (seed, param, row),
/// so two widths run with the same seeds share their first rows (the smaller
/// network is a sub-network of the larger one) and their errors correlate.
struct Sim {
  int width = 0, seeds = 0;
  std::vector<std::vector<double>> f, var, se;  // [t][e]
  std::vector<double> loss, lossSe;             // [t]
};

Sim simulate(int width, int seeds, unsigned long firstSeed) {
  std::string cmd = "'" + kBinary + "' simulate '" + kProgram + "' --param mup --data '" + kData +
                    "' --steps " + std::to_string(kSteps) + " --width " + std::to_string(width) + " --seeds " +
                    std::to_string(seeds) + " --seed " + std::to_string(firstSeed) + " --threads 2 --json -";
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << cmd;
  std::string out;
  char buf[4096];
  size_t k;
  while (pipe && (k = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, k);
  int status = pipe ? pclose(pipe) : -1;
  EXPECT_EQ(status, 0) << cmd;
  Sim s;
  s.width = width;
  s.seeds = seeds;
  json j = json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("simulation")) {
    ADD_FAILURE() << "no JSON report from: " << cmd;
    return s;
  }
  EXPECT_EQ(j["simulation"]["width"].get<int>(), width);
  EXPECT_EQ(j["simulation"]["seeds"].get<int>(), seeds);
  for (const auto& st : j["simulation"]["steps"]) {
    s.f.push_back(st["outputs"]["f"].get<std::vector<double>>());
    s.var.push_back(st["variance"]["f"].get<std::vector<double>>());
    s.se.push_back(st["stderr"]["f"].get<std::vector<double>>());
    s.loss.push_back(st["loss"].get<double>());
    s.lossSe.push_back(st["loss_stderr"].get<double>());
  }
  EXPECT_EQ(s.f.size(), static_cast<size_t>(kSteps + 1));
  return s;
}

/// Least-squares slope of log y against log x.
double logLogSlope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += std::log(x[i]) / static_cast<double>(x.size());
    my += std::log(y[i]) / static_cast<double>(y.size());
  }
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (std::log(x[i]) - mx) * (std::log(y[i]) - my);
    sxx += (std::log(x[i]) - mx) * (std::log(x[i]) - mx);
  }
  return sxy / sxx;
}

/// What the simulation should look like around the limit f̊ (per seed, f is
/// the finite network's output at width n):
///  - each seed's f_t(ξ) − f̊_t(ξ) is O(n^(−1/2)): a CLT fluctuation over the n
///    iid neurons (exactly Var f_0 = v2 E[tanh²(ξ·U_0)] / n at t = 0), carried
///    through the scalars χ at later steps;
///  - its mean over seeds has a bias b_t(ξ)/n + O(n^(−2)) (second-order terms of
///    the expansion in the fluctuations; b_0 = 0 since f_0 is odd in W2) and a
///    seed noise of standard error σ/√(nS), which `tpc simulate` reports;
///  - the seed-mean loss has the bias of the mean plus ½ Var f = O(1/n).
TEST(MeanField, Mlp1TanhMupApproachesTheLimit) {
  ASSERT_TRUE(std::ifstream(kBinary).good()) << "build tpc first: " << kBinary;
  Model model = loadModel();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(model.d, 2);
  const size_t E = model.evalX.size();

  // The rule itself: E 1 = 1, E Z² = 1, E Z⁴ = 3 (exact from m = 3 nodes on).
  for (int order : {3, 40, 360}) {
    Rule r = gaussHermite(order);
    double m0 = 0, m2 = 0, m4 = 0;
    for (int i = 0; i < order; ++i) {
      m0 += r.w[i];
      m2 += r.w[i] * r.x[i] * r.x[i];
      m4 += r.w[i] * std::pow(r.x[i], 4);
    }
    EXPECT_NEAR(m0, 1, 1e-13) << order;
    EXPECT_NEAR(m2, 1, 1e-13) << order;
    EXPECT_NEAR(m4, 3, 1e-12) << order;
  }

  // The limit, and its independent accuracy check: two product rules must agree
  // to 1e-9 on every f̊_t(ξ_e) and loss. tanh is analytic only in a strip, and
  // after a step the strip narrows as |V_0| grows (U_1 moves by lr·V_0·(…), so
  // tanh(ξ·U_t) turns into a sharp step in U for large |V_0|): Gauss–Hermite then
  // converges only sub-exponentially. Measured against (400, 260, 180) nodes
  // (U_1, U_2, V): 40³ is off by 1.5e-5, 160³ by 1.1e-7, and U's first
  // coordinate (the one with the largest |ξ| components) needs the most nodes;
  // (300, 200, 130), (360, 240, 160) and (400, 260, 180) agree within 4.2e-10.
  // The smallest standard error below is 3e-5, so the quadrature error is
  // invisible in the comparison.
  Limit coarse = meanFieldLimit(model, {300, 200, 130}, kSteps);
  Limit limit = meanFieldLimit(model, {360, 240, 160}, kSteps);
  double quadErr = 0;
  for (int t = 0; t <= kSteps; ++t) {
    for (size_t e = 0; e < E; ++e) quadErr = std::max(quadErr, std::abs(limit.f[t][e] - coarse.f[t][e]));
    quadErr = std::max(quadErr, std::abs(limit.loss[t] - coarse.loss[t]));
  }
  std::cout << std::setprecision(10) << "quadrature: (300,200,130) vs (360,240,160) nodes differ by " << quadErr
            << "\n";
  EXPECT_LT(quadErr, 1e-9);
  for (int t = 0; t <= kSteps; ++t) {
    std::cout << "limit t=" << t << "  f =";
    for (double v : limit.f[t]) std::cout << " " << v;
    std::cout << "  loss = " << limit.loss[t] << "\n";
  }

  // Runs. Disjoint seed ranges, so the runs are independent.
  //  - the bias run: small width, many seeds, so that n·(mean − f̊) = b + O(1/n)
  //    is resolved (n·se = 0.03 here). Measured n·(mean − f̊) at
  //    n = 16, 32, 64, 128 (1.6M neuron-seeds each): on ξ_1, t = 4, 0.172,
  //    0.164, 0.157, 0.180 ± 0.036; on ξ_2 ≤ 0.07; at t = 0, 1 zero within
  //    noise. So the 1/n term dominates already at n = 64 (the O(1/n²) part
  //    shifts n·bias by ~0.3/n), and |b| ≲ 0.2.
  //  - the ladder: widths ×4 apart, S = 400 seeds each (seed noise
  //    σ/√(nS) with σ ≈ 0.25–0.7).
  const int biasWidth = 64, biasSeeds = 25000;
  const std::vector<int> widths = {256, 1024, 4096, 16384};
  const int seeds = 400;
  Sim biasRun = simulate(biasWidth, biasSeeds, 1'000'000'000UL);
  std::vector<Sim> ladder;
  for (size_t i = 0; i < widths.size(); ++i) ladder.push_back(simulate(widths[i], seeds, 10'000'000UL * (i + 1)));
  ASSERT_FALSE(HasFailure());

  // (1) The scale of the fluctuation at initialisation, exactly:
  //     n Var f_0(ξ) = v2 E[tanh²(ξ·U_0)]. The sample variance over S seeds has
  //     relative standard deviation √((2 + κ)/(S − 1)), κ the excess kurtosis of
  //     f_0 = (1/n) Σ_α V_α tanh(ξ·U_α): κ = (3 E tanh⁴/(E tanh²)² − 3)/n ≤
  //     (3/E tanh² − 3)/n since tanh⁴ ≤ tanh². Allow 4 of those.
  for (const Sim* s : {&biasRun, &ladder[0], &ladder[1], &ladder[2], &ladder[3]}) {
    for (size_t e = 0; e < E; ++e) {
      double ratio = s->var[0][e] * s->width / (model.v2 * limit.tanh2[e]);
      double kappa = (3 / limit.tanh2[e] - 3) / s->width;
      double tol = 4 * std::sqrt((2 + kappa) / (s->seeds - 1));
      EXPECT_NEAR(ratio, 1.0, tol) << "n Var f_0 / (v2 E tanh²) at width " << s->width << ", eval input " << e;
    }
  }

  // (2) The seed mean at every width of the ladder, every step t = 0..T, every
  //     eval input and the training loss:
  //        |mean − limit| ≤ 4·se + B/n.
  //     4·se covers the seed noise (a deviation beyond 4 standard errors has
  //     probability 6e-5 per value; 4 × 15 values here). B/n covers the 1/n
  //     bias: B = 2·n_b·(|mean_b − limit| + 4·se_b) from the bias run at
  //     n_b = 64 bounds |b| with the same 4σ confidence, and the factor 2 covers
  //     the O(1/n²) terms that still affect n_b·bias (≈ 5–15% measured, see
  //     above). B comes out ≤ 0.6 (the bias coefficients themselves are
  //     ≤ 0.2), so B/n ≈ 1.5·se at n = 1024 and ≈ 0.25·se at n = 16384, where
  //     the check is essentially |mean − limit| ≤ 4.25·se. A wrong limit (off by
  //     δ) cannot hide in B: it adds only 2·64·δ/n ≤ δ/8 to the allowance at
  //     n ≥ 1024. (Checked: computing the limit with lr 0.2% too large makes
  //     this fail at n = 4096 and n = 16384.)
  auto deviations = [&](const Sim& s) {
    // [(t, e)] for the outputs then [t] for the loss: (mean − limit, se).
    std::vector<std::pair<double, double>> d;
    for (int t = 0; t <= kSteps; ++t)
      for (size_t e = 0; e < E; ++e) d.emplace_back(s.f[t][e] - limit.f[t][e], s.se[t][e]);
    for (int t = 0; t <= kSteps; ++t) d.emplace_back(s.loss[t] - limit.loss[t], s.lossSe[t]);
    return d;
  };
  auto label = [&](size_t i) {
    size_t nf = static_cast<size_t>(kSteps + 1) * E;
    if (i < nf) return "f at t = " + std::to_string(i / E) + " on eval input " + std::to_string(i % E);
    return "loss at t = " + std::to_string(i - nf);
  };
  std::vector<double> biasCoef;
  for (auto [dev, se] : deviations(biasRun)) biasCoef.push_back(2 * biasWidth * (std::abs(dev) + 4 * se));

  // (3) The rate. Per seed, the root-mean-square deviation from the limit over
  //     the seeds, steps t = 0..T and eval inputs,
  //        D_n² = mean_{t,e} [ (S−1)/S · Var_seeds f + (mean − f̊)² ],
  //     is n^(−1/2) by the CLT: D_n² = A/n + O(1/n²) (bias² and second-order
  //     variance terms; b² ≲ 0.04 against A ≈ 0.2, so they bend the slope by
  //     < 0.01 at n ≥ 256). D_n² is estimated from S = 400 seeds with a
  //     relative error ≈ √(2/S) = 7% at worst (fully correlated components),
  //     i.e. ±0.035 in log D_n, or ±0.011 in the least-squares slope over
  //     log-widths spaced by log 4. So the fitted slope must lie in
  //     [−0.6, −0.4] (≈ 9 standard errors, and far from −0.3 or −0.7 where an
  //     n^(−1/3) or n^(−2/3) law would sit); if the simulator converged to
  //     something else, D_n would level off at the offset and the slope would
  //     leave this range. (The RMS of the seed *mean* deviation is printed
  //     too; it is one noisy draw per value, ~ 1/√(nS), and is checked
  //     value by value by (2) instead.)
  std::vector<double> ns, perSeed;
  std::cout << "\n   width  seeds  per-seed RMS dev  x sqrt(n)  RMS mean dev  mean stderr  max |dev|/(4se+B/n)\n";
  for (const Sim& s : ladder) {
    auto dev = deviations(s);
    double worst = 0, meanSq = 0, seSum = 0, perSeedSq = 0;
    for (size_t i = 0; i < dev.size(); ++i) {
      auto [d, se] = dev[i];
      double allowed = 4 * se + biasCoef[i] / s.width;
      worst = std::max(worst, std::abs(d) / allowed);
      EXPECT_LE(std::abs(d), allowed) << label(i) << " at width " << s.width << ": simulated mean − limit = " << d
                                      << ", stderr " << se << ", bias allowance " << biasCoef[i] / s.width;
    }
    size_t nf = static_cast<size_t>(kSteps + 1) * E;
    for (int t = 0; t <= kSteps; ++t)
      for (size_t e = 0; e < E; ++e) {
        double d = s.f[t][e] - limit.f[t][e];
        meanSq += d * d / static_cast<double>(nf);
        seSum += s.se[t][e] / static_cast<double>(nf);
        perSeedSq += ((s.seeds - 1.0) / s.seeds * s.var[t][e] + d * d) / static_cast<double>(nf);
      }
    ns.push_back(s.width);
    perSeed.push_back(std::sqrt(perSeedSq));
    std::cout << std::setw(8) << s.width << std::setw(7) << s.seeds << std::setprecision(4) << std::setw(18)
              << std::sqrt(perSeedSq) << std::setw(11) << std::sqrt(perSeedSq * s.width) << std::setw(14)
              << std::sqrt(meanSq) << std::setw(13) << seSum << std::setw(21) << worst << "\n";
  }
  double slope = logLogSlope(ns, perSeed);
  std::cout << "log-log slope of the per-seed RMS deviation: " << slope << " (theory −1/2)\n";
  std::cout << "bias run n = " << biasWidth << ", S = " << biasSeeds << ": n·(mean − limit) =";
  for (auto [d, se] : deviations(biasRun)) std::cout << " " << biasWidth * d << "±" << biasWidth * se;
  std::cout << "\n";
  EXPECT_GE(slope, -0.6);
  EXPECT_LE(slope, -0.4);
  for (size_t i = 1; i < perSeed.size(); ++i)
    EXPECT_LT(perSeed[i], perSeed[i - 1]) << "the per-seed RMS deviation must shrink from width " << ns[i - 1]
                                          << " to " << ns[i];
}

}  // namespace
