// What the emulator reports instead of crashing or hanging: out-of-bounds
// global accesses (like compute-sanitizer's memcheck), barriers not
// reached by every thread of a block, failed assertions, bad chips. Each
// stops the launch with IOLITE_ERROR_LAUNCH_FAILED and a non-zero exit.

// One block too many: thread 0 of block 4 reads just past the input.
// RUN: not iolite-emu %s --kernel=copy --grid=5 --block=256 --arg='f32[1024]=iota' --arg='f32[2048]=zeros' 2>&1 | FileCheck %s --check-prefix=READ
// READ: iolite-emu: launch of 'copy' failed:
// READ-NEXT: emu memcheck: invalid global read of 4 bytes at 0x[[ADDR:[0-9a-f]+]]
// READ-NEXT: in kernel 'copy', block (4,0,0) thread (0,0,0)
// READ-NEXT: by {{.*}}emu-errors.mlir:[[#@LINE+51]]:10 memref.load
// READ-NEXT: the address is 0 bytes after the end of the 4096-byte allocation at 0x{{[0-9a-f]+}}

// The output is the short one: the first write past it is caught before it
// happens.
// RUN: not iolite-emu %s --chip=gfx942 --kernel=copy --grid=4 --block=256 --arg='f32[1024]=iota' --arg='f32[1000]=zeros' 2>&1 | FileCheck %s --check-prefix=WRITE
// WRITE: emu memcheck: invalid global write of 4 bytes
// WRITE-NEXT: in kernel 'copy', block (3,0,0) thread (232,0,0)
// WRITE-NEXT: by {{.*}}emu-errors.mlir:[[#@LINE+44]]:5 memref.store
// WRITE-NEXT: the address is 0 bytes after the end of the 4000-byte allocation

// Threads 64-255 return early while 0-63 wait at a barrier.
// RUN: not iolite-emu %s --kernel=early_exit --block=256 2>&1 | FileCheck %s --check-prefix=EXIT
// EXIT: emu: barrier divergence in kernel 'early_exit', block (0,0,0): not all 256 threads reach the same barrier
// EXIT-NEXT: threads 0-63 wait at the barrier at {{.*}}emu-errors.mlir:[[#@LINE+47]]:7 gpu.barrier
// EXIT-NEXT: threads 64-255 exited without reaching it

// The same in a 2-D block: thread numbers are linear.
// RUN: not iolite-emu %s --kernel=early_exit --block=128,2 2>&1 | FileCheck %s --check-prefix=EXIT2D
// EXIT2D: threads 0-63, 128-191 wait at the barrier
// EXIT2D-NEXT: threads 64-127, 192-255 exited without reaching it
// EXIT2D-NEXT: (thread numbers are linear: x + y*128 + z*256)

// Two branches, two barriers.
// RUN: not iolite-emu %s --chip=sm_80 --kernel=two_barriers --block=256 2>&1 | FileCheck %s --check-prefix=TWO
// TWO: emu: barrier divergence in kernel 'two_barriers', block (0,0,0)
// TWO-NEXT: threads 0-99 wait at the barrier at {{.*}}emu-errors.mlir:[[#@LINE+45]]:7 gpu.barrier
// TWO-NEXT: threads 100-255 wait at the barrier at {{.*}}emu-errors.mlir:[[#@LINE+46]]:7 gpu.barrier

// cf.assert in a kernel.
// RUN: not iolite-emu %s --kernel=checked --block=256 --arg=i32=200 2>&1 | FileCheck %s --check-prefix=ASSERT
// ASSERT: emu: assertion failed in kernel 'checked', block (0,0,0) thread (200,0,0)
// ASSERT-NEXT: 'thread index below the limit' at {{.*}}emu-errors.mlir:[[#@LINE+50]]:5

// A chip the emulator does not know.
// RUN: not iolite-emu %s --chip=sm_75 -o %t.so 2>&1 | FileCheck %s --check-prefix=CHIP
// CHIP: error: emu: unknown chip 'sm_75'

// A kernel that does not exist, and a block larger than the chip allows.
// RUN: not iolite-emu %s --kernel=nope 2>&1 | FileCheck %s --check-prefix=NOPE
// NOPE: iolite-emu: cannot find the kernel: no kernel 'nope' in the emu module (it has: copy, early_exit, two_barriers, checked)
// RUN: not iolite-emu %s --kernel=early_exit --block=2048 2>&1 | FileCheck %s --check-prefix=BIG
// BIG: launch of 'early_exit': block (2048,1,1) exceeds emu-sm_90a's limits (1024 threads, 1024 x 1024 x 64)

gpu.module @kernels {
  gpu.func @copy(%in: memref<1024xf32>, %out: memref<1000xf32>) kernel {
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %tid = gpu.thread_id x
    %base = arith.muli %bid, %bdim : index
    %i = arith.addi %base, %tid : index
    %v = memref.load %in[%i] : memref<1024xf32>
    memref.store %v, %out[%i] : memref<1000xf32>
    gpu.return
  }

  gpu.func @early_exit() kernel {
    %c64 = arith.constant 64 : index
    %tid = gpu.thread_id x
    %low = arith.cmpi ult, %tid, %c64 : index
    scf.if %low {
      gpu.barrier
    }
    gpu.return
  }

  gpu.func @two_barriers() kernel {
    %c100 = arith.constant 100 : index
    %tid = gpu.thread_id x
    %low = arith.cmpi ult, %tid, %c100 : index
    scf.if %low {
      gpu.barrier
    } else {
      gpu.barrier
    }
    gpu.return
  }

  gpu.func @checked(%limit: i32) kernel {
    %tid = gpu.thread_id x
    %n = arith.index_cast %limit : i32 to index
    %ok = arith.cmpi ult, %tid, %n : index
    cf.assert %ok, "thread index below the limit"
    gpu.return
  }
}
