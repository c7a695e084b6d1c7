# Install rules: headers, both libraries, a pkg-config file and a CMake
# package (find_package(clusterc) -> clusterc::clusterc, clusterc::clusterc_static).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CLUSTERC_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/clusterc")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/clusterc"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.h")

# The shared library installs libclusterc.so.0.1.0 with the libclusterc.so.0
# SONAME link (VERSION/SOVERSION set in lib/) and the dev symlink.
install(TARGETS clusterc clusterc_static EXPORT clusterc-targets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The exported targets name PkgConfig::HIREDIS and PkgConfig::LIBEVENT in
# their link interface; clusterc-config.cmake recreates those targets.
install(EXPORT clusterc-targets NAMESPACE clusterc::
  FILE clusterc-targets.cmake DESTINATION "${CLUSTERC_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/clusterc-config.cmake.in"
  "${PROJECT_BINARY_DIR}/clusterc-config.cmake" INSTALL_DESTINATION "${CLUSTERC_CMAKE_DIR}")
# 0.x: minor versions may break the API, so only the same minor is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/clusterc-config-version.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/clusterc-config.cmake"
  "${PROJECT_BINARY_DIR}/clusterc-config-version.cmake" DESTINATION "${CLUSTERC_CMAKE_DIR}")

# pkg-config: paths relative to the .pc file (${pcfiledir}) so that
# `cmake --install --prefix X` works whatever prefix was configured.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CLUSTERC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _clusterc_up "/_p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/_p")
  set(CLUSTERC_PC_PREFIX "\${pcfiledir}/${_clusterc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CLUSTERC_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(CLUSTERC_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CLUSTERC_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(CLUSTERC_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/pkgconfig/libclusterc.pc.in"
  "${PROJECT_BINARY_DIR}/libclusterc.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/libclusterc.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
