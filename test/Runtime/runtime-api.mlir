// The runtime C API, driven from C (runtime-api-test.c): a missing CUDA or
// HIP driver is a clean BACKEND_UNAVAILABLE, and the emu device behaves as
// documented, with this module's kernel.

// RUN: env IOLITE_CUDA_LIBRARY=/nonexistent/libcuda.so.1 runtime-api-test unavailable cuda | FileCheck %s --check-prefix=NOCUDA
// NOCUDA: cuda: BACKEND_UNAVAILABLE: the CUDA backend needs the NVIDIA driver library, which could not be loaded: /nonexistent/libcuda.so.1

// RUN: env IOLITE_HIP_LIBRARY=/nonexistent/libamdhip64.so runtime-api-test unavailable hip | FileCheck %s --check-prefix=NOHIP
// NOHIP: hip: BACKEND_UNAVAILABLE: the HIP backend needs the ROCm HIP runtime library, which could not be loaded: /nonexistent/libamdhip64.so

// Whatever this machine has, opening a real driver either works or fails
// cleanly.
// RUN: runtime-api-test probe cuda | FileCheck %s --check-prefix=PROBE-CUDA
// PROBE-CUDA: cuda: {{available|unavailable}}
// RUN: runtime-api-test probe hip | FileCheck %s --check-prefix=PROBE-HIP
// PROBE-HIP: hip: {{available|unavailable}}

// RUN: iolite-emu %s --chip=sm_90a -o %t.so
// RUN: runtime-api-test emu %t.so | FileCheck %s
// CHECK: unknown backend: INVALID_ARGUMENT: unknown backend 'opencl' (expected cuda, hip, emu or emu-CHIP)
// CHECK: arch: emu-gfx942
// CHECK: supports emu-gfx942=1 emu-sm_90a=0 gfx942=0
// CHECK: load sm_90a code on emu-gfx942: NOT_FOUND: the module was compiled for emu-sm_90a but the device emulates emu-gfx942
// CHECK: backend: emu, arch before load: emu
// CHECK: zero-byte malloc: INVALID_ARGUMENT
// CHECK: copy past the end: INVALID_ARGUMENT: iolite_memcpy_h2d: the 4096 bytes at {{.*}} are not inside one allocation of this device
// CHECK: double free: INVALID_ARGUMENT: iolite_free: {{.*}} was not returned by iolite_malloc on this device (or was freed already)
// CHECK: load garbage: NOT_FOUND: the image is not a loadable emu object
// CHECK: load: SUCCESS
// CHECK: arch after load: emu-sm_90a
// CHECK: missing kernel: NOT_FOUND: no kernel 'nope' in the emu module (it has: scale)
// CHECK: launch: SUCCESS
// CHECK: wrong elements: 0
// 1000 active threads each read and write one f32 and multiply once.
// CHECK: stats: kernel=scale grid=4 block=256 read=4000 written=4000 flops=1000
// CHECK: stats of launch 1: NOT_FOUND
// CHECK: too many threads: INVALID_ARGUMENT: launch of 'scale': block (2048,1,1) exceeds emu-sm_90a's limits (1024 threads, 1024 x 1024 x 64)
// CHECK: too much shared memory: INVALID_ARGUMENT: launch of 'scale': 1048576 bytes of dynamic shared memory exceed emu-sm_90a's 232448 per block
// CHECK: null args: INVALID_ARGUMENT: launch of 'scale': the kernel takes 4 parameters but args is null
// CHECK: empty grid: INVALID_ARGUMENT
// CHECK: out-of-bounds launch: LAUNCH_FAILED
// CHECK: done: 0 failures

gpu.module @kernels {
  gpu.func @scale(%in: memref<1024xf32>, %out: memref<1024xf32>, %factor: f32,
                  %n: i32) kernel {
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %tid = gpu.thread_id x
    %base = arith.muli %bid, %bdim : index
    %i = arith.addi %base, %tid : index
    %limit = arith.index_cast %n : i32 to index
    %inside = arith.cmpi ult, %i, %limit : index
    scf.if %inside {
      %v = memref.load %in[%i] : memref<1024xf32>
      %w = arith.mulf %v, %factor : f32
      memref.store %w, %out[%i] : memref<1024xf32>
    }
    gpu.return
  }
}
