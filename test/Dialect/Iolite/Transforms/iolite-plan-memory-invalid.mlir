// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-plan-memory
// RUN: not iolite-opt %s --iolite-plan-memory=alignment=100 2>&1 | FileCheck %s --check-prefix=ALIGN

// ALIGN: error: iolite-plan-memory: alignment 100 is not a power of two

// A dynamic dim without a symbol and bounds cannot be planned at its bound.
// expected-error @below {{argument #0 dim 0 is dynamic but names no symbol}}
func.func @dynamic_intermediate(%x: tensor<?xf32>) -> tensor<?xf32> {
  %a = iolite.kernel "a" (%x) : (tensor<?xf32>) -> tensor<?xf32> {
  ^bb0(%i: tensor<?xf32>):
    %e = iolite.exp %i : tensor<?xf32>
    iolite.yield %e : tensor<?xf32>
  }
  %b = iolite.kernel "b" (%a) : (tensor<?xf32>) -> tensor<?xf32> {
  ^bb0(%i: tensor<?xf32>):
    %e = iolite.exp %i : tensor<?xf32>
    iolite.yield %e : tensor<?xf32>
  }
  return %b : tensor<?xf32>
}
