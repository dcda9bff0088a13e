// The emulator's sanitizers (IOLITE_EMU_CHECK, iolite-emu --check), each on
// a kernel with the bug it finds planted. lit turns all checks on
// (test/lit.cfg.py), so the runs that show a bug passing unseen say
// --check=none.

// Race: `neighbor` stores its thread id to shared memory and reads its left
// neighbour's slot with no barrier in between. In the fixed fiber order
// thread t-1 has run to its end before thread t starts, so the result looks
// right and nothing is reported.
// RUN: iolite-emu %s --kernel=neighbor --block=8 --shared=32 --arg='f32[8]=zeros' --print=0 --check=none | FileCheck %s --check-prefix=FIXED
// FIXED: arg0 = 0 0 1 2 3 4 5 6{{$}}

// Another order (a seed) shows garbage: a neighbour's slot not written yet
// reads as the uninitialized byte pattern (NaN).
// RUN: iolite-emu %s --kernel=neighbor --block=8 --shared=32 --arg='f32[8]=zeros' --print=0 --check=none --emu-seed=3 | FileCheck %s --check-prefix=SEEDED
// SEEDED: arg0 = {{.*}}nan

// The race check reports it in the fixed order, naming both threads and
// both accesses.
// RUN: not iolite-emu %s --kernel=neighbor --block=8 --shared=32 --arg='f32[8]=zeros' --check=race 2>&1 | FileCheck %s --check-prefix=RACE
// RACE: emu racecheck: data race on byte 0 of shared memory (a 4-byte read at offset 0)
// RACE-NEXT: in kernel 'neighbor', block (0,0,0)
// RACE-NEXT: read by thread (1,0,0) (warp 0 lane 1)
// RACE-NEXT: at {{.*}}emu-sanitizers.mlir:[[#@LINE+87]]:10 memref.load
// RACE-NEXT: write by thread (0,0,0) (warp 0 lane 0)
// RACE-NEXT: at {{.*}}emu-sanitizers.mlir:[[#@LINE+81]]:5 memref.store
// RACE-NEXT: with no barrier between them

// And in any other order: the reader or the writer may come first.
// RUN: not iolite-emu %s --kernel=neighbor --block=8 --shared=32 --arg='f32[8]=zeros' --check=race --emu-seed=3 2>&1 | FileCheck %s --check-prefix=RACE-SEEDED
// RACE-SEEDED: emu racecheck: data race on byte {{[0-9]+}} of shared memory

// With the barrier, every check passes in every order.
// RUN: iolite-emu %s --kernel=neighbor_synced --block=64 --shared=256 --arg='f32[64]=zeros' --print=0 --check=all --emu-seed=7 | FileCheck %s --check-prefix=SYNCED
// SYNCED: arg0 = 0 0 1 2 3 4 5 6 7 8

// Warp shuffles order the accesses of one warp's lanes: `warp_exchange`
// writes shared memory, shuffles, then reads another lane's slot.
// RUN: iolite-emu %s --kernel=warp_exchange --block=32 --shared=128 --arg='f32[128]=zeros' --print=0 --check=all --emu-seed=5 | FileCheck %s --check-prefix=WARP
// WARP: arg0 = 31 30 29 28
// Across warps a shuffle orders nothing.
// RUN: not iolite-emu %s --kernel=warp_exchange --block=64 --shared=256 --arg='f32[128]=zeros' --check=race 2>&1 | FileCheck %s --check-prefix=WARP-RACE
// WARP-RACE: emu racecheck: data race
// WARP-RACE-NEXT: in kernel 'warp_exchange', block (0,0,0)
// WARP-RACE-NEXT: read by thread (0,0,0) (warp 0 lane 0)
// WARP-RACE: write by thread (63,0,0) (warp 1 lane 31)

// Init: `rotate` fills only 7 of the 8 slots before the barrier; thread 6
// reads slot 7.
// RUN: iolite-emu %s --kernel=rotate --block=8 --shared=32 --arg='f32[8]=zeros' --print=0 --check=none | FileCheck %s --check-prefix=UNSEEN
// UNSEEN: arg0 = 1 2 3 4 5 6 {{-?}}nan 0{{$}}
// RUN: not iolite-emu %s --kernel=rotate --block=8 --shared=32 --arg='f32[8]=zeros' --check=init 2>&1 | FileCheck %s --check-prefix=INIT
// INIT: emu initcheck: read of uninitialized shared memory: byte 28 of a 4-byte read at offset 28 was not written since the block started
// INIT-NEXT: in kernel 'rotate', block (0,0,0), thread (6,0,0) (warp 0 lane 6)
// INIT-NEXT: by {{.*}}emu-sanitizers.mlir:[[#@LINE+122]]:10 memref.load

// Hang: thread 0 spins on a flag that thread 1 sets only after a barrier
// thread 0 never reaches. Without the check this never ends.
// The default budget (2^24 steps per thread) ends it in about a second
// (several with the bank model, whose pending groups the spinning thread
// keeps growing); IOLITE_EMU_STEP_LIMIT lowers it.
// RUN: env IOLITE_EMU_BANK_MODEL=0 not iolite-emu %s --kernel=spin --block=32 --shared=4 --check=hang 2>&1 | FileCheck %s --check-prefix=HANG
// RUN: env IOLITE_EMU_STEP_LIMIT=1000 not iolite-emu %s --kernel=spin --block=32 --shared=4 --check=all 2>&1 | FileCheck %s --check-prefix=HANG
// HANG: emu hangcheck: thread (31,0,0) (warp 0 lane 31) of kernel 'spin', block (0,0,0) took {{[0-9]+}} steps (accesses, barriers, warp operations) without finishing (IOLITE_EMU_STEP_LIMIT); its last step is {{.*}}emu-sanitizers.mlir:[[#@LINE+138]]:14 memref.atomic_rmw
// HANG-NEXT: threads 31 are runnable, last at {{.*}}memref.atomic_rmw
// HANG-NEXT: threads 0-30 wait at the barrier at {{.*}}emu-sanitizers.mlir:[[#@LINE+143]]:7 gpu.barrier

// Bounds per tensor: runtime-api-test names two 64-float tensors 'a' and
// 'b' back to back in one workspace allocation, as BundleRunner names a
// bundle's planned intermediates, and launches `shifted` on 'a'; its last
// thread reads a[64], the first float of 'b'. The allocation's bounds do
// not see it; the tensors' do.
// RUN: iolite-emu %s --chip=sm_90a -o %t.so
// RUN: env IOLITE_EMU_CHECK=none runtime-api-test workspace %t.so 1 | FileCheck %s --check-prefix=WS-OFF
// WS-OFF: name a: SUCCESS
// WS-OFF-NEXT: name b: SUCCESS
// WS-OFF-NEXT: name past the allocation: INVALID_ARGUMENT: iolite_emu_name_region: the 512 bytes at 0x{{[0-9a-f]+}} are not inside one allocation of this device
// WS-OFF-NEXT: launch shifted on a: SUCCESS
// RUN: env IOLITE_EMU_CHECK=bounds runtime-api-test workspace %t.so 1 | FileCheck %s --check-prefix=WS-BOUNDS
// WS-BOUNDS: launch shifted on a: LAUNCH_FAILED: emu memcheck: invalid global read of 4 bytes at 0x{{[0-9a-f]+}}
// WS-BOUNDS-NEXT: in kernel 'shifted', block (0,0,0) thread (63,0,0)
// WS-BOUNDS-NEXT: by {{.*}}emu-sanitizers.mlir:[[#@LINE+141]]:10 memref.load
// WS-BOUNDS-NEXT: the address is 0 bytes after the end of workspace tensor 'a' (256 bytes at offset 0 of the allocation)
// WS-BOUNDS-NEXT: and lands in workspace tensor 'b' (256 bytes at offset 256 of the allocation), which kernel 'shifted' does not take as an argument

// Init for workspace tensors: 'a' never written since it was named.
// RUN: env IOLITE_EMU_CHECK=init runtime-api-test workspace %t.so 0 | FileCheck %s --check-prefix=WS-INIT
// WS-INIT: launch shifted on a: LAUNCH_FAILED: emu initcheck: read of uninitialized global memory: byte 4 of a 4-byte read at 0x{{[0-9a-f]+}} was not written since the tensor was named
// WS-INIT-NEXT: in kernel 'shifted', block (0,0,0) thread (0,0,0)
// WS-INIT-NEXT: by {{.*}}emu-sanitizers.mlir:[[#@LINE+133]]:10 memref.load
// WS-INIT-NEXT: the byte is in workspace tensor 'a' (256 bytes at offset 0 of the allocation)

// A bad check name is an error of the launch.
// RUN: not iolite-emu %s --kernel=neighbor --block=8 --shared=32 --arg='f32[8]=zeros' --check=races 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: IOLITE_EMU_CHECK: unknown check 'races' (expected race, bounds, init, hang, all or none)

!smem = memref<?xi8, #gpu.address_space<workgroup>>
gpu.module @kernels {
  gpu.func @neighbor(%out: memref<8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %smem = gpu.dynamic_shared_memory : !smem
    %buf = memref.view %smem[%c0][] : !smem to memref<8xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %i = arith.index_cast %tid : index to i32
    %f = arith.sitofp %i : i32 to f32
    memref.store %f, %buf[%tid] : memref<8xf32, #gpu.address_space<workgroup>>
    // Missing: gpu.barrier
    %t1 = arith.maxui %tid, %c1 : index
    %left = arith.subi %t1, %c1 : index
    %v = memref.load %buf[%left] : memref<8xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tid] : memref<8xf32>
    gpu.return
  }

  gpu.func @neighbor_synced(%out: memref<64xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %smem = gpu.dynamic_shared_memory : !smem
    %buf = memref.view %smem[%c0][] : !smem to memref<64xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %i = arith.index_cast %tid : index to i32
    %f = arith.sitofp %i : i32 to f32
    memref.store %f, %buf[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %t1 = arith.maxui %tid, %c1 : index
    %left = arith.subi %t1, %c1 : index
    %v = memref.load %buf[%left] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tid] : memref<64xf32>
    gpu.return
  }

  // Thread t writes slot t, every warp shuffles, thread t reads slot
  // n - 1 - t: in a one-warp block a slot of its own warp, else one of
  // another warp, which the shuffle does not order.
  gpu.func @warp_exchange(%out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %width = arith.constant 32 : i32
    %offset = arith.constant 1 : i32
    %smem = gpu.dynamic_shared_memory : !smem
    %n = gpu.block_dim x
    %buf = memref.view %smem[%c0][%n] : !smem to memref<?xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %i = arith.index_cast %tid : index to i32
    %f = arith.sitofp %i : i32 to f32
    memref.store %f, %buf[%tid] : memref<?xf32, #gpu.address_space<workgroup>>
    %s, %valid = gpu.shuffle xor %f, %offset, %width : f32
    %n2 = arith.addi %tid, %c64 : index
    memref.store %s, %out[%n2] : memref<128xf32>
    %last = arith.subi %n, %c1 : index
    %mirror = arith.subi %last, %tid : index
    %v = memref.load %buf[%mirror] : memref<?xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tid] : memref<128xf32>
    gpu.return
  }

  gpu.func @rotate(%out: memref<8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c7 = arith.constant 7 : index
    %c8 = arith.constant 8 : index
    %smem = gpu.dynamic_shared_memory : !smem
    %buf = memref.view %smem[%c0][] : !smem to memref<8xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %i = arith.index_cast %tid : index to i32
    %f = arith.sitofp %i : i32 to f32
    // Bug: slot 7 is never written.
    %writes = arith.cmpi ult, %tid, %c7 : index
    scf.if %writes {
      memref.store %f, %buf[%tid] : memref<8xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    %t1 = arith.addi %tid, %c1 : index
    %next = arith.remui %t1, %c8 : index
    %v = memref.load %buf[%next] : memref<8xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%tid] : memref<8xf32>
    gpu.return
  }

  // The last thread spins on a flag that thread 0 sets only after a
  // barrier the spinning thread never reaches.
  gpu.func @spin() kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %zero = arith.constant 0 : i32
    %one = arith.constant 1 : i32
    %smem = gpu.dynamic_shared_memory : !smem
    %flag = memref.view %smem[%c0][] : !smem to memref<1xi32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %n = gpu.block_dim x
    %lastid = arith.subi %n, %c1 : index
    %first = arith.cmpi eq, %tid, %c0 : index
    scf.if %first {
      memref.store %zero, %flag[%c0] : memref<1xi32, #gpu.address_space<workgroup>>
    }
    gpu.barrier
    %spins = arith.cmpi eq, %tid, %lastid : index
    scf.if %spins {
      scf.while : () -> () {
        %v = memref.atomic_rmw addi %zero, %flag[%c0] : (i32, memref<1xi32, #gpu.address_space<workgroup>>) -> i32
        %unset = arith.cmpi eq, %v, %zero : i32
        scf.condition(%unset)
      } do {
        scf.yield
      }
    } else {
      gpu.barrier
      scf.if %first {
        memref.atomic_rmw assign %one, %flag[%c0] : (i32, memref<1xi32, #gpu.address_space<workgroup>>) -> i32
      }
    }
    gpu.return
  }

  // out[i] = in[i + 1]: `in` is declared one element longer than the
  // tensor it is launched on.
  gpu.func @shifted(%in: memref<65xf32>, %out: memref<64xf32>) kernel {
    %c1 = arith.constant 1 : index
    %tid = gpu.thread_id x
    %next = arith.addi %tid, %c1 : index
    %v = memref.load %in[%next] : memref<65xf32>
    memref.store %v, %out[%tid] : memref<64xf32>
    gpu.return
  }
}
