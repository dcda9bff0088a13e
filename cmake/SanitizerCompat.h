//===- SanitizerCompat.h - Sanitized project code, uninstrumented LLVM ----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Force-included into every C++ file of a sanitized build (CMakeLists.txt,
// IOLITE_SANITIZERS). LLVM's BumpPtrAllocator poisons the slabs it owns
// when the code that inlines it is built with AddressSanitizer. Debian's
// libLLVM and libMLIR are not: MLIR's StorageUniquer allocates from the
// same slabs in both kinds of code, so a slab started by an inlined
// allocation in project code stays poisoned where the library then places
// an attribute, and the next instrumented access reports a use-after-poison
// that is not one (found by the mlir fuzzer on a seed in CI). Inlined LLVM
// code therefore does not poison here, as in the libraries; unpoisoning
// stays (the emulator's fiber stacks need it).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CMAKE_SANITIZERCOMPAT_H
#define IOLITE_CMAKE_SANITIZERCOMPAT_H

#include "llvm/Support/Compiler.h"

#if LLVM_ADDRESS_SANITIZER_BUILD
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#endif

#endif // IOLITE_CMAKE_SANITIZERCOMPAT_H
