// Reverse-mode differentiation: `auto` equals the hand-written backward of every example program,
// and the derived gradients equal finite differences of the loss at finite width.
#include <gtest/gtest.h>

#include <cmath>

#include "TestUtil.h"
#include "compiler/ir/Builder.h"
#include "compiler/ir/Parametrization.h"
#include "compiler/passes/Differentiate.h"
#include "runtime/Dataset.h"
#include "runtime/Interpreter.h"

namespace tp {
namespace {

const char* kPrograms[] = {"mlp1_tanh",  "mlp1_tanh_auto",     "mlp1_relu",   "mlp1_bias",      "mlp2_tanh",
                           "mlp2_tanh_auto", "mlp2_linear",    "mlp2_zero_readout", "mlp2_custom_param",
                           "mlp3_relu",  "residual",           "rnn_shared",  "softmax_ce",     "feedback_alignment"};

/// The program with a gradient `__d_W` of loss for every param loss depends on, differentiated.
ir::Program withParamGradients(const std::string& name) {
  ir::Program p = test::typedProgram("programs/" + name + ".tp");
  std::vector<bool> deps = ir::liveValues(p, {p.loss});
  ir::Builder b(p);
  b.section = ir::Section::Backward;
  for (size_t i = 0; i < p.values.size(); ++i) {
    const ir::Value& v = p.values[i];
    if (v.op != ir::Op::Param || !deps[i]) continue;
    ir::OpAttrs a;
    a.name = v.name;
    std::string param = v.name;
    ir::ValueId g = b.add(ir::Op::Grad, {static_cast<ir::ValueId>(i)}, a, v.loc);
    p.names["__d_" + param] = g;
  }
  return passes::differentiate(p);
}

/// A finite-width setup reading example 0 of the program's training data.
struct Fixture {
  Dataset data;
  FiniteWidthSetup setup;
  Fixture(const std::string& name, const ir::Program& p, int width) {
    data = readDataset(test::sourcePath("programs/data/" + name + ".json"), p.inputs);
    setup.width = width;
    for (const auto& h : p.hypers) setup.hypers[h.name] = h.value;
    for (const auto& prm : p.params) setup.scaling[prm.name] = {1.0 / std::sqrt(static_cast<double>(width)), 1.0, false};
    setup.input = [this](const ir::Value& v) { return data.train.value(v.name, 0); };
  }
};

std::map<std::string, Tensor> deepCopy(const std::map<std::string, Tensor>& params) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : params) {
    Tensor c = t;
    c.data = std::make_shared<std::vector<double>>(*t.data);
    out[k] = c;
  }
  return out;
}

std::vector<Tensor> run(const ir::Program& p, const Fixture& f, const std::map<std::string, Tensor>& params) {
  return interpret(p, f.setup, deepCopy(params), [](const ir::Result&, const std::vector<double>&) {}, true);
}

size_t rows(const Tensor& t) { return t.kind == Tensor::Kind::Vector ? t.size() : t.rows; }
size_t cols(const Tensor& t) { return t.kind == Tensor::Kind::Vector ? 1 : t.cols; }
double entry(const Tensor& t, size_t i, size_t j) {
  return t.kind == Tensor::Kind::Vector ? t.values()[t.size() == 1 ? 0 : i] : matrixEntry(t, i, j);
}

// Every explicit update `W -= E` of an example program equals lr · d_W derived by `auto`
// (except feedback alignment's W1, which deliberately is not the gradient: it must differ).
TEST(Differentiate, AutoEqualsTheHandWrittenBackwardOfEveryExampleProgram) {
  for (const char* name : kPrograms) {
    SCOPED_TRACE(name);
    ir::Program p = withParamGradients(name);
    Fixture f(name, p, 16);
    auto params = sampleParams(p, f.setup, 7);
    std::vector<Tensor> vals = run(p, f, params);
    double lr = f.setup.hypers.at("lr");
    for (const auto& [param, updateId] : p.updates) {
      SCOPED_TRACE(param);
      const Tensor& e = vals[static_cast<size_t>(p.at(updateId).operands[1])];
      auto g = p.names.find("__d_" + param);
      ASSERT_NE(g, p.names.end());
      const Tensor& d = vals[static_cast<size_t>(g->second)];
      const Tensor& shape = params.at(param);
      double worst = 0, scale = 0;
      for (size_t i = 0; i < rows(shape); ++i)
        for (size_t j = 0; j < cols(shape); ++j) {
          worst = std::max(worst, std::fabs(entry(e, i, j) - lr * entry(d, i, j)));
          scale = std::max(scale, std::fabs(lr * entry(d, i, j)));
        }
      ASSERT_GT(scale, 0.0);
      if (std::string(name) == "feedback_alignment" && param == "W1")
        EXPECT_GT(worst / scale, 1e-3) << "feedback alignment's W1 step should not be the true gradient";
      else
        EXPECT_LE(worst / scale, 1e-12) << "explicit and auto gradients differ beyond rounding";
    }
  }
}

// Central differences of the loss against the derived gradient, entry by entry. With
// h = 1e-6 the truncation error is O(h²·L''') ≈ 1e-12 and the rounding error
// O(ε·|L|/h) ≈ 1e-10, so 1e-6 relative (plus 1e-8 absolute) is a margin of ~10⁴ that
// a wrong derivative rule (an error of O(1) relative) cannot meet.
TEST(Differentiate, GradientsMatchFiniteDifferencesAtFiniteWidth) {
  const double h = 1e-6;
  for (const char* name : kPrograms) {
    SCOPED_TRACE(name);
    ir::Program p = withParamGradients(name);
    Fixture f(name, p, 6);
    auto params = sampleParams(p, f.setup, 11);
    std::vector<Tensor> vals = run(p, f, params);
    size_t lossId = static_cast<size_t>(p.loss);
    int checked = 0;
    for (const auto& decl : p.params) {
      auto g = p.names.find("__d_" + decl.name);
      if (g == p.names.end()) continue;
      const Tensor& d = vals[static_cast<size_t>(g->second)];
      const Tensor& w = params.at(decl.name);
      for (size_t i = 0; i < rows(w); ++i)
        for (size_t j = 0; j < cols(w); ++j) {
          auto plus = deepCopy(params), minus = deepCopy(params);
          size_t k = i * cols(w) + j;
          (*plus[decl.name].data)[k] += h;
          (*minus[decl.name].data)[k] -= h;
          double lp = run(p, f, plus)[lossId].values()[0];
          double lm = run(p, f, minus)[lossId].values()[0];
          double fd = (lp - lm) / (2 * h);
          double derived = entry(d, i, j);
          EXPECT_NEAR(derived, fd, 1e-6 * std::fabs(fd) + 1e-8) << decl.name << "[" << i << "," << j << "]";
          ++checked;
        }
    }
    EXPECT_GT(checked, 0);
  }
}

TEST(Differentiate, LeavesNoPlaceholdersAndDropsUnusedGradients) {
  ir::Program p = driver::runUntil(test::typedProgram("programs/mlp2_tanh_auto.tp"), "differentiated", {});
  for (const auto& v : p.values) EXPECT_NE(v.op, ir::Op::Grad);
  // Only what the sgd updates need: no gradient with respect to the input x or target y.
  for (const auto& v : p.values) EXPECT_NE(v.label, "d_x");
  EXPECT_EQ(p.updates.size(), 3u);
}

}  // namespace
}  // namespace tp
