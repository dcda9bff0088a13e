// RUN: not iolite-opt %s --iolite-kernel-to-gpu=target=sm_42 2>&1 | FileCheck %s

// CHECK: unknown target 'sm_42' (known: sm_80, sm_90a, gfx90a, gfx942, emu-sm_80
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
