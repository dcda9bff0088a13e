// Warp shuffles at the emulated vendor's width and semantics: NVIDIA warps
// have 32 lanes and run shfl.sync with the member mask and clamp MLIR's
// NVVM lowering derives from `width`; AMD wavefronts have 64 lanes and run
// ds_bpermute on the lane MLIR's ROCDL lowering selects (segments of
// `width` lanes, only the upper segment bound checked).

// A butterfly reduction over the whole warp: sums of 32-lane groups on
// NVIDIA, of 64-lane groups on AMD.
// RUN: iolite-emu %s --chip=sm_90a --kernel=warp_sum --block=128 --arg='f32[128]=iota' --arg='f32[128]=zeros' --print=1 | FileCheck %s --check-prefix=SUM32
// SUM32: arg1 = 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 496 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 1520 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 2544 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568 3568{{$}}
// RUN: iolite-emu %s --chip=gfx942 --kernel=warp_sum --block=128 --arg='f32[128]=iota' --arg='f32[128]=zeros' --print=1 | FileCheck %s --check-prefix=SUM64
// SUM64: arg1 = 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 2016 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112 6112{{$}}

// Each lane shuffles its lane id; the kernels store the value and `valid`.
// RUN: iolite-emu %s --chip=sm_90a --kernel=up --block=32 --arg='i32[32]=zeros' --arg='i32[32]=zeros' --arg=i32=1 --arg=i32=32 --print=0,1 | FileCheck %s --check-prefix=NV-UP
// NV-UP: arg0 = 0 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30{{$}}
// NV-UP: arg1 = 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1{{$}}
// RUN: iolite-emu %s --chip=sm_90a --kernel=down --block=32 --arg='i32[32]=zeros' --arg='i32[32]=zeros' --arg=i32=1 --arg=i32=32 --print=0,1 | FileCheck %s --check-prefix=NV-DOWN
// NV-DOWN: arg0 = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 31{{$}}
// NV-DOWN: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0{{$}}
// RUN: iolite-emu %s --chip=sm_80 --kernel=xor --block=32 --arg='i32[32]=zeros' --arg='i32[32]=zeros' --arg=i32=1 --arg=i32=32 --print=0,1 | FileCheck %s --check-prefix=NV-XOR
// NV-XOR: arg0 = 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 17 16 19 18 21 20 23 22 25 24 27 26 29 28 31 30{{$}}
// NV-XOR: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1{{$}}
// RUN: iolite-emu %s --chip=sm_90a --kernel=idx --block=32 --arg='i32[32]=zeros' --arg='i32[32]=zeros' --arg=i32=5 --arg=i32=32 --print=0,1 | FileCheck %s --check-prefix=NV-IDX
// NV-IDX: arg0 = 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5{{$}}
// NV-IDX: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1{{$}}
// Width 16 executed by lanes 0-15 only, as the member mask requires.
// RUN: iolite-emu %s --chip=sm_90a --kernel=down_half --block=32 --arg='i32[32]=fill:-1' --arg='i32[32]=fill:-1' --arg=i32=1 --arg=i32=16 --print=0,1 | FileCheck %s --check-prefix=NV-HALF
// NV-HALF: arg0 = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 15 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1{{$}}
// NV-HALF: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1{{$}}

// AMD: `up` checks no lower bound, so lane 0 reads lane (-1 mod 64) = 63
// and reports it valid, as the ROCDL lowering does.
// RUN: iolite-emu %s --chip=gfx942 --kernel=up --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=1 --arg=i32=64 --print=0,1 | FileCheck %s --check-prefix=AMD-UP
// AMD-UP: arg0 = 63 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62{{$}}
// AMD-UP: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1{{$}}
// Width 32 on a 64-lane wave: two segments, each bounded at its end.
// RUN: iolite-emu %s --chip=gfx942 --kernel=down --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=1 --arg=i32=32 --print=0,1 | FileCheck %s --check-prefix=AMD-DOWN
// AMD-DOWN: arg0 = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 31 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 63{{$}}
// AMD-DOWN: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0{{$}}
// RUN: iolite-emu %s --chip=gfx90a --kernel=xor --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=32 --arg=i32=64 --print=0 | FileCheck %s --check-prefix=AMD-XOR
// AMD-XOR: arg0 = 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31{{$}}
// `idx` is not relative to the segment: every lane reads lane 5.
// RUN: iolite-emu %s --chip=gfx942 --kernel=idx --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=5 --arg=i32=32 --print=0 | FileCheck %s --check-prefix=AMD-IDX
// AMD-IDX: arg0 = 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5{{$}}
// RUN: iolite-emu %s --chip=gfx942 --kernel=down_half --block=64 --arg='i32[64]=fill:-1' --arg='i32[64]=fill:-1' --arg=i32=1 --arg=i32=16 --print=0,1 | FileCheck %s --check-prefix=AMD-HALF
// AMD-HALF: arg0 = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 15 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1{{$}}
// AMD-HALF: arg1 = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1{{$}}

// Errors. On NVIDIA a width-32 shuffle needs all 32 lanes.
// RUN: not iolite-emu %s --chip=sm_90a --kernel=down_half --block=32 --arg='i32[32]=zeros' --arg='i32[32]=zeros' --arg=i32=1 --arg=i32=32 2>&1 | FileCheck %s --check-prefix=NV-MASK
// NV-MASK: emu: invalid warp shuffle in kernel 'down_half', block (0,0,0) thread (0,0,0) (warp 0 lane 0)
// NV-MASK-NEXT: at {{.*}}emu-shuffle.mlir:[[#@LINE+82]]:17 gpu.shuffle
// NV-MASK-NEXT: lane 16, in the member mask of this width-32 shuffle, has exited
// A partial warp cannot provide the lanes the mask names either.
// RUN: not iolite-emu %s --chip=sm_90a --kernel=xor --block=48 --arg='i32[48]=zeros' --arg='i32[48]=zeros' --arg=i32=1 --arg=i32=32 2>&1 | FileCheck %s --check-prefix=NV-PARTIAL
// NV-PARTIAL: lane 16, in the member mask of this width-32 shuffle, does not exist (the block has 48 threads)
// On AMD only the lanes read matter: lane 15 reads lane 16, which has exited.
// RUN: not iolite-emu %s --chip=gfx942 --kernel=down_half --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=1 --arg=i32=32 2>&1 | FileCheck %s --check-prefix=AMD-EXITED
// AMD-EXITED: emu: invalid warp shuffle in kernel 'down_half', block (0,0,0) thread (15,0,0) (warp 0 lane 15)
// AMD-EXITED: it reads lane 16, which has exited
// RUN: not iolite-emu %s --chip=gfx942 --kernel=up --block=64 --arg='i32[64]=zeros' --arg='i32[64]=zeros' --arg=i32=1 --arg=i32=128 2>&1 | FileCheck %s --check-prefix=WIDTH
// WIDTH: width 128 is not in [1, 64]

gpu.module @kernels {
  gpu.func @warp_sum(%in: memref<128xf32>, %out: memref<128xf32>) kernel {
    %tid = gpu.thread_id x
    %v = memref.load %in[%tid] : memref<128xf32>
    %sg = gpu.subgroup_size : index
    %w = arith.index_cast %sg : index to i32
    %c1 = arith.constant 1 : i32
    %half = arith.shrui %w, %c1 : i32
    %r:2 = scf.while (%off = %half, %acc = %v) : (i32, f32) -> (i32, f32) {
      %c0 = arith.constant 0 : i32
      %go = arith.cmpi ugt, %off, %c0 : i32
      scf.condition(%go) %off, %acc : i32, f32
    } do {
    ^bb0(%o: i32, %a: f32):
      %sh, %valid = gpu.shuffle xor %a, %o, %w : f32
      %n = arith.addf %a, %sh : f32
      %no = arith.shrui %o, %c1 : i32
      scf.yield %no, %n : i32, f32
    }
    memref.store %r#1, %out[%tid] : memref<128xf32>
    gpu.return
  }

  gpu.func @up(%vals: memref<64xi32>, %valid: memref<64xi32>, %off: i32, %width: i32) kernel {
    %tid = gpu.thread_id x
    %lane = arith.index_cast %tid : index to i32
    %r, %ok = gpu.shuffle up %lane, %off, %width : i32
    %flag = arith.extui %ok : i1 to i32
    memref.store %r, %vals[%tid] : memref<64xi32>
    memref.store %flag, %valid[%tid] : memref<64xi32>
    gpu.return
  }

  gpu.func @down(%vals: memref<64xi32>, %valid: memref<64xi32>, %off: i32, %width: i32) kernel {
    %tid = gpu.thread_id x
    %lane = arith.index_cast %tid : index to i32
    %r, %ok = gpu.shuffle down %lane, %off, %width : i32
    %flag = arith.extui %ok : i1 to i32
    memref.store %r, %vals[%tid] : memref<64xi32>
    memref.store %flag, %valid[%tid] : memref<64xi32>
    gpu.return
  }

  gpu.func @xor(%vals: memref<64xi32>, %valid: memref<64xi32>, %off: i32, %width: i32) kernel {
    %tid = gpu.thread_id x
    %lane = arith.index_cast %tid : index to i32
    %r, %ok = gpu.shuffle xor %lane, %off, %width : i32
    %flag = arith.extui %ok : i1 to i32
    memref.store %r, %vals[%tid] : memref<64xi32>
    memref.store %flag, %valid[%tid] : memref<64xi32>
    gpu.return
  }

  gpu.func @idx(%vals: memref<64xi32>, %valid: memref<64xi32>, %off: i32, %width: i32) kernel {
    %tid = gpu.thread_id x
    %lane = arith.index_cast %tid : index to i32
    %r, %ok = gpu.shuffle idx %lane, %off, %width : i32
    %flag = arith.extui %ok : i1 to i32
    memref.store %r, %vals[%tid] : memref<64xi32>
    memref.store %flag, %valid[%tid] : memref<64xi32>
    gpu.return
  }

  // Only lanes 0-15 shuffle; the others exit.
  gpu.func @down_half(%vals: memref<64xi32>, %valid: memref<64xi32>, %off: i32, %width: i32) kernel {
    %c16 = arith.constant 16 : index
    %tid = gpu.thread_id x
    %low = arith.cmpi ult, %tid, %c16 : index
    scf.if %low {
      %lane = arith.index_cast %tid : index to i32
      %r, %ok = gpu.shuffle down %lane, %off, %width : i32
      %flag = arith.extui %ok : i1 to i32
      memref.store %r, %vals[%tid] : memref<64xi32>
      memref.store %flag, %valid[%tid] : memref<64xi32>
    }
    gpu.return
  }
}
