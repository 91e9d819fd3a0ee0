// Inline IR for the activations: each case mirrors the function of runtime/Activation.cpp it names.
#include "compiler/codegen/ActivationCodegen.h"

#include <cmath>
#include <numbers>
#include <string>

#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include "compiler/ir/Diagnostics.h"
#include "runtime/Activation.h"

namespace tp::codegen {

const std::vector<const char*>& libmFunctions() {
  static const std::vector<const char*> names = {"exp", "log", "log1p", "erf", "erfc", "sin", "cos", "pow"};
  return names;
}

llvm::Value* emitLibmCall(llvm::IRBuilder<>& ir, const char* name, const std::vector<llvm::Value*>& args) {
  llvm::Module& module = *ir.GetInsertBlock()->getModule();
  llvm::Type* f64 = ir.getDoubleTy();
  std::vector<llvm::Type*> types(args.size(), f64);
  llvm::FunctionCallee callee = module.getOrInsertFunction(name, llvm::FunctionType::get(f64, types, false));
  if (auto* fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    fn->setDoesNotAccessMemory();
    fn->setDoesNotThrow();
    fn->setWillReturn();
  }
  auto* vector = llvm::dyn_cast<llvm::FixedVectorType>(args[0]->getType());
  if (!vector) return ir.CreateCall(callee, args);
  llvm::Value* out = llvm::PoisonValue::get(vector);
  for (unsigned lane = 0; lane < vector->getNumElements(); ++lane) {
    std::vector<llvm::Value*> scalars;
    for (llvm::Value* a : args)
      scalars.push_back(a->getType()->isVectorTy() ? ir.CreateExtractElement(a, lane) : a);
    out = ir.CreateInsertElement(out, ir.CreateCall(callee, scalars), lane);
  }
  return out;
}

namespace {

/// Builds the IR of one activation over values of type `type_` (double or a vector of them).
class Emitter {
public:
  Emitter(llvm::IRBuilder<>& ir, llvm::Type* type) : ir_(ir), type_(type) {}

  llvm::Value* activation(ir::Fn f, int k, llvm::Value* x) {
    if (k < 0) throw InternalError("emitActivation: negative derivative order " + std::to_string(k));
    switch (f) {
      case ir::Fn::Id: return k == 0 ? x : c(k == 1 ? 1.0 : 0.0);
      case ir::Fn::Relu: return k == 0 ? max0(x) : (k == 1 ? step(x) : c(0));
      case ir::Fn::Tanh: return tanhOrder(k, x);
      case ir::Fn::Sigmoid: return sigmoidOrder(k, x);
      case ir::Fn::Gelu: return geluOrder(k, x);
      case ir::Fn::Erf: return erfOrder(k, x);
      case ir::Fn::Sin: return sinOrder(k, x);
      case ir::Fn::Cos: return sinOrder(k % 4 + 1, x);
      case ir::Fn::Exp: return call("exp", x);
      case ir::Fn::Softplus:
        if (k == 0) return ir_.CreateFAdd(max0(x), call("log1p", expNonPositive(ir_.CreateFNeg(fabs(x)))));
        return sigmoidOrder(k - 1, x);
      case ir::Fn::Square:
        return k == 0 ? ir_.CreateFMul(x, x) : (k == 1 ? ir_.CreateFMul(c(2.0), x) : c(k == 2 ? 2.0 : 0.0));
      case ir::Fn::Abs: return k == 0 ? fabs(x) : (k == 1 ? sign(x) : c(0));
      case ir::Fn::Step: return k == 0 ? step(x) : c(0);
      case ir::Fn::Sqrt: return sqrtOrder(k, x);
      case ir::Fn::Log: return logOrder(k, x);
    }
    throw InternalError("emitActivation: unknown function " + std::to_string(static_cast<int>(f)));
  }

private:
  llvm::Value* c(double v) { return llvm::ConstantFP::get(type_, v); }
  llvm::Value* call(const char* name, llvm::Value* x) { return emitLibmCall(ir_, name, {x}); }
  llvm::Value* fabs(llvm::Value* x) { return ir_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  llvm::Value* isNan(llvm::Value* x) { return ir_.CreateFCmpUNO(x, x); }
  /// std::max(x, 0.0) = x < 0 ? 0 : x.
  llvm::Value* max0(llvm::Value* x) { return ir_.CreateSelect(ir_.CreateFCmpOLT(x, c(0)), c(0), x); }
  llvm::Value* step(llvm::Value* x) {
    return ir_.CreateSelect(isNan(x), x, ir_.CreateSelect(ir_.CreateFCmpOGT(x, c(0)), c(1), c(0)));
  }
  llvm::Value* sign(llvm::Value* x) {
    llvm::Value* s = ir_.CreateSelect(ir_.CreateFCmpOGT(x, c(0)), c(1),
                                      ir_.CreateSelect(ir_.CreateFCmpOLT(x, c(0)), c(-1), c(0)));
    return ir_.CreateSelect(isNan(x), x, s);
  }

  /// 2^k for integral k in [−1022, 1023] (a double): powerOfTwo in Activation.cpp.
  llvm::Value* powerOfTwo(llvm::Value* k) {
    llvm::Type* bitsType = llvm::Type::getInt64Ty(ir_.getContext());
    if (auto* v = llvm::dyn_cast<llvm::FixedVectorType>(type_)) bitsType = llvm::FixedVectorType::get(bitsType, v->getNumElements());
    llvm::Value* bits = ir_.CreateBitCast(ir_.CreateFAdd(k, c(0x1p52 + 1023.0)), bitsType);
    bits = ir_.CreateAnd(bits, llvm::ConstantInt::get(bitsType, (uint64_t(1) << 52) - 1));
    return ir_.CreateBitCast(ir_.CreateShl(bits, llvm::ConstantInt::get(bitsType, 52)), type_);
  }

  /// reduce in Activation.cpp: k and p = e^r − 1 with y = k·ln 2 + r.
  std::pair<llvm::Value*, llvm::Value*> reduce(llvm::Value* y) {
    using namespace elementary;
    llvm::Value* k = ir_.CreateUnaryIntrinsic(llvm::Intrinsic::floor, ir_.CreateFAdd(ir_.CreateFMul(y, c(kInvLn2)), c(0.5)));
    llvm::Value* r = ir_.CreateFSub(ir_.CreateFSub(y, ir_.CreateFMul(k, c(kLn2Hi))), ir_.CreateFMul(k, c(kLn2Lo)));
    llvm::Value* p = c(kTaylor[kTaylorDegree]);
    for (int i = kTaylorDegree - 1; i >= 1; --i) p = ir_.CreateFAdd(ir_.CreateFMul(p, r), c(kTaylor[static_cast<size_t>(i)]));
    return {k, ir_.CreateFMul(p, r)};
  }

  /// y < floor ? floor : y (NaN passes), as in Activation.cpp.
  llvm::Value* atLeast(llvm::Value* y, double floor) {
    return ir_.CreateSelect(ir_.CreateFCmpOLT(y, c(floor)), c(floor), y);
  }

  /// expNonPositive: (1 + p)·2^k1·2^(k − k1), NaN kept.
  llvm::Value* expNonPositive(llvm::Value* y) {
    auto [k, p] = reduce(atLeast(y, elementary::kExpFloor));
    llvm::Value* k1 = atLeast(k, -1022.0);
    llvm::Value* value = ir_.CreateFMul(ir_.CreateFMul(ir_.CreateFAdd(c(1.0), p), powerOfTwo(k1)),
                                        powerOfTwo(ir_.CreateFSub(k, k1)));
    return ir_.CreateSelect(isNan(y), y, value);
  }

  /// expm1NonPositive: p·2^k + (2^k − 1), NaN kept.
  llvm::Value* expm1NonPositive(llvm::Value* y) {
    auto [k, p] = reduce(atLeast(y, elementary::kExpm1Floor));
    llvm::Value* scale = powerOfTwo(k);
    llvm::Value* value = ir_.CreateFAdd(ir_.CreateFMul(p, scale), ir_.CreateFSub(scale, c(1.0)));
    return ir_.CreateSelect(isNan(y), y, value);
  }

  /// tanhFunction: copysign(−m/(2 + m), x), m = e^{−2|x|} − 1.
  llvm::Value* tanhFunction(llvm::Value* x) {
    llvm::Value* m = expm1NonPositive(ir_.CreateFMul(c(-2.0), fabs(x)));
    llvm::Value* t = ir_.CreateFDiv(ir_.CreateFNeg(m), ir_.CreateFAdd(c(2.0), m));
    return ir_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, t, x);
  }

  /// sigmoidDerivative: (Σ_a c_a u^{n-a}) / (1+u)^n with u = e^{-|x|}, negated for x < 0 at odd n.
  llvm::Value* sigmoidDerivative(const std::vector<double>& coeffs, llvm::Value* x) {
    const size_t n = coeffs.size() - 1;
    llvm::Value* u = expNonPositive(ir_.CreateFNeg(fabs(x)));
    llvm::Value* sum = c(0);
    for (double a : coeffs) sum = ir_.CreateFAdd(ir_.CreateFMul(sum, u), c(a));
    llvm::Value* p = ir_.CreateFAdd(c(1), u);
    llvm::Value* power = p;
    for (size_t i = 1; i < n; ++i) power = ir_.CreateFMul(power, p);
    llvm::Value* value = ir_.CreateFDiv(sum, power);
    if (n % 2 == 0) return value;
    return ir_.CreateSelect(ir_.CreateFCmpOLT(x, c(0)), ir_.CreateFNeg(value), value);
  }

  /// sigmoid: 1/(1+e^{-x}) for x ≥ 0, e^x/(1+e^x) below (both from u = e^{-|x|}).
  llvm::Value* sigmoidOrder(int k, llvm::Value* x) {
    if (k > 0) return sigmoidDerivative(sigmoidDerivativeCoefficients(k), x);
    llvm::Value* u = expNonPositive(ir_.CreateFNeg(fabs(x)));
    llvm::Value* onePlus = ir_.CreateFAdd(c(1), u);
    return ir_.CreateSelect(ir_.CreateFCmpOGE(x, c(0)), ir_.CreateFDiv(c(1), onePlus), ir_.CreateFDiv(u, onePlus));
  }

  /// tanh^(k)(x) = 2^{k+1} σ^(k)(2x) (a power of two: the same rounding as ldexp).
  llvm::Value* tanhOrder(int k, llvm::Value* x) {
    if (k == 0) return tanhFunction(x);
    llvm::Value* s = sigmoidDerivative(sigmoidDerivativeCoefficients(k), ir_.CreateFMul(c(2.0), x));
    return ir_.CreateFMul(s, c(std::ldexp(1.0, k + 1)));
  }

  /// hermiteH: H_{i+1} = 2x·H_i − 2i·H_{i−1}.
  llvm::Value* hermiteH(int n, llvm::Value* x) {
    llvm::Value *prev = c(1), *cur = ir_.CreateFMul(c(2.0), x);
    if (n == 0) return prev;
    for (int i = 1; i < n; ++i) {
      llvm::Value* next = ir_.CreateFSub(ir_.CreateFMul(ir_.CreateFMul(c(2.0), x), cur), ir_.CreateFMul(c(2.0 * i), prev));
      prev = cur;
      cur = next;
    }
    return cur;
  }

  /// hermiteHe: He_{i+1} = x·He_i − i·He_{i−1}.
  llvm::Value* hermiteHe(int n, llvm::Value* x) {
    llvm::Value *prev = c(1), *cur = x;
    if (n == 0) return prev;
    for (int i = 1; i < n; ++i) {
      llvm::Value* next = ir_.CreateFSub(ir_.CreateFMul(x, cur), ir_.CreateFMul(c(static_cast<double>(i)), prev));
      prev = cur;
      cur = next;
    }
    return cur;
  }

  static double minusOnePow(int k) { return k % 2 == 0 ? 1.0 : -1.0; }

  /// erfOrder: (2/√π)(−1)^{k−1} H_{k−1}(x) e^{−x²}, 0 where the weight underflows.
  llvm::Value* erfOrder(int k, llvm::Value* x) {
    if (k == 0) return call("erf", x);
    llvm::Value* weight = expNonPositive(ir_.CreateFMul(ir_.CreateFNeg(x), x));
    llvm::Value* value = ir_.CreateFMul(
        ir_.CreateFMul(c(2.0 / std::sqrt(std::numbers::pi) * minusOnePow(k - 1)), hermiteH(k - 1, x)), weight);
    return ir_.CreateSelect(ir_.CreateFCmpOEQ(weight, c(0)), c(0), value);
  }

  /// normalCdfOrder: Φ = erfc(−x/√2)/2; Φ^(j) = (−1)^{j−1} He_{j−1}(x) φ(x), 0 where φ underflows.
  llvm::Value* normalCdfOrder(int j, llvm::Value* x) {
    if (j == 0) return ir_.CreateFMul(c(0.5), call("erfc", ir_.CreateFDiv(ir_.CreateFNeg(x), c(std::numbers::sqrt2))));
    llvm::Value* phi = ir_.CreateFDiv(expNonPositive(ir_.CreateFMul(ir_.CreateFMul(c(-0.5), x), x)),
                                      c(std::sqrt(2.0 * std::numbers::pi)));
    llvm::Value* value = ir_.CreateFMul(ir_.CreateFMul(c(minusOnePow(j - 1)), hermiteHe(j - 1, x)), phi);
    return ir_.CreateSelect(ir_.CreateFCmpOEQ(phi, c(0)), c(0), value);
  }

  /// geluOrder: x Φ^(k)(x) (0 where Φ^(k) is 0) + k Φ^(k−1)(x).
  llvm::Value* geluOrder(int k, llvm::Value* x) {
    llvm::Value* a = normalCdfOrder(k, x);
    llvm::Value* head = ir_.CreateSelect(ir_.CreateFCmpOEQ(a, c(0)), c(0), ir_.CreateFMul(x, a));
    if (k == 0) return head;
    return ir_.CreateFAdd(head, ir_.CreateFMul(c(static_cast<double>(k)), normalCdfOrder(k - 1, x)));
  }

  llvm::Value* sinOrder(int k, llvm::Value* x) {
    switch (k % 4) {
      case 0: return call("sin", x);
      case 1: return call("cos", x);
      case 2: return ir_.CreateFNeg(call("sin", x));
      default: return ir_.CreateFNeg(call("cos", x));
    }
  }

  /// sqrtOrder: (1/2)(1/2 − 1)···(1/2 − k + 1) x^{1/2 − k}.
  llvm::Value* sqrtOrder(int k, llvm::Value* x) {
    if (k == 0) return ir_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x);
    double coefficient = 1.0;
    for (int i = 0; i < k; ++i) coefficient *= 0.5 - i;
    return ir_.CreateFMul(c(coefficient), emitLibmCall(ir_, "pow", {x, c(0.5 - k)}));
  }

  /// logOrder: 1/x · Π_{i<k} (−i/x); NaN below 0.
  llvm::Value* logOrder(int k, llvm::Value* x) {
    if (k == 0) return call("log", x);
    llvm::Value* r = ir_.CreateFDiv(c(1), x);
    for (int i = 1; i < k; ++i) r = ir_.CreateFMul(r, ir_.CreateFDiv(c(-static_cast<double>(i)), x));
    return ir_.CreateSelect(ir_.CreateFCmpOLT(x, c(0)), c(std::nan("")), r);
  }

  llvm::IRBuilder<>& ir_;
  llvm::Type* type_;
};

}  // namespace

llvm::Value* emitActivation(llvm::IRBuilder<>& ir, ir::Fn f, int order, llvm::Value* x) {
  return Emitter(ir, x->getType()).activation(f, order, x);
}

}  // namespace tp::codegen
