// The JIT session: a module in LLVM assembly runs, and calls the runtime table by name.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/codegen/Jit.h"
#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/IR.h"
#include "runtime/Activation.h"

namespace tp {
namespace {

TEST(Jit, AGeneratedFunctionCallsTheRuntime) {
  // f(x) = tpc_activation(tanh, 1, x) + 2·tanh(x); tanh is Fn number 2.
  ASSERT_EQ(static_cast<int>(ir::Fn::Tanh), 2);
  const char* text = R"(
declare double @tpc_activation(i32, i32, double)
declare double @tanh(double)
define double @f(double %x) {
  %d = call double @tpc_activation(i32 2, i32 1, double %x)
  %t = call double @tanh(double %x)
  %t2 = fmul double %t, 2.0
  %r = fadd double %d, %t2
  ret double %r
}
)";
  codegen::Jit session;
  session.addAssembly(text, "test.ll");
  auto* compiled = reinterpret_cast<double (*)(double)>(session.lookup("f"));
  for (double v : {-2.0, 0.0, 0.3, 5.0})
    EXPECT_EQ(compiled(v), evalActivation(ir::Fn::Tanh, 1, v) + std::tanh(v) * 2) << v;
  EXPECT_NE(session.lastModuleText().find("define"), std::string::npos);
  // A malformed module is an internal error with its line, not a crash.
  EXPECT_THROW(session.addAssembly("define double @g( {", "bad.ll"), InternalError);
}

}  // namespace
}  // namespace tp
