// bank_store PATH: writes the tests' bank store (bank_store.h) at PATH, for
// trying the CLI by hand and for the README's examples.
#include <cstdio>
#include <exception>

#include "tools/bank_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bank_store PATH\n");
    return 2;
  }
  try {
    memoir::test::WriteBankStore(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bank_store: %s\n", e.what());
    return 1;
  }
  return 0;
}
