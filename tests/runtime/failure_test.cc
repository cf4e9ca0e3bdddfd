// Failure paths of the actor runtime (promises 1, 3, 4 and 5 of
// lib/doc/design.md).
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using test::Add;
using test::Counter;
using test::CounterCommand;
using test::Get;

uint64_t HeadOf(Store& store, const std::string& id) {
  auto head = store.journal().Head(id);
  REQUIRE(head.ok());
  return *head;
}

RestartPolicy QuickRestarts(int max) {
  RestartPolicy p;
  p.max_restarts = max;
  p.window = std::chrono::minutes(1);
  p.backoff_initial = std::chrono::milliseconds(1);
  p.backoff_max = std::chrono::milliseconds(5);
  return p;
}

TEST_CASE("a throwing handle writes nothing and leaves the state as it was") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::Await(c.Ask(Add(5))) == 5);

  Status s = test::AwaitError(c.Ask({0, CounterCommand::kThrowHandle}));
  CHECK(s.IsFailed());
  CHECK(s.ToString().find("handler bug") != std::string::npos);
  CHECK(s.ToString().find("nothing was written") != std::string::npos);
  CHECK(HeadOf(*store, "c") == 1);
  CHECK(test::Await(c.Ask(Get())) == 5);
  CHECK(system->Stats().failures == 1);
  CHECK(system->Stats().restarts == 1);
}

TEST_CASE(
    "a throwing apply writes nothing and the next command sees the "
    "rebuilt state") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::Await(c.Ask(Add(7))) == 7);
  uint64_t recoveries = system->Stats().recoveries;

  Status s = test::AwaitError(c.Ask({100, CounterCommand::kThrowApply}));
  CHECK(s.IsFailed());
  CHECK(s.ToString().find("apply bug") != std::string::npos);
  CHECK(HeadOf(*store, "c") == 1);
  // The next command runs on the state rebuilt from the journal, not on
  // whatever the failed apply left behind.
  CHECK(test::Await(c.Ask(Add(1))) == 8);
  CHECK(system->Stats().recoveries == recoveries + 1);
}

TEST_CASE(
    "commands handled before a failing one in the same turn still "
    "commit and answer") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.threads = 2;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::Await(c.Ask(Add(1))) == 1);
  std::vector<std::future<Result<int64_t>>> answers;
  for (int i = 0; i < 20; ++i) answers.push_back(c.Ask(Add(1)));
  answers.push_back(c.Ask({0, CounterCommand::kThrowApply}));
  for (int i = 0; i < 20; ++i) answers.push_back(c.Ask(Add(1)));
  int64_t expect = 1;
  for (int i = 0; i < 20; ++i)
    CHECK(test::Await(std::move(answers[i])) == ++expect);
  CHECK(test::AwaitError(std::move(answers[20])).IsFailed());
  for (int i = 21; i < 41; ++i)
    CHECK(test::Await(std::move(answers[i])) == ++expect);
  CHECK(HeadOf(*store, "c") == 41);
}

TEST_CASE(
    "an actor that throws on every message is quarantined after R "
    "restarts while 100 other actors keep answering") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.restarts = QuickRestarts(3);
  REQUIRE(system->Register<Counter>({}, options).ok());
  auto poison = system->Ref<Counter>("poison");
  CHECK(test::Await(poison.Ask(Add(2))) == 2);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered{0};
  std::thread others([&] {
    while (!stop.load()) {
      std::vector<std::future<Result<int64_t>>> round;
      for (int i = 0; i < 100; ++i) {
        round.push_back(
            system->Ref<Counter>("ok-" + std::to_string(i)).Ask(Add(1)));
      }
      for (auto& f : round) {
        if (f.get().ok()) answered.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < 4; ++i) {
    CHECK(test::AwaitError(poison.Ask({0, CounterCommand::kThrowHandle}))
              .IsFailed());
  }
  Status q = test::AwaitError(poison.Ask(Get()));
  CHECK(q.IsQuarantined());
  CHECK(q.ToString().find("'poison'") != std::string::npos);
  CHECK(q.ToString().find("seq 1") != std::string::npos);
  CHECK(q.ToString().find("handler bug") != std::string::npos);
  CHECK(poison.Info().phase == ActorInfo::Phase::kQuarantined);
  // Fails fast, every time.
  CHECK(test::AwaitError(poison.Ask(Add(1))).IsQuarantined());
  CHECK(test::Eventually([&] { return answered.load() >= 300; }));
  stop.store(true);
  others.join();
  RuntimeStats stats = system->Stats();
  CHECK(stats.restarts == 3);
  CHECK(stats.quarantined == 1);
  for (int i = 0; i < 100; ++i) {
    auto r = system->Ref<Counter>("ok-" + std::to_string(i)).Ask(Get());
    CHECK(test::Await(std::move(r)) >= 1);
  }

  SUBCASE("releasing the quarantine recovers the actor afresh") {
    CHECK(poison.Release().ok());
    CHECK(test::Await(poison.Ask(Get())) == 2);
    CHECK(system->Stats().quarantined == 0);
    CHECK(poison.Release().IsNotFound());
  }
}

TEST_CASE(
    "a stored event that cannot be applied quarantines its actor "
    "during recovery with that seq, once, without looping") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    std::vector<EventData> events;
    for (int i = 0; i < 3; ++i) {
      events.push_back(Counter::EventCodec::Encode({1, 0, 0}));
    }
    events.push_back(Counter::EventCodec::Encode({1, 1, 0}));  // seq 4
    REQUIRE(store->journal()
                .Append("bad", Expected::NoStream(), std::move(events))
                .ok());
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto bad = system->Ref<Counter>("bad");
  for (int i = 0; i < 5; ++i) {
    Status s = test::AwaitError(bad.Ask(Get()));
    CHECK(s.IsQuarantined());
    CHECK(s.ToString().find("seq 4") != std::string::npos);
    CHECK(s.ToString().find("apply bug") != std::string::npos);
  }
  CHECK(system->Stats().recovery_failures == 1);
  CHECK(system->Stats().restarts == 0);
  CHECK(test::Await(system->Ref<Counter>("good").Ask(Add(3))) == 3);
}

TEST_CASE(
    "an event type nothing can read is a recovery error naming type, "
    "version and seq") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    REQUIRE(store->journal()
                .Append("x", Expected::NoStream(),
                        {Counter::EventCodec::Encode({1, 0, 0}),
                         EventData{"Renamed", std::string(16, '\0'), 1, {}}})
                .ok());
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  Status s = test::AwaitError(system->Ref<Counter>("x").Ask(Get()));
  CHECK(s.IsQuarantined());
  CHECK(s.ToString().find("seq 2") != std::string::npos);
  CHECK(s.ToString().find("'Renamed'") != std::string::npos);
}

TEST_CASE(
    "a corrupt newest snapshot is skipped; recovery uses the older one "
    "plus replay and equals a full replay" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  ActorTypeOptions<Counter> options;
  options.snapshots.every_events = 5;
  options.snapshots.keep = 3;
  {
    auto store = test::OpenTestStore(dir.path());
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register<Counter>({}, options).ok());
    auto c = system->Ref<Counter>("c");
    for (int i = 1; i <= 12; ++i) CHECK(test::Await(c.Ask(Add(i))) > 0);
    REQUIRE(system->Shutdown().ok());
    auto list = store->snapshots().List("c");
    REQUIRE(list.ok());
    REQUIRE(list->size() >= 2);
    CHECK(list->back().seq == 10);
  }
  // Stream "c" is the store's first stream: id 1.
  REQUIRE(test::FlipValueBit(dir.path(), "snapshots",
                             test::Big64(1) + test::Big64(10), 20, 3));
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>({}, options).ok());
  CHECK(test::Await(system->Ref<Counter>("c").Ask(Get())) == 78);
  CHECK(system->Stats().snapshot_skips == 1);
  // A full replay (no snapshots at all) gives the same state.
  REQUIRE(store->snapshots().Retain("c", 0).ok());
  auto fresh = test::StartSystem(*store);
  REQUIRE(fresh->Register<Counter>({}, options).ok());
  auto full = fresh->Ref<Counter>("c").CommittedState();
  REQUIRE(full.ok());
  CHECK(*full->state == 78);
  CHECK(full->seq == store->journal().Head("c").value());
}

TEST_CASE(
    "a commit that fails answers every unreleased reply with its error "
    "and rebuilds the state from the journal") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::Await(c.Ask(Add(1))) == 1);
  // Someone else writes to the actor's stream behind its back: the actor's
  // next append expects head 1 and conflicts.
  REQUIRE(store->journal()
              .Append("c", Expected::At(1),
                      {Counter::EventCodec::Encode({100, 0, 0})})
              .ok());
  Status s = test::AwaitError(c.Ask(Add(1)));
  CHECK(s.IsConflict());
  CHECK(s.ToString().find("actor 'c'") != std::string::npos);
  // Rebuilt from the journal: it now includes the foreign event.
  CHECK(test::Await(c.Ask(Add(1))) == 102);
  CHECK(system->Stats().commit_failures == 1);
}

TEST_CASE(
    "an exception in an Ask callback is logged and does not stop the "
    "actor") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  std::atomic<int> logged{0};
  ActorSystemOptions o;
  o.logger = [&](LogLevel, std::string_view) { logged.fetch_add(1); };
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  c.Ask(Add(1), [](Result<int64_t>) { throw std::runtime_error("cb"); });
  CHECK(test::Await(c.Ask(Add(1))) == 2);
  CHECK(logged.load() >= 1);
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

// Persists amounts; its codec writes an event the journal refuses (an empty
// type name) for the amount 13, so that append fails before it is queued.
struct PickyCodec {
  static EventData Encode(const int64_t& v) {
    EventData e = PodCodec<int64_t, "N">::Encode(v);
    if (v == 13) e.type.clear();
    return e;
  }
  static int64_t Decode(std::string_view t, uint32_t v, std::string_view p) {
    return PodCodec<int64_t, "N">::Decode(t, v, p);
  }
};
struct Picky {
  static constexpr std::string_view kTypeName = "picky";
  using State = int64_t;
  using Command = int64_t;  // 0: read
  using Event = int64_t;
  using Reply = int64_t;
  using EventCodec = PickyCodec;
  using StateCodec = PodCodec<int64_t, "Sum">;
  Effect<int64_t, int64_t> Handle(const State& s, const Command& c) const {
    if (c == 0) return Effect<int64_t, int64_t>::Respond(s);
    return Effect<int64_t, int64_t>::Persist(c, s + c);
  }
  void Apply(State& s, const Event& e) const { s += e; }
};

TEST_CASE(
    "an append refused before it is queued fails its batch and the "
    "later ones, never an earlier committed one, and nothing hangs") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.max_messages_per_turn = 1;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<Picky>().ok());
  auto p = system->Ref<Picky>("p");
  auto first = p.Ask(1);
  auto bad = p.Ask(13);
  auto after = p.Ask(5);
  CHECK(test::Await(std::move(first), "ask 1") == 1);
  CHECK(test::AwaitError(std::move(bad)).IsInvalidArgument());
  REQUIRE(after.wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
  Result<int64_t> r = after.get();
  // Handled either before the failure was seen (then it fails with it) or
  // after the rebuild (then it commits on the rebuilt state).
  int64_t expect = r.ok() ? 6 : 1;
  if (r.ok()) CHECK(*r == 6);
  CHECK(test::Await(p.Ask(0), "read") == expect);
  CHECK(store->journal().Head("p").value() == (r.ok() ? 2u : 1u));
}

TEST_CASE(
    "a failing actor is not passivated before its restart is counted, "
    "so a cap on active actors cannot hide a crash loop") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.max_active_actors = 2;
  auto system = test::StartSystem(*store, o);
  ActorTypeOptions<Counter> options;
  options.restarts = QuickRestarts(3);
  REQUIRE(system->Register<Counter>({}, options).ok());
  auto poison = system->Ref<Counter>("poison");
  for (int i = 0; i < 4; ++i) {
    CHECK(test::AwaitError(poison.Ask({0, CounterCommand::kThrowHandle}))
              .IsFailed());
    for (int k = 0; k < 3; ++k) {
      auto other = system->Ref<Counter>("other-" + std::to_string(i * 3 + k));
      CHECK(test::Await(other.Ask(Add(1))) == 1);
    }
  }
  CHECK(test::AwaitError(poison.Ask(Get())).IsQuarantined());
}

TEST_CASE("shutdown returns while an actor is backing off between restarts") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.restarts = QuickRestarts(100);
  options.restarts.backoff_initial = std::chrono::milliseconds(500);
  options.restarts.backoff_max = std::chrono::milliseconds(500);
  REQUIRE(system->Register<Counter>({}, options).ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::AwaitError(c.Ask({0, CounterCommand::kThrowHandle})).IsFailed());
  auto queued = c.Ask(Add(1));  // waits for the restart
  auto done = std::async(std::launch::async, [&] {
    return system->Shutdown(std::chrono::milliseconds(1));
  });
  REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  Status s = done.get();
  CHECK((s.ok() || s.IsTimeout()));
  REQUIRE(queued.wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
}

TEST_CASE("shutdown called from inside the system is refused, not deadlocked") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  std::promise<Status> from_callback;
  system->Ref<Counter>("c").Ask(Add(1), [&](Result<int64_t>) {
    from_callback.set_value(system->Shutdown());
  });
  auto f = from_callback.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(f.get().IsInvalidArgument());
  CHECK(system->Shutdown().ok());
}

struct BadStart : Counter {
  static constexpr std::string_view kTypeName = "bad-start";
  State InitialState(std::string_view id) const {
    if (id == "cursed") throw std::runtime_error("no initial state");
    return 0;
  }
};

TEST_CASE(
    "an InitialState that throws quarantines that actor instead of "
    "crashing a thread") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<BadStart>().ok());
  Status s = test::AwaitError(system->Ref<BadStart>("cursed").Ask(Add(1)));
  CHECK(s.IsQuarantined());
  CHECK(s.ToString().find("no initial state") != std::string::npos);
  CHECK(system->Ref<BadStart>("cursed")
            .CommittedState()
            .status()
            .IsQuarantined());
  CHECK(test::Await(system->Ref<BadStart>("fine").Ask(Add(2))) == 2);
}

TEST_CASE(
    "restart policies that would overflow or spin are refused at "
    "registration") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.restarts.backoff_factor = 0.5;
  CHECK(system->Register<Counter>({}, options).IsInvalidArgument());
  options.restarts.backoff_factor = 2;
  options.restarts.max_restarts = -1;
  CHECK(system->Register<Counter>({}, options).IsInvalidArgument());
  options.restarts.max_restarts = 1000;  // many doublings: clamped, fine
  CHECK(system->Register<Counter>({}, options).ok());
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

// A state codec that cannot encode: snapshots fail, commands must not.
struct NoSnapshots : test::Counter {
  static constexpr std::string_view kTypeName = "no-snapshots";
  struct StateCodec {
    static SnapshotData EncodeState(const int64_t&) {
      throw std::runtime_error("state codec broken");
    }
    static int64_t Decode(std::string_view, uint32_t, std::string_view) {
      throw std::runtime_error("state codec broken");
    }
  };
};

TEST_CASE(
    "a snapshot that cannot be encoded is logged and skipped; the "
    "actor keeps answering") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  std::atomic<int> warnings{0};
  ActorSystemOptions o;
  o.logger = [&](LogLevel level, std::string_view message) {
    if (level == LogLevel::kWarning &&
        message.find("state codec broken") != std::string_view::npos) {
      warnings.fetch_add(1);
    }
  };
  auto system = test::StartSystem(*store, o);
  ActorTypeOptions<NoSnapshots> options;
  options.snapshots.every_events = 2;
  REQUIRE(system->Register<NoSnapshots>({}, options).ok());
  auto c = system->Ref<NoSnapshots>("c");
  for (int i = 1; i <= 6; ++i) CHECK(test::Await(c.Ask(Add(1))) == i);
  CHECK(system->Stats().snapshot_failures == 3);
  CHECK(system->Stats().snapshots == 0);
  CHECK(warnings.load() == 3);
  CHECK(store->snapshots().List("c").value().empty());
  CHECK(system->Stats().restarts == 0);
}

}  // namespace
}  // namespace memoir
