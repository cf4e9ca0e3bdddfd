# Fails unless the README's embedding example is byte-for-byte the file that
# the embed_example test compiles and runs.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md's embedding example differs from ${EXAMPLE}; "
                      "copy the file into the README's cpp block")
endif()
