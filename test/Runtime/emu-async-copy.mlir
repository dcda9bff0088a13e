// cp.async (nvgpu.device_async_copy) on the emulator: each thread's copies
// wait in a queue and land in shared memory only when a
// nvgpu.device_async_wait covers their group, as on the GPU, where nothing
// orders them before that. A kernel that forgets the wait reads what shared
// memory held before (NaN, the emulator's fill for unwritten bytes), and a
// thread that exits with copies in flight is an error.

// 32 threads each copy 4 f32 (16 bytes) to shared memory, wait, meet at a
// barrier and read another thread's run: the result is the input with its
// runs reversed. Thread 31 reads only 2 of its 4 elements (src-size 8 of 16
// bytes); the rest is zero-filled. Bytes are counted at the copy: 31 * 16 +
// 8 read from global memory, 32 * 16 written to shared memory.
// RUN: iolite-emu %s --chip=sm_90a --kernel=copy_wait --block=32 --shared=512 --arg='f32[128]=iota' --arg='f32[128]=zeros' --print=1 --stats=json | FileCheck %s --check-prefix=WAIT
// WAIT: arg1 = 124 125 0 0 120 121 122 123 116
// WAIT-SAME: 4 5 6 7 0 1 2 3{{$}}
// WAIT: "global_bytes_read": 504,
// WAIT: "shared_bytes_written": 512

// Two groups and a wait that leaves the most recent one in flight: the
// first run has landed when it is read, the second has not (NaN); the final
// wait lands it before the thread exits.
// RUN: iolite-emu %s --chip=sm_90a --kernel=copy_wait_one_of_two --block=1 --shared=32 --arg='f32[8]=iota' --arg='f32[8]=zeros' --print=1 | FileCheck %s --check-prefix=PENDING
// PENDING: arg1 = 0 1 2 3 {{-?}}nan {{-?}}nan {{-?}}nan {{-?}}nan

// A planted missing wait: the barrier alone does not land the copies.
// RUN: not iolite-emu %s --chip=sm_90a --kernel=copy_no_wait --block=32 --shared=512 --arg='f32[128]=iota' --arg='f32[128]=zeros' 2>&1 | FileCheck %s --check-prefix=NOWAIT
// NOWAIT: emu: block (0,0,0) thread (0,0,0) of kernel 'copy_no_wait' exited with 1 cp.async copies that no wait covered, the first by {{.*}}emu-async-copy.mlir:{{[0-9]+}}:{{[0-9]+}} nvgpu.device_async_copy

!wg = memref<128xf32, #gpu.address_space<workgroup>>

gpu.module @kernels {
  gpu.func @copy_wait(%in: memref<128xf32>, %out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c31 = arith.constant 31 : index
    %tid = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg
    %i = arith.muli %tid, %c4 : index
    %last = arith.cmpi eq, %tid, %c31 : index
    %n = arith.select %last, %c2, %c4 : index
    %t = nvgpu.device_async_copy %in[%i], %tile[%i], 4, %n {bypassL1} : memref<128xf32> to !wg
    %g = nvgpu.device_async_create_group %t
    nvgpu.device_async_wait %g
    gpu.barrier
    %other = arith.subi %c31, %tid : index
    %j = arith.muli %other, %c4 : index
    %v = vector.load %tile[%j] : !wg, vector<4xf32>
    vector.store %v, %out[%i] : memref<128xf32>, vector<4xf32>
    gpu.return
  }

  gpu.func @copy_wait_one_of_two(%in: memref<8xf32>, %out: memref<8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<8xf32, #gpu.address_space<workgroup>>
    %t0 = nvgpu.device_async_copy %in[%c0], %tile[%c0], 4 : memref<8xf32> to memref<8xf32, #gpu.address_space<workgroup>>
    %g0 = nvgpu.device_async_create_group %t0
    %t1 = nvgpu.device_async_copy %in[%c4], %tile[%c4], 4 : memref<8xf32> to memref<8xf32, #gpu.address_space<workgroup>>
    %g1 = nvgpu.device_async_create_group %t1
    nvgpu.device_async_wait %g0 {numGroups = 1 : i32}
    %v = vector.load %tile[%c0] : memref<8xf32, #gpu.address_space<workgroup>>, vector<8xf32>
    vector.store %v, %out[%c0] : memref<8xf32>, vector<8xf32>
    nvgpu.device_async_wait %g1
    gpu.return
  }

  gpu.func @copy_no_wait(%in: memref<128xf32>, %out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %tid = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg
    %i = arith.muli %tid, %c4 : index
    %t = nvgpu.device_async_copy %in[%i], %tile[%i], 4 : memref<128xf32> to !wg
    %g = nvgpu.device_async_create_group %t
    gpu.barrier
    %v = vector.load %tile[%i] : !wg, vector<4xf32>
    vector.store %v, %out[%i] : memref<128xf32>, vector<4xf32>
    gpu.return
  }
}
