// Z-program codegen: passes between means, one fused particle loop per pass, scalars between them.
#include "compiler/codegen/ZCompile.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/TargetParser/Host.h>

#include "compiler/codegen/ActivationCodegen.h"
#include "compiler/ir/Diagnostics.h"
#include "runtime/Memory.h"
#include "runtime/ThreadPool.h"

namespace tp::codegen {

using passes::ZInstr;

namespace {

/// The generated function of one shape: `args` holds the indices of its parameters (a
/// scalar, a stored particle value's buffer, a base Gaussian) for the piece it runs.
using ShapeFn = void (*)(const double* scalars, double* const* buffers, const double* const* bases,
                         const double* weights, double* sums, int64_t begin, int64_t end, const int64_t* args);

bool isBase(const ZInstr& ins) { return ins.kind == ZInstr::Kind::Base; }

}  // namespace

struct CompiledZProgram::Plan {
  /// A particle computation with its operands renamed: what one generated function computes.
  struct Shape {
    enum class Param { Scalar, Buffer, Base };
    struct Op {
      ZInstr::Kind kind;
      ir::Fn fn = ir::Fn::Id;
      int order = 0;
      double value = 0;
      std::vector<int> operands;  // ≥ 0: an earlier op; < 0: parameter −1 − operand
      int store = -1;             // the parameter (a buffer) it is stored to, or −1
    };
    std::vector<Param> params;
    std::vector<Op> ops;
    std::vector<int> means;  // the operand (as in Op::operands) of each mean, in order
    ShapeFn fn = nullptr;
  };
  /// A connected part of a pass: its instructions in program order, the means of them, and
  /// its shape's parameters bound to this piece's scalars, buffers and bases.
  struct Piece {
    int shape = -1;
    std::vector<int64_t> args;
  };
  struct Pass {
    std::vector<int> instrs;  // particle instructions computed here (no Base), program order
    std::vector<int> means;   // Mean instructions summed here, piece by piece
    std::vector<Piece> pieces;
  };
  std::vector<int> stage;                  // particle: its pass; scalar: the pass before which it is ready
  std::vector<int> buffer;                 // particle value stored for a later pass: its buffer, else −1
  size_t bufferCount = 0;
  std::vector<Pass> passes;
  std::vector<std::vector<int>> scalarsAt;  // [p]: the non-Mean scalar instructions ready at pass p
  std::vector<Shape> shapes;
  size_t pieces = 0;
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

/// The exact text of a double (the shape key must tell every constant apart).
std::string exactText(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%a", v);
  return text;
}

/// Splits every pass into pieces — its instructions connected through operands, with the
/// means of them (means of a stored or base value alone, one piece per value) — and gives
/// each piece a shape: its computation with operands renamed to parameters in order of
/// first use. Pieces of equal shape (the same layer at another step, example or depth)
/// share one generated function: code generation, the slow part of the JIT, runs once per
/// shape. Pass means are reordered piece by piece.
void splitIntoPieces(const passes::ZProgram& z, CompiledZProgram::Plan& plan) {
  using Shape = CompiledZProgram::Plan::Shape;
  std::map<std::string, int> shapeOf;  // key → shape
  for (CompiledZProgram::Plan::Pass& pass : plan.passes) {
    // 1. Components: union–find over the pass's instructions, linked through operands.
    std::map<int, int> parent;
    for (int i : pass.instrs) parent[i] = i;
    auto root = [&](int x) {
      while (parent.at(x) != x) x = parent[x] = parent.at(parent.at(x));
      return x;
    };
    for (int i : pass.instrs)
      for (int o : z.instrs[static_cast<size_t>(i)].operands)
        if (parent.count(o)) parent[root(i)] = root(o);
    // Pieces in order of their first instruction; a mean of a loaded value keys on that value.
    std::map<int, std::vector<int>> instrsOf, meansOf;
    std::vector<int> order;
    auto note = [&](int key) {
      if (!instrsOf.count(key) && !meansOf.count(key)) order.push_back(key);
    };
    for (int i : pass.instrs) {
      note(root(i));
      instrsOf[root(i)].push_back(i);
    }
    for (int m : pass.means) {
      int o = z.instrs[static_cast<size_t>(m)].operands[0];
      int key = parent.count(o) ? root(o) : o;
      note(key);
      meansOf[key].push_back(m);
    }
    // 2. Each piece's shape and arguments.
    pass.means.clear();
    for (int key : order) {
      Shape shape;
      CompiledZProgram::Plan::Piece piece;
      std::map<int, int> local;                  // instruction → op
      std::map<std::pair<int, int64_t>, int> param;  // (kind, index) → parameter
      std::string text;
      auto bind = [&](Shape::Param kind, int64_t index) {
        auto [it, fresh] = param.emplace(std::make_pair(static_cast<int>(kind), index), static_cast<int>(shape.params.size()));
        if (fresh) {
          shape.params.push_back(kind);
          piece.args.push_back(index);
          text += "p" + std::to_string(static_cast<int>(kind));
        }
        return -1 - it->second;
      };
      auto operand = [&](int o) {
        auto l = local.find(o);
        if (l != local.end()) return l->second;
        const ZInstr& x = z.instrs[static_cast<size_t>(o)];
        if (!x.particle) return bind(Shape::Param::Scalar, o);
        if (isBase(x)) return bind(Shape::Param::Base, x.index);
        int b = plan.buffer[static_cast<size_t>(o)];
        if (b < 0) throw InternalError("Z-program codegen: a particle value read by a later pass is not stored");
        return bind(Shape::Param::Buffer, b);
      };
      for (int i : instrsOf[key]) {
        const ZInstr& ins = z.instrs[static_cast<size_t>(i)];
        Shape::Op op{ins.kind, ins.fn, ins.order, ins.value, {}, -1};
        for (int o : ins.operands) op.operands.push_back(operand(o));
        int b = plan.buffer[static_cast<size_t>(i)];
        if (b >= 0) op.store = -1 - bind(Shape::Param::Buffer, b);
        text += "|" + std::to_string(static_cast<int>(op.kind)) + "," + std::to_string(static_cast<int>(op.fn)) + "," +
                std::to_string(op.order) + "," + exactText(op.value) + "," + std::to_string(op.store);
        for (int o : op.operands) text += "," + std::to_string(o);
        local[i] = static_cast<int>(shape.ops.size());
        shape.ops.push_back(std::move(op));
      }
      for (int m : meansOf[key]) {
        shape.means.push_back(operand(z.instrs[static_cast<size_t>(m)].operands[0]));
        text += "|m" + std::to_string(shape.means.back());
        pass.means.push_back(m);
      }
      auto [it, fresh] = shapeOf.emplace(text, static_cast<int>(plan.shapes.size()));
      if (fresh) plan.shapes.push_back(std::move(shape));
      piece.shape = it->second;
      pass.pieces.push_back(std::move(piece));
      ++plan.pieces;
    }
  }
}

/// Emits the function of a shape: a loop over particles [begin, end), `lanes` at a time in
/// vector registers. Loads and stores are masked to the particles below `end`, so any count
/// works without padding; a mean's lane accumulators take only the particles in range.
/// The parameters' scalars and rows are loaded once, through the `args` table.
class ShapeEmitter {
public:
  /// A mean keeps kMeanLanes accumulators whatever `lanes` is: the first four particles of
  /// an iteration go to lanes 0–3, then the next four: the canonical order (chunkSum).
  ShapeEmitter(llvm::Module& module, unsigned lanes)
      : module_(module), ctx_(module.getContext()), ir_(ctx_), lanes_(lanes) {
    if (lanes_ % kMeanLanes != 0) throw InternalError("ShapeEmitter: lanes not a multiple of kMeanLanes");
    f64_ = llvm::Type::getDoubleTy(ctx_);
    i64_ = llvm::Type::getInt64Ty(ctx_);
    ptr_ = llvm::PointerType::getUnqual(ctx_);
    vec_ = llvm::FixedVectorType::get(f64_, lanes_);
    sumVec_ = llvm::FixedVectorType::get(f64_, kMeanLanes);
  }

  void emit(const CompiledZProgram::Plan::Shape& shape, const std::string& name) {
    using Param = CompiledZProgram::Plan::Shape::Param;
    auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {ptr_, ptr_, ptr_, ptr_, ptr_, i64_, i64_, ptr_}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
    for (unsigned a : {0u, 1u, 2u, 3u, 4u, 7u}) fn_->addParamAttr(a, llvm::Attribute::NoAlias);
    fn_->addFnAttr(llvm::Attribute::NoUnwind);
    if (lanes_ * 64 > 256) {  // the x86 backend splits wider vectors in two unless told otherwise
      fn_->addFnAttr("min-legal-vector-width", std::to_string(lanes_ * 64));
      fn_->addFnAttr("prefer-vector-width", std::to_string(lanes_ * 64));
    }
    llvm::Value *scalars = fn_->getArg(0), *buffers = fn_->getArg(1), *bases = fn_->getArg(2),
                *weights = fn_->getArg(3), *sums = fn_->getArg(4), *begin = fn_->getArg(5), *end = fn_->getArg(6),
                *args = fn_->getArg(7);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn_);
    auto* loop = llvm::BasicBlock::Create(ctx_, "loop", fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, "exit", fn_);

    // Entry: every parameter, loaded once: a scalar (broadcast), or the row of a buffer or base.
    ir_.SetInsertPoint(entry);
    params_.clear();
    for (size_t j = 0; j < shape.params.size(); ++j) {
      llvm::Value* index = ir_.CreateLoad(i64_, ir_.CreateInBoundsGEP(i64_, args, ir_.getInt64(j)));
      switch (shape.params[j]) {
        case Param::Scalar:
          params_.push_back(ir_.CreateVectorSplat(lanes_, ir_.CreateLoad(f64_, ir_.CreateInBoundsGEP(f64_, scalars, index))));
          break;
        case Param::Buffer: params_.push_back(ir_.CreateLoad(ptr_, ir_.CreateInBoundsGEP(ptr_, buffers, index))); break;
        case Param::Base: params_.push_back(ir_.CreateLoad(ptr_, ir_.CreateInBoundsGEP(ptr_, bases, index))); break;
      }
    }
    llvm::Value* lastLane = ir_.CreateVectorSplat(lanes_, end);
    std::vector<llvm::Constant*> offsets;
    for (unsigned l = 0; l < lanes_; ++l) offsets.push_back(llvm::ConstantInt::get(i64_, l));
    llvm::Value* laneOffsets = llvm::ConstantVector::get(offsets);
    ir_.CreateCondBr(ir_.CreateICmpSLT(begin, end), loop, exit);

    // Loop body: the ops in order, in registers.
    ir_.SetInsertPoint(loop);
    llvm::PHINode* k = ir_.CreatePHI(i64_, 2, "k");
    k->addIncoming(begin, entry);
    std::vector<llvm::PHINode*> partial;
    for (size_t j = 0; j < shape.means.size(); ++j) {
      partial.push_back(ir_.CreatePHI(sumVec_, 2));
      partial.back()->addIncoming(llvm::ConstantFP::get(sumVec_, 0.0), entry);
    }
    mask_ = ir_.CreateICmpSLT(ir_.CreateAdd(ir_.CreateVectorSplat(lanes_, k), laneOffsets), lastLane);
    values_.clear();
    loaded_.clear();
    for (const auto& op : shape.ops) {
      llvm::Value* v = instruction(shape, op, k);
      values_.push_back(v);
      if (op.store >= 0)
        ir_.CreateMaskedStore(v, ir_.CreateInBoundsGEP(f64_, params_[static_cast<size_t>(op.store)], k), llvm::Align(8), mask_);
    }
    llvm::Value* w = load(weights, k);
    std::vector<llvm::Value*> next;
    for (size_t j = 0; j < shape.means.size(); ++j) {
      // Each group of kMeanLanes particles in turn, into the same accumulators.
      llvm::Value* terms = ir_.CreateFMul(w, operand(shape, shape.means[j], k));
      llvm::Value* sum = partial[j];
      for (unsigned first = 0; first < lanes_; first += kMeanLanes) {
        llvm::Value* part = lanes_ == kMeanLanes ? terms : ir_.CreateShuffleVector(terms, group(first));
        llvm::Value* inRange = lanes_ == kMeanLanes ? mask_ : ir_.CreateShuffleVector(mask_, group(first));
        sum = ir_.CreateSelect(inRange, ir_.CreateFAdd(sum, part), sum);
      }
      next.push_back(sum);
      partial[j]->addIncoming(sum, loop);
    }
    llvm::Value* k1 = ir_.CreateAdd(k, llvm::ConstantInt::get(i64_, lanes_));
    k->addIncoming(k1, loop);
    ir_.CreateCondBr(ir_.CreateICmpSLT(k1, end), loop, exit);

    // Exit: each mean's lanes combined as (0 + 1) + (2 + 3), the canonical order (chunkSum).
    ir_.SetInsertPoint(exit);
    std::vector<llvm::PHINode*> lanesOf;
    for (size_t j = 0; j < shape.means.size(); ++j) {
      lanesOf.push_back(ir_.CreatePHI(sumVec_, 2));
      lanesOf.back()->addIncoming(llvm::ConstantFP::get(sumVec_, 0.0), entry);
      lanesOf.back()->addIncoming(next[j], loop);
    }
    for (size_t j = 0; j < shape.means.size(); ++j) {
      llvm::Value* lanes = lanesOf[j];
      llvm::Value* total = ir_.CreateFAdd(ir_.CreateFAdd(ir_.CreateExtractElement(lanes, uint64_t(0)), ir_.CreateExtractElement(lanes, 1)),
                                          ir_.CreateFAdd(ir_.CreateExtractElement(lanes, 2), ir_.CreateExtractElement(lanes, 3)));
      ir_.CreateStore(total, ir_.CreateInBoundsGEP(f64_, sums, ir_.getInt64(j)));
    }
    ir_.CreateRetVoid();
  }

private:
  /// The lane indices first .. first + kMeanLanes − 1 (a shuffle mask).
  static std::vector<int> group(unsigned first) {
    std::vector<int> indices;
    for (unsigned l = 0; l < kMeanLanes; ++l) indices.push_back(static_cast<int>(first + l));
    return indices;
  }

  /// The lanes of `row` from particle k on (0 past the end).
  llvm::Value* load(llvm::Value* row, llvm::Value* k) {
    return ir_.CreateMaskedLoad(vec_, ir_.CreateInBoundsGEP(f64_, row, k), llvm::Align(8), mask_,
                                llvm::ConstantFP::get(vec_, 0.0));
  }

  /// Operand `o` at the particles from k on: an op's register, a scalar, or a row loaded (once).
  llvm::Value* operand(const CompiledZProgram::Plan::Shape& shape, int o, llvm::Value* k) {
    using Param = CompiledZProgram::Plan::Shape::Param;
    if (o >= 0) return values_[static_cast<size_t>(o)];
    size_t j = static_cast<size_t>(-1 - o);
    if (shape.params[j] == Param::Scalar) return params_[j];
    auto it = loaded_.find(j);
    if (it != loaded_.end()) return it->second;
    return loaded_[j] = load(params_[j], k);
  }

  llvm::Value* instruction(const CompiledZProgram::Plan::Shape& shape, const CompiledZProgram::Plan::Shape::Op& op,
                           llvm::Value* k) {
    auto arg = [&](size_t j) { return operand(shape, op.operands[j], k); };
    switch (op.kind) {
      case ZInstr::Kind::Add: return ir_.CreateFAdd(arg(0), arg(1));
      case ZInstr::Kind::Sub: return ir_.CreateFSub(arg(0), arg(1));
      case ZInstr::Kind::Mul: return ir_.CreateFMul(arg(0), arg(1));
      case ZInstr::Kind::Div: return ir_.CreateFDiv(arg(0), arg(1));
      case ZInstr::Kind::Neg: return ir_.CreateFNeg(arg(0));
      case ZInstr::Kind::Pow: return emitLibmCall(ir_, "pow", {arg(0), llvm::ConstantFP::get(f64_, op.value)});
      case ZInstr::Kind::Apply: return emitActivation(ir_, op.fn, op.order, arg(0));
      default: break;
    }
    throw InternalError("Z-program codegen: not a per-particle computation");
  }

  llvm::Module& module_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> ir_;
  llvm::Type *f64_, *i64_;
  llvm::PointerType* ptr_;
  unsigned lanes_;
  llvm::FixedVectorType* vec_;     // lanes_ doubles: the particles of one iteration
  llvm::FixedVectorType* sumVec_;  // kMeanLanes doubles: a mean's accumulators
  llvm::Function* fn_ = nullptr;
  llvm::Value* mask_ = nullptr;  // the lanes below `end`
  std::vector<llvm::Value*> params_, values_;
  std::map<size_t, llvm::Value*> loaded_;
};

/// The shape functions of a planned program into `module`, named prefix_shape_N.
std::vector<std::string> emitShapes(const CompiledZProgram::Plan& plan, llvm::Module& module, const std::string& prefix) {
  std::vector<std::string> names;
  ShapeEmitter emitter(module, particleLanes());
  for (size_t s = 0; s < plan.shapes.size(); ++s) {
    names.push_back(prefix + "_shape_" + std::to_string(s));
    emitter.emit(plan.shapes[s], names.back());
  }
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

  void emit(const std::vector<std::string>& shapeNames) {
    // Every piece's arguments, one constant table.
    std::vector<llvm::Constant*> argValues;
    std::vector<std::vector<size_t>> argOffsets(plan_.passes.size());
    for (size_t p = 0; p < plan_.passes.size(); ++p)
      for (const auto& piece : plan_.passes[p].pieces) {
        argOffsets[p].push_back(argValues.size());
        for (int64_t a : piece.args) argValues.push_back(ir_.getInt64(static_cast<uint64_t>(a)));
      }
    argValues.push_back(ir_.getInt64(0));  // never empty
    auto* argsType = llvm::ArrayType::get(i64_, argValues.size());
    auto* argTable = new llvm::GlobalVariable(module_, argsType, true, llvm::GlobalValue::InternalLinkage,
                                              llvm::ConstantArray::get(argsType, argValues), "tpc_limit_args");
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
    auto* shapeType = llvm::FunctionType::get(ir_.getVoidTy(), {ptr_, ptr_, ptr_, ptr_, ptr_, i64_, i64_, ptr_}, false);
    for (size_t p = 0; p < plan_.passes.size(); ++p) {
      for (int i : plan_.scalarsAt[p]) store(i, scalar(z_.instrs[static_cast<size_t>(i)]));
      const CompiledZProgram::Plan::Pass& pass = plan_.passes[p];
      if (pass.pieces.empty()) continue;
      chunks(pass.means, count, [&](llvm::Value* begin, llvm::Value* end) {
        size_t meansBefore = 0;
        for (size_t j = 0; j < pass.pieces.size(); ++j) {
          const auto& piece = pass.pieces[j];
          llvm::Function* shape = module_.getFunction(shapeNames[static_cast<size_t>(piece.shape)]);
          llvm::Value* args = ir_.CreateInBoundsGEP(argsType, argTable, {ir_.getInt64(0), ir_.getInt64(argOffsets[p][j])});
          llvm::Value* pieceSums = ir_.CreateInBoundsGEP(f64_, sums, ir_.getInt64(meansBefore));
          ir_.CreateCall(llvm::FunctionCallee(shapeType, shape), {scalars_, rows, bases, weights, pieceSums, begin, end, args});
          meansBefore += plan_.shapes[static_cast<size_t>(piece.shape)].means.size();
        }
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

unsigned particleLanes() {
  static const unsigned lanes = llvm::sys::getHostCPUFeatures().lookup("avx512f") ? 2 * kMeanLanes : kMeanLanes;
  return lanes;
}

CompiledZProgram::CompiledZProgram(const passes::ZProgram& z, Jit& jit, int threads, unsigned lanes)
    : z_(z), plan_(std::make_unique<Plan>()) {
  if (lanes == 0) lanes = particleLanes();
  schedule(z, *plan_);
  splitIntoPieces(z, *plan_);
  static std::atomic<int> programs{0};
  std::string prefix = "tpc_z" + std::to_string(programs++);
  // One module per compiling thread, the shapes dealt out largest first to the module with
  // the fewest instructions so far.
  const size_t modules = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), plan_->shapes.size()));
  std::vector<Jit::ModuleBuilder> built;
  std::vector<size_t> load(modules, 0);
  for (size_t m = 0; m < modules; ++m) built.push_back(jit.newModule(prefix + "_" + std::to_string(m)));
  std::vector<size_t> bySize(plan_->shapes.size());
  for (size_t s = 0; s < bySize.size(); ++s) bySize[s] = s;
  std::stable_sort(bySize.begin(), bySize.end(), [&](size_t a, size_t b) {
    return plan_->shapes[a].ops.size() > plan_->shapes[b].ops.size();
  });
  std::vector<std::string> names(plan_->shapes.size());
  for (size_t s : bySize) {
    size_t m = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    names[s] = prefix + "_shape_" + std::to_string(s);
    ShapeEmitter(*built[m].module, lanes).emit(plan_->shapes[s], names[s]);
    load[m] += plan_->shapes[s].ops.size() + 1;
  }
  jit.addAll(std::move(built), threads);
  for (size_t s = 0; s < names.size(); ++s) plan_->shapes[s].fn = reinterpret_cast<ShapeFn>(jit.lookup(names[s]));
}

namespace {

Jit::ModuleBuilder standaloneModule(const passes::ZProgram& z, const Dataset& data,
                                    const std::vector<std::string>& resultNames, const Jit& jit) {
  CompiledZProgram::Plan plan;
  schedule(z, plan);
  splitIntoPieces(z, plan);
  Jit::ModuleBuilder built = jit.newModule("tpc_limit");
  llvm::Module& module = *built.module;
  std::vector<std::string> names = emitShapes(plan, module, "tpc_limit");
  for (const std::string& name : names) module.getFunction(name)->setLinkage(llvm::Function::InternalLinkage);
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
size_t CompiledZProgram::pieces() const { return plan_->pieces; }
size_t CompiledZProgram::shapes() const { return plan_->shapes.size(); }

std::vector<std::vector<double>> CompiledZProgram::run(const Particles& particles, const Dataset& data, int threads,
                                                       ZHealth* health) const {
  const size_t K = particles.count;
  const size_t chunks = (K + kMeanChunk - 1) / kMeanChunk;
  std::vector<double> scalar(z_.instrs.size(), 0.0);
  std::vector<std::vector<double>> storage;
  for (size_t b = 0; b < plan_->bufferCount; ++b) storage.push_back(hugePageZeros(K));
  std::vector<double*> rows;
  for (auto& s : storage) rows.push_back(s.data());
  std::vector<const double*> bases;
  for (const auto& b : particles.bases) bases.push_back(b.data());
  for (size_t p = 0; p < plan_->passes.size(); ++p) {
    for (int i : plan_->scalarsAt[p]) scalar[static_cast<size_t>(i)] = scalarInstruction(z_.instrs[static_cast<size_t>(i)], scalar, data);
    const Plan::Pass& pass = plan_->passes[p];
    if (pass.pieces.empty()) continue;
    const size_t means = pass.means.size();
    std::vector<double> sums(chunks * std::max<size_t>(means, 1), 0.0);
    parallelFor(threads, chunks, [&](size_t first, size_t last) {
      for (size_t c = first; c < last; ++c) {
        double* chunkSums = sums.data() + c * means;
        for (const Plan::Piece& piece : pass.pieces) {
          const Plan::Shape& shape = plan_->shapes[static_cast<size_t>(piece.shape)];
          shape.fn(scalar.data(), rows.data(), bases.data(), particles.weights.data(), chunkSums,
                   static_cast<int64_t>(c * kMeanChunk), static_cast<int64_t>(std::min(K, (c + 1) * kMeanChunk)),
                   piece.args.data());
          chunkSums += shape.means.size();
        }
      }
    });
    for (size_t j = 0; j < means; ++j) {  // chunk sums in order: the canonical mean
      double total = 0;
      for (size_t c = 0; c < chunks; ++c) total += sums[c * means + j];
      scalar[static_cast<size_t>(pass.means[j])] = total;
    }
  }
  return resultValues(z_, scalar, health);
}

}  // namespace tp::codegen
