//===- Passes.td - Emu target passes -----------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_TARGET_EMU_PASSES
#define IOLITE_TARGET_EMU_PASSES

include "mlir/Pass/PassBase.td"

def EmuInstrumentPass : Pass<"iolite-emu-instrument", "gpu::GPUModuleOp"> {
  let summary = "Bounds-check and count every global and shared memory "
                "access of GPU kernels";
  let description = [{
    Prepares the kernels of a target-neutral gpu.module for the emulator.
    Vector transfers are first rewritten with upstream patterns into
    vector.load/store/maskedload/maskedstore (what vector-to-llvm would do),
    so that every memory access is one of: memref.load/store,
    vector.load/store, vector.maskedload/maskedstore, vector.gather/scatter,
    vector.expandload/compressstore, memref.atomic_rmw,
    memref.generic_atomic_rmw. Before each one whose memref is global or
    shared, a call to `__iolite_emu_access(address, extent, counted, kind,
    site)` is inserted; the runtime checks the bytes against the allocation
    or the block's shared buffer and counts them.

    Global, shared and private accesses are told apart by memref memory
    space (`#gpu.address_space<workgroup>` / 3 is shared, `private` / 5 is
    private, `global` / 1 is global) and, for the default space, by
    following views back to their origin: a kernel argument is global, a
    `memref.alloca` is private (not instrumented, not counted), a
    `memref.get_global` is constant data (not counted).

    With `count-flops`, each block whose ops do floating-point arithmetic
    calls `__iolite_emu_flops(n)` once per execution.

    Site texts ("file:line:col op") are collected in the gpu.module's
    `iolite_emu.sites` attribute for the runtime's reports.

    An op that touches memory in any other way (memref.copy, n-D vector
    loads, ...) is an error.

    ```mlir
    // before
    %v = memref.load %arg0[%i] : memref<1024xf32>
    // after
    %base = memref.extract_aligned_pointer_as_index %arg0 : memref<1024xf32> -> index
    ...
    func.call @__iolite_emu_access(%addr, %c4, %c4, %c1_i32, %c0_i32)
        : (index, index, index, i32, i32) -> ()
    %v = memref.load %arg0[%i] : memref<1024xf32>
    ```
  }];
  let options = [
    Option<"countFlops", "count-flops", "bool", /*default=*/"true",
           "Count floating-point operations per basic block">,
  ];
  let dependentDialects = ["func::FuncDialect", "arith::ArithDialect",
                           "memref::MemRefDialect", "vector::VectorDialect",
                           "scf::SCFDialect"];
}

def ConvertGpuToEmuPass : Pass<"iolite-convert-gpu-to-emu", "ModuleOp"> {
  let summary = "Lower gpu.modules to host LLVM dialect code run by the "
                "emulator";
  let description = [{
    Turns every (instrumented) gpu.module into a nested builtin.module of
    host code for the chip named by `chip` (emu-sm_90a, emu-gfx942, ...):

    * gpu.func becomes a host function; each kernel gets an entry
      `void entry(void **args)` that unpacks cuLaunchKernel-style
      parameters (memrefs by bare pointer, as on the GPU);
    * gpu.thread_id/block_id/block_dim/grid_dim/global_id/lane_id/
      subgroup_id/num_subgroups become calls of `__iolite_emu_index`,
      gpu.subgroup_size the chip's warp width, gpu.barrier and gpu.shuffle
      calls of the runtime's barrier and shuffle hooks (which know the
      vendor's shuffle semantics), gpu.subgroup_reduce shuffles (upstream
      patterns), gpu.dynamic_shared_memory the block's buffer, cf.assert a
      report through the runtime;
    * memory spaces are dropped (host memory is flat) and upstream passes
      lower everything to the LLVM dialect (affine, scf, strided metadata,
      arith, math via LLVM intrinsics then libm, vector, memref, func with
      the bare-pointer convention);
    * the hooks become calls through the table the runtime installs, and the
      `__iolite_emu_module` descriptor (chip, warp width, limits, kernels,
      site texts) is emitted. Only the descriptor is exported.

    Ops the emulator cannot run (gpu.printf, workgroup attributions, NVVM or
    ROCDL intrinsics, ...) are errors.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "Emulated chip (sm_90a, sm_80, gfx942, gfx90a; emu- prefix "
           "optional)">,
  ];
  let dependentDialects = ["LLVM::LLVMDialect", "func::FuncDialect",
                           "arith::ArithDialect", "scf::SCFDialect",
                           "memref::MemRefDialect", "vector::VectorDialect",
                           "cf::ControlFlowDialect"];
}

#endif // IOLITE_TARGET_EMU_PASSES
