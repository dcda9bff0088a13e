// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-plan-memory
// RUN: not iolite-opt %s --iolite-plan-memory=alignment=100 2>&1 | FileCheck %s --check-prefix=ALIGN

// ALIGN: error: iolite-plan-memory: alignment 100 is not a power of two

func.func @dynamic_intermediate(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{cannot place result #0 of type 'tensor<?xf32>' in the workspace: it needs a static tensor shape}}
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
