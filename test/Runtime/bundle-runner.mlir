// BundleRunner (what iolite-run uses for bundles): the bundle's own launch
// code is compiled and called on the device; outputs match a double
// reference; the input checks and the "no binary" case give clear errors.

// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %S/../Driver/Inputs/emu_model.mlir --no-fusion --target=emu-sm_90a,emu-gfx942 -o %t/model > /dev/null
// RUN: bundle-runner-test %t/model emu | FileCheck %s
// RUN: bundle-runner-test %t/model emu-gfx942 | FileCheck %s
// RUN: not bundle-runner-test %t/model emu-sm_80 | FileCheck %s --check-prefix=NOBINARY
// RUN: not bundle-runner-test %t/nothing emu | FileCheck %s --check-prefix=MISSING

// The manifest names the workspace's planned tensors, and BundleRunner
// gives each its own extent on the emulator: with the matmul's result
// declared half its size, the matmul's stores past that half are reported
// by the tensor's name, though they stay inside the workspace allocation.
// RUN: %python -c "import json, sys; print(json.load(open(sys.argv[1]))['workspace_tensors'])" %t/model/manifest.json | FileCheck %s --check-prefix=TENSORS
// TENSORS: [{'bytes': 32768, 'name': 'emu_model_k0_matmul.result0', 'offset': 0}]
// RUN: rm -rf %t/shrunk && cp -r %t/model %t/shrunk
// RUN: %python -c "import json, sys; d = json.load(open(sys.argv[1])); d['workspace_tensors'][0]['bytes'] = 16384; json.dump(d, open(sys.argv[1], 'w'))" %t/shrunk/manifest.json
// RUN: env IOLITE_EMU_CHECK=bounds IOLITE_EMU_THREADS=1 not bundle-runner-test %t/shrunk emu | FileCheck %s --check-prefix=SHRUNK
// SHRUNK: run: running emu_model failed: emu memcheck: invalid global write of 4 bytes
// SHRUNK-NEXT: in kernel 'emu_model_k0_matmul', block ({{[0-9]+}},0,0) thread
// SHRUNK-NEXT: by {{.*}}emu_model.mlir:{{[0-9]+}}:{{[0-9]+}} memref.store
// SHRUNK-NEXT: the address is {{[0-9]+}} bytes after the end of workspace tensor 'emu_model_k0_matmul.result0' (16384 bytes at offset 0 of the allocation)

// Malformed manifests are refused before anything is compiled or allocated.
// RUN: mkdir -p %t/huge %t/negative %t/nodtype
// RUN: echo '{"name": "m", "inputs": [{"dtype": "f32", "shape": [4294967296, 4294967296]}], "outputs": []}' > %t/huge/manifest.json
// RUN: not bundle-runner-test %t/huge emu | FileCheck %s --check-prefix=HUGE
// RUN: echo '{"name": "m", "inputs": [], "outputs": [], "workspace_bytes": -8}' > %t/negative/manifest.json
// RUN: not bundle-runner-test %t/negative emu | FileCheck %s --check-prefix=NEGATIVE
// RUN: echo '{"name": "m", "inputs": [{"dtype": "f64", "shape": [2]}], "outputs": []}' > %t/nodtype/manifest.json
// RUN: not bundle-runner-test %t/nodtype emu | FileCheck %s --check-prefix=DTYPE
// A double of 2^63 as a dim: undefined behaviour in LLVM's JSON reader
// (found by the bundle fuzzer), now "not an integer".
// RUN: mkdir -p %t/bigdouble
// RUN: echo '{"name": "m", "inputs": [{"dtype": "f32", "shape": [9223372036854775807., 3]}], "outputs": []}' > %t/bigdouble/manifest.json
// RUN: not bundle-runner-test %t/bigdouble emu | FileCheck %s --check-prefix=BIGDOUBLE
// An output tied to an input it cannot be (another shape, or no input).
// RUN: mkdir -p %t/tied %t/tiednone
// RUN: echo '{"name": "m", "inputs": [{"dtype": "f32", "shape": [2]}], "outputs": [{"dtype": "f32", "shape": [3], "tied_input": 0}]}' > %t/tied/manifest.json
// RUN: not bundle-runner-test %t/tied emu | FileCheck %s --check-prefix=TIED
// RUN: echo '{"name": "m", "inputs": [], "outputs": [{"dtype": "f32", "shape": [3], "tied_input": 0}]}' > %t/tiednone/manifest.json
// RUN: not bundle-runner-test %t/tiednone emu | FileCheck %s --check-prefix=TIED
// TIED: entry 0 of "outputs" has a "tied_input" that is not an input of its dtype and shape, or is tied twice

// CHECK: bundle emu_model: 3 inputs, 2 outputs, workspace {{[0-9]+}} bytes
// CHECK: one input: the model takes 3 inputs, got 1
// CHECK: swapped inputs: input 0 is f32[64x128], the model takes f32[64x64]
// CHECK: outputs f32 64x128, f32 64x64, mismatches: 0
// CHECK: kernel grid block shared global read global written
// CHECK-NEXT: emu_model_k0_matmul (2,1,1) (256,1,1) 16384 65536 32768
// CHECK-NEXT: emu_model_k1_elementwise
// CHECK-NEXT: emu_model_k2_rms_norm
// CHECK-NEXT: total

// NOBINARY: open bundle: loading the bundle on emu device emu-sm_80 failed: no binary for this device (the bundle has emu-sm_90a, emu-gfx942)
// MISSING: open bundle: '{{.*}}nothing' is not a bundle: cannot read {{.*}}manifest.json
// HUGE: open bundle: {{.*}}manifest.json: entry 0 of "inputs" is f32[4294967296x4294967296], too large to address
// NEGATIVE: open bundle: {{.*}}manifest.json: "workspace_bytes" is negative
// DTYPE: open bundle: {{.*}}manifest.json: entry 0 of "inputs" has unknown dtype 'f64'
// BIGDOUBLE: open bundle: {{.*}}manifest.json: entry 0 of "inputs" has a dimension that is not an integer >= 0
