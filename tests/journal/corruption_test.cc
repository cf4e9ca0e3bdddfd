// Damaged bytes are detected and reported with stream and seq, never
// skipped or trusted.
#include <doctest/doctest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/lmdb_pages.h"
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

namespace {

// After the store above is closed (its index flushed), a child appends
// victim seq 4 (position 7) and third seq 1 (position 8), then exits
// without closing, as a crash would: both lie above the last index flush,
// where only the records themselves say whose they are.
void AppendThenCrash(const std::string& path) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(path, o);
    bool ok = store.ok() &&
              (*store)
                  ->journal()
                  .Append("victim", Expected::Any(), {{"T", "late", 1, {}}})
                  .ok() &&
              (*store)
                  ->journal()
                  .Append("third", Expected::Any(), {{"T", "later", 1, {}}})
                  .ok();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

bool Has(const Status& s, std::string_view text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

size_t Events(Store& store, std::string_view stream, uint64_t to_seq) {
  size_t n = 0;
  ReadOptions r;
  r.to_seq = to_seq;
  Status s = store.journal().Scan(stream, r, [&](const EventView&) {
    ++n;
    return true;
  });
  REQUIRE(s.ok());
  return n;
}

}  // namespace

TEST_CASE(
    "a damaged unindexed record refuses a writer, and a reader of its stream "
    "gets corruption naming its stream and seq instead of a shorter stream") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/65536, 3);
  AppendThenCrash(dir.path());
  // One bit in the envelope's header: a repair of one bit proves whose the
  // record is.
  REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(7), 20, 1));
  auto writer = Store::Open(dir.path());
  REQUIRE(!writer.ok());
  CHECK(writer.status().IsCorruption());
  CHECK(Has(writer.status(), "position 7"));
  CHECK(Has(writer.status(), "stream 'victim' seq 4"));

  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(dir.path(), ro);
  REQUIRE(reader.ok());
  Journal& j = (*reader)->journal();
  // Other streams read whole: the damage is proven to be victim's.
  CHECK(j.Read("bystander")->size() == 3);
  CHECK(j.Read("third")->size() == 1);
  // Victim's stream fails wherever a read would reach seq 4...
  auto read = j.Read("victim");
  REQUIRE(!read.ok());
  CHECK(read.status().IsCorruption());
  CHECK(Has(read.status(), "'victim' seq 4"));
  CHECK(Has(read.status(), "position 7"));
  ReadOptions backward;
  backward.backward = true;
  backward.max_count = 1;
  CHECK(j.Scan("victim", backward, [](const EventView&) {
           return true;
         }).IsCorruption());
  auto head = j.Head("victim");
  REQUIRE(!head.ok());
  CHECK(head.status().IsCorruption());
  CHECK(!j.GetStream("victim").ok());
  // The listing goes on past it: victim's entry says why its head is not
  // known, the others are whole.
  auto list = j.ListStreams("", "", 100);
  REQUIRE(list.ok());
  REQUIRE(list->streams.size() == 3);
  for (const StreamInfo& info : list->streams) {
    CAPTURE(info.name);
    if (info.name == "victim") {
      CHECK(info.head == 3);
      CHECK(info.damage.find("'victim' seq 4") != std::string::npos);
      CHECK(info.damage.find("position 7") != std::string::npos);
    } else {
      CHECK(info.damage.empty());
      CHECK(info.head == (info.name == "bystander" ? 3 : 1));
    }
  }
  // A tag read that would pass the damaged record fails too (it may carry
  // the tag); one that stops before it does not.
  auto tagged = [&](size_t max_count) {
    return j.ScanTag("tag", 1, max_count,
                     [](const EventView&) { return true; });
  };
  CHECK(tagged(100).IsCorruption());
  CHECK(Has(tagged(100), "position 7"));
  CHECK(tagged(3).ok());
  // ... and not where it would not.
  CHECK(Events(**reader, "victim", 3) == 3);
  ReadOptions first_two;
  first_two.max_count = 2;
  CHECK(
      j.Scan("victim", first_two, [](const EventView&) { return true; }).ok());
  // verify names it too.
  auto report = VerifyStore(**reader);
  REQUIRE(report.ok());
  bool named = false;
  for (const VerifyProblem& p : report->problems) {
    named |= p.stream == "victim" && p.seq == 4 && p.position == 7;
  }
  CHECK(named);
  reader->reset();

  // A dry run finds the repair and writes nothing; the repair restores
  // the record as written and a writer opens the store again.
  RepairOptions dry;
  dry.dry_run = true;
  auto planned = RepairStore(dir.path(), dry);
  REQUIRE(planned.ok());
  REQUIRE(planned->repaired.size() == 1);
  CHECK(planned->repaired[0].stream == "victim");
  CHECK(planned->repaired[0].seq == 4);
  CHECK(!Store::Open(dir.path()).ok());
  auto repair = RepairStore(dir.path());
  REQUIRE(repair.ok());
  CHECK(repair->repaired.size() == 1);
  CHECK(repair->unrepaired.empty());
  auto healed = Store::Open(dir.path());
  REQUIRE(healed.ok());
  auto events = (*healed)->journal().Read("victim");
  REQUIRE(events.ok());
  REQUIRE(events->size() == 4);
  CHECK((*events)[3].payload == "late");
  // A repair needs the store free of writers.
  auto busy = RepairStore(dir.path());
  CHECK(busy.status().IsBusy());
}

TEST_CASE(
    "when a damaged unindexed record cannot prove whose it is, every stream "
    "it may belong to fails to read to its end") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/65536, 3);
  AppendThenCrash(dir.path());
  uint64_t victim = 0, bystander = 0;
  {
    StoreOptions ro;
    ro.read_only = true;
    auto store = Store::Open(dir.path(), ro);
    REQUIRE(store.ok());
    victim = (*store)->journal().GetStream("victim")->id;
    bystander = (*store)->journal().GetStream("bystander")->id;
  }
  // Damage of several bits: the record at position 7 (victim seq 4) now
  // claims to be bystander's, and no one-bit repair undoes it. Envelope
  // byte 32 holds the stream id (little-endian), after the 8-byte checksum.
  const uint64_t diff = victim ^ bystander;
  int flipped = 0;
  for (int bit = 0; bit < 64; ++bit) {
    if ((diff >> bit & 1) != 0) {
      REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(7),
                                 8 + 32 + bit / 8, bit % 8));
      ++flipped;
    }
  }
  if (flipped < 2) {  // a payload bit as well
    REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(7), 100, 0));
  }
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(dir.path(), ro);
  REQUIRE(reader.ok());
  Journal& j = (*reader)->journal();
  // The wrong claim is named as a claim...
  auto bys = j.Read("bystander");
  REQUIRE(!bys.ok());
  CHECK(Has(bys.status(), "claims stream 'bystander' seq 4, unverified"));
  // ... and does not make victim silently one event shorter.
  auto vic = j.Read("victim");
  REQUIRE(!vic.ok());
  CHECK(vic.status().IsCorruption());
  CHECK(Has(vic.status(), "may be stream 'victim' seq 4"));
  // Whatever the record claims, victim's seq 4 and later cannot be read.
  ReadOptions after_head;
  after_head.from_seq = 4;
  after_head.max_count = 10;
  CHECK(j.Scan("victim", after_head, [](const EventView&) {
           return true;
         }).IsCorruption());
  // A stream with an intact event after the damage cannot be its owner.
  CHECK(j.Read("third")->size() == 1);
  // Reads that stop at the intact head still work.
  CHECK(Events(**reader, "victim", 3) == 3);
  CHECK(Events(**reader, "bystander", 3) == 3);
  // The listing marks both streams it may belong to, not the third.
  auto list = j.ListStreams("", "", 100);
  REQUIRE(list.ok());
  REQUIRE(list->streams.size() == 3);
  for (const StreamInfo& info : list->streams) {
    CAPTURE(info.name);
    CHECK(info.damage.empty() == (info.name == "third"));
  }
  reader->reset();
  // No one-bit repair explains it: listed, left alone.
  auto repair = RepairStore(dir.path());
  REQUIRE(repair.ok());
  CHECK(repair->repaired.empty());
  REQUIRE(repair->unrepaired.size() == 1);
  CHECK(repair->unrepaired[0].position == 7);
  CHECK(!Store::Open(dir.path()).ok());
}

TEST_CASE(
    "a stream whose only event is a damaged unindexed record is listed with "
    "the damage, not left out") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/65536, 3);
  AppendThenCrash(dir.path());
  // Position 8 is third's seq 1, its only event.
  REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(8), 20, 1));
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(dir.path(), ro);
  REQUIRE(reader.ok());
  Journal& j = (*reader)->journal();
  CHECK(!j.GetStream("third").ok());
  auto list = j.ListStreams("", "", 100);
  REQUIRE(list.ok());
  REQUIRE(list->streams.size() == 3);
  // In name order: bystander, third, victim.
  const StreamInfo& third = list->streams[1];
  CHECK(third.name == "third");
  CHECK(third.head == 0);
  CHECK(third.damage.find("'third' seq 1") != std::string::npos);
  CHECK(list->streams[0].damage.empty());
  CHECK(list->streams[2].damage.empty());  // victim, whole to seq 4
  CHECK(list->streams[2].head == 4);
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

TEST_CASE(
    "repair leaves a record whose one-bit repair names another position, "
    "and says so") {
  test::TempDir dir;
  Write(dir.path(), /*flush_every=*/1, 3);
  // Position 5 gets a copy of position 3's record (victim seq 2) with one
  // bit flipped: the repair proves a record, but not the one stored there.
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi log = raw.dbi("log");
            std::string k3 = test::Big64(3), k5 = test::Big64(5);
            MDB_val key{8, k3.data()};
            MDB_val v;
            REQUIRE(mdb_get(txn, log, &key, &v) == 0);
            std::string copy(static_cast<const char*>(v.mv_data), v.mv_size);
            copy[40] = static_cast<char>(copy[40] ^ 0x10);
            MDB_val at5{8, k5.data()};
            MDB_val value{copy.size(), copy.data()};
            REQUIRE(mdb_put(txn, log, &at5, &value, 0) == 0);
          }) == 0);
  auto repair = RepairStore(dir.path());
  REQUIRE(repair.ok());
  CHECK(repair->repaired.empty());
  REQUIRE(repair->unrepaired.size() == 1);
  CHECK(repair->unrepaired[0].position == 5);
  CHECK(repair->unrepaired[0].what.find(
            "the repaired record names position 3") != std::string::npos);
}

TEST_CASE("repair of a missing store is not found, and creates nothing") {
  test::TempDir dir;
  const std::string missing = dir.Sub("nothing-here");
  auto repair = RepairStore(missing);
  CHECK(repair.status().IsNotFound());
  CHECK(!std::filesystem::exists(missing));
}

TEST_CASE(
    "a log whose branch pages repeat is corruption for scans, verify and a "
    "compacting copy, never the same events twice or a copy without end") {
  test::TempDir dir;
  const std::string path = dir.Sub("looping");
  {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(path, o);
    REQUIRE(store.ok());
    for (int batch = 0; batch < 200; ++batch) {
      std::vector<EventData> events(100, {"T", std::string(200, 'p'), 1, {}});
      REQUIRE((*store)
                  ->journal()
                  .Append("s-" + std::to_string(batch % 7), Expected::Any(),
                          std::move(events))
                  .ok());
    }
  }
  REQUIRE(test::MakeBranchPagesRepeat(path, "log") == "");
  StoreOptions read_only;
  read_only.read_only = true;
  auto store = Store::Open(path, read_only);
  REQUIRE(store.ok());
  uint64_t visited = 0, last = 0;
  bool increasing = true;
  Status s = (*store)->journal().ScanAll(1, 1'000'000, [&](const EventView& e) {
    increasing = increasing && e.position > last;
    last = e.position;
    ++visited;
    return true;
  });
  CHECK(s.IsCorruption());
  CHECK(std::string(s.message()).find("repeat or loop") != std::string::npos);
  CHECK(increasing);
  CHECK(visited < 20000);

  auto report = VerifyStore(**store);
  REQUIRE(report.ok());
  CHECK(!report->ok());
  bool named = false;
  for (const VerifyProblem& p : report->problems) {
    named = named || p.what.find("the log table's keys go backwards") !=
                         std::string::npos;
  }
  CHECK(named);

  Status copied = CopyStore(**store, dir.Sub("copy"), {.compact = true});
  CHECK(copied.IsCorruption());
  CHECK(std::string(copied.message()).find("repeat or loop") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(dir.Sub("copy") + "/data.mdb.partial"));
  CHECK(!std::filesystem::exists(dir.Sub("copy") + "/data.mdb"));
}

}  // namespace memoir
