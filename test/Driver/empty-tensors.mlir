// A kernel whose results hold no elements has nothing to compute: the
// bundle launches nothing for it, and still runs (ONNX's Reshape with
// allowzero produces such shapes).

// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %s --target=gfx942,emu-sm_90a -o %t/bundle | FileCheck %s
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.zeros((0, 3, 4), np.float32)); np.save('%t/y.npy', np.ones((4,), np.float32))"
// RUN: iolite-run %t/bundle --backend=emu --input=%t/x.npy --input=%t/y.npy --output-dir=%t/out --stats | FileCheck %s --check-prefix=EMU

// CHECK: empty_tensors_k{{[0-9]+}}_elementwise elementwise exp
// CHECK-NOT: reshape
// CHECK: wrote {{.*}}bundle (1 kernels, 2 targets

// EMU-DAG: out0: tensor<3x4x0xf32> -> {{.*}}out0.npy
// EMU-DAG: out1: tensor<4xf32> -> {{.*}}out1.npy
// EMU: empty_tensors_k{{[0-9]+}}_elementwise
// EMU-NOT: empty_tensors_k

func.func @empty_tensors(%x: tensor<0x3x4xf32>, %y: tensor<4xf32>) -> (tensor<3x4x0xf32>, tensor<4xf32>) {
  %r = iolite.reshape %x : tensor<0x3x4xf32> -> tensor<3x4x0xf32>
  %e = iolite.exp %y : tensor<4xf32>
  return %r, %e : tensor<3x4x0xf32>, tensor<4xf32>
}
