/*===- iolite_capi.h - Iolite compiler C API ------------------------------===*\
|*                                                                            *|
|* Part of the Iolite project.                                                *|
|*                                                                            *|
|* The compiler as a C library (libIoliteCAPI.so), for the Python package     *|
|* (ctypes) and any other foreign caller: parse and verify iolite IR, import  *|
|* ONNX models, run the iolite-compile driver (mlir::iolite::compile), run a  *|
|* function on the CPU through the reference lowering (runOnCpu) and run a    *|
|* compiled bundle with BundleRunner. Every call returns a result object      *|
|* holding a success flag, the text it produced and the diagnostics it        *|
|* emitted (structured, as JSON); nothing aborts the process on bad input.    *|
|* Devices come from the runtime C API (iolite_runtime.h).                    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef IOLITE_CAPI_IOLITE_CAPI_H
#define IOLITE_CAPI_IOLITE_CAPI_H

#include "iolite/Runtime/iolite_runtime.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOLITE_CAPI_VERSION 2

/// IOLITE_CAPI_VERSION of the library (to check against the header).
int iolite_capi_version(void);

/// An MLIR context with every dialect Iolite uses. Calls on one context must
/// not run concurrently.
typedef struct iolite_capi_context *iolite_capi_context_t;
/// What one call produced. Strings and tensors it hands out live until it is
/// destroyed.
typedef struct iolite_capi_result *iolite_capi_result_t;
/// A bundle loaded on a device.
typedef struct iolite_capi_bundle *iolite_capi_bundle_t;

iolite_capi_context_t iolite_capi_context_create(void);
void iolite_capi_context_destroy(iolite_capi_context_t context);

/*===----------------------------------------------------------------------===*\
|* Results                                                                    *|
\*===----------------------------------------------------------------------===*/

/// 1 if the call succeeded, else 0.
int iolite_capi_result_ok(iolite_capi_result_t result);
/// The call's main output: printed IR, the compile driver's output, ...
/// ("" if none).
const char *iolite_capi_result_text(iolite_capi_result_t result);
/// JSON describing what was parsed (iolite_capi_parse with
/// IOLITE_CAPI_DESCRIBE): {"functions": [{"name", "arguments": [TYPE],
/// "results": [TYPE], "ops": [{"name", "location", "results": [TYPE]}]}]}
/// with TYPE = {"type": "tensor<2x8xf32>", "shape": [2, 8], "dtype": "f32"}
/// ("shape"/"dtype" only for ranked tensors). "" if none.
const char *iolite_capi_result_info(iolite_capi_result_t result);
/// Every diagnostic the call emitted, as a JSON array of {"severity":
/// "error"|"warning"|"remark"|"note", "message", "location" (printed),
/// "file", "line", "column" (from the first file location inside it, if
/// any), "name" (of the outermost name location, if any), "op" (the name of
/// the operation at that location, when verification failed there),
/// "reason" (the message without the "'OP' op " prefix), "notes": [...]}.
const char *iolite_capi_result_diagnostics(iolite_capi_result_t result);
/// The diagnostics as text, one "LOCATION: SEVERITY: MESSAGE" line each
/// (notes indented below).
const char *iolite_capi_result_message(iolite_capi_result_t result);

/// A host tensor: row-major, little-endian elements. `dtype` is the
/// manifest's name: "f32", "f16", "bf16", "i1", "i32" or "i64".
typedef struct iolite_capi_tensor {
  const char *dtype;
  size_t rank;
  const int64_t *shape;
  const void *data;
  size_t bytes;
} iolite_capi_tensor_t;

/// Number of tensors the call produced (the outputs of a run).
size_t iolite_capi_result_num_tensors(iolite_capi_result_t result);
/// Fills `tensor` with tensor `index` of the result; 0 if out of range.
int iolite_capi_result_tensor(iolite_capi_result_t result, size_t index,
                              iolite_capi_tensor_t *tensor);

void iolite_capi_result_destroy(iolite_capi_result_t result);

/*===----------------------------------------------------------------------===*\
|* IR                                                                         *|
\*===----------------------------------------------------------------------===*/

enum {
  /// Put the parsed module, printed by MLIR, in the result's text.
  IOLITE_CAPI_PRINT = 1,
  /// Put the JSON description of its functions in the result's info.
  IOLITE_CAPI_DESCRIBE = 2,
  /// Print locations too (with IOLITE_CAPI_PRINT).
  IOLITE_CAPI_DEBUG_INFO = 4,
};

/// Parses `length` bytes of MLIR text (iolite dialect, func, ...) named
/// `buffer_name` in locations, and verifies it. Fails on a parse or verifier
/// error; verifier diagnostics name the failing op ("op") and the reason.
iolite_capi_result_t iolite_capi_parse(iolite_capi_context_t context,
                                       const char *source, size_t length,
                                       const char *buffer_name, unsigned flags);

/// Imports the ONNX model at `path` (.onnx, or .onnxtxt) with the shared
/// model loader. `dims` gives symbolic dims as "NAME=N,..." (a value) or
/// "NAME=LO..HI,..." (dynamic within bounds); NULL or ""
/// for none. `function_name` names the function (NULL or "": the graph's).
/// `flags` as for iolite_capi_parse.
iolite_capi_result_t iolite_capi_import_onnx(iolite_capi_context_t context,
                                             const char *path, const char *dims,
                                             const char *function_name,
                                             unsigned flags);

/*===----------------------------------------------------------------------===*\
|* Compiling                                                                  *|
\*===----------------------------------------------------------------------===*/

/// The options of iolite-compile. NULL strings take the driver's defaults.
typedef struct iolite_capi_compile_options {
  /// Comma-separated targets ("sm_90a,gfx942,emu-sm_90a").
  const char *targets;
  /// The bundle folder (needed when emitting the bundle).
  const char *output_dir;
  /// "bundle" (default), "iolite", "raised", "fused", "gpu", "llvm",
  /// "ptx", "amdgcn".
  const char *emit;
  /// One kernel per op.
  int no_fusion;
  /// Report fusion decisions as remarks (in the diagnostics).
  int remarks;
  /// Symbolic dims, "NAME=N,..." or "NAME=LO..HI,..." (see --dim).
  const char *dims;
  /// f32 products on TF32 matrix instructions (--allow-tf32).
  int allow_tf32;
  /// Every tile product on the FMA units (--no-matrix-units).
  int no_matrix_units;
  /// How emu targets run matrix instructions: "isa" (default) or "warp"
  /// (--emu-matrix-level).
  const char *emu_matrix_level;
  /// Registers per thread every kernel may use, 0 for the back end's
  /// choice (--max-registers).
  unsigned max_registers;
  /// A kernel that spills is an error and no bundle is written
  /// (--werror-spills).
  int werror_spills;
} iolite_capi_compile_options_t;

/// Runs mlir::iolite::compile on the model at `path` (.mlir, .onnx,
/// .onnxtxt), as iolite-compile does. The result's text is what the tool
/// prints (the stage, or the kernel table of the bundle it wrote).
iolite_capi_result_t
iolite_capi_compile_file(iolite_capi_context_t context, const char *path,
                         const iolite_capi_compile_options_t *options);

/// iolite_capi_compile_file on MLIR text: the model is named `model_name`
/// (the bundle's NAME, and the file name in its locations).
iolite_capi_result_t
iolite_capi_compile(iolite_capi_context_t context, const char *source,
                    size_t length, const char *model_name,
                    const iolite_capi_compile_options_t *options);

/*===----------------------------------------------------------------------===*\
|* Running on the CPU                                                         *|
\*===----------------------------------------------------------------------===*/

/// Runs function `function` (NULL or "": the module's only function with a
/// body) of the module in `source` on the host CPU, as iolite-run does: the
/// reference lowering, JIT-compiled (mlir::iolite::runOnCpu). The inputs must
/// match the function's argument types; the result's tensors are its
/// results.
iolite_capi_result_t iolite_capi_run_cpu(iolite_capi_context_t context,
                                         const char *source, size_t length,
                                         const char *buffer_name,
                                         const char *function,
                                         const iolite_capi_tensor_t *inputs,
                                         size_t num_inputs);

/*===----------------------------------------------------------------------===*\
|* Running bundles                                                            *|
\*===----------------------------------------------------------------------===*/

/// Opens the bundle in `bundle_dir` on `device` (BundleRunner: compiles the
/// bundle's NAME.c with the host C compiler and calls NAME_load). On success
/// `*bundle` is set; the device must outlive it.
iolite_capi_result_t iolite_capi_bundle_open(const char *bundle_dir,
                                             iolite_device_t device,
                                             iolite_capi_bundle_t *bundle);
/// Runs the bundle on `num_inputs` host tensors (checked against the
/// manifest); the result's tensors are the outputs.
iolite_capi_result_t iolite_capi_bundle_run(iolite_capi_bundle_t bundle,
                                            const iolite_capi_tensor_t *inputs,
                                            size_t num_inputs);
/// Whether runs first check the serving inputs (lengths, block tables,
/// cu_seqlens) with the bundle's NAME_check_inputs: on (nonzero) by default.
void iolite_capi_bundle_check_inputs(iolite_capi_bundle_t bundle, int enabled);
void iolite_capi_bundle_close(iolite_capi_bundle_t bundle);

#ifdef __cplusplus
}
#endif

#endif /* IOLITE_CAPI_IOLITE_CAPI_H */
