// RUN: iolite-opt %s --split-input-file --iolite-plan-memory | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-plan-memory=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: iolite-opt %s --split-input-file --iolite-plan-memory=alignment=64 | FileCheck %s --check-prefix=ALIGN64

// Buffers: A (2048 B) live over kernels a..b, B (1024 B) a..c, C (1024 B)
// b..c, D (1024 B) written by c over B, which dies there and is read
// only pointwise: D shares B's storage. Greedy by size: A at 0, B/D after
// A, C after both (all three are live at b). E is the function result.
// F is written after A..D are dead and reuses offset 0.

// CHECK-LABEL: func @chain
// CHECK-SAME: iolite.workspace_size = 4096 : i64
// CHECK-SAME: iolite.workspace_stats = {buffers = 5 : i64, in_place = 1 : i64, liveness_lower_bound = 4096 : i64, sum_of_sizes = 5632 : i64}
// CHECK: iolite.kernel "a"(%{{.*}}) {result_offsets = array<i64: 0, 2048>}
// CHECK: iolite.kernel "b"(%{{.*}}) {result_offsets = array<i64: 3072>}
// CHECK: iolite.kernel "c"(%{{.*}}, %{{.*}}) {result_offsets = array<i64: 2048>}
// CHECK: iolite.kernel "d"(%{{.*}}) {result_offsets = array<i64: -1>}
// CHECK: iolite.kernel "f"(%{{.*}}) {result_offsets = array<i64: 0>}
// CHECK: iolite.kernel "g"(%{{.*}}) {result_offsets = array<i64: -1>}
// REMARK: remark: kernel 'c' writes result #0 in place over result #1 of 'a', which dies there
// REMARK: remark: workspace of @chain: 4096 B peak for 5 intermediates (1 in place); sum of sizes 5632 B, liveness lower bound 4096 B
func.func @chain(%x: tensor<512xf32>, %y: tensor<128xf32>) -> (tensor<256xf32>, tensor<128xf32>) {
  %A, %B = iolite.kernel "a" (%x) : (tensor<512xf32>) -> (tensor<512xf32>, tensor<256xf32>) {
  ^bb0(%i: tensor<512xf32>):
    %e = iolite.exp %i : tensor<512xf32>
    %s = iolite.slice %i [0] to [256] : tensor<512xf32>
    iolite.yield %e, %s : tensor<512xf32>, tensor<256xf32>
  }
  %C = iolite.kernel "b" (%A) : (tensor<512xf32>) -> tensor<256xf32> {
  ^bb0(%i: tensor<512xf32>):
    %s = iolite.slice %i [256] to [512] : tensor<512xf32>
    iolite.yield %s : tensor<256xf32>
  }
  %D = iolite.kernel "c" (%B, %C) : (tensor<256xf32>, tensor<256xf32>) -> tensor<256xf32> {
  ^bb0(%i: tensor<256xf32>, %j: tensor<256xf32>):
    %a = iolite.add %i, %j : tensor<256xf32>, tensor<256xf32>
    %n = iolite.neg %a : tensor<256xf32>
    iolite.yield %n : tensor<256xf32>
  }
  %E = iolite.kernel "d" (%D) : (tensor<256xf32>) -> tensor<256xf32> {
  ^bb0(%i: tensor<256xf32>):
    %e = iolite.exp %i : tensor<256xf32>
    iolite.yield %e : tensor<256xf32>
  }
  %F = iolite.kernel "f" (%y) : (tensor<128xf32>) -> tensor<128xf32> {
  ^bb0(%i: tensor<128xf32>):
    %e = iolite.exp %i : tensor<128xf32>
    iolite.yield %e : tensor<128xf32>
  }
  %G = iolite.kernel "g" (%F) : (tensor<128xf32>) -> tensor<128xf32> {
  ^bb0(%i: tensor<128xf32>):
    %e = iolite.exp %i : tensor<128xf32>
    iolite.yield %e : tensor<128xf32>
  }
  return %E, %G : tensor<256xf32>, tensor<128xf32>
}

// -----

// No in-place write when the kernel reads its input at other elements
// (a transpose), or when the input lives on, or when it is a function
// argument.

// CHECK-LABEL: func @no_in_place
// CHECK-SAME: iolite.workspace_stats = {buffers = 3 : i64, in_place = 0 : i64
// CHECK: iolite.kernel "p"(%{{.*}}) {result_offsets = array<i64: 0>}
// CHECK: iolite.kernel "transposes"(%{{.*}}) {result_offsets = array<i64: 256>}
// CHECK: iolite.kernel "lives_on"(%{{.*}}) {result_offsets = array<i64: 0>}
// CHECK: iolite.kernel "reads_both"(%{{.*}}, %{{.*}}) {result_offsets = array<i64: -1>}
// REMARK-NOT: in place over
func.func @no_in_place(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %p = iolite.kernel "p" (%x) : (tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%i: tensor<8x8xf32>):
    %e = iolite.exp %i : tensor<8x8xf32>
    iolite.yield %e : tensor<8x8xf32>
  }
  %t = iolite.kernel "transposes" (%p) : (tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%i: tensor<8x8xf32>):
    %e = iolite.transpose %i [1, 0] : tensor<8x8xf32>
    %n = iolite.neg %e : tensor<8x8xf32>
    iolite.yield %n : tensor<8x8xf32>
  }
  %l = iolite.kernel "lives_on" (%t) : (tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%i: tensor<8x8xf32>):
    %e = iolite.exp %i : tensor<8x8xf32>
    iolite.yield %e : tensor<8x8xf32>
  }
  %r = iolite.kernel "reads_both" (%t, %l) : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%i: tensor<8x8xf32>, %j: tensor<8x8xf32>):
    %e = iolite.add %i, %j : tensor<8x8xf32>, tensor<8x8xf32>
    iolite.yield %e : tensor<8x8xf32>
  }
  return %r : tensor<8x8xf32>
}

// -----

// Sizes round up to the alignment: three 4-byte buffers live together take
// 768 B at 256-byte alignment and 192 B at 64.

// CHECK-LABEL: func @alignment
// CHECK-SAME: iolite.workspace_size = 768 : i64
// ALIGN64-LABEL: func @alignment
// ALIGN64-SAME: iolite.workspace_size = 192 : i64
// ALIGN64: result_offsets = array<i64: 0, 64, 128>
func.func @alignment(%x: tensor<1xf32>) -> tensor<1xf32> {
  %a, %b, %c = iolite.kernel "three" (%x) : (tensor<1xf32>) -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) {
  ^bb0(%i: tensor<1xf32>):
    %e = iolite.exp %i : tensor<1xf32>
    %n = iolite.neg %i : tensor<1xf32>
    %s = iolite.sqrt %i : tensor<1xf32>
    iolite.yield %e, %n, %s : tensor<1xf32>, tensor<1xf32>, tensor<1xf32>
  }
  %r = iolite.kernel "sum" (%a, %b, %c) : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32> {
  ^bb0(%i: tensor<1xf32>, %j: tensor<1xf32>, %k: tensor<1xf32>):
    %s = iolite.add %i, %j : tensor<1xf32>, tensor<1xf32>
    %t = iolite.mul %s, %k : tensor<1xf32>, tensor<1xf32>
    iolite.yield %t : tensor<1xf32>
  }
  return %r : tensor<1xf32>
}

// -----

// Symbolic dims: the plan is made at the bounds (seq = 100), so one
// workspace serves every size. A [seq, 32] f32 buffer is 12800 B at the
// bound; both intermediates are live at kernel "b".

// CHECK-LABEL: func @symbolic
// CHECK-SAME: iolite.workspace_size = 25600 : i64
// CHECK-SAME: liveness_lower_bound = 25600 : i64
// CHECK: iolite.kernel "a"(%{{.*}}) {result_offsets = array<i64: 0>}
// CHECK: iolite.kernel "b"(%{{.*}}) {result_offsets = array<i64: 12800>}
// CHECK: iolite.kernel "c"(%{{.*}}, %{{.*}}) {result_offsets = array<i64: -1>}
func.func @symbolic(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]})
    -> tensor<?x32xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 100>}} {
  %A = iolite.kernel "a" (%x) : (tensor<?x32xf32>) -> tensor<?x32xf32> {
  ^bb0(%i: tensor<?x32xf32>):
    %e = iolite.exp %i : tensor<?x32xf32>
    iolite.yield %e : tensor<?x32xf32>
  }
  %B = iolite.kernel "b" (%A) : (tensor<?x32xf32>) -> tensor<?x32xf32> {
  ^bb0(%i: tensor<?x32xf32>):
    %s = iolite.softmax %i {axis = -1 : i64} : tensor<?x32xf32>
    iolite.yield %s : tensor<?x32xf32>
  }
  %C = iolite.kernel "c" (%A, %B) : (tensor<?x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32> {
  ^bb0(%i: tensor<?x32xf32>, %j: tensor<?x32xf32>):
    %a = iolite.add %i, %j : tensor<?x32xf32>, tensor<?x32xf32>
    iolite.yield %a : tensor<?x32xf32>
  }
  return %C : tensor<?x32xf32>
}
