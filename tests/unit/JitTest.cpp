// The JIT session: a generated function runs, and calls the runtime table by name.
#include <gtest/gtest.h>

#include <cmath>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "compiler/ir/IR.h"
#include "jit/Jit.h"
#include "runtime/Activation.h"

namespace tp {
namespace {

TEST(Jit, AGeneratedFunctionCallsTheRuntime) {
  // double f(double x) { return tpc_activation(tanh, 1, x) + tanh(x) * 2; }
  jit::Jit session;
  jit::Jit::ModuleBuilder b = session.newModule("test");
  llvm::LLVMContext& ctx = *b.context;
  llvm::Type* f64 = llvm::Type::getDoubleTy(ctx);
  llvm::Type* i32 = llvm::Type::getInt32Ty(ctx);
  auto* fnType = llvm::FunctionType::get(f64, {f64}, false);
  auto* f = llvm::Function::Create(fnType, llvm::Function::ExternalLinkage, "f", *b.module);
  llvm::IRBuilder<> ir(llvm::BasicBlock::Create(ctx, "entry", f));
  auto activation = b.module->getOrInsertFunction("tpc_activation", llvm::FunctionType::get(f64, {i32, i32, f64}, false));
  auto tanhFn = b.module->getOrInsertFunction("tanh", llvm::FunctionType::get(f64, {f64}, false));
  llvm::Value* x = f->getArg(0);
  llvm::Value* d = ir.CreateCall(activation, {ir.getInt32(static_cast<int>(ir::Fn::Tanh)), ir.getInt32(1), x});
  llvm::Value* t = ir.CreateCall(tanhFn, {x});
  ir.CreateRet(ir.CreateFAdd(d, ir.CreateFMul(t, llvm::ConstantFP::get(f64, 2.0))));
  session.add(std::move(b));
  auto* compiled = reinterpret_cast<double (*)(double)>(session.lookup("f"));
  for (double v : {-2.0, 0.0, 0.3, 5.0})
    EXPECT_EQ(compiled(v), evalActivation(ir::Fn::Tanh, 1, v) + std::tanh(v) * 2) << v;
  EXPECT_NE(session.lastModuleText().find("define"), std::string::npos);
}

}  // namespace
}  // namespace tp
