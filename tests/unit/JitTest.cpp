// The JIT session: a module in LLVM assembly runs, and calls the runtime table by name.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/codegen/Jit.h"
#include "compiler/ir/Diagnostics.h"

namespace tp {
namespace {

TEST(Jit, AGeneratedFunctionCallsTheRuntime) {
  // f(x) = pow(x, 3) + 2·erf(x): two C library functions of the runtime table.
  const char* text = R"(
declare double @pow(double, double)
declare double @erf(double)
define double @f(double %x) {
  %p = call double @pow(double %x, double 3.0)
  %t = call double @erf(double %x)
  %t2 = fmul double %t, 2.0
  %r = fadd double %p, %t2
  ret double %r
}
)";
  codegen::Jit session;
  session.addAssembly(text, "test.ll");
  auto* compiled = reinterpret_cast<double (*)(double)>(session.lookup("f"));
  for (double v : {-2.0, 0.0, 0.3, 5.0}) EXPECT_EQ(compiled(v), std::pow(v, 3.0) + std::erf(v) * 2) << v;
  // A malformed module is an internal error with its line, not a crash.
  EXPECT_THROW(session.addAssembly("define double @g( {", "bad.ll"), InternalError);
}

}  // namespace
}  // namespace tp
