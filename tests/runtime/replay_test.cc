// Replay for debugging: states at a seq, steps, bisection, snapshot
// verification and counterfactual re-handling.
#include "memoir/replay.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using test::Counter;
using test::CounterEvent;
using test::Sequencer;

// Stream "c": events adding 1, 2, ..., n; snapshots every `every`.
void WriteCounter(Store& store, int n, uint64_t every) {
  std::vector<EventData> events;
  int64_t total = 0;
  for (int i = 1; i <= n; ++i) {
    events.push_back(Counter::EventCodec::Encode({i, 0, 0}));
    total += i;
    if (every && i % every == 0) {
      const uint64_t head = i - events.size();  // before `events` is moved
      REQUIRE(store.journal()
                  .Append("c", Expected::At(head), std::move(events))
                  .ok());
      events.clear();
      REQUIRE(store.snapshots()
                  .Save("c", i, Counter::StateCodec::EncodeState(total))
                  .ok());
    }
  }
  if (!events.empty()) {
    const uint64_t head = n - events.size();
    REQUIRE(store.journal()
                .Append("c", Expected::At(head), std::move(events))
                .ok());
  }
}

int64_t Triangle(int64_t n) { return n * (n + 1) / 2; }

TEST_CASE(
    "the state at seq N equals a fold of the first N events, with or "
    "without snapshots") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  WriteCounter(*store, 1000, 100);
  Replayer<Counter> replay(*store);
  for (uint64_t seq : {0, 1, 99, 100, 101, 555, 1000}) {
    auto fast = replay.StateAt("c", seq);
    auto slow = replay.StateAt("c", seq, /*from_start=*/true);
    REQUIRE(fast.ok());
    REQUIRE(slow.ok());
    CHECK(fast->state == Triangle(seq));
    CHECK(slow->state == Triangle(seq));
    CHECK(fast->seq == seq);
    CHECK(fast->snapshot_seq == seq / 100 * 100);
    CHECK(fast->events_replayed == seq % 100);
    CHECK(slow->events_replayed == seq);
  }
  auto head = replay.StateAt("c");
  REQUIRE(head.ok());
  CHECK(head->seq == 1000);
  auto missing = replay.StateAt("never-written");
  REQUIRE(missing.ok());
  CHECK(missing->state == 0);
}

TEST_CASE("steps give each event with the state after it") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  WriteCounter(*store, 300, 100);
  Replayer<Counter> replay(*store);
  std::vector<uint64_t> seqs;
  Status s = replay.Steps("c", 150, 160,
                          [&](const RecordedEvent& e, const int64_t& after) {
                            CHECK(after == Triangle(e.seq));
                            seqs.push_back(e.seq);
                            return e.seq < 155;
                          });
  REQUIRE(s.ok());
  CHECK(seqs == std::vector<uint64_t>{150, 151, 152, 153, 154, 155});
}

TEST_CASE(
    "bisection finds the first event after which an invariant fails, "
    "replaying little more than a snapshot interval per probe") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  WriteCounter(*store, 10000, 100);
  Replayer<Counter> replay(*store);
  auto below = [](const int64_t& total) { return total < Triangle(6789); };
  auto found = replay.Bisect("c", below);
  REQUIRE(found.ok());
  CHECK(found->found);
  CHECK(found->seq == 6789);
  REQUIRE(found->event.has_value());
  CHECK(found->event->seq == 6789);
  CHECK(*found->before == Triangle(6788));
  CHECK(*found->after == Triangle(6789));
  CHECK(found->probes <= 17);  // log2(10000) + 3
  CHECK(found->events_replayed <= found->probes * 100);

  auto linear = replay.Bisect("c", below, /*exhaustive=*/true);
  REQUIRE(linear.ok());
  CHECK(linear->seq == 6789);
  CHECK(linear->events_replayed == 6789);

  auto never = replay.Bisect("c", [](const int64_t&) { return true; });
  REQUIRE(never.ok());
  CHECK_FALSE(never->found);
  CHECK(replay.Bisect("c", [](const int64_t&) { return false; })
            .status()
            .IsInvalidArgument());
}

TEST_CASE(
    "snapshot verification finds the snapshot that disagrees with the "
    "replay of its events") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  WriteCounter(*store, 500, 100);
  Replayer<Counter> replay(*store);
  auto clean = replay.VerifySnapshots("c");
  REQUIRE(clean.ok());
  CHECK(clean->checked == 5);
  CHECK_FALSE(clean->first_mismatch.has_value());

  // A snapshot written by a buggy (say, non-deterministic) apply: its
  // checksum is fine, its content is not.
  REQUIRE(store->snapshots()
              .Save("c", 300, Counter::StateCodec::EncodeState(12345))
              .ok());
  auto bad = replay.VerifySnapshots("c");
  REQUIRE(bad.ok());
  REQUIRE(bad->first_mismatch.has_value());
  CHECK(bad->first_mismatch->seq == 300);
  CHECK(bad->first_mismatch->detail.find("seq 200") != std::string::npos);
  CHECK(bad->first_mismatch->stored == 12345);
  CHECK(bad->first_mismatch->replayed == Triangle(300));
  CHECK(bad->checked == 3);

  auto by_equal = replay.VerifySnapshots(
      "c", [](const int64_t& a, const int64_t& b) { return a % 2 == b % 2; });
  REQUIRE(by_equal.ok());
  CHECK(by_equal->first_mismatch.has_value());  // 12345 is odd, 45150 even
}

// Stream `name`: events adding 1, 2, ..., n; snapshots every `every` (0:
// none).
void WriteCounterStream(Store& store, const std::string& name, int n,
                        uint64_t every) {
  int64_t total = 0;
  for (int i = 1; i <= n; ++i) {
    REQUIRE(store.journal()
                .Append(name, Expected::At(i - 1),
                        {Counter::EventCodec::Encode({i, 0, 0})})
                .ok());
    total += i;
    if (every != 0 && i % every == 0) {
      REQUIRE(store.snapshots()
                  .Save(name, i, Counter::StateCodec::EncodeState(total))
                  .ok());
    }
  }
}

TEST_CASE(
    "bisection finds a break in the first, a middle or the last event, and "
    "none when there is none, for several stream lengths") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  Replayer<Counter> replay(*store);
  for (int n : {1, 2, 3, 10, 101, 1000}) {
    for (uint64_t every : {0, 7}) {
      const std::string name =
          "c-" + std::to_string(n) + "-" + std::to_string(every);
      WriteCounterStream(*store, name, n, every);
      for (int k : {1, (n + 1) / 2, n, 0}) {
        CAPTURE(n);
        CAPTURE(every);
        CAPTURE(k);
        // Fails first after event k (never when k is 0): totals only grow.
        const int64_t limit = k == 0 ? Triangle(n) + 1 : Triangle(k);
        auto below = [limit](const int64_t& total) { return total < limit; };
        for (bool exhaustive : {false, true}) {
          CAPTURE(exhaustive);
          auto found = replay.Bisect(name, below, exhaustive);
          REQUIRE(found.ok());
          REQUIRE(found->found == (k != 0));
          if (k == 0) continue;
          CHECK(found->seq == static_cast<uint64_t>(k));
          REQUIRE(found->event.has_value());
          CHECK(found->event->seq == static_cast<uint64_t>(k));
          CHECK(*found->before == Triangle(k - 1));
          CHECK(*found->after == Triangle(k));
          // A search never replays more than a fold of the stream, and
          // where snapshots help, little more than an interval per probe.
          CHECK(found->events_replayed <= static_cast<uint64_t>(n));
          if (!exhaustive && every != 0 && found->probes > 1) {
            CHECK(found->events_replayed <= found->probes * every);
          }
        }
      }
    }
  }
}

TEST_CASE(
    "bisection folds the stream once when its snapshots cannot make the "
    "search cheaper, and searches when they can") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  Replayer<Counter> replay(*store);
  // 200 events, snapshots only at 190 and 195: every probe below 190 would
  // replay from the first event.
  WriteCounterStream(*store, "late", 200, 0);
  for (uint64_t seq : {190, 195}) {
    REQUIRE(store->snapshots()
                .Save("late", seq,
                      Counter::StateCodec::EncodeState(
                          Triangle(static_cast<int>(seq))))
                .ok());
  }
  auto below = [](const int64_t& total) { return total < Triangle(67); };
  auto late = replay.Bisect("late", below);
  REQUIRE(late.ok());
  CHECK(late->seq == 67);
  CHECK(late->probes == 1);  // one fold
  CHECK(late->events_replayed == 67);
  // A snapshot every 10 events: the search wins and is used.
  WriteCounterStream(*store, "dense", 2000, 10);
  auto dense = replay.Bisect("dense", below);
  REQUIRE(dense.ok());
  CHECK(dense->seq == 67);
  CHECK(dense->probes > 1);
  CHECK(dense->events_replayed <= dense->probes * 10);
}

TEST_CASE(
    "bisection searches a stream whose first events were deleted, where a "
    "fold from the first event cannot run") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  Replayer<Counter> replay(*store);
  // 30 events with a snapshot every 10 would be folded (a search cannot be
  // cheaper), but events 1 to 10 are gone: only the snapshots rebuild it.
  WriteCounterStream(*store, "trimmed", 30, 10);
  REQUIRE(store->journal().DeleteTo("trimmed", 10).ok());
  auto below = [](const int64_t& total) { return total < Triangle(25); };
  auto found = replay.Bisect("trimmed", below);
  REQUIRE_MESSAGE(found.ok(), found.status().message());
  CHECK(found->seq == 25);
  CHECK(found->probes > 1);
}

TEST_CASE(
    "deleted events stop a replay with kNotFound naming the deleted seqs "
    "and the earliest state that can be rebuilt, not kCorruption") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  Replayer<Counter> replay(*store);
  WriteCounterStream(*store, "trimmed", 30, 10);  // snapshots 10, 20, 30
  WriteCounterStream(*store, "bare", 8, 0);
  REQUIRE(store->journal().DeleteTo("trimmed", 12).ok());
  REQUIRE(store->journal().DeleteTo("bare", 3).ok());

  auto before = replay.StateAt("trimmed", 11);
  REQUIRE_FALSE(before.ok());
  CHECK(before.status().IsNotFound());
  CHECK(before.status().message() ==
        "events 1..12 of stream 'trimmed' were deleted (delete-to), so the "
        "state after seq 11 cannot be rebuilt; the earliest state that can "
        "be rebuilt is the one after seq 20 (the oldest snapshot at or after "
        "seq 12)");
  auto between = replay.StateAt("trimmed", 15);
  REQUIRE_FALSE(between.ok());
  CHECK(between.status().IsNotFound());
  auto at_snapshot = replay.StateAt("trimmed", 10);  // below the mark
  REQUIRE(at_snapshot.ok());
  CHECK(at_snapshot->state == Triangle(10));
  auto after = replay.StateAt("trimmed", 25);
  REQUIRE(after.ok());
  CHECK(after->state == Triangle(25));
  auto from_start = replay.StateAt("trimmed", 25, /*from_start=*/true);
  REQUIRE_FALSE(from_start.ok());
  CHECK(from_start.status().IsNotFound());
  CHECK(from_start.status().message().find(
            "so a replay from the first event cannot run") !=
        std::string::npos);
  auto bare = replay.StateAt("bare");
  REQUIRE_FALSE(bare.ok());
  CHECK(bare.status().message() ==
        "events 1..3 of stream 'bare' were deleted (delete-to), so the state "
        "after seq 8 cannot be rebuilt; no snapshot at or after seq 3 "
        "exists, so no state after seq 3 can be rebuilt");

  Status steps =
      replay.Steps("trimmed", 1, 30,
                   [](const RecordedEvent&, const int64_t&) { return true; });
  CHECK(steps.IsNotFound());

  auto verified = replay.VerifySnapshots("trimmed");
  REQUIRE(verified.ok());
  CHECK(verified->checked == 1);       // 30, replayed from 20
  CHECK(verified->unverifiable == 2);  // 10 and 20
  CHECK_FALSE(verified->first_mismatch);

  // Bisection starts from the snapshot at 20: a break after it is found,
  // one before it is reported as lost with the deleted events.
  auto late = replay.Bisect("trimmed",
                            [](const int64_t& t) { return t < Triangle(25); });
  REQUIRE_MESSAGE(late.ok(), late.status().message());
  CHECK(late->seq == 25);
  for (bool exhaustive : {false, true}) {
    auto early = replay.Bisect(
        "trimmed", [](const int64_t& t) { return t < Triangle(5); },
        exhaustive);
    REQUIRE_FALSE(early.ok());
    CHECK(early.status().IsNotFound());
    CHECK(early.status().message() ==
          "the invariant already fails at seq 20, the earliest state of "
          "'trimmed' that can be rebuilt: events 1..12 were deleted "
          "(delete-to), so the event that broke it cannot be found");
  }

  std::vector<EventData> commands;
  for (int64_t i = 1; i <= 5; ++i) {
    commands.push_back(Sequencer::EventCodec::Encode(i));
  }
  REQUIRE(store->journal()
              .Append("seq", Expected::NoStream(), std::move(commands))
              .ok());
  REQUIRE(store->journal().DeleteTo("seq", 2).ok());
  auto rehandled = Replayer<Sequencer>(*store).Rehandle("seq");
  REQUIRE_FALSE(rehandled.ok());
  CHECK(rehandled.status().IsNotFound());
  CHECK(rehandled.status().message().find(
            "events 1..2 of stream 'seq' were deleted (delete-to), so its "
            "recorded commands cannot be re-run from the first") !=
        std::string::npos);
}

TEST_CASE("replay never changes the store: data.mdb is byte-identical") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    WriteCounter(*store, 500, 50);
    std::vector<EventData> commands;
    for (int64_t i = 1; i <= 20; ++i) {
      commands.push_back(Sequencer::EventCodec::Encode(i));
    }
    REQUIRE(store->journal()
                .Append("seq", Expected::NoStream(), std::move(commands))
                .ok());
    REQUIRE(store->Close().ok());
  }
  const std::string data = dir.path() + "/data.mdb";
  const std::string before = test::FileDigest(data);
  {
    StoreOptions ro = test::FastStore();
    ro.read_only = true;
    auto store = test::OpenTestStore(dir.path(), ro);
    Replayer<Counter> replay(*store);
    CHECK(replay.StateAt("c", 321).ok());
    CHECK(replay.StateAt("c", 321, /*from_start=*/true).ok());
    CHECK(replay
              .Steps("c", 1, 500,
                     [](const RecordedEvent&, const int64_t&) { return true; })
              .ok());
    auto below = [](const int64_t& total) { return total < Triangle(250); };
    CHECK(replay.Bisect("c", below).ok());
    CHECK(replay.Bisect("c", below, /*exhaustive=*/true).ok());
    CHECK(replay.VerifySnapshots("c").ok());
    CHECK(Replayer<Sequencer>(*store).Rehandle("seq").ok());
  }
  CHECK(test::FileDigest(data) == before);
}

TEST_CASE(
    "progress counts every event a replay applies, and one that throws "
    "changes nothing") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  WriteCounter(*store, 100, 10);
  Replayer<Counter> replay(*store);
  std::vector<uint64_t> seen;
  auto record = [&seen](uint64_t n) { seen.push_back(n); };
  auto full = replay.StateAt("c", 100, /*from_start=*/true, record);
  REQUIRE(full.ok());
  REQUIRE(seen.size() == 100);
  CHECK(seen.front() == 1);
  CHECK(seen.back() == 100);

  seen.clear();
  auto below = [](const int64_t& total) { return total < Triangle(77); };
  auto found = replay.Bisect("c", below, false, record);
  REQUIRE(found.ok());
  CHECK(found->seq == 77);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back() >= found->events_replayed);

  seen.clear();
  CHECK(replay
            .Steps(
                "c", 95, 100,
                [](const RecordedEvent&, const int64_t&) { return true; },
                false, record)
            .ok());
  CHECK(seen.size() == 10);  // 91..94 from the snapshot at 90, then 95..100

  seen.clear();
  CHECK(replay.VerifySnapshots("c", nullptr, record).ok());
  CHECK(seen.size() == 100);  // each snapshot from the previous one

  auto throwing = [](uint64_t) { throw std::runtime_error("display bug"); };
  auto same = replay.StateAt("c", 100, true, throwing);
  REQUIRE(same.ok());
  CHECK(same->state == full->state);
  auto again = replay.Bisect("c", below, false, throwing);
  REQUIRE(again.ok());
  CHECK(again->seq == 77);
}

// Today's sequencer refuses multiples of 7: re-handling history finds the
// first command the new code would not have accepted.
struct StrictSequencer : Sequencer {
  Fx Handle(const State& last, const Command& next) const {
    if (next % 7 == 0) return Fx::Reject("multiples of 7 are refused now");
    return Sequencer::Handle(last, next);
  }
};

TEST_CASE(
    "re-handling recorded commands finds the first one today's handler "
    "would not persist") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  std::vector<EventData> commands;
  for (int64_t i = 1; i <= 20; ++i) {
    commands.push_back(Sequencer::EventCodec::Encode(i));
  }
  REQUIRE(store->journal()
              .Append("seq", Expected::NoStream(), std::move(commands))
              .ok());
  auto same = Replayer<Sequencer>(*store).Rehandle("seq");
  REQUIRE(same.ok());
  CHECK(same->commands == 20);
  CHECK_FALSE(same->first.has_value());

  auto strict = Replayer<StrictSequencer>(*store).Rehandle("seq");
  REQUIRE(strict.ok());
  REQUIRE(strict->first.has_value());
  CHECK(strict->first->seq == 7);
  CHECK(strict->first->detail == "rejected: multiples of 7 are refused now");
  CHECK(strict->commands == 7);
}

TEST_CASE(
    "replay reports an event it cannot apply with its seq, and works "
    "on a read-only store") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    REQUIRE(store->journal()
                .Append("x", Expected::NoStream(),
                        {Counter::EventCodec::Encode({1, 0, 0}),
                         Counter::EventCodec::Encode({1, 1, 0})})
                .ok());
  }
  StoreOptions ro = test::FastStore();
  ro.read_only = true;
  auto store = test::OpenTestStore(dir.path(), ro);
  Replayer<Counter> replay(*store);
  CHECK(replay.StateAt("x", 1).value().state == 1);
  Status s = replay.StateAt("x").status();
  CHECK(s.IsFailed());
  CHECK(s.ToString().find("seq 2") != std::string::npos);
  CHECK(s.ToString().find("apply bug") != std::string::npos);
}

}  // namespace
}  // namespace memoir
