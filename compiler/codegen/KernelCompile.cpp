// Kernel-program codegen: one function per program, vector loops over a tile's pairs, runtime calls between.
#include "compiler/codegen/KernelCompile.h"

#include <atomic>
#include <map>
#include <string>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "compiler/ir/Diagnostics.h"

namespace tp::codegen {

using passes::KernelInstr;

namespace {

/// The generated function: 0 when every slot was computed, else the failing call's status.
using TileFn = int32_t (*)(KernelTile* tile, double* buf, int64_t count, int64_t stride);

bool generated(const KernelInstr& ins) {
  return ins.kind == KernelInstr::Kind::Const || ins.kind == KernelInstr::Kind::Sum;
}

/// Emits `int32 name(tile, buf, count, stride)`: the needed slots in program order, runs of
/// generated slots as one loop each, every other slot as a call to tpc_kernel_slot.
class TileEmitter {
public:
  TileEmitter(const passes::KernelProgram& program, const std::vector<bool>& needed, llvm::Module& module)
      : program_(program), needed_(needed), module_(module), ctx_(module.getContext()), ir_(ctx_) {
    f64_ = ir_.getDoubleTy();
    i64_ = ir_.getInt64Ty();
    ptr_ = llvm::PointerType::getUnqual(ctx_);
    vec_ = llvm::FixedVectorType::get(f64_, kKernelLanes);
  }

  void emit(const std::string& name) {
    auto* type = llvm::FunctionType::get(ir_.getInt32Ty(), {ptr_, ptr_, i64_, i64_}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
    tile_ = fn_->getArg(0);
    buf_ = fn_->getArg(1);
    count_ = fn_->getArg(2);
    stride_ = fn_->getArg(3);
    ir_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));  // the first block is the entry
    fail_ = llvm::BasicBlock::Create(ctx_, "fail", fn_);
    llvm::FunctionCallee slotCall = module_.getOrInsertFunction("tpc_kernel_slot", ir_.getInt32Ty(), ptr_, ir_.getInt32Ty());

    std::vector<int> run;  // generated slots not yet emitted
    for (size_t i = 0; i < program_.size(); ++i) {
      if (!needed_[i]) continue;
      if (generated(program_[i])) {
        run.push_back(static_cast<int>(i));
        continue;
      }
      loop(run);
      run.clear();
      llvm::Value* status = ir_.CreateCall(slotCall, {tile_, ir_.getInt32(static_cast<uint32_t>(i))});
      auto* next = llvm::BasicBlock::Create(ctx_, "slot" + std::to_string(i), fn_);
      ir_.CreateCondBr(ir_.CreateICmpEQ(status, ir_.getInt32(0)), next, fail_);
      ir_.SetInsertPoint(next);
    }
    loop(run);
    ir_.CreateRet(ir_.getInt32(0));
    ir_.SetInsertPoint(fail_);
    ir_.CreateRet(ir_.getInt32(1));
  }

private:
  /// One loop over pairs j = 0, 4, 8, … < count computing `slots` in registers and storing
  /// each to its row. Lanes past `count` compute on whatever the rows hold there (the stride
  /// is a multiple of the lanes, so they stay inside the rows) and are never read.
  void loop(const std::vector<int>& slots) {
    if (slots.empty()) return;
    auto* before = ir_.GetInsertBlock();
    auto* body = llvm::BasicBlock::Create(ctx_, "loop", fn_);
    auto* after = llvm::BasicBlock::Create(ctx_, "after", fn_);
    ir_.CreateCondBr(ir_.CreateICmpSGT(count_, ir_.getInt64(0)), body, after);
    ir_.SetInsertPoint(body);
    llvm::PHINode* j = ir_.CreatePHI(i64_, 2, "j");
    j->addIncoming(ir_.getInt64(0), before);
    std::map<int, llvm::Value*> value;  // this iteration's slots, computed or loaded
    auto slot = [&](int s) -> llvm::Value* {
      auto it = value.find(s);
      if (it != value.end()) return it->second;
      return value[s] = ir_.CreateAlignedLoad(vec_, at(s, j), llvm::Align(8));
    };
    for (int s : slots) {
      const KernelInstr& ins = program_[static_cast<size_t>(s)];
      llvm::Value* v;
      if (ins.kind == KernelInstr::Kind::Const) {
        v = llvm::ConstantFP::get(vec_, ins.value);
      } else {
        // As the interpreter: out = +0, then out += coef·x·y, evaluated (coef·x)·y, term by term.
        v = llvm::ConstantFP::get(vec_, 0.0);
        for (const KernelInstr::Product& t : ins.terms) {
          llvm::Value* coef = llvm::ConstantFP::get(vec_, t.coef);
          llvm::Value* term = coef;
          if (t.x >= 0 && t.y >= 0) term = ir_.CreateFMul(ir_.CreateFMul(coef, slot(t.x)), slot(t.y));
          else if (t.x >= 0 || t.y >= 0) term = ir_.CreateFMul(coef, slot(t.x >= 0 ? t.x : t.y));
          v = ir_.CreateFAdd(v, term);
        }
      }
      value[s] = v;
      ir_.CreateAlignedStore(v, at(s, j), llvm::Align(8));
    }
    llvm::Value* j1 = ir_.CreateAdd(j, ir_.getInt64(kKernelLanes));
    j->addIncoming(j1, ir_.GetInsertBlock());
    ir_.CreateCondBr(ir_.CreateICmpSLT(j1, count_), body, after);
    ir_.SetInsertPoint(after);
  }

  /// The address of slot s at pair j: buf + s·stride + j.
  llvm::Value* at(int s, llvm::Value* j) {
    llvm::Value* row = ir_.CreateMul(ir_.getInt64(static_cast<uint64_t>(s)), stride_);
    return ir_.CreateInBoundsGEP(f64_, buf_, ir_.CreateAdd(row, j));
  }

  const passes::KernelProgram& program_;
  const std::vector<bool>& needed_;
  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> ir_;
  llvm::Type *f64_, *i64_;
  llvm::PointerType* ptr_;
  llvm::FixedVectorType* vec_;
  llvm::Function* fn_ = nullptr;
  llvm::Value *tile_ = nullptr, *buf_ = nullptr, *count_ = nullptr, *stride_ = nullptr;
  llvm::BasicBlock* fail_ = nullptr;
};

}  // namespace

std::shared_ptr<const KernelTileRunner> compileKernelTiles(const passes::KernelProgram& program,
                                                           const std::vector<passes::KernelEntry>& wanted, Jit& jit) {
  auto runner = std::make_shared<KernelTileRunner>();
  runner->slots = offDiagonalSlots(program, wanted);
  runner->lanes = kKernelLanes;
  static std::atomic<int> programs{0};
  std::string name = "tpc_kernel_tile" + std::to_string(programs++);
  Jit::ModuleBuilder built = jit.newModule(name);
  TileEmitter(program, runner->slots, *built.module).emit(name);
  jit.add(std::move(built));
  auto fn = reinterpret_cast<TileFn>(jit.lookup(name));
  runner->run = [fn](KernelTile& tile) {
    if (tile.stride % kKernelLanes != 0) throw InternalError("compiled kernel tiles: a stride not a multiple of the lanes");
    return fn(&tile, tile.buf, static_cast<int64_t>(tile.count), static_cast<int64_t>(tile.stride)) == 0;
  };
  return runner;
}

}  // namespace tp::codegen
