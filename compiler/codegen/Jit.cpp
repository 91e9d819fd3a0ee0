// ORC LLJIT session: host target, a short IR pipeline, O2 code generation, runtime functions registered by address.
#include "compiler/codegen/Jit.h"

#include <math.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <optional>

#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/AsmParser/Parser.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include "compiler/codegen/ActivationCodegen.h"
#include "compiler/ir/Diagnostics.h"
#include "runtime/ThreadPool.h"
#include "runtime/Interrupt.h"
#include "runtime/KernelEval.h"

namespace tp::codegen {

namespace {

/// `int32 tpc_kernel_slot(KernelTile*, int32 slot)`: a kernel slot the generated tile code
/// leaves to the interpreter (KernelCompile.h); 0 on success.
int32_t kernelSlot(KernelTile* tile, int32_t slot) { return evaluateKernelSlot(*tile, slot) ? 0 : 1; }

/// The functions generated code calls, by address: the C library's (libmFunctions) — the very
/// functions the interpreter's std:: calls reach — and the kernel evaluator's tpc_kernel_slot.
std::vector<RuntimeSymbol> runtimeTable() {
  using Unary = double (*)(double);
  using Binary = double (*)(double, double);
  const std::map<std::string, void*> known = {
      {"exp", reinterpret_cast<void*>(static_cast<Unary>(::exp))},
      {"log", reinterpret_cast<void*>(static_cast<Unary>(::log))},
      {"log1p", reinterpret_cast<void*>(static_cast<Unary>(::log1p))},
      {"erf", reinterpret_cast<void*>(static_cast<Unary>(::erf))},
      {"erfc", reinterpret_cast<void*>(static_cast<Unary>(::erfc))},
      {"sin", reinterpret_cast<void*>(static_cast<Unary>(::sin))},
      {"cos", reinterpret_cast<void*>(static_cast<Unary>(::cos))},
      {"pow", reinterpret_cast<void*>(static_cast<Binary>(::pow))},
  };
  std::vector<RuntimeSymbol> table;
  for (const char* name : libmFunctions()) {
    auto entry = known.find(name);
    if (entry == known.end()) throw InternalError(std::string("the JIT has no address for ") + name);
    table.push_back({name, entry->second});
  }
  table.push_back({"tpc_kernel_slot", reinterpret_cast<void*>(&kernelSlot)});
  return table;
}

/// The IR passes run on every module. The code generators emit vector code with every
/// operand loaded once, so what is left is redundancy (a splat or a load written twice):
/// early CSE removes it. The full O2 pipeline took 10× longer (0.5 s vs 0.05 s on
/// mlp2_tanh, T = 3) for loops no faster (1.92 s vs 1.92 s at 2^18 particles).
constexpr const char* kPipeline = "function(early-cse<memssa>,instcombine<no-verify-fixpoint>,simplifycfg)";

template <typename T>
T orFail(llvm::Expected<T> value, const char* what) {
  if (!value) {
    std::string message;
    llvm::raw_string_ostream os(message);
    os << value.takeError();
    throw InternalError(std::string(what) + ": " + message);
  }
  return std::move(*value);
}

/// Once per process: the host target, and no loop strength reduction in code generation. The
/// generated loops index a few hundred rows with one induction variable; LSR's search over
/// them was a quarter of the compile time (0.5 of 2.2 s on mlp3_relu, T = 3) and the loops
/// ran no faster for it (measured with llc and in `tpc limit`).
void initialiseTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto option = llvm::cl::getRegisteredOptions().find("disable-lsr");
    if (option != llvm::cl::getRegisteredOptions().end())
      static_cast<llvm::cl::opt<bool>*>(option->second)->setValue(true);  // LLVM has no RTTI; the option is a bool
  });
}

}  // namespace

const std::vector<RuntimeSymbol>& runtimeSymbols() {
  static const std::vector<RuntimeSymbol> table = runtimeTable();
  return table;
}

struct Jit::State {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> machine;
  std::optional<llvm::orc::JITTargetMachineBuilder> machines;  // a target machine per compiling thread
};

Jit::Jit() : state_(std::make_unique<State>()) {
  initialiseTarget();
  auto builder = orFail(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host for the JIT");
  builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);
  // What LLJIT itself chooses for JITLink on this host: Jit::addAll's own target machines
  // are copies of this builder, so their objects link the same way.
  builder.setRelocationModel(llvm::Reloc::PIC_);
  builder.setCodeModel(llvm::CodeModel::Small);
  state_->machine = orFail(builder.createTargetMachine(), "creating the JIT's target machine");
  state_->machines = builder;
  state_->jit = orFail(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(builder).create(), "creating the JIT");
  llvm::orc::SymbolMap symbols;
  for (const RuntimeSymbol& symbol : runtimeSymbols())
    symbols[state_->jit->mangleAndIntern(symbol.name)] = {
        llvm::orc::ExecutorAddr::fromPtr(symbol.address),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  if (auto err = state_->jit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols)))) {
    std::string message;
    llvm::raw_string_ostream os(message);
    os << err;
    throw InternalError("registering the runtime functions: " + message);
  }
}

Jit::~Jit() = default;

Jit::ModuleBuilder Jit::newModule(const std::string& name) const {
  ModuleBuilder b;
  b.context = std::make_unique<llvm::LLVMContext>();
  b.module = std::make_unique<llvm::Module>(name, *b.context);
  b.module->setDataLayout(state_->jit->getDataLayout());
  b.module->setTargetTriple(state_->jit->getTargetTriple().str());
  return b;
}

void Jit::optimise(llvm::Module& module) const { optimiseFor(module, *state_->machine); }

void Jit::optimiseFor(llvm::Module& module, llvm::TargetMachine& machine) const {
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(module, &os))
    throw InternalError("the JIT generated a malformed module: " + problems.substr(0, 2000));
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder passes(&machine);
  passes.registerModuleAnalyses(mam);
  passes.registerCGSCCAnalyses(cgam);
  passes.registerFunctionAnalyses(fam);
  passes.registerLoopAnalyses(lam);
  passes.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager pipeline;
  if (auto err = passes.parsePassPipeline(pipeline, kPipeline))
    throw InternalError("the JIT's pass pipeline: " + llvm::toString(std::move(err)));
  pipeline.run(module, mam);
}

void Jit::add(ModuleBuilder built) {
  optimise(*built.module);
  if (auto err = state_->jit->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(built.module), std::move(built.context)))) {
    std::string message;
    llvm::raw_string_ostream es(message);
    es << err;
    throw InternalError("adding a module to the JIT: " + message);
  }
}

void Jit::addAll(std::vector<ModuleBuilder> modules, int threads) {
  // Each worker optimises and compiles its modules with its own target machine (a target
  // machine caches subtargets and is not safe to share); the objects are linked in order.
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects(modules.size());
  parallelFor(threads, modules.size(), [&](size_t begin, size_t end) {
    std::unique_ptr<llvm::TargetMachine> machine = orFail(state_->machines->createTargetMachine(), "creating a target machine");
    llvm::orc::SimpleCompiler compile(*machine);
    for (size_t m = begin; m < end; ++m) {
      optimiseFor(*modules[m].module, *machine);
      objects[m] = orFail(compile(*modules[m].module), "compiling a module");
    }
  });
  for (auto& object : objects)
    if (auto err = state_->jit->addObjectFile(std::move(object))) {
      std::string message;
      llvm::raw_string_ostream es(message);
      es << err;
      throw InternalError("adding an object to the JIT: " + message);
    }
}

std::string Jit::writeModule(ModuleBuilder built, const std::string& path) const {
  optimise(*built.module);
  // Written next to `path` and renamed into place: no partial file on failure.
  const std::string partial = path + ".partial";
  PendingOutput pending(partial);  // Ctrl-C while writing removes it
  std::error_code failed;
  llvm::raw_fd_ostream out(partial, failed);
  if (failed) return "cannot write " + path + ": " + failed.message();
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".ll") == 0) {
    built.module->print(out, nullptr);
  } else {
    // Position-independent, for the host CPU: linkable into the programs of this machine.
    std::string error;
    const std::string triple = built.module->getTargetTriple();
    const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, error);
    if (!target) throw InternalError("no LLVM target for " + triple + ": " + error);
    std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
        triple, state_->machine->getTargetCPU(), state_->machine->getTargetFeatureString(), llvm::TargetOptions(),
        llvm::Reloc::PIC_, std::nullopt, llvm::CodeGenOptLevel::Default));
    built.module->setDataLayout(machine->createDataLayout());
    llvm::legacy::PassManager emit;
    if (machine->addPassesToEmitFile(emit, out, nullptr, llvm::CodeGenFileType::ObjectFile))
      throw InternalError("LLVM cannot emit an object file for " + triple);
    emit.run(*built.module);
  }
  out.close();
  if (out.has_error()) {
    std::string why = out.error().message();
    std::remove(partial.c_str());
    return "cannot write " + path + ": " + why;
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    return "cannot write " + path;
  }
  return "";
}

void Jit::addAssembly(const std::string& text, const std::string& name) {
  ModuleBuilder built;
  built.context = std::make_unique<llvm::LLVMContext>();
  llvm::SMDiagnostic error;
  built.module = llvm::parseAssemblyString(text, error, *built.context);
  if (!built.module) throw InternalError(name + ":" + std::to_string(error.getLineNo()) + ": " + error.getMessage().str());
  built.module->setModuleIdentifier(name);
  built.module->setDataLayout(state_->jit->getDataLayout());
  built.module->setTargetTriple(state_->jit->getTargetTriple().str());
  add(std::move(built));
}

void* Jit::lookup(const std::string& name) {
  return orFail(state_->jit->lookup(name), ("looking up " + name).c_str()).toPtr<void*>();
}


}  // namespace tp::codegen
