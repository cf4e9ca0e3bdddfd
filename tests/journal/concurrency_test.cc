// Readers running beside the writer see whole batches and no gaps.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {

TEST_CASE(
    "4 reader threads never see a partial batch or a gap while the writer "
    "appends") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = 97;  // flushes happen during the test
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  constexpr int kStreams = 8;
  constexpr int kBatch = 5;
  constexpr int kBatchesPerStream = 60;
  std::atomic<bool> done{false};
  std::atomic<int> problems{0};
  std::atomic<long> reads{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      while (!done.load()) {
        std::string stream =
            "s" + std::to_string((r + reads.load()) % kStreams);
        uint64_t expected = 1;
        Status s = j.Scan(stream, {}, [&](const EventView& e) {
          if (e.seq != expected++) problems.fetch_add(1);
          return true;
        });
        if (s.IsNotFound()) continue;
        if (!s.ok()) problems.fetch_add(1);
        if ((expected - 1) % kBatch != 0) problems.fetch_add(1);
        // Commit order: positions strictly increase and batches are whole.
        uint64_t last = 0;
        std::map<std::string, uint64_t> per_stream;
        s = j.ScanAll(0, 100000, [&](const EventView& e) {
          if (e.position <= last) problems.fetch_add(1);
          last = e.position;
          if (++per_stream[std::string(e.stream)] != e.seq)
            problems.fetch_add(1);
          return true;
        });
        if (!s.ok()) problems.fetch_add(1);
        for (auto& [name, n] : per_stream) {
          if (n % kBatch != 0) problems.fetch_add(1);
        }
        reads.fetch_add(1);
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int b = 0; b < kBatchesPerStream; ++b) {
        for (int s = w; s < kStreams; s += 4) {
          std::vector<EventData> events(kBatch, EventData{"T", "x", 1, {}});
          auto r = j.Append("s" + std::to_string(s), Expected::Any(),
                            std::move(events));
          if (!r.ok()) problems.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done.store(true);
  for (auto& t : readers) t.join();
  CHECK(problems.load() == 0);
  CHECK(reads.load() > 0);
  for (int s = 0; s < kStreams; ++s) {
    CHECK(*j.Head("s" + std::to_string(s)) == kBatch * kBatchesPerStream);
  }
  // Group commit actually grouped requests.
  CHECK((*store)->Stats().write_requests == kStreams * kBatchesPerStream);
}

}  // namespace memoir
