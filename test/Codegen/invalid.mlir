// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-kernel-to-gpu="target=gfx942 matmul-tile=256,256,64"

// A tile forced past the target's shared memory is a diagnostic naming the
// kernel, the tile and the limit.
func.func @too_big(%x: tensor<256x256xf32>, %w: tensor<256x256xf32>) -> tensor<256x256xf32> {
  // expected-error @+1 {{kernel 'mm' with matmul tile 256x256x64, 1 stage(s) needs 131072 bytes of shared memory (A[0,65536) B[65536,131072)), but gfx942 allows at most 65536 bytes per block}}
  %y = iolite.kernel "mm" (%x, %w) : (tensor<256x256xf32>, tensor<256x256xf32>) -> tensor<256x256xf32> {
  ^bb0(%a: tensor<256x256xf32>, %b: tensor<256x256xf32>):
    %m = iolite.matmul %a, %b : tensor<256x256xf32>, tensor<256x256xf32>
    iolite.yield %m : tensor<256x256xf32>
  }
  return %y : tensor<256x256xf32>
}

// -----

func.func @outside(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'iolite.exp' outside an iolite.kernel: form kernels before codegen}}
  %y = iolite.exp %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @arg_returned(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 is not computed by a kernel}}
  return %x : tensor<4xf32>
}

// -----

// Planned workspace offsets must keep the kernels' vector accesses aligned.
func.func @misaligned_offset(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{result #0 is placed at workspace offset 8, which is not aligned to the 16 bytes the kernels' vector accesses need}}
  %t = iolite.kernel "first" (%x) {result_offsets = array<i64: 8>} : (tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<8xf32>):
    %s = iolite.exp %a : tensor<8xf32>
    iolite.yield %s : tensor<8xf32>
  }
  %y = iolite.kernel "second" (%t) {result_offsets = array<i64: -1>} : (tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<8xf32>):
    %s = iolite.tanh %a : tensor<8xf32>
    iolite.yield %s : tensor<8xf32>
  }
  return %y : tensor<8xf32>
}
