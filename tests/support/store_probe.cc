// store_probe MODE PATH: opens a store from a separate process, for tests of
// cross-process behaviour. MODE is "write" (open for writing, append one
// event) or "read" (open read-only, print the head of stream "s").
// Prints the outcome; exits 0 on success, 10 on kBusy, 1 otherwise.
#include <fmt/format.h>

#include <string>

#include "memoir/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: store_probe write|read PATH\n");
    return 2;
  }
  std::string mode = argv[1];
  memoir::StoreOptions o;
  o.read_only = mode == "read";
  auto store = memoir::Store::Open(argv[2], o);
  if (!store.ok()) {
    fmt::print("{}\n", store.status().ToString());
    return store.status().IsBusy() ? 10 : 1;
  }
  if (mode == "read") {
    auto head = (*store)->journal().Head("s");
    if (!head.ok()) {
      fmt::print("{}\n", head.status().ToString());
      return 1;
    }
    fmt::print("head {}\n", *head);
    return 0;
  }
  auto r = (*store)->journal().Append("s", memoir::Expected::Any(),
                                      {{"T", "from probe", 1, {}}});
  fmt::print("{}\n", r.ok() ? "appended" : r.status().ToString());
  return r.ok() ? 0 : 1;
}
