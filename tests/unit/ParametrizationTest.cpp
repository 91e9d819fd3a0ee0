// Parametrizations: named ones by role, program blocks, JSON files, c overrides; exact rationals.
#include <gtest/gtest.h>

#include <filesystem>

#include "TestUtil.h"
#include "compiler/ir/Parametrization.h"

namespace tp {
namespace {

TEST(Rational, DecimalsAndFractionsAreReadExactly) {
  EXPECT_EQ(*parseRational("0.5"), Rational(1, 2));
  EXPECT_EQ(*parseRational("-1/2"), Rational(-1, 2));
  EXPECT_EQ(*parseRational("0.25"), Rational(1, 4));
  EXPECT_EQ(*parseRational("1e-3"), Rational(1, 1000));
  EXPECT_EQ(*parseRational("2.5E2"), Rational(250));
  EXPECT_EQ(*parseRational("007"), Rational(7));  // not octal
  EXPECT_EQ(*parseRational("0.1"), Rational(1, 10));
  EXPECT_EQ(*parseRational("1.5/0.5"), Rational(3));
  for (const char* bad : {"", "-", "1/0", "abc", "1e", ".", "1.2.3", "1//2", "0x10"})
    EXPECT_FALSE(parseRational(bad).has_value()) << bad;
  EXPECT_EQ(toString(Rational(-1, 2)), "-1/2");
  EXPECT_EQ(toString(Rational(3)), "3");
}

TEST(Parametrization, NamedOnesAssignExponentsByRole) {
  ir::Program p = test::typedProgram("programs/mlp2_tanh.tp");
  ir::Parametrization mup = ir::resolveParametrization(p, "mup", std::nullopt);
  EXPECT_EQ(mup.params.at("W1").a, Rational(-1, 2));
  EXPECT_EQ(mup.params.at("W1").b, Rational(1, 2));
  EXPECT_EQ(mup.params.at("W2").a, 0);
  EXPECT_EQ(mup.params.at("W2").b, Rational(1, 2));
  EXPECT_EQ(mup.params.at("W3").a, Rational(1, 2));
  ir::Parametrization ntk = ir::resolveParametrization(p, "ntk", std::nullopt);
  EXPECT_EQ(ntk.params.at("W2").a, Rational(1, 2));
  EXPECT_EQ(ntk.params.at("W2").b, 0);
  ir::Parametrization sp = ir::resolveParametrization(p, "sp", Rational(1));
  EXPECT_EQ(sp.c, 1);
  EXPECT_EQ(sp.params.at("W1").c, 1);
  EXPECT_THROW(ir::resolveParametrization(p, "mf", std::nullopt), UserError);  // has a hidden matrix
  ir::Program one = test::typedProgram("programs/mlp1_bias.tp");
  ir::Parametrization mf = ir::resolveParametrization(one, "mf", std::nullopt);
  EXPECT_EQ(mf.params.at("W2").a, 1);
  EXPECT_EQ(mf.params.at("b").a, 0);  // bias shares the input row
  EXPECT_EQ(mf.c, -1);
}

TEST(Parametrization, ProgramBlocksKeepTheirOwnCUnderAnOverride) {
  ir::Program p = test::typedProgram("programs/mlp2_custom_param.tp");
  ASSERT_FALSE(p.parametrizations.empty());
  const std::string name = p.parametrizations[0].name;
  ir::Parametrization base = ir::resolveParametrization(p, name, std::nullopt);
  ir::Parametrization over = ir::resolveParametrization(p, name, Rational(1));
  for (const auto& [param, ex] : p.parametrizations[0].params) {
    if (ex.c) EXPECT_EQ(over.params.at(param).c, *ex.c) << param;
    else EXPECT_EQ(over.params.at(param).c, 1) << param;
    EXPECT_EQ(base.params.at(param).a, *ex.a);
  }
}

TEST(Parametrization, JsonFilesAreValidatedAndExact) {
  ir::Program p = test::typedProgram("programs/mlp2_tanh.tp");
  std::string path = (std::filesystem::temp_directory_path() / "tpc_param_test.json").string();
  std::ofstream(path) << R"({"c": 0.5, "params": {"W1": {"a": "-1/2", "b": 0.5}, "W2": {"a": 0, "b": "1/2", "c": "1"}, "W3": {"a": "0.5", "b": "0.5"}}})";
  ir::Parametrization j = ir::resolveParametrization(p, path, std::nullopt);
  EXPECT_EQ(j.c, Rational(1, 2));
  EXPECT_EQ(j.params.at("W1").b, Rational(1, 2));
  EXPECT_EQ(j.params.at("W2").c, 1);
  EXPECT_EQ(j.params.at("W3").c, Rational(1, 2));
  std::ofstream(path) << R"({"params": {"W1": {"a": 0, "b": 0}}})";
  EXPECT_THROW(ir::resolveParametrization(p, path, std::nullopt), UserError);  // W2, W3 missing
  std::ofstream(path) << R"({"params": {"W1": {"a": "x", "b": 0}}})";
  EXPECT_THROW(ir::resolveParametrization(p, path, std::nullopt), UserError);
  std::ofstream(path) << R"({"c": 0, "params": {}, "extra": 1})";
  EXPECT_THROW(ir::resolveParametrization(p, path, std::nullopt), UserError);
  std::filesystem::remove(path);
  EXPECT_THROW(ir::resolveParametrization(p, "nonesuch", std::nullopt), UserError);
}

}  // namespace
}  // namespace tp
