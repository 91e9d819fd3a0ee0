// The classification table of docs/classification.md is what `classify` says.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "TestUtil.h"
#include "compiler/driver/Analysis.h"

namespace tp {
namespace {

TEST(Docs, ClassificationTableMatchesTheCode) {
  std::istringstream doc(test::readText(test::sourcePath("docs/classification.md")));
  // | `program` | `param` | stable | nontrivial | regime | r | r_l list |
  std::regex row(R"(^\| `(\w+)` \| `(\w+)` \| (yes|no) \| (yes|no) \| (\w+) \| ([^|]+) \| ([^|]+) \|$)");
  std::string line;
  int rows = 0;
  while (std::getline(doc, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    ++rows;
    std::string program = m[1], param = m[2];
    ir::Program typed = test::typedProgram("programs/" + program + ".tp");
    passes::Classification c = driver::classifyProgram(typed, ir::resolveParametrization(typed, param, std::nullopt));
    std::string where = program + " " + param;
    EXPECT_EQ(m[3] == "yes", c.stable) << where;
    EXPECT_EQ(m[4] == "yes", c.nontrivial) << where;
    EXPECT_EQ(m[5], c.regime) << where;
    if (c.regime == "unstable") continue;  // the table prints no exponents after a blow-up
    EXPECT_EQ(std::string(m[6]).substr(0, std::string(m[6]).find(' ')), c.r.str()) << where;
    std::string layers;
    for (const auto& l : c.layers) layers += (layers.empty() ? "" : ", ") + l.param + " " + l.r.str();
    EXPECT_EQ(std::string(m[7]).substr(0, layers.size()), layers) << where;
  }
  EXPECT_EQ(rows, 51);  // 15 programs × sp, ntk, mup, and mf or the program's own block where defined
}

}  // namespace
}  // namespace tp
