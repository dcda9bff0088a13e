// RUN: iolite-opt %s --split-input-file --pass-pipeline='builtin.module(gpu.module(iolite-emu-instrument))' | FileCheck %s
// RUN: iolite-opt %s --split-input-file --pass-pipeline='builtin.module(gpu.module(iolite-emu-instrument{count-flops=false}))' | FileCheck %s --check-prefix=NOFLOPS

// A global load and store: each gets the access hook with its address
// (aligned pointer + linearized offset * 4), 4 bytes checked and counted,
// kind READ (1) or WRITE (2), and its own site, whose text is recorded.

// CHECK-LABEL: gpu.module @global
// CHECK-SAME: iolite_emu.sites = ["{{.*}}iolite-emu-instrument.mlir:[[#@LINE+17]]:10 memref.load", "{{.*}}iolite-emu-instrument.mlir:[[#@LINE+19]]:5 memref.store"]
// CHECK: func.func private @__iolite_emu_access(index, index, index, i32, i32)
// CHECK: gpu.func @copy(%[[IN:.*]]: memref<256xf32>, %[[OUT:.*]]: memref<256xf32>)
// CHECK: %[[TID:.*]] = gpu.thread_id x
// CHECK: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %[[IN]]
// CHECK: %{{[a-z0-9_]+}}, %[[OFF:[a-z0-9_]+]], %{{[a-z0-9_]+}}, %[[STRIDE:[a-z0-9_]+]] = memref.extract_strided_metadata %[[IN]]
// CHECK: %[[SCALED:.*]] = arith.muli %[[TID]], %[[STRIDE]]
// CHECK: %[[LIN:.*]] = arith.addi %[[OFF]], %[[SCALED]]
// CHECK: %[[BYTES:.*]] = arith.muli %[[LIN]], %c4
// CHECK: %[[ADDR:.*]] = arith.addi %[[BASE]], %[[BYTES]]
// CHECK: call @__iolite_emu_access(%[[ADDR]], %[[SIZE:.*]], %[[SIZE]], %c1_i32, %c0_i32)
// CHECK-NEXT: memref.load %[[IN]][%[[TID]]]
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i32, %c1_i32{{.*}})
// CHECK-NEXT: memref.store
gpu.module @global {
  gpu.func @copy(%in: memref<256xf32>, %out: memref<256xf32>) kernel {
    %tid = gpu.thread_id x
    %v = memref.load %in[%tid] : memref<256xf32>

    memref.store %v, %out[%tid] : memref<256xf32>
    gpu.return
  }
}

// -----

// Shared memory (a view of gpu.dynamic_shared_memory) is checked with the
// SHARED bit (8): READ|SHARED = 9. Private memory (an alloca, even in the
// default memory space) is neither checked nor counted.

// CHECK-LABEL: gpu.module @shared_and_private
// CHECK: %[[VIEW:.*]] = memref.view
// CHECK: %[[PRIV:.*]] = memref.alloca
// CHECK: memref.extract_aligned_pointer_as_index %[[VIEW]]
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c9_i32, %c0_i32)
// CHECK-NEXT: memref.load %[[VIEW]]
// CHECK-NEXT: memref.store %{{.*}}, %[[PRIV]]
// CHECK-NEXT: memref.load %[[PRIV]]
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i32, %c1_i32)
// CHECK-NEXT: memref.store
gpu.module @shared_and_private {
  gpu.func @k(%out: memref<64xf32>) kernel {
    %c0 = arith.constant 0 : index
    %tid = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %buf = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64xf32, #gpu.address_space<workgroup>>
    %priv = memref.alloca() : memref<4xf32>
    %v = memref.load %buf[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %v, %priv[%c0] : memref<4xf32>
    %w = memref.load %priv[%c0] : memref<4xf32>
    memref.store %w, %out[%tid] : memref<64xf32>
    gpu.return
  }
}

// -----

// Integer memory spaces: 3 is shared, 5 private, 1 global.

// CHECK-LABEL: gpu.module @numbered_spaces
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c9_i32, %c0_i32)
// CHECK-NEXT: memref.load %{{.*}} : memref<8xf32, 3>
// CHECK-NEXT: memref.store %{{.*}} : memref<8xf32, 5>
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i32, %c1_i32)
// CHECK-NEXT: memref.store %{{.*}} : memref<8xf32, 1>
gpu.module @numbered_spaces {
  gpu.func @k(%s: memref<8xf32, 3>, %p: memref<8xf32, 5>, %g: memref<8xf32, 1>) kernel {
    %c0 = arith.constant 0 : index
    %v = memref.load %s[%c0] : memref<8xf32, 3>
    memref.store %v, %p[%c0] : memref<8xf32, 5>
    memref.store %v, %g[%c0] : memref<8xf32, 1>
    gpu.return
  }
}

// -----

// A vector.load of 4 x f32 touches 16 bytes. A transfer_read running past
// the end of its row becomes a masked load first; its check covers the
// active lanes only (extent = (last + 1 - first) * 4) and it counts
// popcount(mask) * 4 bytes. Here the folded mask has 4 of 8 lanes on.

// CHECK-LABEL: gpu.module @vectors
// CHECK: %[[MASK:.*]] = arith.constant dense<[true, true, true, true, false, false, false, false]> : vector<8xi1>
// CHECK: call @__iolite_emu_access(%{{.*}}, %c16, %c16, %c1_i32, %c0_i32)
// CHECK-NEXT: vector.load
// CHECK: %[[ON:.*]] = arith.select %[[MASK]], %{{.*}}, %{{.*}} : vector<8xi1>, vector<8xindex>
// CHECK: %[[COUNT:.*]] = vector.reduction <add>, %[[ON]]
// CHECK: %[[COUNTED:.*]] = arith.muli %[[COUNT]], %[[C4:.*]] : index
// CHECK: %[[FIRST:.*]] = vector.reduction <minui>
// CHECK: %[[END:.*]] = vector.reduction <maxui>
// CHECK: %[[SPAN:.*]] = arith.subi %[[END]], %[[FIRST]]
// CHECK: %[[LANES:.*]] = arith.select %{{.*}}, %[[SPAN]], %{{.*}} : index
// CHECK: %[[EXTENT:.*]] = arith.muli %[[LANES]], %[[C4]]
// CHECK: call @__iolite_emu_access(%{{.*}}, %[[EXTENT]], %[[COUNTED]], %c1_i32{{.*}}, %c1_i32{{.*}})
// CHECK-NEXT: vector.maskedload
// CHECK: call @__iolite_emu_access(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i32{{.*}}, %c2_i32{{.*}})
// CHECK-NEXT: vector.maskedstore
// CHECK: call @__iolite_emu_access(%{{.*}}, %c16{{.*}}, %c16{{.*}}, %c2_i32{{.*}}, %c3_i32)
// CHECK-NEXT: vector.store
gpu.module @vectors {
  gpu.func @k(%in: memref<8x100xf32>, %out: memref<8x100xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c96 = arith.constant 96 : index
    %pad = arith.constant 0.0 : f32
    %tid = gpu.thread_id x
    %v = vector.load %in[%tid, %c0] : memref<8x100xf32>, vector<4xf32>
    %t = vector.transfer_read %in[%tid, %c96], %pad : memref<8x100xf32>, vector<8xf32>
    %s = arith.addf %t, %t : vector<8xf32>
    vector.transfer_write %s, %out[%tid, %c96] : vector<8xf32>, memref<8x100xf32>
    vector.store %v, %out[%tid, %c0] : memref<8x100xf32>, vector<4xf32>
    gpu.return
  }
}

// -----

// Atomics read and write: kind READ|WRITE|ATOMIC = 7. A gather checks
// each lane at its own address, counting 4 bytes for active lanes only;
// all lanes share the gather's site (2).

// CHECK-LABEL: gpu.module @atomics_and_gathers
// CHECK: call @__iolite_emu_access(%{{.*}}, %c4{{.*}}, %c4{{.*}}, %c7_i32, %c0_i32)
// CHECK-NEXT: memref.atomic_rmw addi
// CHECK: %[[LANE0:.*]] = vector.extract %[[MASK:.*]][0] : i1 from vector<2xi1>
// CHECK: %[[BYTES0:.*]] = arith.select %[[LANE0]], %[[C4:.*]], %[[C0:.*]] : index
// CHECK: call @__iolite_emu_access(%{{.*}}, %[[BYTES0]], %[[BYTES0]], %c1_i32{{.*}}, %c2_i32{{.*}})
// CHECK: %[[LANE1:.*]] = vector.extract %[[MASK]][1] : i1 from vector<2xi1>
// CHECK: %[[BYTES1:.*]] = arith.select %[[LANE1]], %[[C4]], %[[C0]] : index
// CHECK: call @__iolite_emu_access(%{{.*}}, %[[BYTES1]], %[[BYTES1]], %c1_i32{{.*}}, %c2_i32{{.*}})
// CHECK: vector.gather
gpu.module @atomics_and_gathers {
  gpu.func @k(%hist: memref<16xi32>, %data: memref<64xf32>, %idx: memref<64xi32>, %out: memref<2xf32>, %m: vector<2xi1>) kernel {
    %c0 = arith.constant 0 : index
    %one = arith.constant 1 : i32
    %tid = gpu.thread_id x
    %old = memref.atomic_rmw addi %one, %hist[%tid] : (i32, memref<16xi32>) -> i32
    %iv = vector.load %idx[%c0] : memref<64xi32>, vector<2xi32>
    %pass = arith.constant dense<0.0> : vector<2xf32>
    %g = vector.gather %data[%c0][%iv], %m, %pass : memref<64xf32>, vector<2xi32>, vector<2xi1>, vector<2xf32> into vector<2xf32>
    vector.store %g, %out[%c0] : memref<2xf32>, vector<2xf32>
    gpu.return
  }
}

// -----

// Floating-point work is counted once per block execution: the kernel
// body adds 4 (vector<4xf32> mulf) + 8 (vector fma), the loop body 1 per
// iteration; integer arithmetic does not count.

// CHECK-LABEL: gpu.module @flops
// CHECK: gpu.func @k
// CHECK-NEXT: %[[N:.*]] = arith.constant 12 : i64
// CHECK-NEXT: call @__iolite_emu_flops(%[[N]])
// CHECK: scf.for
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-NEXT: call @__iolite_emu_flops(%[[ONE]])
// NOFLOPS-LABEL: gpu.module @flops
// NOFLOPS-NOT: __iolite_emu_flops
gpu.module @flops {
  gpu.func @k(%a: vector<4xf32>, %x: f32, %out: memref<4xf32>, %s: memref<1xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %m = arith.mulf %a, %a : vector<4xf32>
    %f = vector.fma %m, %a, %a : vector<4xf32>
    vector.store %f, %out[%c0] : memref<4xf32>, vector<4xf32>
    %r = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %x) -> f32 {
      %n = arith.addf %acc, %x : f32
      %j = arith.addi %i, %c1 : index
      scf.yield %n : f32
    }
    memref.store %r, %s[%c0] : memref<1xf32>
    gpu.return
  }
}
