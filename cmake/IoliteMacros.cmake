#===- IoliteMacros.cmake - helpers shared by Iolite's CMake files ---------===#

# add_iolite_library(name SRC... [DEPENDS tgt...] [LINK_LIBS lib...])
#
# A static library of project code compiled position-independent (the Python
# C API and the emulator plug-ins link it into shared objects). It links the
# shared libMLIR.so rather than the per-component archives.
function(add_iolite_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS} ${IOLITE_MLIR_LIBS})
  set_property(GLOBAL APPEND PROPERTY IOLITE_LIBS ${name})
endfunction()
