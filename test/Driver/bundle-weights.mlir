// Large constants go to the NAME.weights side file (header with magic,
// size and checksum, then every constant at a 64-byte aligned offset) and
// NAME_load reads them through the runtime; small ones stay embedded.
// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %S/Inputs/weights_model.mlir --target=emu-sm_90a,emu-gfx942 --weights-threshold=1024 -o %t/model > /dev/null
// RUN: ls %t/model | FileCheck %s --check-prefix=FILES
// RUN: FileCheck %s --check-prefix=HEADER --input-file=%t/model/weights_model.h
// RUN: FileCheck %s --check-prefix=SOURCE --input-file=%t/model/weights_model.c
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/model/manifest.json
// RUN: od -A d -t x1 -N 32 %t/model/weights_model.weights | FileCheck %s --check-prefix=FILEHEADER
// RUN: clang -std=c11 -Wall -Wextra -Werror -I %iolite_src_root/include/iolite/Runtime -I %t/model %S/Inputs/weights_main.c %t/model/weights_model.c -L %iolite_lib_dir -liolite_runtime -Wl,-rpath,%iolite_lib_dir -lm -o %t/main
// By default the file is found next to the NAME.c the program was built from.
// RUN: %t/main emu | FileCheck %s --check-prefix=OK
// RUN: %t/main emu-gfx942 | FileCheck %s --check-prefix=OK
// Moved elsewhere, it is named explicitly or through $NAME_WEIGHTS.
// RUN: mv %t/model/weights_model.weights %t/moved.weights
// RUN: not %t/main emu | FileCheck %s --check-prefix=MISSING
// RUN: %t/main emu %t/moved.weights | FileCheck %s --check-prefix=OK
// RUN: env WEIGHTS_MODEL_WEIGHTS=%t/moved.weights %t/main emu | FileCheck %s --check-prefix=OK
// A file that is not this bundle's, or whose data changed, is refused.
// RUN: not %t/main emu %S/Inputs/weights_model.mlir | FileCheck %s --check-prefix=FOREIGN
// RUN: cp %t/moved.weights %t/corrupt.weights
// RUN: printf '\377' | dd of=%t/corrupt.weights bs=1 seek=100 conv=notrunc 2>/dev/null
// RUN: not %t/main emu %t/corrupt.weights | FileCheck %s --check-prefix=CORRUPT
// RUN: head -c 1000 %t/moved.weights > %t/short.weights
// RUN: not %t/main emu %t/short.weights | FileCheck %s --check-prefix=SHORT
// Under the default threshold (64 KiB) everything is embedded.
// RUN: iolite-compile %S/Inputs/weights_model.mlir --target=emu-sm_90a -o %t/embedded > /dev/null
// RUN: ls %t/embedded | FileCheck %s --check-prefix=EMBEDDED
// RUN: FileCheck %s --check-prefix=EMBEDDEDH --input-file=%t/embedded/weights_model.h
// RUN: not iolite-compile %S/Inputs/weights_model.mlir --target=emu-sm_90a --weights-threshold=0 -o %t/bad 2>&1 | FileCheck %s --check-prefix=BADFLAG

// FILES: manifest.json
// FILES-NEXT: weights_model.c
// FILES-NEXT: weights_model.emu-gfx942.so
// FILES-NEXT: weights_model.emu-sm_90a.so
// FILES-NEXT: weights_model.h
// FILES-NEXT: weights_model.weights

// HEADER: #define WEIGHTS_MODEL_WEIGHTS_FILE "weights_model.weights"
// HEADER-NEXT: #define WEIGHTS_MODEL_WEIGHTS_BYTES 4160u
// HEADER: iolite_status_t weights_model_load_from(iolite_device_t device, const char *weights_path,
// HEADER: const char *weights_model_load_error(void);

// The 4 KiB weight is read from the file, the bias is embedded.
// SOURCE-NOT: static const unsigned char constant_0[
// SOURCE: static const unsigned char constant_1[128]
// SOURCE: constant_data[NUM_CONSTANTS + 1] = {NULL, constant_1, NULL};
// SOURCE: constant_sizes[NUM_CONSTANTS + 1] = {4096, 128, 0};
// SOURCE: constant_offsets[NUM_CONSTANTS + 1] = {64u, 0u, 0};

// MANIFEST: "constants": [
// MANIFEST-NEXT: {
// MANIFEST-NEXT: "bytes": 4096,
// MANIFEST-NEXT: "offset": 64
// MANIFEST: "bytes": 128,
// MANIFEST-NEXT: "embedded": true
// MANIFEST: "weights": {
// MANIFEST-NEXT: "bytes": 4160,
// MANIFEST-NEXT: "file": "weights_model.weights",
// MANIFEST-NEXT: "fnv1a64": "0x{{[0-9a-f]+}}",
// MANIFEST-NEXT: "threshold_bytes": 1024

// "IOLITEWT", version 1, size 4160 (0x1040).
// FILEHEADER: 0000000 49 4f 4c 49 54 45 57 54 01 00 00 00 00 00 00 00
// FILEHEADER-NEXT: 0000016 40 10 00 00 00 00 00 00

// OK: mismatches: 0
// MISSING: load failed (4): cannot open the weights file {{.*}}model/weights_model.weights
// FOREIGN: load failed (1): {{.*}}weights_model.mlir is not the weights file of this bundle
// CORRUPT: load failed (1): {{.*}}corrupt.weights is corrupted (checksum mismatch)
// SHORT: load failed (1): {{.*}}short.weights is truncated (constant 0)

// EMBEDDED-NOT: weights_model.weights
// EMBEDDEDH: #define WEIGHTS_MODEL_WEIGHTS_BYTES 0u
// BADFLAG: error: --weights-threshold must be at least 1 byte
