// Lexer and parser: tokens, precedence, sections and declarations.
#include <gtest/gtest.h>

#include "TestUtil.h"
#include "frontend/Lexer.h"
#include "frontend/Parser.h"

namespace tp {
namespace {

using frontend::Tok;

TEST(Lexer, SplitsOperatorsNumbersAndPrimedNames) {
  Diagnostics d;
  auto toks = frontend::lex("dz = W.T @ g * tanh''(h) ** 2 - 1e-3  # comment\nW -= 0.5", d);
  std::vector<Tok> kinds;
  for (const auto& t : toks) kinds.push_back(t.kind);
  std::vector<Tok> want = {Tok::Ident, Tok::Assign, Tok::Ident, Tok::Dot,    Tok::Ident,  Tok::At,
                           Tok::Ident, Tok::Star,   Tok::Ident, Tok::LParen, Tok::Ident,  Tok::RParen,
                           Tok::StarStar, Tok::Number, Tok::Minus, Tok::Number, Tok::Newline, Tok::Ident,
                           Tok::MinusAssign, Tok::Number, Tok::Newline, Tok::End};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(toks[8].text, "tanh''");
  EXPECT_EQ(toks[15].text, "1e-3");
  EXPECT_EQ(toks[17].loc.line, 2);
  EXPECT_EQ(toks[17].loc.col, 1);
  EXPECT_FALSE(d.hasErrors());
}

TEST(Lexer, ReportsMalformedNumbersAndStrayCharactersWithTheirColumn) {
  Diagnostics d("f.tp");
  frontend::lex("a = 1.2.3 + $", d);
  ASSERT_EQ(d.all().size(), 2u);
  EXPECT_EQ(d.all()[0].loc.col, 5);
  EXPECT_EQ(d.all()[1].loc.col, 13);
  EXPECT_EQ(Diagnostics::format("f.tp", d.all()[0]), "f.tp:1:5: error: malformed number '1.2.3'");
}

std::string parseStatement(const std::string& expr) {
  Diagnostics d;
  frontend::File f = frontend::parse("width n\nforward:\n  v = " + expr + "\n", "t.tp", d);
  EXPECT_FALSE(d.hasErrors()) << d.format();
  std::string ast = frontend::printAst(f);
  size_t start = ast.find("(= v ");
  return ast.substr(start + 5, ast.find(") @3") - start - 5);
}

TEST(Parser, FollowsPythonPrecedence) {
  EXPECT_EQ(parseStatement("-a ** 2"), "(neg (** a 2))");
  EXPECT_EQ(parseStatement("a ** b ** c"), "(** a (** b c))");
  EXPECT_EQ(parseStatement("a + b * c"), "(+ a (* b c))");
  EXPECT_EQ(parseStatement("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(parseStatement("lr * W @ z"), "(@ (* lr W) z)");
  EXPECT_EQ(parseStatement("W.T @ g * 2"), "(* (@ (T W) g) 2)");
  EXPECT_EQ(parseStatement("tanh'(h) * (x + 1)"), "(* (call tanh' h) (+ x 1))");
}

TEST(Parser, ReadsSectionsAutoSgdAndParametrizationBlocks) {
  ir::Program p = test::typedProgram("programs/mlp2_custom_param.tp");
  ASSERT_EQ(p.parametrizations.size(), 1u);
  EXPECT_FALSE(p.parametrizations[0].params.empty());
  ir::Program a = test::typedProgram("programs/mlp2_tanh_auto.tp");
  EXPECT_EQ(a.updates.size(), 3u);
  EXPECT_NE(a.loss, ir::kNoValue);
  int grads = 0;
  for (const auto& v : a.values) grads += v.op == ir::Op::Grad;
  EXPECT_EQ(grads, 3);  // d_W1, d_W2, d_W3 placeholders until differentiation
}

TEST(Parser, RecoversAtTheNextLineAndReportsEveryBadLine) {
  Diagnostics d("t.tp");
  frontend::parse("width n\nforward:\n  a = (1 +\n  b = 2 3\n  c = 4\n", "t.tp", d);
  ASSERT_EQ(d.errorCount(), 2);
  EXPECT_EQ(d.all()[0].loc.line, 3);
  EXPECT_EQ(d.all()[1].loc.line, 4);
}

TEST(Lower, AcceptsEveryExampleProgram) {
  for (const char* name : {"mlp1_tanh", "mlp1_relu", "mlp1_bias", "mlp2_tanh", "mlp2_linear", "mlp3_relu",
                           "residual", "rnn_shared", "softmax_ce", "feedback_alignment", "mlp2_zero_readout"}) {
    SCOPED_TRACE(name);
    ir::Program p = test::typedProgram(std::string("programs/") + name + ".tp");
    EXPECT_FALSE(p.outputs.empty());
    EXPECT_FALSE(p.updates.empty());
  }
}

}  // namespace
}  // namespace tp
