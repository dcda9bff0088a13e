// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-emu-lowering-pipeline

gpu.module @copy_op {
  gpu.func @k(%a: memref<16xf32>, %b: memref<16xf32>) kernel {
    // expected-error @below {{'memref.copy' op emu: cannot instrument this access to global or shared memory}}
    memref.copy %a, %b : memref<16xf32> to memref<16xf32>
    gpu.return
  }
}

// -----

gpu.module @heap {
  gpu.func @k(%out: memref<16xf32>) kernel {
    %c0 = arith.constant 0 : index
    // expected-error @below {{'memref.alloc' op emu: heap allocation in a kernel is not supported}}
    %m = memref.alloc() : memref<16xf32>
    %v = memref.load %m[%c0] : memref<16xf32>
    memref.store %v, %out[%c0] : memref<16xf32>
    gpu.return
  }
}

// -----

gpu.module @nd_vector {
  gpu.func @k(%a: memref<16x16xf32>, %b: memref<2x4xf32>) kernel {
    %c0 = arith.constant 0 : index
    // expected-error @below {{'vector.load' op emu: only 1-D fixed-size vector accesses are supported}}
    %v = vector.load %a[%c0, %c0] : memref<16x16xf32>, vector<2x4xf32>
    // expected-error @below {{'vector.store' op emu: only 1-D fixed-size vector accesses are supported}}
    vector.store %v, %b[%c0, %c0] : memref<2x4xf32>, vector<2x4xf32>
    gpu.return
  }
}

// -----

gpu.module @vendor_op {
  gpu.func @k() kernel {
    // expected-error @below {{'nvvm.barrier0' op emu: vendor-specific op in a target-neutral gpu.module}}
    nvvm.barrier0
    gpu.return
  }
}

// -----

gpu.module @workgroup_attribution {
  // expected-error @below {{'gpu.func' op emu: workgroup attributions are not supported; take all shared memory from gpu.dynamic_shared_memory}}
  gpu.func @k() workgroup(%w: memref<32xf32, #gpu.address_space<workgroup>>) kernel {
    gpu.return
  }
}

// -----

gpu.module @dynamic_param {
  // expected-error @below {{'gpu.func' op emu: kernel memref parameters must have static shapes and identity layouts (bare-pointer convention), not 'memref<?xf32>'}}
  gpu.func @k(%a: memref<?xf32>) kernel {
    gpu.return
  }
}

// -----

gpu.module @printf {
  gpu.func @k() kernel {
    // expected-error @below {{'gpu.printf' op emu: not supported by the emulator}}
    gpu.printf "hello"
    gpu.return
  }
}

// -----

gpu.module @reserved {
  // expected-error @below {{'gpu.func' op emu: names starting with __iolite_emu_ are reserved}}
  gpu.func @__iolite_emu_k() kernel {
    gpu.return
  }
}
