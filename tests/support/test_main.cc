#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include "support/backend.h"

int main(int argc, char** argv) {
  // A PostgreSQL run without a server is skipped (ctest's SKIP_RETURN_CODE),
  // never passed: `bash tools/dev.sh test` starts one and sets the variable.
  if (memoir::test::OnPostgres()) {
    const char* uri = std::getenv("MEMOIR_TEST_POSTGRES");
    if (uri == nullptr || *uri == '\0') {
      std::fprintf(stderr,
                   "skipped: MEMOIR_TEST_BACKEND=postgres needs "
                   "MEMOIR_TEST_POSTGRES, a PostgreSQL connection string "
                   "(bash tools/dev.sh test starts a server and sets it)\n");
      return 77;
    }
  }
  doctest::Context context(argc, argv);
  return context.run();
}
