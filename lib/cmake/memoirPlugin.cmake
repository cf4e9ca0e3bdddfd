# memoir_add_plugin(TARGET SOURCES...): a replay plugin for the memoir CLI
# (memoir/plugin.h), built as a loadable module that links memoir::memoir.
# Installed with the package (find_package(memoir) defines it) and used by
# memoir's own tree, so a plugin builds the same way inside and outside it.
# Link what else the plugin uses (memoir::flatbuffers, fmt) as usual.
function(memoir_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES PREFIX "")
  target_link_libraries(${target} PRIVATE memoir::memoir)
  # Every symbol must resolve at link time, so that a plugin that needs
  # something libmemoir does not export fails to build, not to load.
  # (Sanitizer runtimes live in the executable, so not under sanitizers.)
  if(NOT MEMOIR_SANITIZE)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
