// iolite-compile -mlir-timing: the load, every graph pass, and per target
// the kernel generation, the lowering passes, serialization and ptxas.
// --list-targets prints the target descriptions the benchmarks read.
// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %s --target=sm_90a,gfx942 -o %t/model -mlir-timing -mlir-timing-display=tree 2>&1 | FileCheck %s
// RUN: iolite-compile %s --target=emu-gfx942 --emit=fused -mlir-timing -mlir-timing-display=list -mlir-output-format=json 2>&1 >/dev/null | FileCheck %s --check-prefix=JSON
// RUN: iolite-compile --list-targets | FileCheck %s --check-prefix=TARGETS
// RUN: not iolite-compile 2>&1 | FileCheck %s --check-prefix=NOMODEL

// CHECK: Execution time report
// CHECK: load model
// CHECK: graph pipeline
// CHECK: IoliteFormKernelsPass
// CHECK: IolitePlanMemoryPass
// CHECK: target sm_90a
// CHECK-NEXT: kernel codegen
// CHECK-NEXT: back end
// CHECK: ConvertGpuOpsToNVVMOps
// CHECK: GpuModuleToBinaryPass
// CHECK: ptxas
// CHECK: target gfx942
// CHECK: ConvertGpuOpsToROCDLOps
// CHECK: GpuModuleToBinaryPass
// CHECK: read HSACO metadata
// CHECK: write bundle
// CHECK: Total

// JSON: "name": "IoliteFormKernelsPass"
// JSON: "name": "Total"

// TARGETS: "name": "sm_80"
// TARGETS: "max_blocks_per_multiprocessor": 32
// TARGETS: "part": "H100 SXM5 80GB"
// TARGETS: "peak_memory_bandwidth": 3350000000000
// TARGETS: "name": "gfx942"
// TARGETS: "register_allocation_unit": 8
// TARGETS: "scalar_registers_per_partition": 800
// TARGETS: "shared_memory_allocation_unit": 512
// TARGETS: "name": "emu-gfx942"

// NOMODEL: error: no model given

func.func @f(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %c = iolite.matmul %a, %b : tensor<64x64xf32>, tensor<64x64xf32>
  %d = iolite.exp %c : tensor<64x64xf32>
  return %d : tensor<64x64xf32>
}
