// The one ORC LLJIT wrapper: optimises LLVM modules for the host and returns their functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace tp::codegen {

/// A JIT session for the host CPU. Modules added go through a short IR pipeline
/// (the generators emit vector code already: kPipeline in Jit.cpp says why) and
/// are compiled for the host CPU at the default (O2) code generation level on lookup. Calls from
/// generated code to the runtime go to the functions of `runtimeSymbols()`,
/// registered by address — the only table of them.
class Jit {
public:
  Jit();
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  /// A fresh context and an empty module with the JIT's target triple and data layout.
  struct ModuleBuilder {
    std::unique_ptr<llvm::LLVMContext> context;
    std::unique_ptr<llvm::Module> module;
  };
  ModuleBuilder newModule(const std::string& name) const;

  /// Verifies (InternalError on a malformed module), optimises and adds a module.
  void add(ModuleBuilder built);

  /// Verifies, optimises and compiles modules on `threads` workers, then adds them all.
  /// Modules have their own contexts, so they compile independently; split a large
  /// program into about `threads` modules of equal work to compile it in parallel.
  void addAll(std::vector<ModuleBuilder> modules, int threads);

  /// Verifies and optimises a module as `add` does, then writes it to `path`: LLVM
  /// assembly when the name ends in `.ll`, else a position-independent object file for
  /// the host CPU. Returns "" or the reason the file could not be written.
  std::string writeModule(ModuleBuilder built, const std::string& path) const;

  /// Parses a module written in LLVM assembly (InternalError on a syntax error) and adds it.
  void addAssembly(const std::string& text, const std::string& name);

  /// The address of a function of an added module.
  void* lookup(const std::string& name);

private:
  void optimise(llvm::Module& module) const;  // verify, then kPipeline
  void optimiseFor(llvm::Module& module, llvm::TargetMachine& machine) const;
  struct State;
  std::unique_ptr<State> state_;
};

/// The functions generated code may call: the C library's (libmFunctions in
/// ActivationCodegen.h), each `double f(double)` but pow `double pow(double, double)`, and
/// `int32_t tpc_kernel_slot(KernelTile*, int32_t)` (KernelCompile.h).
struct RuntimeSymbol {
  const char* name;
  void* address;
};
const std::vector<RuntimeSymbol>& runtimeSymbols();

}  // namespace tp::codegen
