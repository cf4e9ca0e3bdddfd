# The layers, as include lines (lib/doc/design.md, "Layers"). A quoted
# include names the layer it reaches into ("storage/env.h"); each folder may
# reach only into the layers below it, and public headers only into the
# standard library and each other.
#
#   cmake -DSOURCE=<memoir source> -P check_includes.cmake
set(rules
  # folder        quoted includes it may use (by first path component)
  "lib/include|memoir"
  "lib/base|base memoir"
  "lib/storage|storage base memoir"
  "journal|journal storage base memoir"
  "snapshot|snapshot storage base memoir"
  "lib/store|store journal snapshot storage base memoir"
  "lib/postgres|postgres base memoir"
  "lib/runtime|runtime memoir"
  "lib/subscription|subscription memoir"
  "tools|memoir")
set(violations "")
foreach(rule ${rules})
  string(REPLACE "|" ";" parts "${rule}")
  list(GET parts 0 folder)
  list(GET parts 1 allowed)
  string(REPLACE " " ";" allowed "${allowed}")
  file(GLOB_RECURSE files ${SOURCE}/${folder}/*.h ${SOURCE}/${folder}/*.cc
                          ${SOURCE}/${folder}/*.h.in)
  foreach(file ${files})
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include")
    file(RELATIVE_PATH rel ${SOURCE} ${file})
    foreach(line ${lines})
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(target ${CMAKE_MATCH_1})
        if(target MATCHES "^([^/]+)/")
          list(FIND allowed ${CMAKE_MATCH_1} found)
          if(found EQUAL -1)
            string(APPEND violations "  ${rel}: ${line}\n")
          endif()
        elseif(folder STREQUAL "lib/include")
          # Public headers name each other as "memoir/x.h".
          string(APPEND violations "  ${rel}: ${line}\n")
        endif()
      elseif(folder STREQUAL "lib/include" AND
             line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
        # The standard library has no extensions and no folders; cxxabi.h
        # is the C++ runtime's own (demangling). The one other exception
        # is the opt-in FlatBuffers codec.
        set(target ${CMAKE_MATCH_1})
        if(target MATCHES "[/.]" AND NOT target STREQUAL "cxxabi.h" AND NOT
           (rel STREQUAL "lib/include/memoir/flatbuffers_codec.h" AND
            target STREQUAL "flatbuffers/flatbuffers.h"))
          string(APPEND violations "  ${rel}: ${line}\n")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "includes that cross the layers (lib/doc/design.md, "
                      "\"Layers\"):\n${violations}")
endif()
message(STATUS "every include stays within its layer")
