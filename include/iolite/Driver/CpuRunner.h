//===- CpuRunner.h - JIT-run a function on the host CPU ---------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Runs one function of a module on the CPU: the module goes through the CPU
// pipeline (the reference lowering), MLIR's ExecutionEngine JIT-compiles it,
// and the function is called with memref descriptors pointing at the input
// tensors and at freshly allocated result tensors.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_CPURUNNER_H
#define IOLITE_DRIVER_CPURUNNER_H

#include "iolite/Driver/HostTensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func

namespace iolite {

/// Options of runOnCpu.
struct CpuRunOptions {
  /// LLVM optimization level (0-3) of the JIT-compiled code.
  unsigned optLevel = 0;
};

/// Checks that `function` takes and returns only ranked tensors of static
/// shape (what the runners can bind); reports the offending argument or
/// result at the function's location.
LogicalResult verifyRunnableSignature(func::FuncOp function);

/// For a function with symbolic dims (see DynamicDims.h): binds them to the
/// shapes of the inputs of one call (`inputShapes`, one per argument) and
/// specialises `function` in place to those values. An inconsistent dim or
/// one outside its bounds is an error at the function, naming the dim, its
/// value and the arguments. Returns the symbols' values (none for a
/// function of static shapes, which is left alone).
FailureOr<llvm::StringMap<int64_t>>
specializeForInputs(func::FuncOp function,
                    ArrayRef<SmallVector<int64_t>> inputShapes);

/// Lowers `module` with the CPU pipeline, JIT-compiles it and calls
/// `function` (which must belong to `module`) with `inputs`, whose types
/// must equal the function's argument types. Returns the results. Other
/// public functions are made private and dropped when unused. Diagnostics go
/// to the module's context. `module` is rewritten in place.
FailureOr<SmallVector<HostTensor>> runOnCpu(ModuleOp module,
                                            func::FuncOp function,
                                            ArrayRef<HostTensor> inputs,
                                            const CpuRunOptions &options = {});

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_CPURUNNER_H
