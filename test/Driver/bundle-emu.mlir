// Bundles for emu-<chip> targets: iolite-compile packs the emulator's
// shared object, and the generated launch code, compiled as C against the
// runtime, runs the model on an emu device. Outputs are compared with a
// double-precision reference (Inputs/emu_model_main.c).

// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %S/Inputs/emu_model.mlir --no-fusion --target=emu-sm_90a,emu-gfx942 -o %t/model | FileCheck %s --check-prefix=TABLE
// RUN: ls %t/model | FileCheck %s --check-prefix=FILES
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/model/manifest.json
// RUN: clang -std=c11 -Wall -Wextra -Werror -I %iolite_src_root/include/iolite/Runtime -I %t/model %S/Inputs/emu_model_main.c %t/model/emu_model.c -L %iolite_lib_dir -liolite_runtime -Wl,-rpath,%iolite_lib_dir -lm -o %t/main
// RUN: %t/main emu | FileCheck %s --check-prefix=RUN32
// RUN: %t/main emu-gfx942 | FileCheck %s --check-prefix=RUN64
// No binary for the chip: loading fails cleanly.
// RUN: not %t/main emu-sm_80 | FileCheck %s --check-prefix=NOTARGET
// Fused, the SiLU is the matmul's epilogue: the 64x128 intermediate is
// neither written nor read back.
// RUN: iolite-compile %S/Inputs/emu_model.mlir --target=emu-sm_90a -o %t/fused > /dev/null
// RUN: clang -std=c11 -Wall -Wextra -Werror -I %iolite_src_root/include/iolite/Runtime -I %t/fused %S/Inputs/emu_model_main.c %t/fused/emu_model.c -L %iolite_lib_dir -liolite_runtime -Wl,-rpath,%iolite_lib_dir -lm -o %t/main_fused
// RUN: %t/main_fused emu | FileCheck %s --check-prefix=FUSED
// The emu target has no assembly stage.
// RUN: iolite-compile %S/Inputs/emu_model.mlir --target=emu-sm_90a,sm_90a --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: iolite-compile %S/Inputs/emu_model.mlir --target=emu-gfx942 --emit=llvm | FileCheck %s --check-prefix=LLVM

// TABLE: emu_model_k0_matmul matmul matmul emu-sm_90a 2x1x1 256x1x1 16384 -
// TABLE-NEXT: emu-gfx942
// TABLE: emu_model_k2_rms_norm row_reduction rms_norm emu-sm_90a
// TABLE: wrote {{.*}}model (3 kernels, 2 targets, workspace

// FILES: emu_model.c
// FILES-NEXT: emu_model.emu-gfx942.so
// FILES-NEXT: emu_model.emu-sm_90a.so
// FILES-NEXT: emu_model.h
// FILES-NEXT: manifest.json

// MANIFEST: "binary": "emu_model.emu-sm_90a.so"
// MANIFEST-NEXT: "chip": "sm_90a"
// MANIFEST: "warp_size": 32
// MANIFEST: "binary": "emu_model.emu-gfx942.so"
// MANIFEST: "warp_size": 64

// A plain "emu" device takes the first emu binary of the bundle.
// RUN32: loaded for emu-sm_90a
// RUN32-NEXT: mismatches: 0
// The matmul reads x once per column block (2) and w once; silu reads and
// writes the 64x128 intermediate; rms_norm reads each row twice and g once
// per row.
// RUN32-NEXT: emu_model_k0_matmul: global read 65536 written 32768
// RUN32-NEXT: emu_model_k1_elementwise: global read 32768 written 32768
// RUN32-NEXT: emu_model_k2_rms_norm: global read 49152 written 16384
// FUSED: loaded for emu-sm_90a
// FUSED-NEXT: mismatches: 0
// FUSED-NEXT: emu_model_k0_matmul: global read 65536 written 32768
// FUSED-NEXT: emu_model_k1_rms_norm: global read 49152 written 16384
// FUSED-NOT: emu_model_k2
// RUN64: loaded for emu-gfx942
// RUN64-NEXT: mismatches: 0
// NOTARGET: emu_model_load(device, &model) failed (4)

// PTX: // target: sm_90a
// PTX-NOT: target: emu
// LLVM: // target: emu-gfx942
// LLVM: module @iolite_kernels attributes {iolite_emu.chip = "gfx942"}
// LLVM: llvm.mlir.global external constant @__iolite_emu_module()
