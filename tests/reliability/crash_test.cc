// Process crash under load: a writer with 64 threads is SIGKILLed at a
// random moment, again and again; after each kill the store is reopened
// and checked. MEMOIR_CRASH_CYCLES sets the number of cycles (100 by
// default; the "long" ctest label runs 2,000).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

struct Child {
  pid_t pid = -1;
  std::set<uint64_t> acked;
  bool ready = false;
};

// Runs crash_child until it is ready, lets it write for `ms`, kills it.
Child RunAndKill(const std::string& store, uint64_t first_batch, int ms) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  Child child;
  child.pid = ::fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::string first = std::to_string(first_batch);
    ::execl(MEMOIR_CRASH_CHILD, "crash_child", store.c_str(), first.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::promise<void> ready;
  std::thread reader([&] {
    FILE* in = ::fdopen(fds[0], "r");
    char line[64];
    bool told = false;
    while (std::fgets(line, sizeof line, in)) {
      if (line[0] == 'R' && !told) {
        told = true;
        ready.set_value();
      } else if (line[0] == 'A') {
        child.acked.insert(std::strtoull(line + 2, nullptr, 10));
      }
    }
    if (!told) ready.set_value();
    std::fclose(in);
  });
  child.ready = ready.get_future().wait_for(std::chrono::seconds(30)) ==
                std::future_status::ready;
  // The random moment of the crash (not a synchronisation).
  if (child.ready) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(child.pid, SIGKILL);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  reader.join();
  CHECK_MESSAGE(WIFSIGNALED(status), "crash_child exited by itself");
  return child;
}

struct Figures {
  uint64_t cycles = 0, acked = 0, events = 0;
  uint64_t lost = 0, partial = 0, duplicates = 0, gaps = 0;
};

// Checks the events written since `from_position` against the child's
// acknowledgements; `heads` carries each stream's head across cycles.
void CheckCycle(Store& store, uint64_t from_position,
                const std::set<uint64_t>& acked,
                std::map<std::string, uint64_t>& heads, Figures& f) {
  struct Batch {
    uint64_t total = 0;
    std::set<uint64_t> seen;
  };
  std::map<uint64_t, Batch> batches;
  Status s = store.journal().ScanAll(
      from_position, SIZE_MAX, [&](const EventView& e) -> bool {
        ++f.events;
        uint64_t& head = heads[std::string(e.stream)];
        if (e.seq != head + 1) ++f.gaps;
        head = e.seq;
        uint64_t batch = 0, index = 0, total = 0;
        if (std::sscanf(std::string(e.payload).c_str(), "%lu:%lu:%lu", &batch,
                        &index, &total) != 3) {
          ++f.partial;
          return true;
        }
        Batch& b = batches[batch];
        b.total = total;
        if (!b.seen.insert(index).second) ++f.duplicates;
        return true;
      });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  for (auto& [id, b] : batches) {
    if (b.seen.size() != b.total) ++f.partial;
  }
  for (uint64_t id : acked) {
    auto it = batches.find(id);
    if (it == batches.end() || it->second.seen.size() != it->second.total) {
      ++f.lost;
    }
  }
  f.acked += acked.size();
}

TEST_CASE(
    "a writer SIGKILLed under load loses no acknowledged batch and "
    "leaves no partial one, cycle after cycle") {
  int cycles = 100;
  if (const char* env = std::getenv("MEMOIR_CRASH_CYCLES")) {
    cycles = std::atoi(env);
  }
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  std::mt19937_64 rng(std::random_device{}());
  std::map<std::string, uint64_t> heads;
  Figures f;
  for (int c = 0; c < cycles; ++c) {
    uint64_t from = 1;
    if (c > 0) {
      auto store = Store::Open(path);
      REQUIRE(store.ok());
      from = (*store)->journal().LastPosition().value() + 1;
    }
    Child child = RunAndKill(path, (static_cast<uint64_t>(c) + 1) << 32,
                             5 + static_cast<int>(rng() % 60));
    REQUIRE(child.ready);
    auto store = Store::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    CheckCycle(**store, from, child.acked, heads, f);
    ++f.cycles;
    if (f.lost || f.partial || f.duplicates || f.gaps) break;
  }
  std::printf(
      "crash cycles: %llu, acknowledged batches %llu, events checked %llu; "
      "lost %llu, partial %llu, duplicated %llu, gaps %llu\n",
      (unsigned long long)f.cycles, (unsigned long long)f.acked,
      (unsigned long long)f.events, (unsigned long long)f.lost,
      (unsigned long long)f.partial, (unsigned long long)f.duplicates,
      (unsigned long long)f.gaps);
  CHECK(f.cycles == static_cast<uint64_t>(cycles));
  CHECK(f.acked > 0);
  CHECK(f.lost == 0);
  CHECK(f.partial == 0);
  CHECK(f.duplicates == 0);
  CHECK(f.gaps == 0);
}

}  // namespace
}  // namespace memoir
