// Snapshots are saved through the writer, loaded newest-first with every
// damaged one skipped and reported, pruned, and deleted with their stream.
#include <doctest/doctest.h>
#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "memoir/store.h"
#include "support/backend.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

class FakeClock final : public Clock {
 public:
  int64_t NowNanos() override { return now.load(); }
  std::atomic<int64_t> now{1'000};
};

StoreOptions Fast(std::shared_ptr<Clock> clock = nullptr) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.clock = std::move(clock);
  return o;
}

std::unique_ptr<Store> OpenStore(const std::string& path,
                                 const StoreOptions& o) {
  return test::OpenStoreOrFail(path, o);
}

void AppendN(Store& store, const std::string& stream, int n) {
  std::vector<EventData> events;
  for (int i = 0; i < n; ++i) events.push_back({"E", std::to_string(i), 1, {}});
  REQUIRE(store.journal().Append(stream, Expected::Any(), events).ok());
}

SnapshotData State(const std::string& payload) {
  return SnapshotData{"State", 3, payload};
}

// The snapshot key of the first stream (id 1) of a fresh store.
std::string Key(uint64_t seq) { return test::Big64(1) + test::Big64(seq); }

// Flips bit `bit` of byte `byte` of the stored snapshot of the first stream
// at `seq`, behind memoir's back (in a PostgreSQL run, of its payload's byte
// at `byte` modulo its length). Twice restores it.
bool FlipSnapshotBit(const std::string& path, uint64_t seq, size_t byte,
                     int bit) {
  if (!test::OnPostgres()) {
    return test::FlipValueBit(path, "snapshots", Key(seq), byte, bit);
  }
  const std::string at = std::to_string(byte) + " % length(payload)";
  return test::PostgresQuery(
             path, "UPDATE {s}.snapshots SET payload = set_byte(payload, " +
                       at + ", get_byte(payload, " + at + ") # " +
                       std::to_string(1 << bit) +
                       ") WHERE stream_id = (SELECT min(stream_id) FROM "
                       "{s}.streams) AND seq = " +
                       std::to_string(seq)) == "1";
}

// A store with snapshots at seqs 2, 4 and 6 of stream "a".
void WriteThree(const std::string& path) {
  auto store = OpenStore(path, Fast());
  AppendN(*store, "a", 6);
  for (uint64_t seq : {2, 4, 6}) {
    REQUIRE(store->snapshots()
                .Save("a", seq, State("s" + std::to_string(seq)))
                .ok());
  }
  REQUIRE(store->Close().ok());
}

}  // namespace

TEST_CASE(
    "snapshot metadata round-trips; metadata over the limit is refused and "
    "writes nothing") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 3);
  SnapshotData with = State("s1");
  with.metadata = std::string("by=ann\0v2", 9);
  REQUIRE(store->snapshots().Save("a", 1, with).ok());
  REQUIRE(store->snapshots().Save("a", 2, State("s2")).ok());
  SnapshotCriteria first;
  first.max_seq = 1;
  auto one = store->snapshots().LoadLatest("a", first);
  REQUIRE(one.ok());
  REQUIRE(one->snapshot.has_value());
  CHECK(one->snapshot->metadata == with.metadata);
  CHECK(one->snapshot->payload == "s1");
  auto two = store->snapshots().LoadLatest("a");
  REQUIRE(two.ok());
  CHECK(two->snapshot->metadata.empty());
  SnapshotData big = State("s3");
  big.metadata.assign(kMaxMetadataBytes + 1, 'm');
  Status refused = store->snapshots().Save("a", 3, big);
  CHECK(refused.IsInvalidArgument());
  CHECK(std::string(refused.message()).find("metadata") != std::string::npos);
  CHECK(store->snapshots().List("a")->size() == 2);
}

TEST_CASE("load returns the newest of three snapshots") {
  test::TempDir dir;
  WriteThree(dir.path());
  auto store = OpenStore(dir.path(), Fast());
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->info.seq == 6);
  CHECK(r->snapshot->payload == "s6");
  CHECK(r->snapshot->info.type == "State");
  CHECK(r->snapshot->info.schema_version == 3);
  CHECK(r->snapshot->info.size == 2);
  CHECK(r->snapshot->info.checksum_ok);
  CHECK(r->skipped.empty());
}

TEST_CASE("criteria by seq and by time select the right snapshot") {
  test::TempDir dir;
  auto clock = std::make_shared<FakeClock>();
  auto store = OpenStore(dir.path(), Fast(clock));
  AppendN(*store, "a", 30);
  for (uint64_t seq : {10, 20, 30}) {
    clock->now = static_cast<int64_t>(seq) * 1000;
    REQUIRE(store->snapshots().Save("a", seq, State(std::to_string(seq))).ok());
  }
  SnapshotStore& snaps = store->snapshots();
  auto seq_of = [&](const SnapshotCriteria& c) -> uint64_t {
    auto r = snaps.LoadLatest("a", c);
    REQUIRE(r.ok());
    CHECK(r->skipped.empty());
    return r->snapshot ? r->snapshot->info.seq : 0;
  };
  CHECK(seq_of({.max_seq = 25}) == 20);
  CHECK(seq_of({.max_seq = 20}) == 20);
  CHECK(seq_of({.max_seq = 9}) == 0);
  CHECK(seq_of({.min_seq = 21}) == 30);
  CHECK(seq_of({.max_seq = 29, .min_seq = 11}) == 20);
  CHECK(seq_of({.max_timestamp_ns = 25'000}) == 20);
  CHECK(seq_of({.max_timestamp_ns = 10'000}) == 10);
  CHECK(seq_of({.max_timestamp_ns = 9'999}) == 0);
  CHECK(seq_of({.min_timestamp_ns = 30'000}) == 30);
  auto r = snaps.LoadLatest("a", {.max_timestamp_ns = 20'000});
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->info.timestamp_ns == 20'000);
  CHECK(r->snapshot->payload == "20");
}

TEST_CASE(
    "a damaged newest snapshot is skipped and reported in favour of "
    "the older one") {
  test::TempDir dir;
  WriteThree(dir.path());
  for (size_t byte : {size_t{0}, size_t{30}, size_t{60}}) {
    CAPTURE(byte);
    REQUIRE(FlipSnapshotBit(dir.path(), 6, byte, 2));
    {
      auto store = OpenStore(dir.path(), Fast());
      auto r = store->snapshots().LoadLatest("a");
      REQUIRE(r.ok());
      REQUIRE(r->snapshot.has_value());
      CHECK(r->snapshot->info.seq == 4);
      CHECK(r->snapshot->payload == "s4");
      REQUIRE(r->skipped.size() == 1);
      CHECK(r->skipped[0].seq == 6);
      CHECK(r->skipped[0].reason.find("checksum") != std::string::npos);
      auto list = store->snapshots().List("a");
      REQUIRE(list.ok());
      REQUIRE(list->size() == 3);
      CHECK((*list)[0].checksum_ok);
      CHECK((*list)[1].checksum_ok);
      CHECK_FALSE((*list)[2].checksum_ok);
      CHECK((*list)[2].seq == 6);
      REQUIRE(store->Close().ok());
    }
    REQUIRE(FlipSnapshotBit(dir.path(), 6, byte, 2));
  }
}

// (A PostgreSQL row's key is the snapshot's own: the case cannot arise.)
TEST_CASE("a snapshot stored under another seq's key is skipped" *
          doctest::test_suite("lmdb")) {
  test::TempDir dir;
  WriteThree(dir.path());
  // Copy seq 4's intact record over seq 6: checksum and verifier pass, but
  // the envelope names seq 4.
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi dbi = raw.dbi("snapshots");
            std::string k4 = Key(4), k6 = Key(6);
            MDB_val k{k4.size(), k4.data()};
            MDB_val v;
            REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
            std::string copy(static_cast<const char*>(v.mv_data), v.mv_size);
            MDB_val k2{k6.size(), k6.data()};
            MDB_val v2{copy.size(), copy.data()};
            REQUIRE(mdb_put(txn, dbi, &k2, &v2, 0) == 0);
          }) == 0);
  auto store = OpenStore(dir.path(), Fast());
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->info.seq == 4);
  REQUIRE(r->skipped.size() == 1);
  CHECK(r->skipped[0].seq == 6);
  CHECK(r->skipped[0].reason.find("seq 4") != std::string::npos);
}

TEST_CASE(
    "with every snapshot damaged, load reports none usable and every "
    "skip") {
  test::TempDir dir;
  WriteThree(dir.path());
  for (uint64_t seq : {2, 4, 6}) {
    REQUIRE(FlipSnapshotBit(dir.path(), seq, 20, 0));
  }
  auto store = OpenStore(dir.path(), Fast());
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  CHECK_FALSE(r->snapshot.has_value());
  REQUIRE(r->skipped.size() == 3);
  CHECK(r->skipped[0].seq == 6);
  CHECK(r->skipped[1].seq == 4);
  CHECK(r->skipped[2].seq == 2);
  for (const SnapshotSkip& skip : r->skipped) CHECK(!skip.reason.empty());
}

TEST_CASE(
    "a stream without snapshots loads none, and a missing stream is "
    "not found") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 1);
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  CHECK_FALSE(r->snapshot.has_value());
  CHECK(r->skipped.empty());
  CHECK(store->snapshots().LoadLatest("nobody").status().IsNotFound());
  CHECK(store->snapshots().List("nobody").status().IsNotFound());
  CHECK(store->snapshots().LoadLatest("").status().IsInvalidArgument());
}

TEST_CASE("retention keeps exactly the newest K snapshots") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 10);
  AppendN(*store, "b", 3);
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    REQUIRE(store->snapshots().Save("a", seq, State("x")).ok());
  }
  REQUIRE(store->snapshots().Save("b", 3, State("b")).ok());
  auto deleted = store->snapshots().Retain("a", 3);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 7);
  auto list = store->snapshots().List("a");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].seq == 8);
  CHECK((*list)[1].seq == 9);
  CHECK((*list)[2].seq == 10);
  // Other streams are untouched; retaining more than exist deletes nothing.
  CHECK(store->snapshots().List("b")->size() == 1);
  CHECK(*store->snapshots().Retain("a", 5) == 0);
  CHECK(*store->snapshots().Retain("a", 0) == 3);
  CHECK(store->snapshots().List("a")->empty());
  CHECK(store->snapshots().Retain("nobody", 1).status().IsNotFound());
}

TEST_CASE("delete removes one snapshot, and delete-matching those in range") {
  test::TempDir dir;
  auto clock = std::make_shared<FakeClock>();
  auto store = OpenStore(dir.path(), Fast(clock));
  AppendN(*store, "a", 6);
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    clock->now = static_cast<int64_t>(seq) * 100;
    REQUIRE(store->snapshots().Save("a", seq, State("x")).ok());
  }
  SnapshotStore& snaps = store->snapshots();
  REQUIRE(snaps.Delete("a", 3).ok());
  CHECK(snaps.Delete("a", 3).IsNotFound());
  auto n = snaps.DeleteMatching("a", {.max_seq = 4});
  REQUIRE(n.ok());
  CHECK(*n == 3);  // 1, 2, 4
  n = snaps.DeleteMatching("a", {.min_timestamp_ns = 600});
  REQUIRE(n.ok());
  CHECK(*n == 1);  // 6
  auto list = snaps.List("a");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].seq == 5);
}

TEST_CASE("a tombstoned stream has no snapshots left") {
  test::TempDir dir;
  {
    auto store = OpenStore(dir.path(), Fast());
    AppendN(*store, "a", 3);
    AppendN(*store, "b", 3);
    for (uint64_t seq : {1, 2, 3}) {
      REQUIRE(store->snapshots().Save("a", seq, State("a")).ok());
      REQUIRE(store->snapshots().Save("b", seq, State("b")).ok());
    }
    REQUIRE(store->journal().DeleteStream("a").ok());
    CHECK(store->snapshots().List("a")->empty());
    CHECK_FALSE(store->snapshots().LoadLatest("a")->snapshot.has_value());
    CHECK(store->snapshots().Save("a", 3, State("a")).IsStreamDeleted());
    CHECK(store->snapshots().List("b")->size() == 3);
    REQUIRE(store->Close().ok());
  }
  // Nothing of stream 1 remains in the table itself.
  size_t left = 0;
  if (test::OnPostgres()) {
    CHECK(test::PostgresQuery(dir.path(),
                              "SELECT count(*) FROM {s}.snapshots WHERE "
                              "stream_id = (SELECT stream_id FROM {s}.streams "
                              "WHERE name = 'a')") == "0");
    return;
  }
  REQUIRE(test::EditRaw(dir.path(), [&](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_cursor* cur = nullptr;
            REQUIRE(mdb_cursor_open(txn, raw.dbi("snapshots"), &cur) == 0);
            MDB_val k, v;
            for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
              std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
              if (key.substr(0, 8) == test::Big64(1)) ++left;
            }
            mdb_cursor_close(cur);
          }) == 0);
  CHECK(left == 0);
}

TEST_CASE("a 64 MiB snapshot round-trips") {
  test::TempDir dir;
  std::string payload(size_t{64} << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  {
    auto store = OpenStore(dir.path(), Fast());
    AppendN(*store, "big", 1);
    REQUIRE(store->snapshots().Save("big", 1, State(payload)).ok());
    REQUIRE(store->Close().ok());
  }
  auto store = OpenStore(dir.path(), Fast());
  auto r = store->snapshots().LoadLatest("big");
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->info.size == payload.size());
  CHECK(r->snapshot->payload == payload);
}

TEST_CASE("a snapshot above the stream's head or at seq 0 is rejected") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 2);
  Status s = store->snapshots().Save("a", 3, State("x"));
  CHECK(s.IsInvalidArgument());
  CHECK(std::string(s.message()).find("head 2") != std::string::npos);
  CHECK(store->snapshots().Save("a", 0, State("x")).IsInvalidArgument());
  CHECK(store->snapshots().Save("a", kMaxSeq, State("x")).IsInvalidArgument());
  CHECK(store->snapshots().Save("a", 2, {"", 1, "x"}).IsInvalidArgument());
  CHECK(store->snapshots().List("a")->empty());
  CHECK(store->snapshots().Save("a", 2, State("x")).ok());
}

TEST_CASE("a save queued after an append sees that append's head") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 1);
  // Not waited for: the save is queued behind it, so it lands in the same
  // transaction or a later one.
  auto appended =
      store->journal().AppendAsync({"a", Expected::At(1), {{"E", "2", 1, {}}}});
  CHECK(store->snapshots().Save("a", 2, State("after 2")).ok());
  CHECK(appended.get().ok());
}

TEST_CASE("saving again at the same seq replaces the snapshot") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 1);
  REQUIRE(store->snapshots().Save("a", 1, State("first")).ok());
  REQUIRE(store->snapshots().Save("a", 1, {"Other", 7, "second"}).ok());
  auto list = store->snapshots().List("a");
  REQUIRE(list.ok());
  CHECK(list->size() == 1);
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->payload == "second");
  CHECK(r->snapshot->info.type == "Other");
  CHECK(r->snapshot->info.schema_version == 7);
}

TEST_CASE("saving a snapshot of a missing stream is not found") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  CHECK(store->snapshots().Save("ghost", 1, State("x")).IsNotFound());
  std::promise<Status> p;
  store->snapshots().Save("ghost", 1, State("x"),
                          [&](Status st) { p.set_value(std::move(st)); });
  CHECK(p.get_future().get().IsNotFound());
}

TEST_CASE(
    "events and a snapshot appended together are both present or "
    "neither") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "a", 2);
  SUBCASE("a met expectation commits both") {
    auto r = store->snapshots().AppendWithSnapshot(
        {"a", Expected::At(2), {{"E", "3", 1, {}}, {"E", "4", 1, {}}}},
        State("after 4"));
    REQUIRE(r.ok());
    CHECK(r->last_seq == 4);
    CHECK(*store->journal().Head("a") == 4);
    auto l = store->snapshots().LoadLatest("a");
    REQUIRE(l.ok());
    REQUIRE(l->snapshot.has_value());
    CHECK(l->snapshot->info.seq == 4);
    CHECK(l->snapshot->payload == "after 4");
  }
  SUBCASE("a failed expectation commits neither") {
    auto r = store->snapshots().AppendWithSnapshot(
        {"a", Expected::At(1), {{"E", "3", 1, {}}}}, State("after 3"));
    CHECK(r.status().IsConflict());
    CHECK(*store->journal().Head("a") == 2);
    CHECK(store->snapshots().List("a")->empty());
  }
  SUBCASE("a new stream is created with its snapshot") {
    auto r = store->snapshots().AppendWithSnapshot(
        {"fresh", Expected::NoStream(), {{"E", "1", 1, {}}}}, State("one"));
    REQUIRE(r.ok());
    CHECK(store->snapshots().List("fresh")->size() == 1);
  }
  SUBCASE("bad input is refused before anything is queued") {
    auto r = store->snapshots().AppendWithSnapshot(
        {"a", Expected::Any(), {{"", "x", 1, {}}}}, State("x"));
    CHECK(r.status().IsInvalidArgument());
    r = store->snapshots().AppendWithSnapshot(
        {"a", Expected::Any(), {{"E", "x", 1, {}}}}, {"", 1, "x"});
    CHECK(r.status().IsInvalidArgument());
    CHECK(*store->journal().Head("a") == 2);
  }
}

TEST_CASE(
    "a big snapshot save does not stop small appends from another "
    "thread") {
  test::TempDir dir;
  auto store = OpenStore(dir.path(), Fast());
  AppendN(*store, "big", 1);
  AppendN(*store, "small", 1);
  std::promise<Status> saved;
  store->snapshots().Save("big", 1, State(std::string(size_t{48} << 20, 'b')),
                          [&](Status s) { saved.set_value(std::move(s)); });
  auto appends = std::async(std::launch::async, [&] {
    for (int i = 0; i < 50; ++i) {
      auto r = store->journal().Append("small", Expected::Any(),
                                       {{"E", std::to_string(i), 1, {}}});
      if (!r.ok()) return r.status();
    }
    return Status::OK();
  });
  // Deadlines turn a deadlock into a failure instead of a hang.
  REQUIRE(appends.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  CHECK(appends.get().ok());
  auto save_done = saved.get_future();
  REQUIRE(save_done.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  CHECK(save_done.get().ok());
  CHECK(*store->journal().Head("small") == 51);
  CHECK(store->snapshots().LoadLatest("big")->snapshot->info.size ==
        (size_t{48} << 20));
}

TEST_CASE("snapshots survive a durable close and reopen") {
  test::TempDir dir;
  {
    auto store = OpenStore(dir.path(), StoreOptions{});
    AppendN(*store, "a", 2);
    REQUIRE(store->snapshots().Save("a", 2, State("durable")).ok());
    REQUIRE(store->Close().ok());
  }
  StoreOptions ro;
  ro.read_only = true;
  auto store = OpenStore(dir.path(), ro);
  auto r = store->snapshots().LoadLatest("a");
  REQUIRE(r.ok());
  REQUIRE(r->snapshot.has_value());
  CHECK(r->snapshot->payload == "durable");
  CHECK(store->snapshots().Save("a", 2, State("x")).IsInvalidArgument());
}

}  // namespace memoir
