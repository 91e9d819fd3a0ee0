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

/// Gauss–Hermite rule for a standard normal: E g(Z) ≈ Σ w_i g(x_i).
/// Newton's method on the orthonormal Hermite polynomials (weight e^(−t²)),
/// with the asymptotic initial guesses of Numerical Recipes' gauher; then
/// x = √2 t, w = w_t / √π.
struct Rule {
  std::vector<double> x, w;
};

Rule gaussHermite(int m) {
  std::vector<double> t(m), wt(m);
  const double pim4 = std::pow(std::numbers::pi, -0.25);
  double z = 0;
  for (int i = 0; i < (m + 1) / 2; ++i) {
    if (i == 0)
      z = std::sqrt(2.0 * m + 1) - 1.85575 * std::pow(2.0 * m + 1, -1.0 / 6);
    else if (i == 1)
      z -= 1.14 * std::pow(m, 0.426) / z;
    else if (i == 2)
      z = 1.86 * z - 0.86 * t[0];
    else if (i == 3)
      z = 1.91 * z - 0.91 * t[1];
    else
      z = 2.0 * z - t[i - 2];
    double pp = 0;
    for (int it = 0; it < 100; ++it) {
      double p1 = pim4, p2 = 0;
      for (int j = 1; j <= m; ++j) {
        double p3 = p2;
        p2 = p1;
        p1 = z * std::sqrt(2.0 / j) * p2 - std::sqrt((j - 1.0) / j) * p3;
      }
      pp = std::sqrt(2.0 * m) * p2;
      double z1 = z;
      z = z1 - p1 / pp;
      if (std::abs(z - z1) <= 1e-15 * std::max(1.0, std::abs(z))) break;
    }
    t[i] = z;
    t[m - 1 - i] = -z;
    wt[i] = wt[m - 1 - i] = 2.0 / (pp * pp);
  }
  Rule r;
  for (int i = 0; i < m; ++i) {
    r.x.push_back(std::numbers::sqrt2 * t[i]);
    r.w.push_back(wt[i] / std::sqrt(std::numbers::pi));
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

Limit meanFieldLimit(const Model& m, const std::vector<int>& orders, int steps) {
  const int dims = m.d + 1;  // U (d coordinates) and V
  std::vector<Rule> rules;
  size_t nodes = 1;
  for (int k = 0; k < dims; ++k) {
    rules.push_back(gaussHermite(orders[static_cast<size_t>(k)]));
    nodes *= rules.back().x.size();
  }
  // Node state: U (d), V, and the product quadrature weight.
  std::vector<std::vector<double>> U(nodes, std::vector<double>(m.d));
  std::vector<double> V(nodes), W(nodes);
  for (size_t q = 0; q < nodes; ++q) {
    size_t rest = q;
    double w = 1;
    for (int k = 0; k < dims; ++k) {
      const Rule& rule = rules[static_cast<size_t>(k)];
      size_t i = rest % rule.x.size();
      rest /= rule.x.size();
      w *= rule.w[i];
      if (k < m.d)
        U[q][k] = std::sqrt(m.v1) * rule.x[i];
      else
        V[q] = std::sqrt(m.v2) * rule.x[i];
    }
    W[q] = w;
  }
  auto pre = [&](const std::vector<double>& u, const std::vector<double>& xi) {
    double h = 0;
    for (int k = 0; k < m.d; ++k) h += u[k] * xi[k];
    return h;
  };
  auto expectOutput = [&](const std::vector<double>& xi) {
    double s = 0;
    for (size_t q = 0; q < nodes; ++q) s += W[q] * V[q] * std::tanh(pre(U[q], xi));
    return s;
  };
  Limit lim;
  for (const auto& xi : m.evalX) {
    double s = 0;
    for (size_t q = 0; q < nodes; ++q) s += W[q] * std::pow(std::tanh(pre(U[q], xi)), 2);
    lim.tanh2.push_back(s);
  }
  const size_t B = m.trainX.size();
  for (int t = 0; t <= steps; ++t) {
    std::vector<double> fe;
    for (const auto& xi : m.evalX) fe.push_back(expectOutput(xi));
    lim.f.push_back(fe);
    std::vector<double> chi(B);
    double loss = 0;
    for (size_t b = 0; b < B; ++b) {
      chi[b] = expectOutput(m.trainX[b]) - m.trainY[b];
      loss += 0.5 * chi[b] * chi[b] / static_cast<double>(B);
    }
    lim.loss.push_back(loss);
    if (t == steps) break;
    for (size_t q = 0; q < nodes; ++q) {
      double dV = 0;
      std::vector<double> dU(m.d, 0.0);
      for (size_t b = 0; b < B; ++b) {
        double th = std::tanh(pre(U[q], m.trainX[b]));
        dV += chi[b] * th;
        double g = chi[b] * V[q] * (1 - th * th);
        for (int k = 0; k < m.d; ++k) dU[k] += g * m.trainX[b][k];
      }
      V[q] -= m.lr * dV / static_cast<double>(B);
      for (int k = 0; k < m.d; ++k) U[q][k] -= m.lr * dU[k] / static_cast<double>(B);
    }
  }
  return lim;
}

/// One `tpc simulate` run: seed means, seed variances and standard errors.
struct Sim {
  int width = 0, seeds = 0;
  std::vector<std::vector<double>> f, var, se;  // [t][e]
  std::vector<double> loss, lossSe;             // [t]
};

Sim simulate(int width, int seeds) {
  std::string cmd = "'" + kBinary + "' simulate '" + kProgram + "' --param mup --data '" + kData +
                    "' --steps " + std::to_string(kSteps) + " --width " + std::to_string(width) + " --seeds " +
                    std::to_string(seeds) + " --threads 2 --json -";
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
  json j = json::parse(out);
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

TEST(MeanField, Mlp1TanhMupApproachesTheLimit) {
  ASSERT_TRUE(std::ifstream(kBinary).good()) << "build tpc first: " << kBinary;
  Model model = loadModel();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(model.d, 2);

  // The quadrature check on the rule itself: E 1 = 1, E Z² = 1, E Z⁴ = 3.
  for (int order : {40, 56}) {
    Rule r = gaussHermite(order);
    double m0 = 0, m2 = 0, m4 = 0;
    for (int i = 0; i < order; ++i) {
      m0 += r.w[i];
      m2 += r.w[i] * r.x[i] * r.x[i];
      m4 += r.w[i] * std::pow(r.x[i], 4);
    }
    EXPECT_NEAR(m0, 1, 1e-13);
    EXPECT_NEAR(m2, 1, 1e-13);
    EXPECT_NEAR(m4, 3, 1e-12);
  }

  Limit limit = meanFieldLimit(model, {40, 40, 40}, kSteps);
  Limit finer = meanFieldLimit(model, {56, 56, 56}, kSteps);
  double quadErr = 0;
  for (int t = 0; t <= kSteps; ++t) {
    for (size_t e = 0; e < model.evalX.size(); ++e)
      quadErr = std::max(quadErr, std::abs(limit.f[t][e] - finer.f[t][e]));
    quadErr = std::max(quadErr, std::abs(limit.loss[t] - finer.loss[t]));
  }
  std::cout << std::setprecision(10) << "quadrature: 40 vs 56 nodes per dimension differ by " << quadErr << "\n";
  EXPECT_LT(quadErr, 1e-9);
  limit = finer;
  for (int t = 0; t <= kSteps; ++t) {
    std::cout << "limit t=" << t << " f =";
    for (double v : limit.f[t]) std::cout << " " << v;
    std::cout << "  loss = " << limit.loss[t] << "\n";
  }

  const std::vector<int> widths = {256, 1024, 4096, 16384};
  const std::vector<int> seeds = {400, 400, 400, 400};
  std::vector<Sim> sims;
  for (size_t i = 0; i < widths.size(); ++i) sims.push_back(simulate(widths[i], seeds[i]));
  ASSERT_FALSE(HasFailure());

  std::cout << std::setprecision(4);
  for (const Sim& s : sims) {
    std::cout << "n=" << s.width << " S=" << s.seeds << "\n";
    for (int t = 0; t <= kSteps; ++t) {
      std::cout << "  t=" << t;
      for (size_t e = 0; e < model.evalX.size(); ++e)
        std::cout << "  dev=" << s.f[t][e] - limit.f[t][e] << " se=" << s.se[t][e] << " sd*sqrt(n)="
                  << std::sqrt(s.var[t][e] * s.width);
      std::cout << "  dloss=" << s.loss[t] - limit.loss[t] << " lse=" << s.lossSe[t] << "\n";
    }
    for (size_t e = 0; e < model.evalX.size(); ++e)
      std::cout << "  n*var0/(v2 E tanh^2) = " << s.var[0][e] * s.width / (model.v2 * limit.tanh2[e]) << "\n";
  }
}

}  // namespace
