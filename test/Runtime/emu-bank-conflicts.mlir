// The emulator's shared-memory bank model (32 banks of 4 bytes on both
// vendors): a warp-wide access is served in 128-byte phases (32 lanes of up
// to 4 bytes, 16 of 8, 8 of 16), each taking as many wavefronts as the most
// distinct words one bank delivers. One warp of 32 lanes, one access each:
// - stride 1 word: 32 banks, 1 wavefront;
// - stride 32 words: every lane in bank 0, 32 wavefronts (31 conflicts);
// - stride 33 words (padded): 32 banks, 1 wavefront;
// - all lanes one word (a broadcast): 1 wavefront;
// - 8-byte accesses at consecutive addresses: 2 phases of 16 lanes, 2
//   wavefronts, no conflict.
// Counted per kernel: wavefronts, bank conflicts (extra wavefronts).
// The kernels read shared memory nobody wrote (only the addresses matter
// here), so the init check is off.

// RUN: iolite-emu %s --kernel=read --block=32 --shared=8192 --arg=i32=1 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=S1
// S1: read (1,1,1) (32,1,1) 8192 0 128 128 0 0 0 1 0 0
// RUN: iolite-emu %s --kernel=read --block=32 --shared=8192 --arg=i32=32 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=S32
// S32: read (1,1,1) (32,1,1) 8192 0 128 128 0 0 0 32 31 0
// RUN: iolite-emu %s --kernel=read --block=32 --shared=8192 --arg=i32=33 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=S33
// S33: read (1,1,1) (32,1,1) 8192 0 128 128 0 0 0 1 0 0
// RUN: iolite-emu %s --kernel=read --block=32 --shared=8192 --arg=i32=0 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=S0
// S0: read (1,1,1) (32,1,1) 8192 0 128 128 0 0 0 1 0 0
// RUN: iolite-emu %s --kernel=read_pairs --block=32 --shared=8192 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=PAIRS
// PAIRS: read_pairs (1,1,1) (32,1,1) 8192 0 256 256 0 0 0 2 0 0

// The same with 64-lane waves (gfx942): two phases of 32 lanes for 4-byte
// accesses; stride 32 puts each phase's 32 lanes in one bank.
// RUN: iolite-emu %s --chip=gfx942 --kernel=read --block=64 --shared=16384 --arg=i32=32 --arg='f32[64]=zeros' --stats --check=race,bounds,hang | FileCheck %s --check-prefix=WAVE
// WAVE: read (1,1,1) (64,1,1) 16384 0 256 256 0 0 0 64 62 0

gpu.module @kernels {
  gpu.func @read(%stride: i32, %out: memref<64xf32>) kernel {
    %lane = gpu.thread_id x
    %s = arith.index_cast %stride : i32 to index
    %i = arith.muli %lane, %s : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %c0 = arith.constant 0 : index
    %buf = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2048xf32, #gpu.address_space<workgroup>>
    %v = memref.load %buf[%i] : memref<2048xf32, #gpu.address_space<workgroup>>
    memref.store %v, %out[%lane] : memref<64xf32>
    gpu.return
  }

  gpu.func @read_pairs(%out: memref<64xf32>) kernel {
    %lane = gpu.thread_id x
    %c2 = arith.constant 2 : index
    %i = arith.muli %lane, %c2 : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %c0 = arith.constant 0 : index
    %buf = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2048xf32, #gpu.address_space<workgroup>>
    %v = vector.load %buf[%i] : memref<2048xf32, #gpu.address_space<workgroup>>, vector<2xf32>
    vector.store %v, %out[%i] : memref<64xf32>, vector<2xf32>
    gpu.return
  }
}
