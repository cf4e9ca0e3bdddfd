// CopyStore (memoir/inspect.h): a consistent copy of a live store.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::unique_ptr<Store> OpenReadOnly(const std::string& path) {
  return test::OpenReadOnlyOrFail(path);
}

}  // namespace

TEST_CASE("a copy taken while appends go on is a consistent prefix") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = 50;
  auto store = Store::Open(dir.Sub("src"), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load() || i < 100; ++i) {
      std::string stream = "s" + std::to_string(i % 7);
      if (!j.Append(stream, Expected::Any(), {{"T", std::to_string(i), 1, {}}})
               .ok())
        return;
      appended.fetch_add(1);
    }
  });
  while (appended.load() < 100) std::this_thread::yield();
  for (bool compact : {false, true}) {
    CAPTURE(compact);
    std::string dest = dir.Sub(compact ? "compact" : "plain");
    REQUIRE(CopyStore(**store, dest, {.compact = compact}).ok());
    struct stat st {};
    CHECK(stat((dest + "/data.mdb.partial").c_str(), &st) != 0);
    auto copy = OpenReadOnly(dest);
    auto report = VerifyStore(*copy);
    REQUIRE(report.ok());
    CHECK(report->ok());
    CHECK(report->events > 0);
    // Every stream of the copy is a prefix of the source stream.
    auto page = copy->journal().ListStreams("", "", 100);
    REQUIRE(page.ok());
    for (const StreamInfo& s : page->streams) {
      auto copied = copy->journal().Read(s.name);
      auto source = j.Read(s.name, {.to_seq = s.head});
      REQUIRE(copied.ok());
      REQUIRE(source.ok());
      REQUIRE(copied->size() == source->size());
      for (size_t i = 0; i < copied->size(); ++i) {
        CHECK((*copied)[i].seq == i + 1);
        CHECK((*copied)[i].payload == (*source)[i].payload);
      }
    }
  }
  stop = true;
  writer.join();
}

TEST_CASE("copy refuses a destination that already holds a store") {
  test::TempDir dir;
  {
    auto store = Store::Open(dir.Sub("src"));
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .Append("s", Expected::Any(), {{"T", "x", 1, {}}})
                .ok());
  }
  auto store = OpenReadOnly(dir.Sub("src"));
  REQUIRE(CopyStore(*store, dir.Sub("dest")).ok());
  Status again = CopyStore(*store, dir.Sub("dest"));
  CHECK(again.IsInvalidArgument());
  CHECK(std::string(again.message()).find("already holds a store") !=
        std::string::npos);
  Status file = CopyStore(*store, dir.Sub("dest") + "/data.mdb");
  CHECK(file.IsInvalidArgument());
  struct stat st {};
  REQUIRE(stat(dir.Sub("dest").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

}  // namespace memoir
