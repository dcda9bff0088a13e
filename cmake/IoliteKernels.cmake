#===- IoliteKernels.cmake - iolite_add_kernels() --------------------------===#
#
# iolite_add_kernels(TARGET <target> SOURCE <model>
#                    TARGETS <gpu-target>... [OPTIONS <iolite-compile arg>...])
#
# Compiles the model (.mlir, .onnx, .onnxtxt) with iolite-compile at build
# time into a bundle under ${CMAKE_CURRENT_BINARY_DIR}/iolite/<target>/<name>
# (<name> is the model file's stem, as iolite-compile names it), adds the
# generated <name>.c to <target>, puts <name>.h on its include path and links
# it to Iolite::runtime. The bundle is rebuilt when the model or
# iolite-compile changes. GPU targets are those iolite-compile --target
# takes: sm_80, sm_90a, gfx90a, gfx942 and their emu-<chip> twins.
#
#   find_package(Iolite REQUIRED)
#   add_executable(app main.c)
#   iolite_add_kernels(TARGET app SOURCE model.mlir
#                      TARGETS sm_90a gfx942 emu-sm_90a)
#
#===----------------------------------------------------------------------===#

function(iolite_add_kernels)
  cmake_parse_arguments(ARG "" "TARGET;SOURCE" "TARGETS;OPTIONS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR
      "iolite_add_kernels: unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_TARGET OR NOT TARGET "${ARG_TARGET}")
    message(FATAL_ERROR
      "iolite_add_kernels: TARGET must name an existing target "
      "(got '${ARG_TARGET}')")
  endif()
  if(NOT ARG_SOURCE)
    message(FATAL_ERROR "iolite_add_kernels: SOURCE (the model) is required")
  endif()
  if(NOT ARG_TARGETS)
    message(FATAL_ERROR
      "iolite_add_kernels: TARGETS (e.g. sm_90a gfx942 emu-sm_90a) is "
      "required")
  endif()
  if(NOT TARGET Iolite::iolite-compile OR NOT TARGET Iolite::runtime)
    message(FATAL_ERROR
      "iolite_add_kernels: call find_package(Iolite) first")
  endif()

  get_filename_component(source "${ARG_SOURCE}" ABSOLUTE
                         BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  # The bundle's name is iolite-compile's: the file stem with every
  # character other than [A-Za-z0-9] replaced by '_', prefixed with
  # "model_" when empty or starting with a digit.
  get_filename_component(stem "${source}" NAME_WLE)
  string(REGEX REPLACE "[^A-Za-z0-9]" "_" name "${stem}")
  if(name STREQUAL "" OR name MATCHES "^[0-9]")
    set(name "model_${name}")
  endif()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/iolite/${ARG_TARGET}/${name}")
  set(outputs "${dir}/${name}.c" "${dir}/${name}.h" "${dir}/manifest.json")
  foreach(gpu IN LISTS ARG_TARGETS)
    if(gpu MATCHES "^emu-")
      list(APPEND outputs "${dir}/${name}.${gpu}.so")
    elseif(gpu MATCHES "^sm_")
      list(APPEND outputs "${dir}/${name}.${gpu}.cubin")
    elseif(gpu MATCHES "^gfx")
      list(APPEND outputs "${dir}/${name}.${gpu}.hsaco")
    else()
      message(FATAL_ERROR "iolite_add_kernels: unknown GPU target '${gpu}'")
    endif()
  endforeach()
  string(REPLACE ";" "," target_list "${ARG_TARGETS}")

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND Iolite::iolite-compile "${source}" "--target=${target_list}"
            -o "${dir}" ${ARG_OPTIONS}
    DEPENDS "${source}" "$<TARGET_FILE:Iolite::iolite-compile>"
    COMMENT "Compiling ${ARG_SOURCE} for ${target_list} with iolite-compile"
    VERBATIM)
  target_sources(${ARG_TARGET} PRIVATE "${dir}/${name}.c" "${dir}/${name}.h")
  target_include_directories(${ARG_TARGET} PRIVATE "${dir}")
  target_link_libraries(${ARG_TARGET} PRIVATE Iolite::runtime)
endfunction()
