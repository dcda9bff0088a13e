// The emulator's byte counters equal the traffic computed by hand: every
// thread moves its own elements once, so global bytes read and written are
// exactly (elements touched) x (element size), masked tails included.

// Scalar copy of 1024 f32 by 4 x 256 threads: 4096 bytes each way, on both
// vendors' warp widths.
// RUN: iolite-emu %s --chip=sm_90a --kernel=copy --grid=4 --block=256 --arg='f32[1024]=iota' --arg='f32[1024]=zeros' --stats=json | FileCheck %s --check-prefix=COPY
// RUN: iolite-emu %s --chip=gfx942 --kernel=copy --grid=4 --block=256 --arg='f32[1024]=iota' --arg='f32[1024]=zeros' --stats=json | FileCheck %s --check-prefix=COPY
// COPY: "global_bytes_read": 4096,
// COPY-NEXT: "global_bytes_written": 4096,
// COPY: "kernel": "copy",
// COPY: "shared_bytes_read": 0,
// COPY-NEXT: "shared_bytes_written": 0

// Vectorized copy of 1000 f32, 4 per thread, 256 threads: the last thread's
// transfer is masked to 0 of 4 lanes, the one before to 4 of 4 ... so
// exactly 4000 bytes are read and written, not 4096.
// RUN: iolite-emu %s --chip=sm_90a --kernel=copy_vec4 --block=256 --arg='f32[1000]=iota' --arg='f32[1000]=zeros' --stats --print=1 | FileCheck %s --check-prefix=VEC
// VEC: arg1 = 0 1 2 3 4 5 6 7 8 9 10
// VEC-SAME: 997 998 999{{$}}
// VEC: copy_vec4 (1,1,1) (256,1,1) 0 4000 4000 0 0 0 0

// A tail that is not a multiple of the vector width: 1002 f32, the last
// active thread copies 2 of its 4 lanes.
// RUN: iolite-emu %s --chip=gfx942 --kernel=copy_vec4_1002 --block=256 --arg='f32[1002]=iota' --arg='f32[1002]=zeros' --stats=json --print=1 | FileCheck %s --check-prefix=TAIL
// TAIL: arg1 = 0 1 2
// TAIL-SAME: 999 1000 1001{{$}}
// TAIL: "global_bytes_read": 4008,
// TAIL-NEXT: "global_bytes_written": 4008,

// Widening copy f16 -> f32 of 1000 elements: 2 bytes read and 4 written
// per element.
// RUN: iolite-emu %s --chip=sm_80 --kernel=widen --grid=4 --block=256 --arg='f16[1000]=iota' --arg='f32[1000]=zeros' --stats=json --print=1 | FileCheck %s --check-prefix=WIDEN
// WIDEN: arg1 = 0 1 2
// WIDEN-SAME: 998 999{{$}}
// WIDEN: "global_bytes_read": 2000,
// WIDEN-NEXT: "global_bytes_written": 4000,

// Stats as a table.
// RUN: iolite-emu %s --kernel=copy --grid=4 --block=256 --arg='f32[1024]=iota' --arg='f32[1024]=zeros' --stats | FileCheck %s --check-prefix=TABLE
// TABLE: kernel grid block shared global read global written shared read shared written flops matrix flops wavefronts bank conflicts barriers seconds
// TABLE-NEXT: copy (4,1,1) (256,1,1) 0 4096 4096 0 0 0 0 0 0 0 {{[0-9.]+$}}

gpu.module @kernels {
  gpu.func @copy(%in: memref<1024xf32>, %out: memref<1024xf32>) kernel {
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %tid = gpu.thread_id x
    %base = arith.muli %bid, %bdim : index
    %i = arith.addi %base, %tid : index
    %v = memref.load %in[%i] : memref<1024xf32>
    memref.store %v, %out[%i] : memref<1024xf32>
    gpu.return
  }

  gpu.func @copy_vec4(%in: memref<1000xf32>, %out: memref<1000xf32>) kernel {
    %c4 = arith.constant 4 : index
    %pad = arith.constant 0.0 : f32
    %tid = gpu.thread_id x
    %i = arith.muli %tid, %c4 : index
    %v = vector.transfer_read %in[%i], %pad : memref<1000xf32>, vector<4xf32>
    vector.transfer_write %v, %out[%i] : vector<4xf32>, memref<1000xf32>
    gpu.return
  }

  gpu.func @copy_vec4_1002(%in: memref<1002xf32>, %out: memref<1002xf32>) kernel {
    %c4 = arith.constant 4 : index
    %pad = arith.constant 0.0 : f32
    %tid = gpu.thread_id x
    %i = arith.muli %tid, %c4 : index
    %v = vector.transfer_read %in[%i], %pad : memref<1002xf32>, vector<4xf32>
    vector.transfer_write %v, %out[%i] : vector<4xf32>, memref<1002xf32>
    gpu.return
  }

  gpu.func @widen(%in: memref<1000xf16>, %out: memref<1000xf32>) kernel {
    %c1000 = arith.constant 1000 : index
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %tid = gpu.thread_id x
    %base = arith.muli %bid, %bdim : index
    %i = arith.addi %base, %tid : index
    %inside = arith.cmpi ult, %i, %c1000 : index
    scf.if %inside {
      %h = memref.load %in[%i] : memref<1000xf16>
      %f = arith.extf %h : f16 to f32
      memref.store %f, %out[%i] : memref<1000xf32>
    }
    gpu.return
  }
}
