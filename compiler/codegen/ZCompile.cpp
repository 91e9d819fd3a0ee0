// Z-program codegen: passes between means, one fused particle loop per pass, scalars between them.
#include "compiler/codegen/ZCompile.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "compiler/codegen/ActivationCodegen.h"
#include "compiler/ir/Diagnostics.h"
#include "runtime/ThreadPool.h"

namespace tp::codegen {

using passes::ZInstr;

namespace {

/// The generated function of one pass.
using PassFn = void (*)(const double* scalars, double* const* buffers, const double* const* bases,
                        const double* weights, double* sums, int64_t begin, int64_t end);

bool isBase(const ZInstr& ins) { return ins.kind == ZInstr::Kind::Base; }

}  // namespace

struct CompiledZProgram::Plan {
  struct Pass {
    std::vector<int> instrs;  // particle instructions computed here (no Base), program order
    std::vector<int> means;   // Mean instructions summed here
    PassFn fn = nullptr;
  };
  std::vector<int> stage;                  // particle: its pass; scalar: the pass before which it is ready
  std::vector<int> buffer;                 // particle value stored for a later pass: its buffer, else −1
  size_t bufferCount = 0;
  std::vector<Pass> passes;
  std::vector<std::vector<int>> scalarsAt;  // [p]: the non-Mean scalar instructions ready at pass p
};

namespace {

/// Assigns every instruction its pass (particle) or readiness (scalar), and buffers to the
/// particle values read by a later pass (reused once their last reading pass is over).
void schedule(const passes::ZProgram& z, CompiledZProgram::Plan& plan) {
  const size_t S = z.instrs.size();
  plan.stage.assign(S, 0);
  int last = 0;
  for (size_t i = 0; i < S; ++i) {
    const ZInstr& ins = z.instrs[i];
    int s = 0;
    for (int o : ins.operands) s = std::max(s, plan.stage[static_cast<size_t>(o)]);
    if (ins.kind == ZInstr::Kind::Mean) s = plan.stage[static_cast<size_t>(ins.operands[0])] + 1;
    plan.stage[i] = s;
    last = std::max(last, s);
  }
  plan.passes.assign(static_cast<size_t>(last) + 1, {});
  plan.scalarsAt.assign(static_cast<size_t>(last) + 1, {});
  std::vector<int> lastReader(S, -1);
  for (size_t i = 0; i < S; ++i) {
    const ZInstr& ins = z.instrs[i];
    if (ins.kind == ZInstr::Kind::Mean) {
      plan.passes[static_cast<size_t>(plan.stage[i] - 1)].means.push_back(static_cast<int>(i));
    } else if (!ins.particle) {
      plan.scalarsAt[static_cast<size_t>(plan.stage[i])].push_back(static_cast<int>(i));
    } else if (!isBase(ins)) {
      plan.passes[static_cast<size_t>(plan.stage[i])].instrs.push_back(static_cast<int>(i));
      for (int o : ins.operands)
        if (z.instrs[static_cast<size_t>(o)].particle && plan.stage[static_cast<size_t>(o)] < plan.stage[i])
          lastReader[static_cast<size_t>(o)] = std::max(lastReader[static_cast<size_t>(o)], plan.stage[i]);
    }
  }
  plan.buffer.assign(S, -1);
  std::vector<int> freeBuffers;
  std::multimap<int, int> busyUntil;  // last reading pass → buffer
  for (size_t p = 0; p < plan.passes.size(); ++p) {
    while (!busyUntil.empty() && busyUntil.begin()->first < static_cast<int>(p)) {
      freeBuffers.push_back(busyUntil.begin()->second);
      busyUntil.erase(busyUntil.begin());
    }
    for (int i : plan.passes[p].instrs) {
      if (lastReader[static_cast<size_t>(i)] < 0) continue;
      int b;
      if (freeBuffers.empty()) {
        b = static_cast<int>(plan.bufferCount++);
      } else {
        b = freeBuffers.back();
        freeBuffers.pop_back();
      }
      plan.buffer[static_cast<size_t>(i)] = b;
      busyUntil.emplace(lastReader[static_cast<size_t>(i)], b);
    }
  }
}

/// Emits the function of pass `p`: a loop over particles [begin, end), kMeanLanes at a time
/// in vector registers. Loads and stores are masked to the particles below `end`, so any
/// count works without padding; a mean's lane accumulators take only the particles in range.
class PassEmitter {
public:
  PassEmitter(const passes::ZProgram& z, const CompiledZProgram::Plan& plan, llvm::Module& module)
      : z_(z), plan_(plan), module_(module), ctx_(module.getContext()), ir_(ctx_) {
    f64_ = llvm::Type::getDoubleTy(ctx_);
    i64_ = llvm::Type::getInt64Ty(ctx_);
    ptr_ = llvm::PointerType::getUnqual(ctx_);
    vec_ = llvm::FixedVectorType::get(f64_, kLanes);
  }

  /// `prefix` keeps the names of several programs in one JIT session apart.
  std::string emit(size_t p, const std::string& prefix) {
    const CompiledZProgram::Plan::Pass& pass = plan_.passes[p];
    std::string name = prefix + "_pass_" + std::to_string(p);
    auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {ptr_, ptr_, ptr_, ptr_, ptr_, i64_, i64_}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
    for (unsigned a = 0; a < 5; ++a) fn_->addParamAttr(a, llvm::Attribute::NoAlias);
    fn_->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::Value *scalars = fn_->getArg(0), *buffers = fn_->getArg(1), *bases = fn_->getArg(2),
                *weights = fn_->getArg(3), *sums = fn_->getArg(4), *begin = fn_->getArg(5), *end = fn_->getArg(6);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn_);
    auto* loop = llvm::BasicBlock::Create(ctx_, "loop", fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, "exit", fn_);

    // Entry: every scalar operand (broadcast), buffer and base pointer of the pass, loaded once.
    ir_.SetInsertPoint(entry);
    scalar_.clear();
    rows_.clear();
    for (int i : pass.instrs)
      for (int o : z_.instrs[static_cast<size_t>(i)].operands) hoist(o, scalars, buffers, bases);
    for (int m : pass.means) hoist(z_.instrs[static_cast<size_t>(m)].operands[0], scalars, buffers, bases);
    for (int i : pass.instrs) hoist(i, scalars, buffers, bases);  // the rows this pass stores into
    llvm::Value* lastLane = ir_.CreateVectorSplat(kLanes, end);
    std::vector<llvm::Constant*> offsets;
    for (unsigned l = 0; l < kLanes; ++l) offsets.push_back(llvm::ConstantInt::get(i64_, l));
    llvm::Value* laneOffsets = llvm::ConstantVector::get(offsets);
    ir_.CreateCondBr(ir_.CreateICmpSLT(begin, end), loop, exit);

    // Loop body: the pass's instructions in program order, in registers.
    ir_.SetInsertPoint(loop);
    llvm::PHINode* k = ir_.CreatePHI(i64_, 2, "k");
    k->addIncoming(begin, entry);
    std::vector<llvm::PHINode*> partial;
    for (size_t j = 0; j < pass.means.size(); ++j) {
      partial.push_back(ir_.CreatePHI(vec_, 2));
      partial.back()->addIncoming(llvm::ConstantFP::get(vec_, 0.0), entry);
    }
    mask_ = ir_.CreateICmpSLT(ir_.CreateAdd(ir_.CreateVectorSplat(kLanes, k), laneOffsets), lastLane);
    value_.clear();
    for (int i : pass.instrs) {
      llvm::Value* v = instruction(z_.instrs[static_cast<size_t>(i)], k);
      value_[i] = v;
      int b = plan_.buffer[static_cast<size_t>(i)];
      if (b >= 0) ir_.CreateMaskedStore(v, ir_.CreateInBoundsGEP(f64_, rows_.at(-1 - b), k), llvm::Align(8), mask_);
    }
    llvm::Value* w = load(weights, k);
    std::vector<llvm::Value*> next;
    for (size_t j = 0; j < pass.means.size(); ++j) {
      llvm::Value* x = operand(z_.instrs[static_cast<size_t>(pass.means[j])].operands[0], k);
      next.push_back(ir_.CreateSelect(mask_, ir_.CreateFAdd(partial[j], ir_.CreateFMul(w, x)), partial[j]));
      partial[j]->addIncoming(next.back(), loop);
    }
    llvm::Value* k1 = ir_.CreateAdd(k, llvm::ConstantInt::get(i64_, kLanes));
    k->addIncoming(k1, loop);
    ir_.CreateCondBr(ir_.CreateICmpSLT(k1, end), loop, exit);

    // Exit: each mean's lanes combined as (0 + 1) + (2 + 3), the canonical order (chunkSum).
    ir_.SetInsertPoint(exit);
    std::vector<llvm::PHINode*> lanesOf;
    for (size_t j = 0; j < pass.means.size(); ++j) {
      lanesOf.push_back(ir_.CreatePHI(vec_, 2));
      lanesOf.back()->addIncoming(llvm::ConstantFP::get(vec_, 0.0), entry);
      lanesOf.back()->addIncoming(next[j], loop);
    }
    for (size_t j = 0; j < pass.means.size(); ++j) {
      llvm::Value* lanes = lanesOf[j];
      llvm::Value* total = ir_.CreateFAdd(ir_.CreateFAdd(ir_.CreateExtractElement(lanes, uint64_t(0)), ir_.CreateExtractElement(lanes, 1)),
                                          ir_.CreateFAdd(ir_.CreateExtractElement(lanes, 2), ir_.CreateExtractElement(lanes, 3)));
      ir_.CreateStore(total, ir_.CreateInBoundsGEP(f64_, sums, ir_.getInt64(j)));
    }
    ir_.CreateRetVoid();
    return name;
  }

private:
  static constexpr unsigned kLanes = kMeanLanes;

  /// Loads, in the entry block, what operand `o` needs: a scalar's value (broadcast), or the
  /// row (pointer) of a stored particle value (key −1 − buffer) or of a base Gaussian (key index).
  void hoist(int o, llvm::Value* scalars, llvm::Value* buffers, llvm::Value* bases) {
    const ZInstr& ins = z_.instrs[static_cast<size_t>(o)];
    if (!ins.particle) {
      if (!scalar_.count(o))
        scalar_[o] = ir_.CreateVectorSplat(kLanes, ir_.CreateLoad(f64_, ir_.CreateInBoundsGEP(f64_, scalars, ir_.getInt64(o))));
    } else if (isBase(ins)) {
      if (!rows_.count(ins.index))
        rows_[ins.index] = ir_.CreateLoad(ptr_, ir_.CreateInBoundsGEP(ptr_, bases, ir_.getInt64(ins.index)));
    } else {
      int b = plan_.buffer[static_cast<size_t>(o)];
      if (b >= 0 && !rows_.count(-1 - b))
        rows_[-1 - b] = ir_.CreateLoad(ptr_, ir_.CreateInBoundsGEP(ptr_, buffers, ir_.getInt64(b)));
    }
  }

  /// The lanes of `row` from particle k on (0 past the end).
  llvm::Value* load(llvm::Value* row, llvm::Value* k) {
    return ir_.CreateMaskedLoad(vec_, ir_.CreateInBoundsGEP(f64_, row, k), llvm::Align(8), mask_,
                                llvm::ConstantFP::get(vec_, 0.0));
  }

  /// Operand `o` at particles k..k+3: a register of this pass, a load from its row, or the scalar.
  llvm::Value* operand(int o, llvm::Value* k) {
    const ZInstr& ins = z_.instrs[static_cast<size_t>(o)];
    if (!ins.particle) return scalar_.at(o);
    auto v = value_.find(o);
    if (v != value_.end()) return v->second;
    llvm::Value* row = isBase(ins) ? rows_.at(ins.index) : rows_.at(-1 - plan_.buffer[static_cast<size_t>(o)]);
    llvm::Value* loaded = load(row, k);
    value_[o] = loaded;
    return loaded;
  }

  llvm::Value* instruction(const ZInstr& ins, llvm::Value* k) {
    auto arg = [&](size_t j) { return operand(ins.operands[j], k); };
    switch (ins.kind) {
      case ZInstr::Kind::Add: return ir_.CreateFAdd(arg(0), arg(1));
      case ZInstr::Kind::Sub: return ir_.CreateFSub(arg(0), arg(1));
      case ZInstr::Kind::Mul: return ir_.CreateFMul(arg(0), arg(1));
      case ZInstr::Kind::Div: return ir_.CreateFDiv(arg(0), arg(1));
      case ZInstr::Kind::Neg: return ir_.CreateFNeg(arg(0));
      case ZInstr::Kind::Pow: return emitLibmCall(ir_, "pow", {arg(0), llvm::ConstantFP::get(f64_, ins.value)});
      case ZInstr::Kind::Apply: return emitActivation(ir_, ins.fn, ins.order, arg(0));
      default: break;
    }
    throw InternalError("Z-program codegen: not a per-particle computation");
  }

  const passes::ZProgram& z_;
  const CompiledZProgram::Plan& plan_;
  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> ir_;
  llvm::Type *f64_, *i64_;
  llvm::PointerType* ptr_;
  llvm::FixedVectorType* vec_;
  llvm::Function* fn_ = nullptr;
  llvm::Value* mask_ = nullptr;  // the lanes below `end`
  std::map<int, llvm::Value*> scalar_, rows_, value_;
};

/// The pass functions of a planned program into `module` (names by pass; "" for an empty pass).
std::vector<std::string> emitPasses(const passes::ZProgram& z, const CompiledZProgram::Plan& plan,
                                    llvm::Module& module, const std::string& prefix) {
  std::vector<std::string> names(plan.passes.size());
  PassEmitter emitter(z, plan, module);
  for (size_t p = 0; p < plan.passes.size(); ++p)
    if (!plan.passes[p].instrs.empty() || !plan.passes[p].means.empty()) names[p] = emitter.emit(p, prefix);
  return names;
}

/// The driver of a standalone module: `int tpc_limit(bases, weights, count, results)` runs
/// every pass over the particles in chunks, the scalar instructions between passes (as
/// scalarInstruction, the data's values as constants) and writes the result coordinates.
class DriverEmitter {
public:
  DriverEmitter(const passes::ZProgram& z, const CompiledZProgram::Plan& plan, const Dataset& data,
                llvm::Module& module)
      : z_(z), plan_(plan), data_(data), module_(module), ctx_(module.getContext()), ir_(ctx_) {
    f64_ = ir_.getDoubleTy();
    i64_ = ir_.getInt64Ty();
    ptr_ = llvm::PointerType::getUnqual(ctx_);
  }

  void emit(const std::vector<std::string>& passNames) {
    auto* type = llvm::FunctionType::get(ir_.getInt32Ty(), {ptr_, ptr_, i64_, ptr_}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "tpc_limit", module_);
    llvm::Value *bases = fn_->getArg(0), *weights = fn_->getArg(1), *count = fn_->getArg(2), *results = fn_->getArg(3);
    ir_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
    llvm::FunctionCallee malloc = module_.getOrInsertFunction("malloc", ptr_, i64_);
    llvm::FunctionCallee free = module_.getOrInsertFunction("free", ir_.getVoidTy(), ptr_);

    // Storage: the scalars, one row of `count` doubles per stored value, the sums of a chunk.
    size_t means = 1;
    for (const auto& pass : plan_.passes) means = std::max(means, pass.means.size());
    llvm::Value* rowBytes = ir_.CreateAdd(ir_.CreateMul(count, ir_.getInt64(8)), ir_.getInt64(8));
    std::vector<llvm::Value*> blocks = {ir_.CreateCall(malloc, {ir_.getInt64(8 * (z_.instrs.size() + 1))}),
                                        ir_.CreateCall(malloc, {ir_.getInt64(8 * (plan_.bufferCount + 1))}),
                                        ir_.CreateCall(malloc, {ir_.getInt64(8 * means)})};
    scalars_ = blocks[0];
    llvm::Value *rows = blocks[1], *sums = blocks[2];
    std::vector<llvm::Value*> rowPointers;
    for (size_t b = 0; b < plan_.bufferCount; ++b) rowPointers.push_back(ir_.CreateCall(malloc, {rowBytes}));
    llvm::Value* failed = ir_.getFalse();
    for (llvm::Value* b : blocks) failed = ir_.CreateOr(failed, ir_.CreateIsNull(b));
    for (llvm::Value* r : rowPointers) failed = ir_.CreateOr(failed, ir_.CreateIsNull(r));
    auto* run = llvm::BasicBlock::Create(ctx_, "run", fn_);
    auto* release = llvm::BasicBlock::Create(ctx_, "release", fn_);
    ir_.CreateCondBr(failed, release, run);

    ir_.SetInsertPoint(run);
    for (size_t b = 0; b < plan_.bufferCount; ++b)
      ir_.CreateStore(rowPointers[b], ir_.CreateInBoundsGEP(ptr_, rows, ir_.getInt64(b)));
    auto* passType = llvm::FunctionType::get(ir_.getVoidTy(), {ptr_, ptr_, ptr_, ptr_, ptr_, i64_, i64_}, false);
    for (size_t p = 0; p < plan_.passes.size(); ++p) {
      for (int i : plan_.scalarsAt[p]) store(i, scalar(z_.instrs[static_cast<size_t>(i)]));
      if (passNames[p].empty()) continue;
      llvm::Function* pass = module_.getFunction(passNames[p]);
      chunks(plan_.passes[p].means, count, [&](llvm::Value* begin, llvm::Value* end) {
        ir_.CreateCall(llvm::FunctionCallee(passType, pass), {scalars_, rows, bases, weights, sums, begin, end});
      }, sums);
    }
    for (const passes::ZResult& r : z_.results)
      for (int slot : r.slots) {
        llvm::Value* v = slot == passes::kZeroSlot      ? llvm::ConstantFP::get(f64_, 0.0)
                         : slot == passes::kDivergentSlot ? llvm::ConstantFP::getInfinity(f64_)
                                                          : load(slot);
        ir_.CreateStore(v, ir_.CreateInBoundsGEP(f64_, results, ir_.getInt64(resultCount_++)));
      }
    ir_.CreateBr(release);

    // Release every block (free(NULL) is harmless); 1 when an allocation failed.
    ir_.SetInsertPoint(release);
    for (llvm::Value* row : rowPointers) ir_.CreateCall(free, {row});
    for (llvm::Value* b : blocks) ir_.CreateCall(free, {b});
    ir_.CreateRet(ir_.CreateZExt(failed, ir_.getInt32Ty()));
  }

  size_t resultCount() const { return resultCount_; }

private:
  /// Calls `body(begin, end)` on each chunk of kMeanChunk particles in order, adding the
  /// chunk's sums (written to `sums`) to the totals of `means`, then stores the totals.
  template <typename Body>
  void chunks(const std::vector<int>& means, llvm::Value* count, Body body, llvm::Value* sums) {
    llvm::BasicBlock* before = ir_.GetInsertBlock();
    auto* loop = llvm::BasicBlock::Create(ctx_, "chunk", fn_);
    auto* after = llvm::BasicBlock::Create(ctx_, "chunks_done", fn_);
    ir_.CreateCondBr(ir_.CreateICmpSGT(count, ir_.getInt64(0)), loop, after);
    ir_.SetInsertPoint(loop);
    llvm::PHINode* begin = ir_.CreatePHI(i64_, 2);
    begin->addIncoming(ir_.getInt64(0), before);
    std::vector<llvm::PHINode*> totals;
    for (size_t j = 0; j < means.size(); ++j) {
      totals.push_back(ir_.CreatePHI(f64_, 2));
      totals.back()->addIncoming(llvm::ConstantFP::get(f64_, 0.0), before);
    }
    llvm::Value* next = ir_.CreateAdd(begin, ir_.getInt64(static_cast<int64_t>(kMeanChunk)));
    llvm::Value* end = ir_.CreateSelect(ir_.CreateICmpSLT(next, count), next, count);
    body(begin, end);
    std::vector<llvm::Value*> added;
    for (size_t j = 0; j < means.size(); ++j) {
      added.push_back(ir_.CreateFAdd(totals[j], ir_.CreateLoad(f64_, ir_.CreateInBoundsGEP(f64_, sums, ir_.getInt64(j)))));
      totals[j]->addIncoming(added.back(), loop);
    }
    begin->addIncoming(next, loop);
    ir_.CreateCondBr(ir_.CreateICmpSLT(next, count), loop, after);
    ir_.SetInsertPoint(after);
    std::vector<llvm::PHINode*> final;
    for (size_t j = 0; j < means.size(); ++j) {  // the phis first: they head the block
      final.push_back(ir_.CreatePHI(f64_, 2));
      final.back()->addIncoming(llvm::ConstantFP::get(f64_, 0.0), before);
      final.back()->addIncoming(added[j], loop);
    }
    for (size_t j = 0; j < means.size(); ++j) store(means[j], final[j]);
  }

  llvm::Value* load(int i) { return ir_.CreateLoad(f64_, ir_.CreateInBoundsGEP(f64_, scalars_, ir_.getInt64(i))); }
  void store(int i, llvm::Value* v) { ir_.CreateStore(v, ir_.CreateInBoundsGEP(f64_, scalars_, ir_.getInt64(i))); }

  /// scalarInstruction, in IR.
  llvm::Value* scalar(const ZInstr& ins) {
    auto at = [&](size_t j) { return load(ins.operands[j]); };
    auto constant = [&](double v) { return llvm::ConstantFP::get(f64_, v); };
    switch (ins.kind) {
      case ZInstr::Kind::Const: return constant(ins.value);
      case ZInstr::Kind::Input: {
        const DataSplit& split = ins.split == ir::Split::Eval ? data_.eval : data_.train;
        return constant(split.value(ins.name, static_cast<size_t>(ins.example))[static_cast<size_t>(ins.index)]);
      }
      case ZInstr::Kind::Neg: return ir_.CreateFNeg(at(0));
      case ZInstr::Kind::Pow: return emitLibmCall(ir_, "pow", {at(0), constant(ins.value)});
      case ZInstr::Kind::Pivot: {
        llvm::Value* x = at(0);
        return ir_.CreateSelect(ir_.CreateFCmpOGT(x, ir_.CreateFMul(constant(passes::kPivotTolerance), at(1))),
                                emitLibmCall(ir_, "pow", {x, constant(ins.value)}), constant(0.0));
      }
      case ZInstr::Kind::Apply: return emitActivation(ir_, ins.fn, ins.order, at(0));
      case ZInstr::Kind::Add: return ir_.CreateFAdd(at(0), at(1));
      case ZInstr::Kind::Sub: return ir_.CreateFSub(at(0), at(1));
      case ZInstr::Kind::Mul: return ir_.CreateFMul(at(0), at(1));
      case ZInstr::Kind::Div: return ir_.CreateFDiv(at(0), at(1));
      default: break;
    }
    throw InternalError("Z-program codegen: not a scalar instruction");
  }

  const passes::ZProgram& z_;
  const CompiledZProgram::Plan& plan_;
  const Dataset& data_;
  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> ir_;
  llvm::Type *f64_, *i64_;
  llvm::PointerType* ptr_;
  llvm::Function* fn_ = nullptr;
  llvm::Value* scalars_ = nullptr;
  size_t resultCount_ = 0;
};

}  // namespace

CompiledZProgram::CompiledZProgram(const passes::ZProgram& z, Jit& jit) : z_(z), plan_(std::make_unique<Plan>()) {
  schedule(z, *plan_);
  static std::atomic<int> programs{0};
  std::string prefix = "tpc_z" + std::to_string(programs++);
  Jit::ModuleBuilder built = jit.newModule(prefix);
  std::vector<std::string> names = emitPasses(z, *plan_, *built.module, prefix);
  jit.add(std::move(built));
  for (size_t p = 0; p < names.size(); ++p)
    if (!names[p].empty()) plan_->passes[p].fn = reinterpret_cast<PassFn>(jit.lookup(names[p]));
}

namespace {

Jit::ModuleBuilder standaloneModule(const passes::ZProgram& z, const Dataset& data,
                                    const std::vector<std::string>& resultNames, const Jit& jit) {
  CompiledZProgram::Plan plan;
  schedule(z, plan);
  Jit::ModuleBuilder built = jit.newModule("tpc_limit");
  llvm::Module& module = *built.module;
  std::vector<std::string> names = emitPasses(z, plan, module, "tpc_limit");
  for (const std::string& name : names)
    if (!name.empty()) module.getFunction(name)->setLinkage(llvm::Function::InternalLinkage);
  DriverEmitter driver(z, plan, data, module);
  driver.emit(names);
  if (resultNames.size() != driver.resultCount())
    throw InternalError("standaloneModule: " + std::to_string(resultNames.size()) + " names for " +
                        std::to_string(driver.resultCount()) + " result coordinates");

  // The description functions: counts, the variances of the bases, the names of the results.
  llvm::LLVMContext& ctx = module.getContext();
  llvm::IRBuilder<> ir(ctx);
  llvm::Type *i64 = ir.getInt64Ty(), *f64 = ir.getDoubleTy(), *ptr = llvm::PointerType::getUnqual(ctx);
  auto define = [&](const char* name, llvm::Type* result, std::vector<llvm::Type*> params) {
    auto* fn = llvm::Function::Create(llvm::FunctionType::get(result, params, false), llvm::Function::ExternalLinkage,
                                      name, module);
    ir.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    return fn;
  };
  auto table = [&](llvm::Type* element, std::vector<llvm::Constant*> values, const char* name) {
    auto* type = llvm::ArrayType::get(element, values.size());
    return new llvm::GlobalVariable(module, type, true, llvm::GlobalValue::InternalLinkage,
                                    llvm::ConstantArray::get(type, values), name);
  };
  /// entries[i] for 0 <= i < count, else `outside`.
  auto lookupIn = [&](llvm::Function* fn, llvm::GlobalVariable* entries, llvm::Type* element, size_t count,
                      llvm::Constant* outside) {
    llvm::Value* i = fn->getArg(0);
    llvm::Value* inside = ir.CreateICmpULT(i, ir.getInt64(count));
    llvm::Value* safe = ir.CreateSelect(inside, i, ir.getInt64(0));
    llvm::Value* value = count ? ir.CreateLoad(element, ir.CreateInBoundsGEP(entries->getValueType(), entries, {ir.getInt64(0), safe}))
                               : static_cast<llvm::Value*>(outside);
    ir.CreateRet(ir.CreateSelect(inside, value, outside));
  };
  define("tpc_limit_bases", i64, {});
  ir.CreateRet(ir.getInt64(z.bases.size()));
  define("tpc_limit_results", i64, {});
  ir.CreateRet(ir.getInt64(resultNames.size()));
  std::vector<llvm::Constant*> variances, labels;
  for (const passes::ZBase& b : z.bases) variances.push_back(llvm::ConstantFP::get(f64, b.variance));
  for (const std::string& name : resultNames) {
    auto* text = llvm::ConstantDataArray::getString(ctx, name);
    labels.push_back(new llvm::GlobalVariable(module, text->getType(), true, llvm::GlobalValue::PrivateLinkage, text));
  }
  llvm::GlobalVariable* varianceTable = table(f64, variances, "tpc_limit_variances");
  llvm::GlobalVariable* nameTable = table(ptr, labels, "tpc_limit_names");
  lookupIn(define("tpc_limit_base_variance", f64, {i64}), varianceTable, f64, variances.size(),
           llvm::ConstantFP::getNaN(f64));
  lookupIn(define("tpc_limit_result_name", ptr, {i64}), nameTable, ptr, labels.size(),
           llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx)));
  return built;
}

}  // namespace

std::string writeStandalone(const passes::ZProgram& z, const Dataset& data, const std::vector<std::string>& resultNames,
                            const std::string& path) {
  Jit session;
  return session.writeModule(standaloneModule(z, data, resultNames, session), path);
}

CompiledZProgram::~CompiledZProgram() = default;

size_t CompiledZProgram::passes() const { return plan_->passes.size(); }
size_t CompiledZProgram::buffers() const { return plan_->bufferCount; }

std::vector<std::vector<double>> CompiledZProgram::run(const Particles& particles, const Dataset& data,
                                                       int threads) const {
  const size_t K = particles.count;
  const size_t chunks = (K + kMeanChunk - 1) / kMeanChunk;
  std::vector<double> scalar(z_.instrs.size(), 0.0);
  std::vector<std::vector<double>> storage(plan_->bufferCount, std::vector<double>(K));
  std::vector<double*> rows;
  for (auto& s : storage) rows.push_back(s.data());
  std::vector<const double*> bases;
  for (const auto& b : particles.bases) bases.push_back(b.data());
  for (size_t p = 0; p < plan_->passes.size(); ++p) {
    for (int i : plan_->scalarsAt[p]) scalar[static_cast<size_t>(i)] = scalarInstruction(z_.instrs[static_cast<size_t>(i)], scalar, data);
    const Plan::Pass& pass = plan_->passes[p];
    if (!pass.fn) continue;
    const size_t means = pass.means.size();
    std::vector<double> sums(chunks * std::max<size_t>(means, 1), 0.0);
    parallelFor(threads, chunks, [&](size_t first, size_t last) {
      for (size_t c = first; c < last; ++c)
        pass.fn(scalar.data(), rows.data(), bases.data(), particles.weights.data(), sums.data() + c * means,
                static_cast<int64_t>(c * kMeanChunk), static_cast<int64_t>(std::min(K, (c + 1) * kMeanChunk)));
    });
    for (size_t j = 0; j < means; ++j) {  // chunk sums in order: the canonical mean
      double total = 0;
      for (size_t c = 0; c < chunks; ++c) total += sums[c * means + j];
      scalar[static_cast<size_t>(pass.means[j])] = total;
    }
  }
  return resultValues(z_, scalar);
}

}  // namespace tp::codegen
