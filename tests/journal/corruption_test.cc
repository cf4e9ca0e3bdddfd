// Damaged bytes are detected and reported with stream and seq, never
// skipped or trusted.
#include <doctest/doctest.h>
#include <lmdb.h>

#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

void Write(const std::string& path, size_t flush_every, int events) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = flush_every;
  auto store = Store::Open(path, o);
  REQUIRE(store.ok());
  for (int i = 0; i < events; ++i) {
    REQUIRE((*store)
                ->journal()
                .Append("victim", Expected::Any(),
                        {{"T", "payload-" + std::to_string(i), 1, {"tag"}}})
                .ok());
    REQUIRE((*store)
                ->journal()
                .Append("bystander", Expected::Any(), {{"T", "x", 1, {}}})
                .ok());
  }
}

}  // namespace

TEST_CASE(
    "a flipped bit in an indexed event is corruption naming stream and seq") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/1, 5);
  // victim seq 3 is at position 5 (victim and bystander alternate).
  for (size_t byte : {size_t{0}, size_t{9}, size_t{40}, size_t{70}}) {
    CAPTURE(byte);
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(5), byte, 3));
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
    auto read = (*store)->journal().Read("victim");
    REQUIRE(!read.ok());
    CHECK(read.status().IsCorruption());
    std::string msg(read.status().message());
    CHECK(msg.find("'victim'") != std::string::npos);
    CHECK(msg.find("seq 3") != std::string::npos);
    // Reads that do not touch the damaged record still work.
    CHECK((*store)->journal().Read("victim", {.to_seq = 2})->size() == 2);
    CHECK((*store)->journal().Read("bystander")->size() == 5);
    // Reading everything in commit order stops at the damage, naming it.
    auto all = (*store)->journal().ReadAll(0, 100);
    CHECK(all.status().IsCorruption());
    CHECK(std::string(all.status().message()).find("position 5") !=
          std::string::npos);
    REQUIRE((*store)->Close().ok());
    store->reset();
    // Undo the flip for the next byte.
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(5), byte, 3));
  }
}

TEST_CASE(
    "a damaged unindexed record refuses a writer and shows as a gap to "
    "readers") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/65536, 3);
  // The final close flushes the index; damage a record written after it.
  {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(dir.path(), o);
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .Append("victim", Expected::Any(), {{"T", "late", 1, {}}})
                .ok());
    // Simulate a crash before the index flush: skip Close's flush by
    // damaging after close and rewinding indexed_to.
  }
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi meta = raw.dbi("meta");
            std::string key = "journal.indexed_to";
            std::string v(8, '\0');
            v[0] = 6;  // indexed through position 6; position 7 is the tail
            MDB_val k{key.size(), key.data()};
            MDB_val val{8, v.data()};
            mdb_put(txn, meta, &k, &val, 0);
            MDB_dbi index = raw.dbi("stream_index");
            MDB_cursor* c;
            mdb_cursor_open(txn, index, &c);
            MDB_val ik, iv;
            while (mdb_cursor_get(c, &ik, &iv, MDB_NEXT) == 0) {
              if (iv.mv_size == 8 &&
                  static_cast<unsigned char*>(iv.mv_data)[7] == 7) {
                mdb_cursor_del(c, 0);
              }
            }
            mdb_cursor_close(c);
          }) == 0);
  REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(7), 20, 1));
  auto writer = Store::Open(dir.path());
  REQUIRE(!writer.ok());
  CHECK(writer.status().IsCorruption());
  CHECK(std::string(writer.status().message()).find("position 7") !=
        std::string::npos);
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(dir.path(), ro);
  REQUIRE(reader.ok());
  CHECK((*reader)->journal().Read("bystander")->size() == 3);
  auto read = (*reader)->journal().Read("victim");
  CHECK(read.status().IsCorruption());
}

TEST_CASE("a damaged record inside a run is corruption naming its seq") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    const std::string path = dir.Sub("s" + std::to_string(flush));
    {
      StoreOptions o;
      o.durability = Durability::kNone;
      o.index_flush_events = flush;
      auto store = Store::Open(path, o);
      REQUIRE(store.ok());
      std::vector<EventData> run;
      for (int i = 1; i <= 10; ++i) {
        run.push_back({"T", "payload-" + std::to_string(i), 1, {}});
      }
      // One append: victim's seqs 1..10 are log positions 1..10.
      REQUIRE((*store)->journal().Append("victim", Expected::Any(), run).ok());
    }
    REQUIRE(test::FlipValueBit(path, "log", test::Big64(6), 100, 2));
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    auto read = (*store)->journal().Read("victim");
    REQUIRE(!read.ok());
    CHECK(read.status().IsCorruption());
    CHECK(std::string(read.status().message()).find("seq 6") !=
          std::string::npos);
    CHECK((*store)->journal().Read("victim", {.to_seq = 5})->size() == 5);
    CHECK((*store)->journal().Read("victim", {.from_seq = 7})->size() == 4);
    auto back = (*store)->journal().Read("victim", {.backward = true});
    CHECK(back.status().IsCorruption());
  }
}

TEST_CASE("a record that claims to be the next event is checked, not trusted") {
  // victim 1..3 at positions 1..3, bystander 1 at 4, victim 4..5 at 5..6.
  // Position 4 is then edited to claim it holds victim seq 4 (its checksum
  // no longer matches): a scan walking on from position 3 must not take
  // it, and must find victim seq 4 where the index says it is.
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    const std::string path = dir.Sub("s" + std::to_string(flush));
    {
      StoreOptions o;
      o.durability = Durability::kNone;
      o.index_flush_events = flush;
      auto store = Store::Open(path, o);
      REQUIRE(store.ok());
      Journal& j = (*store)->journal();
      REQUIRE(
          j.Append("victim", Expected::Any(),
                   {{"T", "v1", 1, {}}, {"T", "v2", 1, {}}, {"T", "v3", 1, {}}})
              .ok());
      REQUIRE(
          j.Append("bystander", Expected::Any(), {{"T", "b1", 1, {}}}).ok());
      REQUIRE(j.Append("victim", Expected::Any(),
                       {{"T", "v4", 1, {}}, {"T", "v5", 1, {}}})
                  .ok());
    }
    REQUIRE(test::EditRaw(path, [](test::RawTxn& raw) {
              auto* txn = static_cast<MDB_txn*>(raw.txn);
              MDB_dbi log = raw.dbi("log");
              std::string key = test::Big64(4);
              MDB_val k{key.size(), key.data()};
              MDB_val v;
              REQUIRE(mdb_get(txn, log, &k, &v) == 0);
              std::string copy(static_cast<const char*>(v.mv_data), v.mv_size);
              // The envelope's stream id (at 32) and seq (at 40), after the
              // 8-byte checksum: victim is stream 1.
              copy[8 + 32] = 1;
              copy[8 + 40] = 4;
              MDB_val nv{copy.size(), copy.data()};
              REQUIRE(mdb_put(txn, log, &k, &nv, 0) == 0);
            }) == 0);
    StoreOptions ro;
    ro.read_only = true;
    auto store = Store::Open(path, ro);
    REQUIRE(store.ok());
    auto read = (*store)->journal().Read("victim");
    REQUIRE_MESSAGE(read.ok(), read.status().ToString());
    REQUIRE(read->size() == 5);
    CHECK((*read)[3].payload == "v4");
    CHECK((*read)[3].position == 5);
    auto back = (*store)->journal().Read("victim", {.backward = true});
    REQUIRE(back.ok());
    CHECK((*back)[1].payload == "v4");
    CHECK((*store)->journal().Read("bystander").status().IsCorruption());
  }
}

TEST_CASE("a damaged stream row is corruption naming the stream") {
  test::TempDir dir;
  Write(dir.path(), 1, 2);
  REQUIRE(test::FlipValueBit(dir.path(), "streams", test::Big64(1), 12, 0));
  StoreOptions ro;
  ro.read_only = true;
  auto store = Store::Open(dir.path(), ro);
  REQUIRE(store.ok());
  auto info = (*store)->journal().GetStream("victim");
  CHECK(info.status().IsCorruption());
  CHECK(std::string(info.status().message()).find("victim") !=
        std::string::npos);
}

}  // namespace memoir
