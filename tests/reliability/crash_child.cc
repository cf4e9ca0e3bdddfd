// crash_child STORE FIRST_BATCH: the writer the crash test kills.
//
// 64 threads append atomic batches (1 to 3 streams of 1 to 3 events each,
// one AppendMulti) to 200 streams until the process is killed. Every event's
// payload is "<batch>:<index>:<total>", so the parent can tell a whole
// batch from a partial one. Prints "READY", then "A <batch>" once a batch
// is acknowledged (one write() per line).
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memoir/store.h"

namespace {

void Say(const std::string& line) {
  std::string out = line + "\n";
  ssize_t n = ::write(1, out.data(), out.size());
  (void)n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: crash_child STORE FIRST_BATCH\n");
    return 2;
  }
  memoir::StoreOptions o;
  // A process crash loses nothing acknowledged in any durability mode (the
  // page cache survives the process); kNone keeps the cycles fast.
  o.durability = memoir::Durability::kNone;
  auto store = memoir::Store::Open(argv[1], o);
  if (!store.ok()) {
    fmt::print(stderr, "crash_child: {}\n", store.status().ToString());
    return 3;
  }
  std::atomic<uint64_t> next_batch{std::stoull(argv[2])};
  memoir::Journal& journal = (*store)->journal();
  Say("READY");
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(next_batch.load() + static_cast<uint64_t>(t));
      for (;;) {
        uint64_t batch = next_batch.fetch_add(1);
        size_t streams = 1 + rng() % 3;
        std::set<int> picked;
        while (picked.size() < streams)
          picked.insert(static_cast<int>(rng() % 200));
        std::vector<size_t> counts;
        size_t total = 0;
        for (size_t i = 0; i < streams; ++i) {
          counts.push_back(1 + rng() % 3);
          total += counts.back();
        }
        std::vector<memoir::StreamAppend> request;
        size_t index = 0, k = 0;
        for (int s : picked) {
          memoir::StreamAppend a;
          a.stream = fmt::format("s-{:03}", s);
          for (size_t e = 0; e < counts[k]; ++e) {
            a.events.push_back({"Crash",
                                fmt::format("{}:{}:{}", batch, index++, total),
                                1,
                                {}});
          }
          ++k;
          request.push_back(std::move(a));
        }
        auto r = journal.AppendMulti(std::move(request));
        if (r.ok()) Say(fmt::format("A {}", batch));
      }
    });
  }
  for (auto& t : threads) t.join();
}
