// RUN: iolite-opt %s --split-input-file --iolite-convert-gpu-to-emu=chip=emu-gfx942 | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-convert-gpu-to-emu=chip=sm_90a | FileCheck %s --check-prefix=NV

// Index ops become calls of the index hook (thread_id y = 1, block_id z =
// 5, lane_id = 12); the subgroup size is the chip's warp width. The hook is
// a trampoline through the table the runtime installs; the kernel keeps
// its bare-pointer signature and gets an entry that unpacks
// cuLaunchKernel-style arguments. The descriptor records the chip.

// CHECK-LABEL: module @ids attributes {iolite_emu.chip = "gfx942"}
// CHECK: llvm.mlir.global internal @__iolite_emu_hooks() {{.*}} : !llvm.ptr
// CHECK: llvm.func internal @__iolite_emu_index(%[[WHICH:.*]]: i32) -> i64
// CHECK-NEXT: %[[SLOT:.*]] = llvm.mlir.addressof @__iolite_emu_hooks
// CHECK-NEXT: %[[TABLE:.*]] = llvm.load %[[SLOT]] invariant
// CHECK-NEXT: %[[FIELD:.*]] = llvm.getelementptr %[[TABLE]][0]
// CHECK-NEXT: %[[FN:.*]] = llvm.load %[[FIELD]] invariant
// CHECK-NEXT: %[[R:.*]] = llvm.call %[[FN]](%[[WHICH]]) : !llvm.ptr, (i32) -> i64
// CHECK-NEXT: llvm.return %[[R]]
// CHECK: llvm.func internal @k(%{{.*}}: !llvm.ptr, %[[N:.*]]: i32)
// CHECK-DAG: %[[LANE:.*]] = llvm.mlir.constant(12 : i32)
// CHECK-DAG: %[[WARP:.*]] = llvm.mlir.constant(64 : index)
// CHECK-DAG: %[[BZ:.*]] = llvm.mlir.constant(5 : i32)
// CHECK-DAG: %[[TY:.*]] = llvm.mlir.constant(1 : i32)
// CHECK: llvm.call @__iolite_emu_index(%[[TY]])
// CHECK: llvm.call @__iolite_emu_index(%[[BZ]])
// CHECK: llvm.call @__iolite_emu_index(%[[LANE]])
// CHECK: llvm.add %{{.*}}, %[[WARP]]
// CHECK: llvm.func internal @__iolite_emu_entry_k(%[[ARGS:.*]]: !llvm.ptr)
// CHECK-NEXT: %[[S0:.*]] = llvm.getelementptr %[[ARGS]][0]
// CHECK-NEXT: %[[P0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT: %[[S1:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK-NEXT: %[[P1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT: %[[A1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> i32
// CHECK-NEXT: llvm.call @k(%[[A0]], %[[A1]])
// CHECK: llvm.mlir.global internal constant @__iolite_emu_kernels()
// CHECK: llvm.mlir.addressof @__iolite_emu_entry_k
// CHECK: llvm.mlir.constant(2 : i32)
// CHECK: llvm.mlir.constant(128 : i32)
// CHECK: llvm.mlir.global external constant @__iolite_emu_module()
// CHECK-NEXT: llvm.mlir.poison
// CHECK-NEXT: llvm.mlir.constant(4 : i32)
// CHECK-NEXT: llvm.insertvalue
// CHECK-NEXT: %[[VENDOR:.*]] = llvm.mlir.constant(1 : i32)
// CHECK-NEXT: llvm.insertvalue %[[VENDOR]], %{{.*}}[1]
// CHECK-NEXT: %[[WIDTH:.*]] = llvm.mlir.constant(64 : i32)
// CHECK-NEXT: llvm.insertvalue %[[WIDTH]], %{{.*}}[2]
// CHECK-NEXT: %[[THREADS:.*]] = llvm.mlir.constant(1024 : i32)
// CHECK-NEXT: llvm.insertvalue %[[THREADS]], %{{.*}}[3]
// CHECK-NEXT: %[[SHARED:.*]] = llvm.mlir.constant(65536 : i64)
// CHECK-NEXT: llvm.insertvalue %[[SHARED]], %{{.*}}[4]

// NV-LABEL: module @ids attributes {iolite_emu.chip = "sm_90a"}
// NV: llvm.func internal @k
// NV: llvm.mlir.constant(32 : index)
// NV: llvm.mlir.global external constant @__iolite_emu_module()
// NV-NEXT: llvm.mlir.poison
// NV-NEXT: llvm.mlir.constant(4 : i32)
// NV-NEXT: llvm.insertvalue
// NV-NEXT: %[[VENDOR:.*]] = llvm.mlir.constant(0 : i32)
// NV-NEXT: llvm.insertvalue %[[VENDOR]], %{{.*}}[1]
// NV-NEXT: %[[WIDTH:.*]] = llvm.mlir.constant(32 : i32)
// NV-NEXT: llvm.insertvalue %[[WIDTH]], %{{.*}}[2]
// NV-NEXT: llvm.mlir.constant(1024 : i32)
// NV-NEXT: llvm.insertvalue
// NV-NEXT: %[[SHARED:.*]] = llvm.mlir.constant(232448 : i64)
gpu.module @ids {
  gpu.func @k(%out: memref<4xi32>, %n: i32) kernel attributes {known_block_size = array<i32: 128, 1, 1>} {
    %tid = gpu.thread_id y
    %bid = gpu.block_id z
    %sg = gpu.subgroup_size : index
    %lane = gpu.lane_id
    %s1 = arith.addi %tid, %bid : index
    %s2 = arith.addi %s1, %sg : index
    %s3 = arith.addi %s2, %lane : index
    %v = arith.index_cast %s3 : index to i32
    %w = arith.addi %v, %n : i32
    %c0 = arith.constant 0 : index
    memref.store %w, %out[%c0] : memref<4xi32>
    gpu.return
  }
}

// -----

// gpu.barrier calls the barrier hook (slot 1) with its site; gpu.shuffle
// moves the f32 as 64 bits through the shuffle hook (slot 2) with mode
// down (1), and takes `valid` from the shuffle_valid hook (slot 3).

// CHECK-LABEL: module @sync
// CHECK: llvm.func internal @__iolite_emu_shuffle_valid() -> i32
// CHECK: llvm.getelementptr %{{.*}}[3]
// CHECK: llvm.func internal @__iolite_emu_shuffle(%{{.*}}: i64, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32) -> i64
// CHECK: llvm.getelementptr %{{.*}}[2]
// CHECK: llvm.func internal @__iolite_emu_barrier(%{{.*}}: i32)
// CHECK: llvm.getelementptr %{{.*}}[1]
// CHECK: llvm.func internal @k(%{{.*}}: !llvm.ptr, %[[X:.*]]: f32)
// CHECK-DAG: %[[SITE0:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-DAG: %[[DOWN:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-DAG: %[[W32:.*]] = llvm.mlir.constant(32 : i32) : i32
// CHECK: llvm.call @__iolite_emu_barrier(%[[SITE0]])
// CHECK-NEXT: %[[BITS:.*]] = llvm.bitcast %[[X]] : f32 to i32
// CHECK-NEXT: %[[WIDE:.*]] = llvm.zext %[[BITS]] : i32 to i64
// CHECK-NEXT: %[[OUT:.*]] = llvm.call @__iolite_emu_shuffle(%[[WIDE]], %[[DOWN]], %[[W32]], %[[DOWN]], %[[DOWN]])
// CHECK-NEXT: %[[NARROW:.*]] = llvm.trunc %[[OUT]] : i64 to i32
// CHECK-NEXT: %[[VALUE:.*]] = llvm.bitcast %[[NARROW]] : i32 to f32
// CHECK-NEXT: %[[VALID:.*]] = llvm.call @__iolite_emu_shuffle_valid()
// CHECK-NEXT: %[[ISVALID:.*]] = llvm.icmp "ne" %[[VALID]], %[[SITE0]]
// CHECK-NEXT: llvm.select %[[ISVALID]], %[[VALUE]]
// The site table holds the barrier and the shuffle.
// CHECK: llvm.mlir.global internal constant @__iolite_emu_sites() {{.*}} : !llvm.array<2 x ptr>
gpu.module @sync {
  gpu.func @k(%out: memref<64xf32>, %x: f32) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : i32
    %c32 = arith.constant 32 : i32
    gpu.barrier
    %r, %valid = gpu.shuffle down %x, %c1, %c32 : f32
    %z = arith.constant 0.0 : f32
    %s = arith.select %valid, %r, %z : f32
    memref.store %s, %out[%c0] : memref<64xf32>
    gpu.return
  }
}

// -----

// Dynamic shared memory is the block's buffer from the runtime (a
// memref<?xi8> of the size the launch passed); private attributions are
// allocas; memory spaces are gone.

// CHECK-LABEL: module @memory
// CHECK: llvm.func internal @__iolite_emu_dynamic_shared_memory_size() -> i64
// CHECK: llvm.getelementptr %{{.*}}[5]
// CHECK: llvm.func internal @__iolite_emu_dynamic_shared_memory() -> !llvm.ptr
// CHECK: llvm.getelementptr %{{.*}}[4]
// CHECK: llvm.func internal @k(
// CHECK: %[[PRIVATE:.*]] = llvm.alloca %{{.*}} x f32 : (i64) -> !llvm.ptr
// CHECK: %[[BASE:.*]] = llvm.call @__iolite_emu_dynamic_shared_memory()
// CHECK-NEXT: %[[SIZE:.*]] = llvm.call @__iolite_emu_dynamic_shared_memory_size()
// CHECK: llvm.insertvalue %[[BASE]], %{{.*}}[0]
// CHECK-NEXT: llvm.insertvalue %[[BASE]], %{{.*}}[1]
// CHECK: llvm.insertvalue %[[SIZE]], %{{.*}}[3, 0]
// CHECK-NOT: addrspace
gpu.module @memory {
  gpu.func @k(%out: memref<64xf32>) private(%p: memref<4xf32, #gpu.address_space<private>>) kernel {
    %c0 = arith.constant 0 : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %buf = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64xf32, #gpu.address_space<workgroup>>
    %v = memref.load %buf[%c0] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %v, %p[%c0] : memref<4xf32, #gpu.address_space<private>>
    %w = memref.load %p[%c0] : memref<4xf32, #gpu.address_space<private>>
    memref.store %w, %out[%c0] : memref<64xf32>
    gpu.return
  }
}

// -----

// cf.assert reports through the runtime (the assert hook never returns)
// instead of calling abort(); its message becomes a site.

// CHECK-LABEL: module @checks
// CHECK: llvm.mlir.global private constant @{{.*}}("'n is small' at {{.*}}iolite-convert-gpu-to-emu.mlir:[[#@LINE+12]]:5\00")
// CHECK: llvm.func internal @__iolite_emu_assert_fail(%{{.*}}: i32)
// CHECK: llvm.getelementptr %{{.*}}[8]
// CHECK: llvm.func internal @k(
// CHECK: llvm.cond_br %{{.*}}, ^[[FAIL:.*]], ^[[OK:.*]]
// CHECK: ^[[FAIL]]:
// CHECK-NEXT: llvm.call @__iolite_emu_assert_fail
// CHECK-NOT: abort
gpu.module @checks {
  gpu.func @k(%n: index) kernel {
    %c8 = arith.constant 8 : index
    %ok = arith.cmpi ult, %n, %c8 : index
    cf.assert %ok, "n is small"
    gpu.return
  }
}

// -----

// Matrix instructions become warp-collective hooks. iolite_gpu.mma (level 0,
// the instruction table) and nvgpu.mma.sync (level 1, the PTX ISA) pass the
// addresses of each lane's fragments, spilled to buffers allocated once at
// the function's entry; nvgpu.ldmatrix passes the lane's row address, the
// tile count and .trans, and where its result goes.

// NV-LABEL: module @matrix
// NV: llvm.func internal @__iolite_emu_mma(%{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i32)
// NV: llvm.func internal @__iolite_emu_ldmatrix(%{{.*}}: i64, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i64, %{{.*}}: i32)
// NV: llvm.func internal @k(
// NV-DAG: %[[C1:.*]] = llvm.mlir.constant(1 : i32) : i32
// NV-DAG: %[[C0:.*]] = llvm.mlir.constant(0 : i32) : i32
// NV-DAG: %[[C4:.*]] = llvm.mlir.constant(4 : i32) : i32
// NV-COUNT-9: llvm.alloca
// NV-NOT: llvm.alloca
// NV: llvm.call @__iolite_emu_ldmatrix(%{{.*}}, %[[C4]], %[[C0]], %{{.*}}, %{{.*}})
// NV: llvm.call @__iolite_emu_mma(%[[C0]], %[[C1]],
// NV: llvm.call @__iolite_emu_mma(%[[C1]], %[[C1]],
gpu.module @matrix {
  gpu.func @k(%out: memref<4xf32>) kernel {
    %c0 = arith.constant 0 : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16x16xf16, #gpu.address_space<workgroup>>
    %a = nvgpu.ldmatrix %tile[%c0, %c0] {numTiles = 4 : i32, transpose = false} : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
    %flat = vector.shape_cast %a : vector<4x2xf16> to vector<8xf16>
    %b = arith.constant dense<1.0> : vector<4xf16>
    %c = arith.constant dense<0.0> : vector<4xf32>
    %d = iolite_gpu.mma nv_m16n8k16_f16 %flat, %b, %c : vector<8xf16>, vector<4xf16> into vector<4xf32>
    %b2 = arith.constant dense<1.0> : vector<2x2xf16>
    %c2 = vector.shape_cast %d : vector<4xf32> to vector<2x2xf32>
    %e = nvgpu.mma.sync(%a, %b2, %c2) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
    %r = vector.shape_cast %e : vector<2x2xf32> to vector<4xf32>
    vector.store %r, %out[%c0] : memref<4xf32>, vector<4xf32>
    gpu.return
  }
}
