// InspectStore (memoir/inspect.h): counts, positions, readers and the
// writer, from one read.
#include "memoir/inspect.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

void Fill(Store& store) {
  Journal& j = store.journal();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(j.Append("a", Expected::Any(), {{"T", "x", 1, {"t"}}}).ok());
  }
  REQUIRE(j.Append("b", Expected::Any(), {{"T", "x", 1, {}}, {"T", "y", 1, {}}})
              .ok());
  REQUIRE(j.Append("gone", Expected::Any(), {{"T", "x", 1, {}}}).ok());
  REQUIRE(j.DeleteStream("gone").ok());
  REQUIRE(j.DeleteTo("a", 2).ok());
  REQUIRE(store.snapshots().Save("a", 4, {"S", 1, "state"}).ok());
}

}  // namespace

TEST_CASE("inspect counts streams, events and snapshots and names the writer") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = 3;
  {
    auto store = Store::Open(dir.path(), o);
    REQUIRE(store.ok());
    Fill(**store);
    auto info = InspectStore(**store);
    REQUIRE(info.ok());
    CHECK(info->writer.find("pid " + std::to_string(getpid())) == 0);
    CHECK(info->last_position == 8);
  }
  StoreOptions ro;
  ro.read_only = true;
  auto store = Store::Open(dir.path(), ro);
  REQUIRE(store.ok());
  auto info = InspectStore(**store);
  REQUIRE(info.ok());
  CHECK(info->path == dir.path());
  CHECK(info->format_version == 3);
  CHECK(info->streams == 3);
  CHECK(info->deleted_streams == 1);
  CHECK(info->events == 3 + 2);  // a 3..5, b 1..2
  CHECK(info->snapshots == 1);
  CHECK(info->last_position == 8);
  CHECK(info->indexed_to == 8);  // Close flushed the index
  CHECK(info->page_size >= 4096);
  CHECK(info->map_used > 0);
  CHECK(info->map_used <= info->map_size);
  CHECK(info->file_size >= info->map_used);
  CHECK(info->max_readers == 126);
  CHECK(info->writer.empty());
  bool self = false;
  for (const ReaderSlot& r : info->readers) self = self || r.pid == getpid();
  CHECK(self);
}

TEST_CASE("inspect of a store opened without the lock file lists no readers") {
  test::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
    Fill(**store);
  }
  StoreOptions o;
  o.read_only = true;
  o.no_lock = true;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  auto info = InspectStore(**store);
  REQUIRE(info.ok());
  CHECK(info->readers.empty());
  CHECK(info->events == 5);
}

namespace {

// A Store that Store::Open did not make: forwards everything to a real one.
class ForwardingStore final : public Store {
 public:
  explicit ForwardingStore(Store* inner) : inner_(inner) {}
  Journal& journal() override { return inner_->journal(); }
  SnapshotStore& snapshots() override { return inner_->snapshots(); }
  Status Sync() override { return inner_->Sync(); }
  Status Close() override { return inner_->Close(); }
  const std::string& path() const override { return inner_->path(); }
  StoreStats Stats() const override { return inner_->Stats(); }

 private:
  Store* inner_;
};

}  // namespace

TEST_CASE(
    "InspectStore on a Store that Store::Open did not make is "
    "kInvalidArgument") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  ForwardingStore wrapper(store->get());
  auto info = InspectStore(wrapper);
  REQUIRE_FALSE(info.ok());
  CHECK(info.status().code() == Status::Code::kInvalidArgument);
  CHECK(info.status().ToString().find(
            "needs an LMDB store opened by memoir::Store::Open") !=
        std::string::npos);
  CHECK(InspectStore(**store).ok());  // the store it wraps is inspectable
}

}  // namespace memoir
