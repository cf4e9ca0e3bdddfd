// VerifyStore (memoir/inspect.h): a healthy store passes; each kind of
// damage is found once, naming the stream and seq it concerns.
#include <doctest/doctest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::unique_ptr<Store> Open(const std::string& path, size_t flush_every,
                            bool read_only = false) {
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = flush_every;
  o.read_only = read_only;
  return test::OpenStoreOrFail(path, o);
}

// victim and bystander alternate, so victim seq n is at position 2n - 1.
void Write(Store& store, int events) {
  for (int i = 0; i < events; ++i) {
    REQUIRE(store.journal()
                .Append("victim", Expected::Any(),
                        {{"T", "payload-" + std::to_string(i), 1, {"tag"}}})
                .ok());
    REQUIRE(store.journal()
                .Append("bystander", Expected::Any(), {{"T", "x", 1, {}}})
                .ok());
  }
}

VerifyReport Verify(const std::string& path, const std::string& stream = "") {
  auto store = Open(path, 65536, /*read_only=*/true);
  auto report = VerifyStore(*store, {.stream = stream});
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  return std::move(report).value();
}

std::string Describe(const VerifyReport& r) {
  std::string out;
  for (const VerifyProblem& p : r.problems) {
    out += "[" + p.stream + " seq " + std::to_string(p.seq) + " pos " +
           std::to_string(p.position) + "] " + p.what + "\n";
  }
  return out;
}

// Writes `events` rounds in a child that exits without closing the store,
// as a crash would: the index is not flushed, so the events stay in the
// unindexed tail on disk.
void WriteThenCrash(const std::string& path, int events) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    StoreOptions o;
    o.durability = Durability::kNone;
    o.index_flush_events = 65536;
    auto store = Store::Open(path, o);
    if (!store.ok()) _exit(1);
    for (int i = 0; i < events; ++i) {
      if (!(*store)
               ->journal()
               .Append("victim", Expected::Any(),
                       {{"T", "payload-" + std::to_string(i), 1, {"tag"}}})
               .ok() ||
          !(*store)
               ->journal()
               .Append("bystander", Expected::Any(), {{"T", "x", 1, {}}})
               .ok()) {
        _exit(1);
      }
    }
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

// Where `text` lies in the log record at `pos` of a closed store.
size_t PayloadOffset(const std::string& path, uint64_t pos,
                     const std::string& text) {
  size_t at = std::string::npos;
  REQUIRE(test::EditRaw(path, [&](test::RawTxn& raw) {
            std::string key = test::Big64(pos);
            MDB_val k{key.size(), key.data()};
            MDB_val v;
            REQUIRE(mdb_get(static_cast<MDB_txn*>(raw.txn), raw.dbi("log"), &k,
                            &v) == 0);
            at = std::string(static_cast<const char*>(v.mv_data), v.mv_size)
                     .find(text);
          }) == 0);
  REQUIRE(at != std::string::npos);
  return at;
}

}  // namespace

TEST_CASE(
    "verify passes a healthy store with deletions, snapshots and a tail") {
  test::TempDir dir;
  auto store = Open(dir.path(), /*flush_every=*/4);
  Write(*store, 10);
  REQUIRE(store->journal().DeleteTo("victim", 3).ok());
  REQUIRE(store->snapshots().Save("victim", 5, {"State", 1, "s5"}).ok());
  REQUIRE(store->snapshots().Save("bystander", 2, {"State", 1, "s2"}).ok());
  REQUIRE(store->journal()
              .Append("doomed", Expected::Any(), {{"T", "x", 1, {"tag"}}})
              .ok());
  REQUIRE(store->journal().DeleteStream("doomed").ok());
  // Three more events stay in the unindexed tail of the open store.
  Write(*store, 1);
  REQUIRE(store->journal()
              .Append("fresh", Expected::Any(), {{"T", "y", 1, {}}})
              .ok());

  auto report = VerifyStore(*store);
  REQUIRE(report.ok());
  INFO(Describe(*report));
  CHECK(report->ok());
  CHECK(report->streams == 4);
  CHECK(report->events == 8 + 11 + 1);  // victim 4..11, bystander 1..11
  CHECK(report->snapshots == 2);
  CHECK(report->tag_entries == 7);  // victim 4..10; 11 is unindexed
  CHECK(report->dangling_tag_entries == 0);

  auto one = VerifyStore(*store, {.stream = "victim"});
  REQUIRE(one.ok());
  INFO(Describe(*one));
  CHECK(one->ok());
  CHECK(one->snapshots == 1);
}

TEST_CASE(
    "verify names the stream and seq of an indexed event with a flipped "
    "bit, once") {
  test::TempDir dir;
  Write(*Open(dir.path(), 1), 5);
  for (size_t byte : {size_t{0}, size_t{9}, size_t{40}, size_t{70}}) {
    CAPTURE(byte);
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(5), byte, 3));
    VerifyReport r = Verify(dir.path());
    INFO(Describe(r));
    REQUIRE(r.problem_count == 1);
    CHECK(r.problems[0].stream == "victim");
    CHECK(r.problems[0].seq == 3);
    CHECK(r.problems[0].position == 5);
    CHECK(r.problems[0].what.find("damaged event record") == 0);
    // The bystander's own check does not see the victim's damage.
    CHECK(Verify(dir.path(), "bystander").ok());
    VerifyReport one = Verify(dir.path(), "victim");
    INFO(Describe(one));
    CHECK(one.problem_count == 1);
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(5), byte, 3));
  }
  CHECK(Verify(dir.path()).ok());
}

TEST_CASE("verify names the stream and seq of a damaged unindexed event") {
  test::TempDir dir;
  WriteThenCrash(dir.path(), 4);
  CHECK(Verify(dir.path()).ok());
  // victim seq 2 is at position 3. Damage its payload, so the envelope
  // still passes the verifier and claims a stream and seq.
  size_t at = PayloadOffset(dir.path(), 3, "payload-1");
  REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(3), at, 2));
  VerifyReport r = Verify(dir.path());
  INFO(Describe(r));
  REQUIRE(r.problem_count == 1);
  CHECK(r.problems[0].stream == "victim");
  CHECK(r.problems[0].seq == 2);
  CHECK(r.problems[0].position == 3);
  VerifyReport one = Verify(dir.path(), "victim");
  INFO(Describe(one));
  CHECK(one.problem_count == 1);
  CHECK(one.problems[0].seq == 2);
}

TEST_CASE("verify reports a missing stream index entry and a deleted event") {
  test::TempDir dir;
  Write(*Open(dir.path(), 1), 4);
  SUBCASE("index entry") {
    REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
              std::string key = test::Big64(1) + test::Big64(2);
              MDB_val k{key.size(), key.data()};
              REQUIRE(mdb_del(static_cast<MDB_txn*>(raw.txn),
                              raw.dbi("stream_index"), &k, nullptr) == 0);
            }) == 0);
    VerifyReport r = Verify(dir.path());
    INFO(Describe(r));
    REQUIRE(r.problem_count == 1);
    CHECK(r.problems[0].stream == "victim");
    CHECK(r.problems[0].seq == 2);
    CHECK(r.problems[0].what == "missing from the stream index");
  }
  SUBCASE("log record") {
    REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
              std::string key = test::Big64(3);
              MDB_val k{key.size(), key.data()};
              REQUIRE(mdb_del(static_cast<MDB_txn*>(raw.txn), raw.dbi("log"),
                              &k, nullptr) == 0);
            }) == 0);
    VerifyReport r = Verify(dir.path());
    INFO(Describe(r));
    // The gap, the dangling index entry and the row's count all show it.
    CHECK(r.problem_count == 3);
    bool gap = false;
    for (const VerifyProblem& p : r.problems) {
      CHECK(p.stream == "victim");
      gap = gap || (p.seq == 2 && p.what.find("seq 2 is missing from the log "
                                              "(between positions 1 and 5)") !=
                                      std::string::npos);
    }
    CHECK(gap);
  }
}

TEST_CASE("verify reports a tag entry for an event that lacks the tag") {
  test::TempDir dir;
  Write(*Open(dir.path(), 1), 2);
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            std::string key = std::string("other") + '\0' + test::Big64(2);
            MDB_val k{key.size(), key.data()};
            MDB_val v{0, nullptr};
            REQUIRE(mdb_put(static_cast<MDB_txn*>(raw.txn),
                            raw.dbi("tag_index"), &k, &v, 0) == 0);
          }) == 0);
  VerifyReport r = Verify(dir.path());
  INFO(Describe(r));
  REQUIRE(r.problem_count == 1);
  CHECK(r.problems[0].stream == "bystander");
  CHECK(r.problems[0].seq == 1);
  CHECK(r.problems[0].what.find("tag 'other'") != std::string::npos);
}

TEST_CASE("verify names the stream and seq of a damaged snapshot") {
  test::TempDir dir;
  {
    auto store = Open(dir.path(), 1);
    Write(*store, 3);
    REQUIRE(store->snapshots().Save("victim", 2, {"State", 1, "abc"}).ok());
  }
  REQUIRE(test::FlipValueBit(dir.path(), "snapshots",
                             test::Big64(1) + test::Big64(2), 30, 1));
  VerifyReport r = Verify(dir.path());
  INFO(Describe(r));
  REQUIRE(r.problem_count == 1);
  CHECK(r.problems[0].stream == "victim");
  CHECK(r.problems[0].seq == 2);
  CHECK(r.problems[0].what.find("damaged snapshot record") == 0);
}

TEST_CASE("verify of a stream that does not exist is NotFound") {
  test::TempDir dir;
  Write(*Open(dir.path(), 1), 1);
  auto store = Open(dir.path(), 1, /*read_only=*/true);
  CHECK(VerifyStore(*store, {.stream = "nobody"}).status().IsNotFound());
  CHECK(VerifyStore(*store, {.stream = std::string("bad\0name", 8)})
            .status()
            .IsInvalidArgument());
}

TEST_CASE("verify lists at most max_problems but counts them all") {
  test::TempDir dir;
  Write(*Open(dir.path(), 64), 150);
  for (uint64_t pos : {1, 3, 5}) {
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(pos), 40, 0));
  }
  auto store = Open(dir.path(), 1, /*read_only=*/true);
  uint64_t progress = 0;
  auto r = VerifyStore(*store, {.max_problems = 2,
                                .progress = [&](uint64_t n) { progress = n; }});
  REQUIRE(r.ok());
  CHECK(r->problem_count == 3);
  CHECK(r->problems.size() == 2);
  CHECK(progress > 0);
}

}  // namespace memoir
