// iolite-compile -o replaces an earlier bundle, or fills a new or empty
// folder; anything else at -o is refused before any work, and left as it
// was.

// RUN: rm -rf %t && mkdir -p %t/empty %t/other && touch %t/other/notes.txt
// RUN: cp %s %t/model.mlir
// RUN: not iolite-compile %t/model.mlir --target=emu-sm_90a -o %t/model.mlir 2>&1 | FileCheck %s --check-prefix=FILE
// RUN: FileCheck %s --check-prefix=KEPT --input-file=%t/model.mlir
// RUN: not iolite-compile %t/model.mlir --target=emu-sm_90a -o %t/other 2>&1 | FileCheck %s --check-prefix=FOLDER
// RUN: ls %t/other | FileCheck %s --check-prefix=OTHER
// RUN: iolite-compile %t/model.mlir --target=emu-sm_90a -o %t/empty | FileCheck %s --check-prefix=OK
// RUN: iolite-compile %t/model.mlir --target=emu-sm_90a -o %t/empty | FileCheck %s --check-prefix=OK
// RUN: iolite-compile %t/model.mlir --target=emu-sm_90a -o %t/new/nested/bundle | FileCheck %s --check-prefix=OK

// FILE: error: -o {{.*}}model.mlir is an existing file, not a bundle folder; refusing to replace it
// KEPT: func.func @bundle_output
// FOLDER: error: -o {{.*}}other is a folder that holds no bundle (no manifest.json); refusing to replace it
// OTHER: notes.txt
// OK: wrote {{.*}} (1 kernels, 1 targets

func.func @bundle_output(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = iolite.exp %x : tensor<4xf32>
  return %y : tensor<4xf32>
}
