# A user's build is not the project's CI build: configured the way a user
# would (a standard build type, no memoir options), memoir's targets must
# keep their warnings but must not turn them into errors, so that a newer
# compiler's new warning (GCC 12's -Wrestrict false positive at -O3 was one)
# never breaks someone else's build.
#
#   cmake -DSOURCE=<memoir source> -DWORK=<scratch dir> -DBUILD_TYPE=Release
#         -P user_build_check.cmake
file(REMOVE_RECURSE ${WORK})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK} -G Ninja
          -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
  RESULT_VARIABLE configured OUTPUT_QUIET ERROR_VARIABLE errors)
if(NOT configured EQUAL 0)
  message(FATAL_ERROR "configuring a ${BUILD_TYPE} build failed:\n${errors}")
endif()
file(READ ${WORK}/compile_commands.json commands)
file(REMOVE_RECURSE ${WORK})
string(FIND "${commands}" "-Wall" wall)
if(wall EQUAL -1)
  message(FATAL_ERROR "the ${BUILD_TYPE} build compiles memoir without -Wall: "
                      "this check no longer sees memoir's flags")
endif()
string(FIND "${commands}" "-Werror" werror)
if(NOT werror EQUAL -1)
  message(FATAL_ERROR "a user's ${BUILD_TYPE} build compiles with -Werror; "
                      "warnings as errors belong to memoir's own CI builds "
                      "(MEMOIR_WERROR=ON in tools/dev.sh)")
endif()
message(STATUS "a ${BUILD_TYPE} build warns without -Werror")
