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
