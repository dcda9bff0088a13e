#===- cmake-consumer.cmake - Install Iolite, build and run the example ----===#
#
# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DC_COMPILER=...
#       -DGENERATOR=... -P cmake-consumer.cmake
#
# Installs the build tree into WORK_DIR/prefix with `cmake --install`,
# configures examples/cmake-consumer against it with find_package(Iolite),
# builds it (iolite_add_kernels compiles the model at build time) and runs
# the program on both emulated vendors. Any failing step fails the test.
#
#===----------------------------------------------------------------------===#

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "cmake-consumer.cmake: ${var} is not set")
  endif()
endforeach()

function(step name)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
step("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(file lib/libiolite_runtime.so include/iolite/Runtime/iolite_runtime.h
             bin/iolite-compile lib/cmake/Iolite/IoliteConfig.cmake
             lib/cmake/Iolite/IoliteKernels.cmake)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "install did not produce ${file}")
  endif()
endforeach()

set(build "${WORK_DIR}/build")
step("configure" ${CMAKE_COMMAND} -G "${GENERATOR}"
  -S "${SOURCE_DIR}/examples/cmake-consumer" -B "${build}"
  "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_C_COMPILER=${C_COMPILER}")
step("build" ${CMAKE_COMMAND} --build "${build}")
foreach(device emu emu-gfx942)
  step("run on ${device}" "${build}/tiny_mlp_demo" ${device})
  message(STATUS "${last_output}")
endforeach()

# A second build with nothing changed does not recompile the model.
step("rebuild" ${CMAKE_COMMAND} --build "${build}")
if(last_output MATCHES "iolite-compile")
  message(FATAL_ERROR "the model was recompiled although nothing changed:\n"
                      "${last_output}")
endif()
