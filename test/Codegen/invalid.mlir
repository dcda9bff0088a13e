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

// -----

// A KV cache append runs in place, in the caller's cache buffer: the
// updated cache must be returned (the output tied to that argument).
func.func @append_not_returned(%kc: tensor<1x8x1x4xf32>, %k: tensor<1x1x1x4xf32>,
                               %lens: tensor<1xi32>) -> tensor<1xi32> {
  %c = iolite.kernel "append" (%kc, %k, %lens) : (tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>) -> tensor<1x8x1x4xf32> {
  ^bb0(%a: tensor<1x8x1x4xf32>, %x: tensor<1x1x1x4xf32>, %l: tensor<1xi32>):
    // expected-error @+1 {{the updated key cache is not returned: a bundle writes it in place into function argument #0 and returns it as an output tied to that argument}}
    %r:2 = iolite.kv_cache_append %a, %a, %x, %x, %l : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>
    iolite.yield %r#0 : tensor<1x8x1x4xf32>
  }
  %n = iolite.kernel "lens" (%lens) : (tensor<1xi32>) -> tensor<1xi32> {
  ^bb0(%l: tensor<1xi32>):
    %s = iolite.add %l, %l : tensor<1xi32>, tensor<1xi32>
    iolite.yield %s : tensor<1xi32>
  }
  return %n : tensor<1xi32>
}

// -----

// Nothing may read the old cache after the append overwrote it.
func.func @append_then_old_cache(%kc: tensor<1x8x1x4xf32>, %k: tensor<1x1x1x4xf32>,
                                 %lens: tensor<1xi32>) -> (tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>) {
  %c = iolite.kernel "append" (%kc, %k, %lens) : (tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>) -> tensor<1x8x1x4xf32> {
  ^bb0(%a: tensor<1x8x1x4xf32>, %x: tensor<1x1x1x4xf32>, %l: tensor<1xi32>):
    // expected-error @+1 {{function argument #0 is read after this in-place append overwrites it}}
    %r:2 = iolite.kv_cache_append %a, %a, %x, %x, %l : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>
    iolite.yield %r#0 : tensor<1x8x1x4xf32>
  }
  // expected-note @+1 {{read here}}
  %old = iolite.kernel "old" (%kc) : (tensor<1x8x1x4xf32>) -> tensor<1x8x1x4xf32> {
  ^bb0(%a: tensor<1x8x1x4xf32>):
    %s = iolite.exp %a : tensor<1x8x1x4xf32>
    iolite.yield %s : tensor<1x8x1x4xf32>
  }
  return %c, %old : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>
}

// -----

// A cache computed by an earlier kernel is not the caller's buffer.
func.func @append_to_computed(%kc: tensor<1x8x1x4xf32>, %k: tensor<1x1x1x4xf32>,
                              %lens: tensor<1xi32>) -> tensor<1x8x1x4xf32> {
  %z = iolite.kernel "zero" (%kc) : (tensor<1x8x1x4xf32>) -> tensor<1x8x1x4xf32> {
  ^bb0(%a: tensor<1x8x1x4xf32>):
    %s = iolite.sub %a, %a : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>
    iolite.yield %s : tensor<1x8x1x4xf32>
  }
  %c = iolite.kernel "append" (%z, %k, %lens) : (tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>) -> tensor<1x8x1x4xf32> {
  ^bb0(%a: tensor<1x8x1x4xf32>, %x: tensor<1x1x1x4xf32>, %l: tensor<1xi32>):
    // expected-error @+1 {{the key cache is not an argument of the function: a bundle appends to a KV cache in place, in the caller's buffer}}
    %r:2 = iolite.kv_cache_append %a, %a, %x, %x, %l : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>
    iolite.yield %r#0 : tensor<1x8x1x4xf32>
  }
  return %c : tensor<1x8x1x4xf32>
}

// -----

// One buffer cannot hold both updated caches.
func.func @append_both_into_one(%kc: tensor<1x8x1x4xf32>, %k: tensor<1x1x1x4xf32>,
                                %lens: tensor<1xi32>) -> (tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>) {
  %c:2 = iolite.kernel "append" (%kc, %k, %lens) : (tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>) -> (tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>) {
  ^bb0(%a: tensor<1x8x1x4xf32>, %x: tensor<1x1x1x4xf32>, %l: tensor<1xi32>):
    // expected-error @+1 {{function argument #0 is updated in place twice (both caches, or two appends)}}
    %r:2 = iolite.kv_cache_append %a, %a, %x, %x, %l : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1xi32>
    iolite.yield %r#0, %r#1 : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>
  }
  return %c#0, %c#1 : tensor<1x8x1x4xf32>, tensor<1x8x1x4xf32>
}
