// Behaviour of the journal API (memoir/journal.h) on a real store.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "memoir/store.h"
#include "support/backend.h"
#include "support/lmdb_pages.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::vector<EventData> Events(int n, const std::string& type = "Tick",
                              std::vector<std::string> tags = {}) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({type, "payload-" + std::to_string(i), 1, tags});
  }
  return out;
}

std::unique_ptr<Store> OpenOrDie(const std::string& path, StoreOptions o = {}) {
  o.durability =
      o.durability == Durability::kSync ? Durability::kNone : o.durability;
  return test::OpenStoreOrFail(path, o);
}

// The journal's index is written in bulk; every behaviour must hold both for
// events still in the unindexed tail and for indexed ones.
StoreOptions WithFlushEvery(size_t n) {
  StoreOptions o;
  o.index_flush_events = n;
  return o;
}

}  // namespace

TEST_CASE("appended events read back with gap-free seqs from 1") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{7}, size_t{65536}}) {
    CAPTURE(flush);
    std::string path = dir.Sub("s" + std::to_string(flush));
    auto store = OpenOrDie(path, WithFlushEvery(flush));
    Journal& j = store->journal();
    auto r1 = j.Append("acct-1", Expected::NoStream(), Events(3));
    REQUIRE(r1.ok());
    CHECK(r1->first_seq == 1);
    CHECK(r1->last_seq == 3);
    auto r2 = j.Append("acct-1", Expected::At(3), Events(2, "Tock"));
    REQUIRE(r2.ok());
    CHECK(r2->first_seq == 4);
    CHECK(r2->first_position == r1->last_position + 1);
    auto events = j.Read("acct-1");
    REQUIRE(events.ok());
    REQUIRE(events->size() == 5);
    for (size_t i = 0; i < 5; ++i) {
      CHECK((*events)[i].seq == i + 1);
      CHECK((*events)[i].stream == "acct-1");
    }
    CHECK((*events)[3].type == "Tock");
    CHECK((*events)[0].payload == "payload-0");
    CHECK(*j.Head("acct-1") == 5);
    CHECK(*j.Head("never-written") == 0);
  }
}

TEST_CASE(
    "a stale expectation is a conflict carrying the head and writes nothing") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("s", Expected::Any(), Events(2)).ok());
  auto stale = j.Append("s", Expected::At(1), Events(1));
  REQUIRE(!stale.ok());
  CHECK(stale.status().IsConflict());
  CHECK(stale.status().actual_seq() == 2);
  auto exists = j.Append("s", Expected::NoStream(), Events(1));
  CHECK(exists.status().IsConflict());
  auto missing = j.Append("other", Expected::At(4), Events(1));
  CHECK(missing.status().IsConflict());
  CHECK(missing.status().actual_seq() == 0);
  CHECK(*j.Head("s") == 2);
  CHECK(j.Read("s")->size() == 2);
  CHECK(*j.Head("other") == 0);
}

TEST_CASE("a multi-stream append with one conflict writes nothing at all") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("a", Expected::Any(), Events(1)).ok());
  std::vector<StreamAppend> batch;
  batch.push_back({"a", Expected::At(1), Events(2)});
  batch.push_back({"b", Expected::At(7), Events(2)});  // conflict
  auto r = j.AppendMulti(std::move(batch));
  REQUIRE(!r.ok());
  CHECK(r.status().IsConflict());
  CHECK(*j.Head("a") == 1);
  CHECK(*j.Head("b") == 0);
  CHECK(*j.LastPosition() == 1);

  std::vector<StreamAppend> good;
  good.push_back({"a", Expected::At(1), Events(2)});
  good.push_back({"b", Expected::NoStream(), Events(3)});
  auto ok = j.AppendMulti(std::move(good));
  REQUIRE(ok.ok());
  CHECK((*ok)[0].last_seq == 3);
  CHECK((*ok)[1].last_seq == 3);
  CHECK((*ok)[1].first_position == (*ok)[0].last_position + 1);
}

TEST_CASE(
    "a multi-stream append refused for stale expectations names every "
    "violated stream with its expected and actual head, and writes "
    "nothing") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("a", Expected::Any(), Events(3)).ok());
  REQUIRE(j.Append("c", Expected::Any(), Events(1)).ok());
  std::vector<StreamAppend> batch;
  batch.push_back({"a", Expected::At(2), Events(1)});     // stale: head 3
  batch.push_back({"b", Expected::Exists(), Events(1)});  // never written
  batch.push_back({"c", Expected::At(1), Events(1)});     // holds
  auto r = j.AppendMulti(std::move(batch));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsConflict());
  CHECK(r.status().actual_seq() == 3);  // the first violated stream's head
  const std::string m = r.status().ToString();
  CHECK_MESSAGE(m.find("2 streams are not where the request expected") !=
                    std::string::npos,
                m);
  CHECK_MESSAGE(m.find("stream 'a': expected head 2, but its head is 3") !=
                    std::string::npos,
                m);
  CHECK_MESSAGE(m.find("stream 'b': expected it to exist, but it has no "
                       "events") != std::string::npos,
                m);
  CHECK(m.find("stream 'c'") == std::string::npos);
  CHECK(*j.LastPosition() == 4);
  CHECK(*j.Head("a") == 3);
  CHECK(*j.Head("b") == 0);
  CHECK(*j.Head("c") == 1);
}

TEST_CASE(
    "Expected::Exists holds for a stream with a head above 0, also after "
    "DeleteTo removed its events, and for no other") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  auto missing = j.Append("s", Expected::Exists(), Events(1));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsConflict());
  CHECK(missing.status().actual_seq() == 0);
  CHECK(*j.LastPosition() == 0);
  REQUIRE(j.Append("s", Expected::NoStream(), Events(2)).ok());
  auto r = j.Append("s", Expected::Exists(), Events(1));
  REQUIRE(r.ok());
  CHECK(r->first_seq == 3);
  REQUIRE(j.DeleteTo("s", 3).ok());
  CHECK(j.Append("s", Expected::Exists(), Events(1)).ok());
  REQUIRE(j.DeleteStream("s").ok());
  CHECK(
      j.Append("s", Expected::Exists(), Events(1)).status().IsStreamDeleted());
}

TEST_CASE(
    "DeleteTo and DeleteStream with an expected head delete nothing on a "
    "mismatch and carry the actual head") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    auto store =
        OpenOrDie(dir.Sub("s" + std::to_string(flush)), WithFlushEvery(flush));
    Journal& j = store->journal();
    REQUIRE(j.Append("s", Expected::Any(), Events(4)).ok());
    DeleteOptions stale;
    stale.expected_head = 3;
    Status to = j.DeleteTo("s", 2, stale);
    CHECK(to.IsConflict());
    CHECK(to.actual_seq() == 4);
    CHECK_MESSAGE(
        to.ToString().find("nothing was deleted") != std::string::npos,
        to.ToString());
    CHECK(j.GetStream("s")->deleted_to == 0);
    CHECK(j.Read("s")->size() == 4);
    Status gone = j.DeleteStream("s", stale);
    CHECK(gone.IsConflict());
    CHECK(gone.actual_seq() == 4);
    CHECK_FALSE(j.GetStream("s")->deleted);

    DeleteOptions current;
    current.expected_head = 4;
    REQUIRE(j.DeleteTo("s", 2, current).ok());
    CHECK(j.GetStream("s")->deleted_to == 2);
    REQUIRE(j.DeleteStream("s", current).ok());
    CHECK(j.GetStream("s")->deleted);
    // A stream that was never written has no head to compare.
    CHECK(j.DeleteTo("never", 1, current).IsNotFound());
  }
}

TEST_CASE(
    "DeleteTo past the head fails unless asked to clamp, then deletes up to "
    "the head and keeps it") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("s", Expected::Any(), Events(3)).ok());
  Status past = j.DeleteTo("s", 10);
  CHECK(past.IsInvalidArgument());
  CHECK_MESSAGE(past.ToString().find("clamp_to_head") != std::string::npos,
                past.ToString());
  CHECK(j.Read("s")->size() == 3);
  DeleteOptions clamp;
  clamp.clamp_to_head = true;
  REQUIRE(j.DeleteTo("s", kMaxSeq, clamp).ok());
  CHECK(j.Read("s")->empty());
  CHECK(j.GetStream("s")->deleted_to == 3);
  CHECK(*j.Head("s") == 3);
  auto next = j.Append("s", Expected::At(3), Events(1));
  REQUIRE(next.ok());
  CHECK(next->first_seq == 4);
}

TEST_CASE(
    "ScanAllThen keeps every view of the scan valid until `then`, with "
    "tags and payloads of every alignment, and skips `then` when the scan "
    "fails") {
  test::TempDir dir;
  const std::string path = dir.Sub("s");
  {
    auto store = OpenOrDie(path);
    Journal& j = store->journal();
    for (int i = 0; i < 60; ++i) {
      EventData e;
      e.type = i % 2 ? "Odd" : "Even-with-a-longer-type";
      // Sizes that move the next payload off and onto 16-byte boundaries.
      e.payload.assign(size_t(i * 7 % 61), char('a' + i % 26));
      if (i % 3 != 0) e.tags = {"t" + std::to_string(i), "every"};
      REQUIRE(j.Append("s" + std::to_string(i % 4), Expected::Any(), {e}).ok());
    }
    auto want = j.ReadAll(0, kMaxSeq);
    REQUIRE(want.ok());
    REQUIRE(want->size() == 60);
    std::vector<EventView> kept;
    bool then_ran = false;
    Status s = j.ScanAllThen(
        1, 50,
        [&](const EventView& e) {
          kept.push_back(e);
          return true;
        },
        [&] {
          then_ran = true;
          REQUIRE(kept.size() == 50);
          for (size_t i = 0; i < kept.size(); ++i) {
            CAPTURE(i);
            const RecordedEvent& w = (*want)[i];
            CHECK(kept[i].position == w.position);
            CHECK(kept[i].stream == w.stream);
            CHECK(kept[i].type == w.type);
            CHECK(kept[i].payload == w.payload);
            CHECK(std::vector<std::string>(kept[i].tags.begin(),
                                           kept[i].tags.end()) == w.tags);
            CHECK(reinterpret_cast<uintptr_t>(kept[i].payload.data()) % 16 ==
                  0);
          }
        });
    CHECK(s.ok());
    CHECK(then_ran);
    // A visitor that stops early still gets `then`.
    size_t visits = 0;
    then_ran = false;
    CHECK(j.ScanAllThen(
               1, 50, [&](const EventView&) { return ++visits < 3; },
               [&] { then_ran = true; })
              .ok());
    CHECK(visits == 3);
    CHECK(then_ran);
  }
  REQUIRE(test::CorruptFirstEvent(path).empty());
  auto store = OpenOrDie(path);
  bool then_ran = false;
  Status s = store->journal().ScanAllThen(
      1, 10, [](const EventView&) { return true; }, [&] { then_ran = true; });
  CHECK(s.IsCorruption());
  CHECK_FALSE(then_ran);
}

TEST_CASE(
    "ScanAllBackward visits the events of ScanAll in reverse, from any "
    "position, skipping deleted ones, indexed or not") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{5}, size_t{65536}}) {
    CAPTURE(flush);
    auto store =
        OpenOrDie(dir.Sub("s" + std::to_string(flush)), WithFlushEvery(flush));
    Journal& j = store->journal();
    CHECK(j.ReadAllBackward(kMaxSeq, 10)->empty());  // an empty log
    for (int i = 0; i < 12; ++i) {
      REQUIRE(j.Append("s" + std::to_string(i % 3), Expected::Any(),
                       Events(1 + i % 2))
                  .ok());
    }
    // Holes: positions 2-3, position 1, and the newest (17-18, with all
    // of s2), so that a backward read from the top starts below them.
    REQUIRE(j.DeleteTo("s1", 2).ok());
    REQUIRE(j.DeleteTo("s0", 1).ok());
    REQUIRE(j.DeleteTo("s2", 6).ok());
    auto forward = j.ReadAll(0, kMaxSeq);
    REQUIRE(forward.ok());
    auto backward = j.ReadAllBackward(kMaxSeq, kMaxSeq);
    REQUIRE(backward.ok());
    REQUIRE_FALSE(forward->empty());
    CHECK(forward->front().position == 5);
    CHECK(backward->front().position == 16);
    REQUIRE(backward->size() == forward->size());
    for (size_t i = 0; i < forward->size(); ++i) {
      const RecordedEvent& f = (*forward)[i];
      const RecordedEvent& b = (*backward)[backward->size() - 1 - i];
      CHECK(f.position == b.position);
      CHECK(f.stream == b.stream);
      CHECK(f.seq == b.seq);
      CHECK(f.payload == b.payload);
    }
    // From every position, deleted or not, as many as asked.
    const uint64_t last = *j.LastPosition();
    for (uint64_t from = 0; from <= last + 2; ++from) {
      CAPTURE(from);
      auto page = j.ReadAllBackward(from, 3);
      REQUIRE(page.ok());
      std::vector<uint64_t> want;
      for (auto it = forward->rbegin(); it != forward->rend(); ++it) {
        if (it->position <= from && want.size() < 3) {
          want.push_back(it->position);
        }
      }
      std::vector<uint64_t> got;
      for (const RecordedEvent& e : *page) got.push_back(e.position);
      CHECK(got == want);
    }
    CHECK(j.ReadAllBackward(last, 0)->empty());
  }
}

TEST_CASE("a multi-stream append naming a stream twice is refused") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<StreamAppend> batch;
  batch.push_back({"a", Expected::Any(), Events(1)});
  batch.push_back({"a", Expected::Any(), Events(1)});
  auto r = store->journal().AppendMulti(std::move(batch));
  CHECK(r.status().IsInvalidArgument());
}

TEST_CASE("data survives closing and reopening, indexed or not") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{4}, size_t{65536}}) {
    CAPTURE(flush);
    std::string path = dir.Sub("s" + std::to_string(flush));
    {
      auto store = OpenOrDie(path, WithFlushEvery(flush));
      for (int i = 0; i < 10; ++i) {
        REQUIRE(store->journal()
                    .Append("s" + std::to_string(i % 3), Expected::Any(),
                            Events(i + 1, "T", {"even"}))
                    .ok());
      }
    }
    auto store = OpenOrDie(path, WithFlushEvery(flush));
    Journal& j = store->journal();
    CHECK(*j.Head("s0") == 1 + 4 + 7 + 10);
    CHECK(*j.Head("s1") == 2 + 5 + 8);
    CHECK(j.Read("s2")->size() == 3 + 6 + 9);
    CHECK(*j.LastPosition() == 55);
    // Appends continue from the recovered heads and positions.
    auto r = j.Append("s1", Expected::At(15), Events(1));
    REQUIRE(r.ok());
    CHECK(r->first_seq == 16);
    CHECK(r->first_position == 56);
    CHECK(j.ReadTag("even", 0, 1000)->size() == 55);  // the last had no tag
  }
}

TEST_CASE("scans follow runs in the log and seek between them, both ways") {
  // Stream "a" is written in runs of consecutive log records broken by
  // other streams' events: a scan walks each run and seeks across the gaps.
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{7}, size_t{65536}}) {
    CAPTURE(flush);
    auto store =
        OpenOrDie(dir.Sub("s" + std::to_string(flush)), WithFlushEvery(flush));
    Journal& j = store->journal();
    std::vector<std::string> payloads;  // of "a", by seq - 1
    for (int round = 0; round < 6; ++round) {
      std::vector<EventData> run;
      for (int i = 0; i <= round; ++i) {
        payloads.push_back("a-" + std::to_string(payloads.size() + 1));
        run.push_back({"T", payloads.back(), 1, {}});
      }
      REQUIRE(j.Append("a", Expected::Any(), std::move(run)).ok());
      REQUIRE(j.Append("b", Expected::Any(), Events(round % 2 + 1)).ok());
    }
    const uint64_t n = payloads.size();
    auto expect = [&](const ReadOptions& o, std::vector<uint64_t> seqs) {
      auto read = j.Read("a", o);
      REQUIRE(read.ok());
      REQUIRE(read->size() == seqs.size());
      for (size_t i = 0; i < seqs.size(); ++i) {
        CHECK((*read)[i].seq == seqs[i]);
        CHECK((*read)[i].payload == payloads[seqs[i] - 1]);
      }
    };
    std::vector<uint64_t> all, reversed;
    for (uint64_t seq = 1; seq <= n; ++seq) all.push_back(seq);
    reversed.assign(all.rbegin(), all.rend());
    expect({}, all);
    expect({.backward = true}, reversed);
    expect({.from_seq = 3, .to_seq = 11}, {3, 4, 5, 6, 7, 8, 9, 10, 11});
    expect({.from_seq = 3, .to_seq = 11, .backward = true},
           {11, 10, 9, 8, 7, 6, 5, 4, 3});
    expect({.from_seq = 5, .max_count = 4}, {5, 6, 7, 8});
    expect({.to_seq = 9, .max_count = 3, .backward = true}, {9, 8, 7});
    CHECK(j.Read("b")->size() == 9);
  }
}

TEST_CASE("the head survives delete-to and later appends continue after it") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    std::string path = dir.Sub("s" + std::to_string(flush));
    {
      auto store = OpenOrDie(path, WithFlushEvery(flush));
      Journal& j = store->journal();
      REQUIRE(j.Append("s", Expected::Any(), Events(5, "T", {"t"})).ok());
      REQUIRE(j.DeleteTo("s", 5).ok());
      CHECK(*j.Head("s") == 5);
      CHECK(j.Read("s")->empty());
      CHECK(j.GetStream("s")->deleted_to == 5);
      CHECK(j.GetStream("s")->event_count == 0);
      CHECK(j.ReadTag("t", 0, 100)->empty());
      CHECK(j.DeleteTo("s", 6).IsInvalidArgument());
    }
    auto store = OpenOrDie(path, WithFlushEvery(flush));
    Journal& j = store->journal();
    CHECK(*j.Head("s") == 5);
    auto r = j.Append("s", Expected::At(5), Events(2));
    REQUIRE(r.ok());
    CHECK(r->first_seq == 6);
    auto events = j.Read("s");
    REQUIRE(events->size() == 2);
    CHECK(events->front().seq == 6);
    REQUIRE(j.DeleteTo("s", 6).ok());
    CHECK(j.Read("s")->front().seq == 7);
  }
}

TEST_CASE("a tombstoned stream refuses appends and reads") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("gone", Expected::Any(), Events(3)).ok());
  REQUIRE(j.Append("kept", Expected::Any(), Events(1)).ok());
  REQUIRE(j.DeleteStream("gone").ok());
  CHECK(
      j.Append("gone", Expected::Any(), Events(1)).status().IsStreamDeleted());
  CHECK(j.Read("gone").status().IsStreamDeleted());
  CHECK(j.Head("gone").status().IsStreamDeleted());
  CHECK(j.GetStream("gone")->deleted);
  CHECK(j.DeleteStream("gone").IsStreamDeleted());
  CHECK(j.DeleteStream("never").IsNotFound());
  CHECK(j.Read("kept")->size() == 1);
  auto all = j.ReadAll(0, 100);
  REQUIRE(all->size() == 1);
  CHECK(all->front().stream == "kept");
}

TEST_CASE("a 16 MiB event round-trips") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::string big(16 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131);
  std::vector<EventData> events{{"Blob", big, 2, {}}};
  REQUIRE(
      store->journal().Append("big", Expected::Any(), std::move(events)).ok());
  auto read = store->journal().Read("big");
  REQUIRE(read->size() == 1);
  CHECK(read->front().payload == big);
  CHECK(read->front().schema_version == 2);
}

TEST_CASE("bad stream names, tags and types are rejected before queueing") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  SUBCASE("empty name") {
    CHECK(
        j.Append("", Expected::Any(), Events(1)).status().IsInvalidArgument());
  }
  SUBCASE("over-long name") {
    std::string name(kMaxStreamNameBytes + 1, 'x');
    auto r = j.Append(name, Expected::Any(), Events(1));
    CHECK(r.status().IsInvalidArgument());
    CHECK(r.status().ToString().find("255") != std::string::npos);
    CHECK(j.Append(std::string(kMaxStreamNameBytes, 'x'), Expected::Any(),
                   Events(1))
              .ok());
  }
  SUBCASE("invalid UTF-8 and control characters") {
    CHECK(ValidateStreamName("caf\xc3\xa9").ok());
    CHECK(ValidateStreamName("\xc3").IsInvalidArgument());
    CHECK(ValidateStreamName("\xc0\xaf").IsInvalidArgument());      // overlong
    CHECK(ValidateStreamName("\xed\xa0\x80").IsInvalidArgument());  // surrogate
    CHECK(ValidateStreamName(std::string("a\0b", 3)).IsInvalidArgument());
    CHECK(ValidateStreamName("tab\there").IsInvalidArgument());
  }
  SUBCASE("no events, empty type, bad tag") {
    CHECK(j.Append("s", Expected::Any(), {}).status().IsInvalidArgument());
    CHECK(j.Append("s", Expected::Any(), Events(1, ""))
              .status()
              .IsInvalidArgument());
    CHECK(j.Append("s", Expected::Any(), Events(1, "T", {""}))
              .status()
              .IsInvalidArgument());
    CHECK(
        j.Append("s", Expected::Any(), Events(1, "T", {std::string("a\0", 2)}))
            .status()
            .IsInvalidArgument());
  }
  CHECK(*j.LastPosition() <= 1);
}

TEST_CASE(
    "reads honour ranges, counts and direction across the index and the tail") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path(), WithFlushEvery(5));
  Journal& j = store->journal();
  for (int i = 0; i < 4; ++i) {
    REQUIRE(j.Append("s", Expected::Any(), Events(3)).ok());  // 12 events
    REQUIRE(j.Append("noise", Expected::Any(), Events(1)).ok());
  }
  auto seqs = [&](const ReadOptions& o) {
    std::vector<uint64_t> out;
    REQUIRE(j.Scan("s", o, [&](const EventView& e) {
               out.push_back(e.seq);
               return true;
             }).ok());
    return out;
  };
  CHECK(seqs({}) ==
        std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(seqs({.from_seq = 4, .to_seq = 6}) == std::vector<uint64_t>{4, 5, 6});
  CHECK(seqs({.from_seq = 10, .max_count = 2}) ==
        std::vector<uint64_t>{10, 11});
  CHECK(seqs({.max_count = 4, .backward = true}) ==
        std::vector<uint64_t>{12, 11, 10, 9});
  CHECK(seqs({.from_seq = 2, .to_seq = 5, .backward = true}) ==
        std::vector<uint64_t>{5, 4, 3, 2});
  CHECK(seqs({.from_seq = 13}).empty());
  // Stopping early from the visitor.
  int seen = 0;
  REQUIRE(j.Scan("s", {}, [&](const EventView&) { return ++seen < 3; }).ok());
  CHECK(seen == 3);
  CHECK(j.Read("nope").status().IsNotFound());
}

TEST_CASE("every event can be read in commit order and by tag") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path(), WithFlushEvery(4));
  Journal& j = store->journal();
  for (int i = 0; i < 10; ++i) {
    std::vector<std::string> tags = {i % 2 == 0 ? "even" : "odd"};
    if (i % 5 == 0) tags.push_back("fifth");
    REQUIRE(j.Append("s" + std::to_string(i % 4), Expected::Any(),
                     Events(1, "T", tags))
                .ok());
  }
  auto all = j.ReadAll(0, 100);
  REQUIRE(all->size() == 10);
  for (size_t i = 0; i < all->size(); ++i) {
    CHECK((*all)[i].position == i + 1);
    CHECK((*all)[i].stream == "s" + std::to_string(i % 4));
  }
  auto page = j.ReadAll(4, 3);
  REQUIRE(page->size() == 3);
  CHECK(page->front().position == 4);
  auto even = j.ReadTag("even", 0, 100);
  REQUIRE(even->size() == 5);
  CHECK(even->front().position == 1);
  CHECK(even->back().position == 9);
  auto fifth = j.ReadTag("fifth", 2, 100);
  REQUIRE(fifth->size() == 1);
  CHECK(fifth->front().position == 6);
  CHECK(j.ReadTag("none", 0, 100)->empty());
}

TEST_CASE("streams are listed in name order with prefix and paging") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path(), WithFlushEvery(3));
  Journal& j = store->journal();
  for (const char* name :
       {"acct-3", "acct-1", "order-1", "acct-2", "acct-10"}) {
    REQUIRE(j.Append(name, Expected::Any(), Events(2)).ok());
  }
  auto first = j.ListStreams("acct-", "", 2);
  REQUIRE(first.ok());
  REQUIRE(first->streams.size() == 2);
  CHECK(first->streams[0].name == "acct-1");
  CHECK(first->streams[1].name == "acct-10");
  CHECK(first->streams[0].head == 2);
  CHECK(first->streams[0].event_count == 2);
  CHECK(first->next == "acct-10");
  auto second = j.ListStreams("acct-", first->next, 2);
  REQUIRE(second->streams.size() == 2);
  CHECK(second->streams[1].name == "acct-3");
  CHECK(second->next.empty());  // the last page
  auto after = j.ListStreams("acct-", "acct-3", 2);
  CHECK(after->streams.empty());
  CHECK(after->next.empty());
  CHECK(j.ListStreams("", "", 100)->streams.size() == 5);
}

TEST_CASE(
    "streams are listed in creation order, paged by token, with a total "
    "that counts every page") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    auto store =
        OpenOrDie(dir.Sub("s" + std::to_string(flush)), WithFlushEvery(flush));
    Journal& j = store->journal();
    const std::vector<std::string> created = {"acct-3", "acct-1", "order-1",
                                              "acct-2", "acct-10"};
    for (const std::string& name : created) {
      REQUIRE(j.Append(name, Expected::Any(), Events(1)).ok());
    }
    REQUIRE(j.DeleteStream("acct-2").ok());  // tombstoned: still listed
    ListStreamsOptions o;
    o.order = ListStreamsOptions::Order::kCreation;
    o.limit = 2;
    o.count_total = true;
    std::vector<std::string> seen;
    for (;;) {
      auto page = j.ListStreams(o);
      REQUIRE_MESSAGE(page.ok(), page.status().ToString());
      REQUIRE(page->total.has_value());
      CHECK(*page->total == 5);
      for (const StreamInfo& info : page->streams) seen.push_back(info.name);
      if (page->next.empty()) break;
      o.start_after = page->next;
    }
    CHECK(seen == created);
    // With a prefix, and without a total.
    o.prefix = "acct-";
    o.start_after.clear();
    o.limit = 10;
    o.count_total = false;
    auto accounts = j.ListStreams(o);
    REQUIRE(accounts.ok());
    CHECK_FALSE(accounts->total.has_value());
    REQUIRE(accounts->streams.size() == 4);
    CHECK(accounts->streams[0].name == "acct-3");
    CHECK(accounts->streams[2].name == "acct-2");
    CHECK(accounts->streams[2].deleted);
    // In name order the total counts the prefix, whatever the page.
    ListStreamsOptions by_name;
    by_name.prefix = "acct-";
    by_name.start_after = "acct-2";
    by_name.count_total = true;
    auto rest = j.ListStreams(by_name);
    REQUIRE(rest.ok());
    CHECK(*rest->total == 4);
    REQUIRE(rest->streams.size() == 1);
    CHECK(rest->streams[0].name == "acct-3");
    // A token that ListStreams did not give is refused.
    o.start_after = "acct-1";
    auto bad = j.ListStreams(o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().IsInvalidArgument());
  }
}

TEST_CASE(
    "the edges journal.h documents: deletes of a missing or tombstoned "
    "stream, reads of 0 events, tombstones in listings") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("live", Expected::Any(), Events(3, "T", {"t"})).ok());
  REQUIRE(j.Append("gone", Expected::Any(), Events(2)).ok());
  // Deletes of a stream never written.
  CHECK(j.DeleteTo("never", 1).IsNotFound());
  CHECK(j.DeleteStream("never").IsNotFound());
  // A second DeleteStream, and DeleteTo of a tombstoned stream.
  REQUIRE(j.DeleteStream("gone").ok());
  CHECK(j.DeleteStream("gone").IsStreamDeleted());
  CHECK(j.DeleteTo("gone", 1).IsStreamDeleted());
  // DeleteTo of seq 0 deletes nothing and succeeds.
  REQUIRE(j.DeleteTo("live", 0).ok());
  CHECK(j.GetStream("live")->event_count == 3);
  // A maximum count of 0 visits nothing, and is not an error.
  int visited = 0;
  auto count = [&](const EventView&) {
    ++visited;
    return true;
  };
  ReadOptions none;
  none.max_count = 0;
  CHECK(j.Scan("live", none, count).ok());
  CHECK(j.ScanAll(1, 0, count).ok());
  CHECK(j.ScanAllBackward(kMaxSeq, 0, count).ok());
  CHECK(j.ScanTag("t", 1, 0, count).ok());
  CHECK(j.ScanType("T", 1, 0, count).ok());
  CHECK(visited == 0);
  // A tombstoned stream is listed, marked deleted.
  auto page = j.ListStreams("", "", 10);
  REQUIRE(page.ok());
  REQUIRE(page->streams.size() == 2);
  CHECK(page->streams[0].name == "gone");
  CHECK(page->streams[0].deleted);
  CHECK(page->streams[0].event_count == 0);
  CHECK_FALSE(page->streams[1].deleted);
}

TEST_CASE(
    "the largest limit lists every stream, and an expectation of the largest "
    "seq is a conflict, not Any") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  for (const char* name : {"a", "b", "c"}) {
    REQUIRE(j.Append(name, Expected::Any(), Events(1)).ok());
  }
  ListStreamsOptions all;
  all.limit = std::numeric_limits<size_t>::max();
  auto page = j.ListStreams(all);
  REQUIRE(page.ok());
  CHECK(page->streams.size() == 3);
  CHECK(page->next.empty());
  all.order = ListStreamsOptions::Order::kCreation;
  CHECK(j.ListStreams(all)->streams.size() == 3);
  auto r = j.Append("a", Expected::At(kMaxSeq), Events(1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsConflict());
  CHECK(r.status().actual_seq() == 1);
  CHECK(*j.Head("a") == 1);
}

TEST_CASE("listing streams with a limit of 0 is refused, not undefined") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  Journal& j = store->journal();
  REQUIRE(j.Append("acct-1", Expected::Any(), Events(1)).ok());
  auto page = j.ListStreams("", "", 0);
  REQUIRE(!page.ok());
  CHECK(page.status().IsInvalidArgument());
  CHECK(j.ListStreams("", "", 1)->streams.size() == 1);
}

TEST_CASE("timestamps come from the injected clock") {
  struct FixedClock : Clock {
    int64_t NowNanos() override { return 1'700'000'000'000'000'000; }
  };
  test::TempDir dir;
  StoreOptions o;
  o.clock = std::make_shared<FixedClock>();
  auto store = OpenOrDie(dir.path(), o);
  REQUIRE(store->journal().Append("s", Expected::Any(), Events(1)).ok());
  CHECK(store->journal().Read("s")->front().timestamp_ns ==
        1'700'000'000'000'000'000);
  CHECK(store->journal().GetStream("s")->created_ns ==
        1'700'000'000'000'000'000);
}

TEST_CASE("a read-only store reads while refusing writes") {
  test::TempDir dir;
  {
    auto store = OpenOrDie(dir.path(), WithFlushEvery(3));
    REQUIRE(store->journal().Append("s", Expected::Any(), Events(5)).ok());
  }
  StoreOptions ro;
  ro.read_only = true;
  auto store = OpenOrDie(dir.path(), ro);
  CHECK(store->journal().Read("s")->size() == 5);
  auto w = store->journal().Append("s", Expected::Any(), Events(1));
  CHECK(w.status().IsInvalidArgument());
  CHECK(store->Sync().IsInvalidArgument());
}

TEST_CASE("appends after close fail as closed and lose nothing acknowledged") {
  test::TempDir dir;
  auto store = OpenOrDie(dir.path());
  REQUIRE(store->journal().Append("s", Expected::Any(), Events(2)).ok());
  REQUIRE(store->Close().ok());
  CHECK(store->journal()
            .Append("s", Expected::Any(), Events(1))
            .status()
            .IsClosed());
  CHECK(store->journal().Read("s")->size() == 2);
}

TEST_CASE("every durability mode commits and an explicit sync succeeds") {
  test::TempDir dir;
  for (Durability d :
       {Durability::kSync, Durability::kNoMetaSync, Durability::kNone}) {
    std::string path = dir.Sub("d" + std::to_string(static_cast<int>(d)));
    StoreOptions o;
    o.durability = d;
    o.periodic_sync = std::chrono::milliseconds(d == Durability::kNone ? 5 : 0);
    auto store = test::OpenStoreOrFail(path, o);
    REQUIRE(store->journal().Append("s", Expected::Any(), Events(3)).ok());
    CHECK(store->Sync().ok());
    CHECK(store->journal().Read("s")->size() == 3);
  }
}

TEST_CASE(
    "a full map grows up to its limit, then reports storage full with the "
    "fix" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  StoreOptions o;
  o.map_size = 1 << 20;
  o.max_map_size = 4 << 20;
  o.durability = Durability::kNone;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  std::string chunk(64 << 10, 'x');
  uint64_t acknowledged = 0;
  Status last;
  for (int i = 0; i < 200; ++i) {
    auto r = j.Append("s", Expected::Any(), {{"Chunk", chunk, 1, {}}});
    if (!r.ok()) {
      last = r.status();
      break;
    }
    acknowledged = r->last_seq;
  }
  REQUIRE(last.IsStorageFull());
  CHECK(last.ToString().find("max_map_size") != std::string::npos);
  CHECK((*store)->Stats().map_growths >= 1);
  CHECK(acknowledged > 16);  // more than the initial 1 MiB could hold
  // Nothing acknowledged is lost, and the fix the message names works.
  CHECK(j.Read("s")->size() == acknowledged);
  REQUIRE((*store)->Close().ok());
  store->reset();
  o.max_map_size = 64 << 20;
  auto bigger = Store::Open(dir.path(), o);
  REQUIRE(bigger.ok());
  CHECK((*bigger)->journal().Read("s")->size() == acknowledged);
  CHECK((*bigger)
            ->journal()
            .Append("s", Expected::At(acknowledged), {{"Chunk", chunk, 1, {}}})
            .ok());
}

TEST_CASE("store files are created owner-only" * doctest::test_suite("lmdb")) {
  test::TempDir dir;
  { auto store = OpenOrDie(dir.Sub("store")); }
  struct stat st {};
  REQUIRE(stat(dir.Sub("store/data.mdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(dir.Sub("store/lock.mdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(dir.Sub("store/memoir.notify").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(dir.Sub("store").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

}  // namespace memoir
