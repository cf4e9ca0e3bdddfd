// Reads of the global log filtered by event type (Journal::ScanType) and
// backward (ScanAllBackward) agree with a forward scan, through the type
// index, the unindexed tail, deletions and stores written before the index.
#include <doctest/doctest.h>
#include <lmdb.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/backend.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

// Among them types that are others plus NULs, whose index keys would
// interleave with the shorter type's without the length byte.
const std::vector<std::string> kTypes = {"Opened",
                                         "Deposited",
                                         "Withdrawn",
                                         std::string("Nul\0In", 6),
                                         std::string("Nul", 3),
                                         std::string("Nul\0", 4),
                                         std::string("Nul\0\0", 5)};

StoreOptions FlushEvery(size_t n) {
  StoreOptions o = test::FastStore();
  o.index_flush_events = n;
  return o;
}

// Appends `n` random events of kTypes over 7 streams.
void AppendRandom(Journal& j, std::mt19937& rng, int n) {
  for (int i = 0; i < n;) {
    const int batch = 1 + static_cast<int>(rng() % 4);
    std::vector<EventData> events;
    for (int k = 0; k < batch && i < n; ++k, ++i) {
      EventData e;
      e.type = kTypes[rng() % kTypes.size()];
      e.payload = std::to_string(i);
      if (rng() % 3 == 0) e.tags = {"t"};
      events.push_back(std::move(e));
    }
    const std::string stream = "s-" + std::to_string(rng() % 7);
    auto r = j.Append(stream, Expected::Any(), std::move(events));
    // (s-2 is deleted half-way: appends to it are refused.)
    REQUIRE_MESSAGE((r.ok() || r.status().IsStreamDeleted()),
                    r.status().ToString());
  }
}

std::string FirstProblem(const VerifyReport& r) {
  return r.problems.empty() ? std::string() : r.problems.front().what;
}

std::vector<uint64_t> Positions(const std::vector<RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.position);
  return out;
}

// Every type, from several positions and with several limits: ReadType
// equals ReadAll filtered; ReadAllBackward equals ReadAll reversed.
void CheckAgreesWithForwardScan(Journal& j) {
  auto all = j.ReadAll(0, 1'000'000);
  REQUIRE(all.ok());
  const uint64_t end = all->empty() ? 0 : all->back().position;
  for (const std::string& type : kTypes) {
    CAPTURE(type);
    for (uint64_t from : {uint64_t{0}, uint64_t{1}, end / 3, end, end + 1}) {
      for (size_t limit : {size_t{1}, size_t{5}, size_t{1'000'000}}) {
        CAPTURE(from);
        CAPTURE(limit);
        std::vector<uint64_t> expected;
        for (const RecordedEvent& e : *all) {
          if (e.type == type && e.position >= from && expected.size() < limit) {
            expected.push_back(e.position);
          }
        }
        auto got = j.ReadType(type, from, limit);
        REQUIRE_MESSAGE(got.ok(), got.status().ToString());
        CHECK(Positions(*got) == expected);
        for (const RecordedEvent& e : *got) CHECK(e.type == type);
      }
    }
  }
  auto backward = j.ReadAllBackward(kMaxSeq, 1'000'000);
  REQUIRE(backward.ok());
  std::vector<uint64_t> reversed = Positions(*all);
  std::reverse(reversed.begin(), reversed.end());
  CHECK(Positions(*backward) == reversed);
}

}  // namespace

TEST_CASE(
    "type-filtered and backward global reads agree with a forward scan, "
    "indexed or not, after deletions and a reopen") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{7}, size_t{65536}}) {
    CAPTURE(flush);
    const std::string path = dir.Sub("s" + std::to_string(flush));
    std::mt19937 rng(static_cast<unsigned>(flush));
    {
      auto store = test::OpenStoreOrFail(path, FlushEvery(flush));
      AppendRandom(store->journal(), rng, 300);
      CheckAgreesWithForwardScan(store->journal());
      REQUIRE(store->journal().DeleteTo("s-1", 20).ok());
      REQUIRE(store->journal().DeleteStream("s-2").ok());
      AppendRandom(store->journal(), rng, 50);
      CheckAgreesWithForwardScan(store->journal());
    }
    auto reader = test::OpenReadOnlyOrFail(path);
    CheckAgreesWithForwardScan(reader->journal());
    if (test::OnPostgres()) continue;  // verify reads LMDB stores only
    auto report = VerifyStore(*reader);
    REQUIRE(report.ok());
    CHECK_MESSAGE(report->ok(), FirstProblem(*report));
    CHECK(report->type_entries > 0);
  }
}

TEST_CASE(
    "a store written before the type index existed is read by walking the "
    "log, then through the index from its first writer on" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  std::mt19937 rng(7);
  {
    auto store = test::OpenStoreOrFail(dir.path(), FlushEvery(1));
    AppendRandom(store->journal(), rng, 120);
  }
  // As an earlier version left it: no type entries, no meta key.
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi tags = raw.dbi("tag_index");
            MDB_cursor* cur = nullptr;
            REQUIRE(mdb_cursor_open(txn, tags, &cur) == 0);
            MDB_val k, v;
            int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            while (rc == 0) {
              if (k.mv_size > 0 && static_cast<char*>(k.mv_data)[0] == '\0') {
                REQUIRE(mdb_cursor_del(cur, 0) == 0);
                rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
                if (rc == EINVAL) rc = MDB_NOTFOUND;
              } else {
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
              }
            }
            mdb_cursor_close(cur);
            MDB_dbi meta = raw.dbi("meta");
            std::string key = "journal.types_indexed_from";
            MDB_val mk{key.size(), key.data()};
            REQUIRE(mdb_del(txn, meta, &mk, nullptr) == 0);
          }) == 0);
  {
    auto reader = test::OpenReadOnlyOrFail(dir.path());
    CheckAgreesWithForwardScan(reader->journal());
    auto report = VerifyStore(*reader);
    REQUIRE(report.ok());
    CHECK(report->ok());
    CHECK(report->type_entries == 0);
  }
  // A writer that knows the index starts it at its first position; reads
  // cross from the walk to the index.
  auto store = test::OpenStoreOrFail(dir.path(), FlushEvery(1));
  AppendRandom(store->journal(), rng, 80);
  CheckAgreesWithForwardScan(store->journal());
  store.reset();
  auto reader = test::OpenReadOnlyOrFail(dir.path());
  CheckAgreesWithForwardScan(reader->journal());
  auto report = VerifyStore(*reader);
  REQUIRE(report.ok());
  CHECK_MESSAGE(report->ok(), FirstProblem(*report));
  CHECK(report->type_entries == 80);
}

TEST_CASE("verify names a type entry that does not match its event" *
          doctest::test_suite("lmdb")) {
  test::TempDir dir;
  {
    auto store = test::OpenStoreOrFail(dir.path(), FlushEvery(1));
    REQUIRE(store->journal()
                .Append("a", Expected::Any(), {{"Opened", "x", 1, {}}})
                .ok());
  }
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi tags = raw.dbi("tag_index");
            std::string wrong = std::string(1, '\0') + "\x06" + "Closed" +
                                std::string(1, '\0') + test::Big64(1);
            MDB_val k{wrong.size(), wrong.data()};
            MDB_val v{0, nullptr};
            REQUIRE(mdb_put(txn, tags, &k, &v, 0) == 0);
          }) == 0);
  auto reader = test::OpenReadOnlyOrFail(dir.path());
  auto report = VerifyStore(*reader);
  REQUIRE(report.ok());
  REQUIRE_FALSE(report->ok());
  CHECK(report->problems.front().what.find("type 'Closed'") !=
        std::string::npos);
}

TEST_CASE("ScanType refuses an empty or oversized type name") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), test::FastStore());
  auto empty = store->journal().ReadType("", 0, 10);
  CHECK(empty.status().IsInvalidArgument());
  auto big =
      store->journal().ReadType(std::string(kMaxTypeNameBytes + 1, 't'), 0, 10);
  CHECK(big.status().IsInvalidArgument());
  auto none = store->journal().ReadType("Nothing", 0, 10);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

}  // namespace memoir

namespace memoir {

TEST_CASE(
    "index entries of events that are gone take no part of a read's count: "
    "a short page means the end" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  {
    auto store = test::OpenStoreOrFail(dir.path(), FlushEvery(1));
    for (int i = 0; i < 6; ++i) {
      REQUIRE(store->journal()
                  .Append("s-" + std::to_string(i), Expected::Any(),
                          {{"Opened", std::to_string(i), 1, {"t"}}})
                  .ok());
    }
  }
  // As a damaged record's deletion leaves them: entries without a record.
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi log = raw.dbi("log");
            for (uint64_t pos : {1, 2, 3}) {
              std::string key = test::Big64(pos);
              MDB_val k{key.size(), key.data()};
              REQUIRE(mdb_del(txn, log, &k, nullptr) == 0);
            }
          }) == 0);
  auto reader = test::OpenReadOnlyOrFail(dir.path());
  auto tagged = reader->journal().ReadTag("t", 0, 2);
  REQUIRE(tagged.ok());
  CHECK(Positions(*tagged) == std::vector<uint64_t>{4, 5});
  auto typed = reader->journal().ReadType("Opened", 0, 2);
  REQUIRE(typed.ok());
  CHECK(Positions(*typed) == std::vector<uint64_t>{4, 5});
  auto rest = reader->journal().ReadType("Opened", 5, 10);
  REQUIRE(rest.ok());
  CHECK(Positions(*rest) == std::vector<uint64_t>{5, 6});
}

}  // namespace memoir
