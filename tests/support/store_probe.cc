// store_probe MODE PATH: opens a store from a separate process, for tests of
// cross-process behaviour. MODE is "write" (open for writing, append one
// event), "read" (open read-only, print the head of stream "s") or "hold"
// (open read-only, print "holding" from inside a read of stream "s" and
// stay there until killed, keeping its LMDB reader slot).
// Prints the outcome; exits 0 on success, 10 on kBusy, 1 otherwise.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "memoir/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: store_probe write|read|hold PATH\n");
    return 2;
  }
  std::string mode = argv[1];
  memoir::StoreOptions o;
  o.read_only = mode == "read" || mode == "hold";
  auto store = memoir::Store::Open(argv[2], o);
  if (!store.ok()) {
    fmt::print("{}\n", store.status().ToString());
    return store.status().IsBusy() ? 10 : 1;
  }
  if (mode == "hold") {
    memoir::Status s =
        (*store)->journal().Scan("s", {}, [](const memoir::EventView&) -> bool {
          fmt::print("holding\n");
          std::fflush(stdout);
          for (;;) pause();
        });
    fmt::print("{}\n", s.ToString());
    return 1;
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
