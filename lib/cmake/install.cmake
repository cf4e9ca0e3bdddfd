# What `cmake --install` puts where (GNUInstallDirs), and the .deb (CPack).
include(CMakePackageConfigHelpers)

set(MEMOIR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/memoir)

# The public headers, and nothing else: internals are not API.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/memoir
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/memoir/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/memoir)

install(TARGETS memoir EXPORT memoirTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# memoir::flatbuffers is not exported: memoirConfig.cmake defines it when
# FlatBuffers is found, so that FlatBuffers stays optional for users.
install(EXPORT memoirTargets NAMESPACE memoir::
        DESTINATION ${MEMOIR_CMAKE_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/memoirConfig.cmake.in
  ${PROJECT_BINARY_DIR}/memoirConfig.cmake
  INSTALL_DESTINATION ${MEMOIR_CMAKE_DIR})
# 0.x releases make no compatibility promise between minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/memoirConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/memoirConfig.cmake
              ${PROJECT_BINARY_DIR}/memoirConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/memoirPlugin.cmake
        DESTINATION ${MEMOIR_CMAKE_DIR})

# memoir.pc finds its prefix from where it lies, so an installed tree can
# move (a temporary prefix, a .deb unpacked elsewhere).
file(RELATIVE_PATH MEMOIR_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     /prefix)
string(REGEX REPLACE "/$" "" MEMOIR_PC_TO_PREFIX "${MEMOIR_PC_TO_PREFIX}")
if(BUILD_SHARED_LIBS)
  set(MEMOIR_PC_REQUIRES_PRIVATE "")
else()
  set(MEMOIR_PC_REQUIRES_PRIVATE "Requires.private: lmdb libxxhash fmt")
  if(MEMOIR_POSTGRES)
    string(APPEND MEMOIR_PC_REQUIRES_PRIVATE " libpq")
  endif()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/memoir.pc.in
               ${PROJECT_BINARY_DIR}/memoir.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/memoir.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/CHANGELOG.md
              ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The programs find an installed shared libmemoir wherever the prefix is.
foreach(program memoir_cli memoir-demo memoir-bench)
  if(TARGET ${program})
    set_target_properties(${program} PROPERTIES
      INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# The Debian package: one package, memoir, with the shared library, the
# headers, the CMake and pkg-config files, the CLI, the demo and the
# benchmark. One package because they ship together and share one
# version: a replay plugin must be built against the same memoir as the
# CLI that loads it, so a split -dev/-tools pair would have to pin each
# other exactly anyway.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME memoir)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "memoir maintainers <memoir@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "durable actors for C++: event-sourced actors on an LMDB journal")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "memoir is a C++20 library that makes actors durable: each actor appends\n what it accepts to its own stream in an LMDB journal, snapshots are\n taken periodically, and recovery replays events from the last good\n snapshot. This package holds the library, its headers, CMake and\n pkg-config files, the memoir CLI, the demo and the benchmark.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Run-time dependencies from the binaries (dpkg-shlibdeps), plus what the
# installed CMake package needs to be usable.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libflatbuffers-dev, flatbuffers-compiler")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
include(CPack)
