#===- IolitePackage.cmake - Install rules and the CMake package ----------===#
#
# `cmake --install` puts what a build pipeline needs under the prefix:
#   lib/libiolite_runtime.so          the runtime the bundles call
#   include/iolite/Runtime/*.h        its C header (also on the include path
#                                     directly: NAME.c includes
#                                     "iolite_runtime.h")
#   bin/iolite-compile, bin/iolite-emu
#   lib/cmake/Iolite/                 find_package(Iolite): the targets
#                                     Iolite::runtime, Iolite::iolite-compile
#                                     and iolite_add_kernels()
#
#===----------------------------------------------------------------------===#

include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(IOLITE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Iolite)

install(TARGETS iolite_runtime
  EXPORT IoliteTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
                       ${CMAKE_INSTALL_INCLUDEDIR}/iolite/Runtime)
install(FILES
  ${PROJECT_SOURCE_DIR}/include/iolite/Runtime/iolite_runtime.h
  ${PROJECT_SOURCE_DIR}/include/iolite/Runtime/iolite_emu_abi.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/iolite/Runtime)

# The compilers run at build time; they find LLVM/MLIR where this build did.
set_target_properties(iolite-compile iolite-emu PROPERTIES
  INSTALL_RPATH "\$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${LLVM_LIBRARY_DIR}")
install(TARGETS iolite-compile iolite-emu
  EXPORT IoliteTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT IoliteTargets
  NAMESPACE Iolite::
  DESTINATION ${IOLITE_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/IoliteConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/IoliteConfig.cmake
  INSTALL_DESTINATION ${IOLITE_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/IoliteConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/IoliteConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/IoliteConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/IoliteKernels.cmake
  DESTINATION ${IOLITE_INSTALL_CMAKEDIR})
