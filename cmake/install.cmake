# Install rules, the CMake package for out-of-tree backends, and the Debian
# package (CPack). The layout is described where INFERD_INSTALL_LIBDIR is set.
include(CMakePackageConfigHelpers)

install(TARGETS inferd inferd-perf RUNTIME DESTINATION bin COMPONENT server)

# Development: the backend ABI header and find_package(inferd).
install(FILES ${PROJECT_SOURCE_DIR}/include/inferd/backend.h DESTINATION include/inferd COMPONENT dev)
set(INFERD_INSTALL_INCLUDEDIR include)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/inferdConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/inferdConfig.cmake
  INSTALL_DESTINATION lib/cmake/inferd
  PATH_VARS INFERD_INSTALL_INCLUDEDIR INFERD_INSTALL_BACKENDDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/inferdConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/inferdConfig.cmake ${CMAKE_BINARY_DIR}/cmake/inferdConfigVersion.cmake
  DESTINATION lib/cmake/inferd COMPONENT dev)

# The Debian package: `cpack --config build/<preset>/CPackConfig.cmake` (or
# scripts/package) writes inferd_<version>_amd64.deb, prefix /usr, stripped,
# with every installed component in one package and its Depends computed by
# dpkg-shlibdeps from what the binaries link. The Python backend runs the
# system's python3 with numpy, which the package recommends.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME inferd)
set(CPACK_PACKAGE_VENDOR "inferd")
set(CPACK_PACKAGE_CONTACT "inferd maintainers <inferd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Inference server for Triton model repositories (KServe v2 HTTP/gRPC)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libonnxruntime.so.1 ships inside the package, beside its backend.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/backends/onnxruntime)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-numpy")
set(CPACK_DEB_COMPONENT_INSTALL OFF)
include(CPack)
