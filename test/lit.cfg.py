# -*- Python -*-
# lit configuration for Iolite's FileCheck tests.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "IOLITE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.iolite_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "python", "Inputs", "matrix-table-test.cpp",
                   "resource-report-test.cpp"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%iolite_src_root", config.iolite_src_root))
# Where libiolite_runtime.so is, for tests that link generated launch code.
config.substitutions.append(
    ("%iolite_lib_dir", os.path.join(config.iolite_obj_root, "lib")))
config.substitutions.append(("%python", config.python_executable))

# Every emulator run in the tests has its sanitizers on (race, bounds, init,
# hang; docs/runtime-and-emulator.md), unless the caller chose otherwise.
config.environment["IOLITE_EMU_CHECK"] = os.environ.get("IOLITE_EMU_CHECK",
                                                        "all")
if "IOLITE_EMU_SEED" in os.environ:
    config.environment["IOLITE_EMU_SEED"] = os.environ["IOLITE_EMU_SEED"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.iolite_tools_dir, config.llvm_tools_dir]
tools = ["bundle-runner-test", "capi-test", "iolite-emu", "iolite-opt", "iolite-compile",
         "iolite-import", "iolite-run", "runtime-api-test", "FileCheck", "not", "split-file",
         "count"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The CUDA toolkit's stub driver exports every driver entry point but has no
# device: the CUDA backend must resolve all its symbols and then fail cleanly.
cuda_stub = "/usr/local/cuda/lib64/stubs/libcuda.so"
if os.path.exists(cuda_stub):
    config.available_features.add("cuda-driver-stub")
    config.substitutions.append(("%cuda_driver_stub", cuda_stub))

# cuobjdump reads the SASS of Iolite's cubins: the CUDA toolkit's, else the
# one tools/setup.sh installs from PyPI. Tests that use it fail (they are
# never skipped) when neither is there.
# cuobjdump runs the nvdisasm beside its real path.
cuobjdump = next(
    (p for p in ["/usr/local/cuda/bin/cuobjdump", "/opt/iolite/bin/cuobjdump"]
     if os.access(p, os.X_OK) and os.access(
         os.path.join(os.path.dirname(os.path.realpath(p)), "nvdisasm"),
         os.X_OK)),
    "cuobjdump-missing-run-tools-setup.sh")
config.substitutions.append(("%cuobjdump", cuobjdump))
