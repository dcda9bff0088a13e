// Shared memory and barriers: each block of 256 threads stages its slice of
// the input in dynamic shared memory and tree-reduces it with a barrier per
// level. Sums of 0..1023 by block: 32640, 98176, 163712, 229248.
// Traffic by hand, per block: global 256 x 4 read, 4 written; shared 256
// stores + 255 x (2 loads + 1 store) + 1 final load = 2044 bytes read and
// 2044 written; 1 + 8 barriers; 255 additions. Shared wavefronts per block:
// 8 warps store (8), then per level s the s/32 (at least 1) active warps
// load twice and store once (12 + 6 + 3 + 5 x 3), and one final load: 45,
// none of them conflicting.

// RUN: iolite-emu %s --chip=sm_90a --kernel=block_sum --grid=4 --block=256 --shared=1024 --arg='f32[1024]=iota' --arg='f32[4]=zeros' --print=1 --stats | FileCheck %s
// RUN: iolite-emu %s --chip=gfx90a --kernel=block_sum --grid=4 --block=256 --shared=1024 --arg='f32[1024]=iota' --arg='f32[4]=zeros' --print=1 --stats | FileCheck %s
// CHECK: arg1 = 32640 98176 163712 229248{{$}}
// CHECK: block_sum (4,1,1) (256,1,1) 1024 4096 16 8176 8176 1020 0 180 0 36

// Blocks run on several host threads and in any order; the result is the
// same.
// RUN: env IOLITE_EMU_THREADS=3 iolite-emu %s --kernel=block_sum --grid=4 --block=256 --shared=1024 --arg='f32[1024]=iota' --arg='f32[4]=zeros' --print=1 | FileCheck %s --check-prefix=THREADS
// THREADS: arg1 = 32640 98176 163712 229248{{$}}

// Too little shared memory for the 256-float buffer: the first store past
// the end is caught.
// RUN: not iolite-emu %s --kernel=block_sum --grid=4 --block=256 --shared=512 --arg='f32[1024]=iota' --arg='f32[4]=zeros' 2>&1 | FileCheck %s --check-prefix=SMALL
// SMALL: emu memcheck: invalid shared write of 4 bytes at 0x{{[0-9a-f]+}}
// SMALL-NEXT: in kernel 'block_sum', block ({{[0-3]}},0,0) thread (128,0,0)
// SMALL-NEXT: by {{.*}}emu-reduction.mlir:[[#@LINE+17]]:5 memref.store
// SMALL-NEXT: the access covers bytes [512, 516) of the block's 512-byte dynamic shared memory

gpu.module @kernels {
  gpu.func @block_sum(%in: memref<1024xf32>, %out: memref<4xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c128 = arith.constant 128 : index
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %buf = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<256xf32, #gpu.address_space<workgroup>>
    %tid = gpu.thread_id x
    %bid = gpu.block_id x
    %bdim = gpu.block_dim x
    %base = arith.muli %bid, %bdim : index
    %g = arith.addi %base, %tid : index
    %v = memref.load %in[%g] : memref<1024xf32>
    memref.store %v, %buf[%tid] : memref<256xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    scf.for %k = %c0 to %c8 step %c1 {
      %s = arith.shrui %c128, %k : index
      %active = arith.cmpi ult, %tid, %s : index
      scf.if %active {
        %other = arith.addi %tid, %s : index
        %a = memref.load %buf[%tid] : memref<256xf32, #gpu.address_space<workgroup>>
        %b = memref.load %buf[%other] : memref<256xf32, #gpu.address_space<workgroup>>
        %sum = arith.addf %a, %b : f32
        memref.store %sum, %buf[%tid] : memref<256xf32, #gpu.address_space<workgroup>>
      }
      gpu.barrier
    }
    %first = arith.cmpi eq, %tid, %c0 : index
    scf.if %first {
      %r = memref.load %buf[%c0] : memref<256xf32, #gpu.address_space<workgroup>>
      memref.store %r, %out[%bid] : memref<4xf32>
    }
    gpu.return
  }
}
