// Streams' user metadata (Journal::SetStreamMetadata, GetStreamMetadata):
// failure paths first, then the round trip, persistence and verification.
#include <doctest/doctest.h>

#include <string>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/backend.h"
#include "support/lmdb_pages.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::unique_ptr<Store> Open(const std::string& path, bool read_only = false) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.read_only = read_only;
  auto store = Store::Open(test::StoreLocation(path), o);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

void AppendOne(Journal& j, const std::string& stream) {
  REQUIRE(j.Append(stream, Expected::Any(), {{"T", "x", 1, {}}}).ok());
}

TEST_CASE(
    "setting stream metadata is refused, changing nothing, for a missing or "
    "deleted stream, too many bytes, a bad name and a stale expected head") {
  test::TempDir dir;
  auto store = Open(dir.Sub("store"));
  Journal& j = store->journal();

  Status missing = j.SetStreamMetadata("nobody", "m");
  CHECK_MESSAGE(missing.IsNotFound(), missing.ToString());
  CHECK(j.GetStreamMetadata("nobody").status().IsNotFound());

  AppendOne(j, "s");
  AppendOne(j, "s");
  REQUIRE(j.SetStreamMetadata("s", "first").ok());
  Status big =
      j.SetStreamMetadata("s", std::string(kMaxMetadataBytes + 1, 'x'));
  CHECK_MESSAGE(big.IsInvalidArgument(), big.ToString());
  CHECK(j.SetStreamMetadata("", "m").IsInvalidArgument());
  Status stale = j.SetStreamMetadata("s", "second", uint64_t{1});
  CHECK_MESSAGE(stale.IsConflict(), stale.ToString());
  CHECK(stale.actual_seq() == 2);
  CHECK(*j.GetStreamMetadata("s") == "first");

  REQUIRE(j.DeleteStream("s").ok());
  Status deleted = j.SetStreamMetadata("s", "third");
  CHECK_MESSAGE(deleted.IsStreamDeleted(), deleted.ToString());
  CHECK(j.GetStreamMetadata("s").status().IsStreamDeleted());
}

TEST_CASE(
    "stream metadata is set, replaced and removed; DeleteTo keeps it, "
    "DeleteStream deletes it, and a reopened or read-only store reads it") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  const std::string bytes("owner=ops\0\xff", 11);
  {
    auto store = Open(path);
    Journal& j = store->journal();
    AppendOne(j, "a");
    AppendOne(j, "b");
    CHECK(j.GetStreamMetadata("a")->empty());  // none set
    REQUIRE(j.SetStreamMetadata("a", "v1").ok());
    REQUIRE(j.SetStreamMetadata("a", bytes, uint64_t{1}).ok());
    REQUIRE(j.SetStreamMetadata("b", "gone soon").ok());
    REQUIRE(j.SetStreamMetadata("b", "").ok());  // removes it
    CHECK(*j.GetStreamMetadata("a") == bytes);
    CHECK(j.GetStreamMetadata("b")->empty());
    AppendOne(j, "a");
    REQUIRE(j.DeleteTo("a", 2).ok());
    CHECK(*j.GetStreamMetadata("a") == bytes);
  }
  {
    auto reader = Open(path, /*read_only=*/true);
    CHECK(*reader->journal().GetStreamMetadata("a") == bytes);
    if (!test::OnPostgres()) {  // verify reads LMDB stores only (README)
      auto report = VerifyStore(*reader);
      REQUIRE(report.ok());
      CHECK(report->ok());
    }
  }
  auto store = Open(path);
  CHECK(*store->journal().GetStreamMetadata("a") == bytes);
  REQUIRE(store->journal().DeleteStream("a").ok());
  CHECK(store->journal().GetStreamMetadata("a").status().IsStreamDeleted());
  if (test::OnPostgres()) return;  // verify reads LMDB stores only (README)
  auto report = VerifyStore(*store);
  REQUIRE(report.ok());
  CHECK(report->ok());  // no record left behind for the deleted stream
}

TEST_CASE(
    "a stream metadata record that fails its checksum is kCorruption naming "
    "the stream, and verify reports it" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  {
    auto store = Open(path);
    AppendOne(store->journal(), "victim");
    REQUIRE(store->journal().SetStreamMetadata("victim", "intact").ok());
  }
  // Flip a byte of the record's metadata with LMDB directly.
  REQUIRE(test::FlipFirstRecordByte(path, "stream_meta").empty());
  auto store = Open(path);
  Result<std::string> read = store->journal().GetStreamMetadata("victim");
  REQUIRE_FALSE(read.ok());
  CHECK_MESSAGE(read.status().IsCorruption(), read.status().ToString());
  CHECK(read.status().ToString().find("'victim'") != std::string::npos);
  auto report = VerifyStore(*store);
  REQUIRE(report.ok());
  REQUIRE(report->problem_count == 1);
  CHECK(report->problems[0].stream == "victim");
  // Setting it again replaces the damaged record.
  REQUIRE(store->journal().SetStreamMetadata("victim", "mended").ok());
  CHECK(*store->journal().GetStreamMetadata("victim") == "mended");
}

}  // namespace
}  // namespace memoir
