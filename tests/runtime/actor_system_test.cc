// The actor runtime's normal paths: activation, ordering, pipelining,
// committed-state reads, snapshots, passivation, lifecycle, upcasting.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using test::Add;
using test::Counter;
using test::Get;
using test::Sequencer;

// Passes a command along a chain of actors: each persists one event, and
// its Then action tells the next one.
struct ChainRelay {
  static constexpr std::string_view kTypeName = "chain-relay";
  using State = int64_t;
  struct Command {
    std::vector<std::string> rest;  // the actors still to visit
  };
  using Event = int64_t;
  using Reply = Done;
  using EventCodec = PodCodec<int64_t, "Relayed">;
  using StateCodec = PodCodec<int64_t, "Count">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& n, const Command& c) const {
    Fx fx = Fx::Persist(n + 1, Done{});
    if (c.rest.empty()) return fx;
    return std::move(fx).Then([rest = c.rest](ActorSystem& system) {
      Command next{std::vector<std::string>(rest.begin() + 1, rest.end())};
      (void)system.Ref<ChainRelay>(rest.front()).Tell(std::move(next));
    });
  }
  void Apply(State& n, const Event& e) const { n = e; }
};

// The event of `stream`'s seq 1, waiting (with a deadline) for its commit.
RecordedEvent FirstEventOf(Store& store, const std::string& stream) {
  // Generous: a loaded machine must not fail it, only a lost event.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    auto events = store.journal().Read(stream);
    if (events.ok() && !events->empty()) return events->front();
    const std::string why = "no event of '" + stream + "' before the deadline";
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, why);
    auto last = store.journal().LastPosition();
    REQUIRE(last.ok());
    (void)store.journal().WaitForCommit(*last, std::chrono::seconds(1));
  }
}

TEST_CASE(
    "with link_events, causation and correlation ids link a chain of three "
    "actors driven by Then actions") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.link_events = true;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<ChainRelay>().ok());
  test::Await(
      system->Ref<ChainRelay>("a").Ask(ChainRelay::Command{{"b", "c"}}));
  const RecordedEvent a = FirstEventOf(*store, "a");
  const RecordedEvent b = FirstEventOf(*store, "b");
  const RecordedEvent c = FirstEventOf(*store, "c");
  for (const RecordedEvent* e : {&a, &b, &c}) CHECK_FALSE(e->id.empty());
  CHECK(a.id != b.id);
  CHECK(b.id != c.id);
  // The command from outside: no cause; it names the conversation.
  CHECK(a.causation_id.empty());
  CHECK(a.correlation_id == a.id);
  // Each next event was caused by the one before, in the same conversation.
  CHECK(b.causation_id == a.id);
  CHECK(c.causation_id == b.id);
  CHECK(b.correlation_id == a.id);
  CHECK(c.correlation_id == a.id);
  // A second conversation gets its own correlation id.
  test::Await(system->Ref<ChainRelay>("a").Ask(ChainRelay::Command{{}}));
  auto second = store->journal().Read("a");
  REQUIRE(second.ok());
  REQUIRE(second->size() == 2);
  CHECK(second->back().correlation_id == second->back().id);
  CHECK(second->back().correlation_id != a.correlation_id);
}

TEST_CASE("without link_events, actors' events carry no ids") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<ChainRelay>().ok());
  test::Await(system->Ref<ChainRelay>("a").Ask(ChainRelay::Command{{"b"}}));
  const RecordedEvent b = FirstEventOf(*store, "b");
  CHECK(b.id.empty());
  CHECK(b.causation_id.empty());
  CHECK(b.correlation_id.empty());
}

TEST_CASE("an actor recovers its state after the process reopens the store") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register<Counter>().ok());
    auto c = system->Ref<Counter>("acct");
    for (int i = 1; i <= 10; ++i) CHECK(test::Await(c.Ask(Add(i))) > 0);
    CHECK(test::AwaitError(c.Ask(Add(-1))).IsRejected());
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto acct = system->Ref<Counter>("acct");
  CHECK(test::Await(acct.Ask(Get())) == 55);
  CHECK(store->journal().Head("acct").value() == 10);
  CHECK(system->Stats().recoveries == 1);
  ActorInfo info = acct.Info();  // recovery time is recorded per actor
  CHECK(info.phase == ActorInfo::Phase::kActive);
  CHECK(info.committed_seq == 10);
  CHECK(info.last_recovery_ms > 0);
  CHECK(info.last_recovery_ms <= system->Stats().recovery_max_ms);
}

TEST_CASE(
    "AskWithPosition answers with the position of the command's last event, "
    "and after a restart a read-only command's answer covers the recovered "
    "events") {
  test::TempDir dir;
  uint64_t last = 0;
  {
    auto store = test::OpenTestStore(dir.path());
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register<Counter>().ok());
    auto a = system->Ref<Counter>("a");
    auto b = system->Ref<Counter>("b");
    for (int i = 1; i <= 5; ++i) {
      auto answer = test::Await(a.AskWithPosition(Add(i)));
      CHECK(answer.reply == i * (i + 1) / 2);
      // The command's own event is the last one in the log here.
      CHECK(answer.position == store->journal().LastPosition().value());
      last = answer.position;
      REQUIRE(test::Await(b.Ask(Add(1))) == i);  // moves the log on
    }
    // A command without events: at or after the actor's last event.
    auto got = test::Await(a.AskWithPosition(Get()));
    CHECK(got.reply == 15);
    CHECK(got.position >= last);
    CHECK(got.position < store->journal().LastPosition().value());
    CHECK(test::AwaitError(a.AskWithPosition(Add(-1))).IsRejected());
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto got = test::Await(system->Ref<Counter>("a").AskWithPosition(Get()));
  CHECK(got.reply == 15);
  CHECK(got.position >= last);
}

TEST_CASE("a rejection is an answer: nothing written, no restart") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  Status s = test::AwaitError(c.Ask(Add(0)));
  CHECK(s.IsRejected());
  CHECK(s.message() == "amount must be positive");
  CHECK(system->Stats().restarts == 0);
  CHECK(system->Stats().rejections == 1);
  CHECK(store->journal().Head("c").value() == 0);
}

TEST_CASE("replies of one actor come back in order, each after its commit") {
  test::TempDir dir;
  StoreOptions so;  // durable: commits take real time, so they pipeline
  auto store = test::OpenTestStore(dir.path(), so);
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  std::mutex mu;
  std::vector<int64_t> seen;
  std::vector<uint64_t> heads;
  std::promise<void> all;
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) {
    c.Ask(i % 7 == 3 ? Get() : Add(1), [&](Result<int64_t> r) {
      REQUIRE(r.ok());
      auto head = store->journal().Head("c");
      std::lock_guard lock(mu);
      seen.push_back(*r);
      heads.push_back(head.value());
      if (seen.size() == kN) all.set_value();
    });
  }
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(60)) ==
          std::future_status::ready);
  std::lock_guard lock(mu);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  for (size_t i = 0; i < seen.size(); ++i) {
    // Each reply is a total that is already committed when it arrives.
    CHECK(static_cast<uint64_t>(seen[i]) <= heads[i]);
  }
  CHECK(seen.back() == kN - kN / 7 - (kN % 7 > 3 ? 1 : 0));
  // Pipelining: many commands shared one append.
  CHECK(system->Stats().appends < system->Stats().events);
}

TEST_CASE(
    "messages sent from one thread are handled in the order sent "
    "(command sourcing)") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Sequencer>().ok());
  auto seq = system->Ref<Sequencer>("seq");
  constexpr int64_t kN = 2000;
  for (int64_t i = 1; i < kN; ++i) REQUIRE(seq.Tell(i).ok());
  CHECK(test::Await(seq.Ask(kN)) == kN);
  // The journal holds exactly the accepted commands, in order.
  auto events = store->journal().Read("seq");
  REQUIRE(events.ok());
  REQUIRE(events->size() == kN);
  for (int64_t i = 0; i < kN; ++i) {
    CHECK(Sequencer::EventCodec::Decode((*events)[i].type, 1,
                                        (*events)[i].payload) == i + 1);
  }
}

TEST_CASE(
    "reading the committed state never sees a state whose events are "
    "not committed") {
  test::TempDir dir;
  StoreOptions so;  // durable
  auto store = test::OpenTestStore(dir.path(), so);
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  CHECK(test::Await(c.Ask(Add(1))) == 1);
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0}, reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto state = c.CommittedState();
      REQUIRE(state.ok());
      // Read the journal after the state: its head can only be higher.
      uint64_t head = store->journal().Head("c").value();
      if (state->seq > head) violations.fetch_add(1);
      // One event per Add(1): the total is the seq the state is at.
      if (*state->state != static_cast<int64_t>(state->seq)) {
        violations.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  });
  std::vector<std::future<Result<int64_t>>> asks;
  for (int i = 0; i < 300; ++i) asks.push_back(c.Ask(Add(1)));
  for (auto& f : asks) test::Await(std::move(f));
  CHECK(test::Eventually([&] { return reads.load() > 100; }));
  stop.store(true);
  reader.join();
  CHECK(violations.load() == 0);
  Committed<int64_t> last = c.CommittedState().value();
  CHECK(*last.state == 301);
  CHECK(last.seq == 301);
}

TEST_CASE(
    "the committed state of an inactive actor is rebuilt without "
    "activating it") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register<Counter>().ok());
    CHECK(test::Await(system->Ref<Counter>("c").Ask(Add(9))) == 9);
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  Committed<int64_t> committed = c.CommittedState().value();
  CHECK(*committed.state == 9);
  CHECK(committed.seq == 1);
  CHECK(c.Info().phase == ActorInfo::Phase::kInactive);
  CHECK(system->Stats().active == 0);
}

TEST_CASE("passivated actors come back with their state") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());

  SUBCASE("by a cap on active actors, least recently used first") {
    ActorSystemOptions o;
    o.max_active_actors = 10;
    auto system = test::StartSystem(*store, o);
    REQUIRE(system->Register<Counter>().ok());
    for (int i = 0; i < 50; ++i) {
      auto r = system->Ref<Counter>("a" + std::to_string(i));
      CHECK(test::Await(r.Ask(Add(i + 1))) == i + 1);
    }
    CHECK(system->Stats().active <= 10);
    CHECK(system->Stats().passivations >= 40);
    for (int i = 0; i < 50; ++i) {
      auto r = system->Ref<Counter>("a" + std::to_string(i));
      CHECK(test::Await(r.Ask(Add(1))) == i + 2);
    }
    CHECK(system->Stats().recoveries >= 90);
  }
  SUBCASE("by an idle timeout") {
    ActorSystemOptions o;
    o.idle_timeout = std::chrono::milliseconds(20);
    auto system = test::StartSystem(*store, o);
    REQUIRE(system->Register<Counter>().ok());
    auto r = system->Ref<Counter>("idle");
    CHECK(test::Await(r.Ask(Add(4))) == 4);
    CHECK(test::Eventually([&] { return system->Stats().passivations == 1; }));
    CHECK(system->Stats().active == 0);
    CHECK(test::Await(r.Ask(Add(1))) == 5);
    CHECK(system->Stats().recoveries == 2);
  }
}

TEST_CASE(
    "snapshots follow the policy: every N events, keep K, and "
    "optionally delete the events they cover") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.snapshots.every_events = 10;
  options.snapshots.keep = 2;
  options.snapshots.delete_covered_events = true;
  options.snapshot_when = [](const int64_t&, const test::CounterEvent& e,
                             uint64_t) { return e.amount == 1000; };
  REQUIRE(system->Register<Counter>({}, options).ok());
  auto c = system->Ref<Counter>("c");
  for (int i = 0; i < 45; ++i) test::Await(c.Ask(Add(1)));
  test::Await(c.Ask(Add(1000)));  // seq 46: the predicate asks for one
  REQUIRE(system->Shutdown().ok());
  auto list = store->snapshots().List("c");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].seq == 40);
  CHECK((*list)[1].seq == 46);
  auto info = store->journal().GetStream("c");
  REQUIRE(info.ok());
  CHECK(info->deleted_to == 40);
  CHECK(info->event_count == 6);
  CHECK(system->Stats().snapshots == 5);

  auto again = test::StartSystem(*store);
  REQUIRE(again->Register<Counter>({}, options).ok());
  CHECK(test::Await(again->Ref<Counter>("c").Ask(Get())) == 1045);
}

TEST_CASE("recoveries wait for a slot and still all complete") {
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    for (int i = 0; i < 64; ++i) {
      REQUIRE(store->journal()
                  .Append("r" + std::to_string(i), Expected::NoStream(),
                          {Counter::EventCodec::Encode({i, 0, 0})})
                  .ok());
    }
  }
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.threads = 4;
  o.max_concurrent_recoveries = 1;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<Counter>().ok());
  std::vector<std::future<Result<int64_t>>> asks;
  for (int i = 0; i < 64; ++i) {
    asks.push_back(system->Ref<Counter>("r" + std::to_string(i)).Ask(Get()));
  }
  for (int i = 0; i < 64; ++i) CHECK(test::Await(std::move(asks[i])) == i);
  RuntimeStats stats = system->Stats();
  CHECK(stats.recoveries == 64);
  CHECK(stats.recovery_p50_ms <= stats.recovery_p99_ms);
}

// A recovery that lingers until a second one is running, so that
// overlapping recoveries are observed whenever they are allowed. Where
// overlap is allowed it waits for it as long as it takes (a busy machine
// may start the second recovery late); where it is not, it lingers 300 ms
// so that a runtime breaking the limit would be caught (a slow machine can
// only hide such a bug, never fail a correct runtime).
struct Overlap {
  static inline std::mutex mu;
  static inline std::condition_variable cv;
  static inline int inside = 0;
  static inline bool seen = false;  // two recoveries were running at once
  static inline std::chrono::milliseconds linger{300};
};
struct SlowStart : Counter {
  static constexpr std::string_view kTypeName = "slow-start";
  State InitialState(std::string_view) const {
    std::unique_lock lock(Overlap::mu);
    ++Overlap::inside;
    Overlap::cv.notify_all();
    if (Overlap::inside >= 2) Overlap::seen = true;
    Overlap::cv.wait_for(lock, Overlap::linger,
                         [] { return Overlap::inside >= 2 || Overlap::seen; });
    --Overlap::inside;
    return 0;
  }
};

TEST_CASE("no more recoveries run at once than max_concurrent_recoveries") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  size_t limit = 0;
  SUBCASE("one slot") { limit = 1; }
  SUBCASE("four slots") { limit = 4; }
  Overlap::seen = false;
  Overlap::linger = std::chrono::milliseconds(limit == 1 ? 300 : 60'000);
  ActorSystemOptions o;
  o.threads = 4;
  o.max_concurrent_recoveries = limit;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<SlowStart>().ok());
  std::vector<std::future<Result<int64_t>>> asks;
  for (int i = 0; i < 6; ++i) {
    asks.push_back(system->Ref<SlowStart>("s" + std::to_string(i)).Ask(Get()));
  }
  for (auto& a : asks) CHECK(test::Await(std::move(a)) == 0);
  RuntimeStats stats = system->Stats();
  CHECK(stats.recoveries == 6);
  if (limit == 1) {
    CHECK(stats.recoveries_peak == 1);
  } else {
    CHECK(stats.recoveries_peak >= 2);  // the count sees overlap
  }
}

TEST_CASE("an ask whose deadline passes in the mailbox is not handled") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  ActorSystemOptions o;
  o.threads = 1;
  auto system = test::StartSystem(*store, o);
  REQUIRE(system->Register<Counter>().ok());
  auto c = system->Ref<Counter>("c");
  // Block the only thread until the deadline has passed.
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto blocker = system->Ref<Counter>("blocker");
  std::promise<void> entered;
  blocker.Ask(Add(1), [gate, &entered](Result<int64_t>) {
    entered.set_value();
    gate.wait();
  });
  REQUIRE(entered.get_future().wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
  auto late = c.Ask(Add(1), std::chrono::milliseconds(1));
  REQUIRE(late.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  release.set_value();
  Status s = late.get().status();
  CHECK(s.IsTimeout());
  CHECK(test::Await(c.Ask(Get())) == 0);  // it never ran
}

TEST_CASE(
    "destroying an actor deletes its stream and snapshots; later "
    "messages fail with kStreamDeleted") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.snapshots.every_events = 2;
  REQUIRE(system->Register<Counter>({}, options).ok());
  auto c = system->Ref<Counter>("gone");
  for (int i = 0; i < 5; ++i) REQUIRE(c.Tell(Add(1)).ok());
  auto destroyed = c.Destroy();
  REQUIRE(destroyed.wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
  CHECK(destroyed.get().ok());
  CHECK(test::AwaitError(c.Ask(Get())).IsStreamDeleted());
  auto info = store->journal().GetStream("gone");
  REQUIRE(info.ok());
  CHECK(info->deleted);
  CHECK(store->journal().Head("gone").status().IsStreamDeleted());
}

TEST_CASE("upcasters let old events recover after the event type changes") {
  // Version 1 of "Added" stored the amount as a 32-bit number.
  test::TempDir dir;
  {
    auto store = test::OpenTestStore(dir.path());
    std::vector<EventData> old;
    for (int32_t v : {5, 6}) {
      std::string bytes(sizeof v, '\0');
      std::memcpy(bytes.data(), &v, sizeof v);
      old.push_back(EventData{"AddedV1", bytes, 1, {}});
    }
    REQUIRE(store->journal().Append("u", Expected::NoStream(), old).ok());
  }
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  ActorTypeOptions<Counter> options;
  options.upcasters.push_back(
      Upcaster{"AddedV1", 1, 1, "Added", [](std::string_view p) {
                 int32_t v;
                 std::memcpy(&v, p.data(), sizeof v);
                 return Counter::EventCodec::Bytes({v, 0, 0});
               }});
  REQUIRE(system->Register<Counter>({}, options).ok());
  CHECK(test::Await(system->Ref<Counter>("u").Ask(Add(1))) == 12);
}

TEST_CASE(
    "shutdown drains mailboxes and commits; later sends fail with "
    "kClosed") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  for (int a = 0; a < 20; ++a) {
    auto r = system->Ref<Counter>("s" + std::to_string(a));
    for (int i = 0; i < 50; ++i) REQUIRE(r.Tell(Add(1)).ok());
  }
  REQUIRE(system->Shutdown().ok());
  for (int a = 0; a < 20; ++a) {
    CHECK(store->journal().Head("s" + std::to_string(a)).value() == 50);
  }
  CHECK(test::AwaitError(system->Ref<Counter>("s0").Ask(Get())).IsClosed());
}

// Persists a number, then tells it to the counter "target".
struct Relay {
  static constexpr std::string_view kTypeName = "relay";
  using State = int64_t;
  using Command = int64_t;
  using Event = int64_t;
  using Reply = Done;
  using EventCodec = PodCodec<int64_t, "Relayed">;
  using StateCodec = PodCodec<int64_t, "Count">;
  Effect<int64_t, Done> Handle(const State&, const Command& n) const {
    return Effect<int64_t, Done>::Persist(n, Done{}).Then(
        [n](ActorSystem& system) {
          // Logged by the runtime if it throws; the test then sees a
          // short count.
          Status s = system.Ref<Counter>("target").Tell(Add(n));
          if (!s.ok()) throw std::runtime_error(s.ToString());
        });
  }
  void Apply(State& s, const Event&) const { ++s; }
};

TEST_CASE("Then actions run after the commit and can drive other actors") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  REQUIRE(system->Register<Relay>().ok());
  for (int i = 1; i <= 10; ++i) test::Await(system->Ref<Relay>("r").Ask(i));
  CHECK(test::Eventually(
      [&] { return store->journal().Head("target").value() == 10; }));
  CHECK(test::Await(system->Ref<Counter>("target").Ask(Get())) == 55);
}

TEST_CASE(
    "wrong ids, unknown types and a second type on one id are refused "
    "clearly") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.path());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register<Counter>().ok());
  CHECK(system->Register<Counter>().IsInvalidArgument());
  CHECK(test::AwaitError(system->Ref<Counter>("").Ask(Get()))
            .IsInvalidArgument());
  CHECK(
      test::AwaitError(system->Ref<Sequencer>("x").Ask(1)).IsInvalidArgument());
  REQUIRE(system->Register<Sequencer>().ok());
  CHECK(test::Await(system->Ref<Counter>("x").Ask(Add(1))) == 1);
  Status s = test::AwaitError(system->Ref<Sequencer>("x").Ask(1));
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("'counter'") != std::string::npos);
}

}  // namespace
}  // namespace memoir
