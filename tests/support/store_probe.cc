// store_probe MODE PATH: opens a store from a separate process, for tests of
// cross-process behaviour. MODE is "write" (open for writing, append one
// event), "read" (open read-only, print the head of stream "s") or "hold"
// (open read-only, print "holding" from inside a read of stream "s" and
// stay there until killed, keeping its LMDB reader slot), or "writer"
// (open for writing; 6 threads append 1 to 3 events 40 times each to
// streams s0..s11 chosen at random from the seed in $MEMOIR_PROBE_SEED,
// with Expected::Any, printing "acked STREAM FIRST_SEQ N FIRST_POSITION"
// for each append acknowledged: one of several hosts' writers).
// Prints the outcome; exits 0 on success, 10 on kBusy, 1 otherwise.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "memoir/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: store_probe write|read|hold|writer PATH\n");
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
  if (mode == "writer") {
    const char* seed_text = std::getenv("MEMOIR_PROBE_SEED");
    const unsigned seed = seed_text ? std::stoul(seed_text) : 1;
    std::mutex mu;
    bool failed = false;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(seed * 100 + t);
        for (int i = 0; i < 40; ++i) {
          const std::string stream = "s" + std::to_string(rng() % 12);
          const size_t n = 1 + rng() % 3;
          std::vector<memoir::EventData> events(
              n, memoir::EventData{"T", "probe", 1, {}});
          auto r = (*store)->journal().Append(stream, memoir::Expected::Any(),
                                              std::move(events));
          std::lock_guard<std::mutex> lock(mu);
          if (!r.ok()) {
            fmt::print("{}\n", r.status().ToString());
            failed = true;
            return;
          }
          fmt::print("acked {} {} {} {}\n", stream, r->first_seq, n,
                     r->first_position);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    return failed ? 1 : 0;
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
