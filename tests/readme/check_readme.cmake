# Fails unless a README example is byte-for-byte the file (or, with FROM, the
# file from FROM on) that a test compiles.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
if(DEFINED FROM)
  # Only the part of the file from the first line containing FROM is the
  # README's; what precedes it stands for code the README shows elsewhere.
  string(FIND "${example}" "${FROM}" from)
  if(from EQUAL -1)
    message(FATAL_ERROR "${EXAMPLE} has no line containing ${FROM}")
  endif()
  string(SUBSTRING "${example}" ${from} -1 example)
endif()
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "a README.md example differs from ${EXAMPLE}; "
                      "copy the file (from ${FROM}, if given) into the "
                      "README's cpp block")
endif()
