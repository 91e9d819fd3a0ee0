// The mean-field limit of programs/mlp1_tanh.tp under μP, computed from scratch (TP4 Thm 6.1):
// the independent reference of the mean-field test (finite widths converge to it) and of the
// feature-learning limit test (tpc limit equals it).
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
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace tp::test::meanfield {

using json = nlohmann::json;

inline const std::string kSource = TPC_SOURCE_DIR;
inline const std::string kProgram = kSource + "/programs/mlp1_tanh.tp";
inline const std::string kData = kSource + "/programs/data/mlp1_tanh.json";

/// Runs a shell command; its standard output, and its exit status in `status`.
inline std::string capture(const std::string& cmd, int& status) {
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << cmd;
  std::string out;
  char buf[4096];
  size_t k;
  while (pipe && (k = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, k);
  status = pipe ? pclose(pipe) : -1;
  return out;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A constant like "1/2", "0.5" or "2".
inline double parseConstant(const std::string& s) {
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

/// The model of `program` (mlp1_tanh.tp, or a copy with a zero-initialised readout `W2[1, n] ~ 0`).
inline Model loadModel(const std::string& program = kProgram) {
  Model m;
  std::string src = readFile(program);
  EXPECT_FALSE(src.empty()) << program;
  std::smatch match;
  std::regex input(R"(input\s+x\[(\d+)\])");
  std::regex w1(R"(param\s+W1\[n,\s*(\d+)\]\s*(~\s*N\(0,\s*([^)]*)\))?)");
  std::regex w2(R"(param\s+W2\[1,\s*n\]\s*(~\s*N\(0,\s*([^)]*)\)|~\s*0\b)?)");
  std::regex lr(R"(hyper\s+lr\s*=\s*([0-9.eE+\-/]+))");
  EXPECT_TRUE(std::regex_search(src, match, input));
  m.d = std::stoi(match[1]);
  EXPECT_TRUE(std::regex_search(src, match, w1));
  EXPECT_EQ(std::stoi(match[1]), m.d);
  if (match[3].matched) m.v1 = parseConstant(match[3]);
  EXPECT_TRUE(std::regex_search(src, match, w2));
  if (match[2].matched) m.v2 = parseConstant(match[2]);
  else if (match[1].matched) m.v2 = 0;  // `~ 0`: V_0 = 0
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
inline std::vector<long double> orthonormalHermite(int m, long double x) {
  std::vector<long double> q(static_cast<size_t>(m) + 1);
  q[0] = 1;
  if (m >= 1) q[1] = x;
  for (int j = 2; j <= m; ++j) q[j] = (x * q[j - 1] - std::sqrt(static_cast<long double>(j - 1)) * q[j - 2]) /
                                      std::sqrt(static_cast<long double>(j));
  return q;
}

inline Rule gaussHermite(int m) {
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
/// then V (one node at 0 when the readout starts at zero, v2 = 0).
///
/// Symmetry halves the work: the map (U_t, V_t) → (U_{t+1}, V_{t+1}) commutes
/// with (U, V) → (−U, −V) (tanh is odd, tanh' even, and χ is a shared scalar),
/// and so do the integrands V_t tanh(ξ·U_t) and tanh²(ξ·U_0), which are even.
/// The product rule is symmetric too (even orders: no node is its own mirror),
/// so the nodes with V_0 < 0, at twice their weight, give the same sums.
///
/// The node states are split into two fixed halves, one per thread, so the
/// sums (and the result) do not depend on timing.
inline Limit meanFieldLimit(const Model& m, const std::vector<int>& orders, int steps) {
  const size_t d = static_cast<size_t>(m.d), dims = d + 1;
  std::vector<Rule> rules;
  size_t nodes = 1;
  for (size_t k = 0; k < dims; ++k) {
    EXPECT_EQ(orders[k] % 2, 0) << "the symmetric reduction needs even orders";
    if (k == d && m.v2 == 0) {  // V_0 = 0: a point mass, and no halving
      rules.push_back(Rule{{0.0}, {1.0}});
      continue;
    }
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

}  // namespace tp::test::meanfield
