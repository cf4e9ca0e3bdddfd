// Durable timers (Effect::StartTimer): a timer is written with its actor's
// events, fires once (the actor takes it with the events it causes), fires
// after a restart if it fell due meanwhile, and never fires once cancelled
// or replaced. The store's clock is a fake one the tests move, so no
// outcome depends on elapsed time; waits poll committed state with
// generous deadlines.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/clock.h"
#include "memoir/message_store.h"
#include "memoir/store.h"
#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir::durable_timer_test {
namespace {

constexpr int64_t kHour = 3'600'000'000'000;

class FakeClock final : public Clock {
 public:
  int64_t NowNanos() override { return now.load(); }
  std::atomic<int64_t> now{1'700'000'000'000'000'000};
};

struct Order {
  enum Kind : int32_t {
    kArm,
    kCancel,
    kRing,
    kArmOther,
    kArmAndCancel,
    kArmWithoutEvents,
    kBlockThenCancel,   // waits for g_gate, then cancels
    kBlockThenRestart,  // waits for g_gate, then cancels and starts again
  };
  Kind kind = kArm;
  int32_t tag = 0;       // which timer key: "t<tag>"; the ring's mark
  int64_t delay_ms = 0;  // kArm: when it falls due
};
struct Bells {
  int64_t rings = 0;
  int64_t tags = 0;  // bit `tag` set for each tag that rang
  int64_t rejected = 0;
};

std::string Key(int32_t tag) { return "t" + std::to_string(tag); }

// Holds a handler until opened, so that a timer can fall due while the
// actor's turn is busy.
class Gate {
 public:
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
    entered_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  void Pass() {
    std::unique_lock lock(mu_);
    entered_ = true;
    // Bounded, so a broken test fails instead of hanging the pool.
    cv_.wait_for(lock, std::chrono::minutes(2), [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  bool entered_ = false;
};
Gate g_gate;

// Opens the gate when a test ends, also when it failed half-way.
struct GateGuard {
  ~GateGuard() { g_gate.Open(); }
};

struct Reminder {
  static constexpr std::string_view kTypeName = "reminder";
  using State = Bells;
  using Command = Order;
  using Event = Order;
  using Reply = int64_t;
  using EventCodec = PodCodec<Order, "Ordered">;
  using CommandCodec = PodCodec<Order, "Order">;
  using StateCodec = PodCodec<Bells, "Bells">;
  using Fx = Effect<Event, Reply>;
  Fx Handle(const State& s, const Command& c) const {
    Order ring{Order::kRing, c.tag, 0};
    switch (c.kind) {
      case Order::kArm:
        return Fx::Persist(c, s.rings)
            .StartTimer<Reminder>(Key(c.tag),
                                  std::chrono::milliseconds(c.delay_ms), ring);
      case Order::kArmAndCancel:
        return Fx::Persist(c, s.rings)
            .StartTimer<Reminder>(Key(c.tag),
                                  std::chrono::milliseconds(c.delay_ms), ring)
            .CancelTimer(Key(c.tag));
      // These two fail in Handle, before any timer starts: their delays
      // are never waited for.
      case Order::kArmOther:
        return Fx::Persist(c, s.rings)
            .StartTimer<Other>(Key(c.tag), std::chrono::milliseconds(1), ring);
      case Order::kCancel:
        return Fx::Persist(c, s.rings).CancelTimer(Key(c.tag));
      case Order::kArmWithoutEvents:
        return Fx::Respond(s.rings).StartTimer<Reminder>(
            Key(c.tag), std::chrono::milliseconds(1), ring);
      case Order::kBlockThenCancel:
        g_gate.Pass();
        return Fx::Persist(c, s.rings).CancelTimer(Key(c.tag));
      case Order::kBlockThenRestart:
        g_gate.Pass();
        return Fx::Persist(c, s.rings)
            .CancelTimer(Key(c.tag))
            .StartTimer<Reminder>(Key(c.tag),
                                  std::chrono::milliseconds(c.delay_ms), ring);
      case Order::kRing:
        if (c.tag < 0) return Fx::Reject("negative tags are refused");
        return Fx::Persist(c, s.rings + 1);
    }
    return Fx::Reject("unknown order");
  }
  void Apply(State& s, const Event& e) const {
    if (e.kind != Order::kRing) return;
    ++s.rings;
    s.tags |= int64_t{1} << e.tag;
  }

  // Another actor type, to show a timer cannot target it.
  struct Other {
    static constexpr std::string_view kTypeName = "other";
    using Command = Order;
    using CommandCodec = PodCodec<Order, "Order">;
  };
};

// The rings in the journal of `id`, by tag, in order.
std::vector<int32_t> Rings(Store& store, const std::string& id) {
  std::vector<int32_t> out;
  Status s = store.journal().Scan(id, ReadOptions{}, [&](const EventView& e) {
    REQUIRE(e.payload.size() == sizeof(Order));
    Order o;
    std::memcpy(&o, e.payload.data(), sizeof o);
    if (o.kind == Order::kRing) out.push_back(o.tag);
    return true;
  });
  if (s.IsNotFound()) return out;
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

std::vector<StoredTimer> Pending(Store& store) {
  auto m = InStoreMessages(store);
  REQUIRE(m.ok());
  auto t = (*m)->Timers("", "", 100'000);
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  return *t;
}

Bells Committed(ActorSystem& system, const std::string& id) {
  auto c = system.Ref<Reminder>(id).CommittedState();
  return c.ok() && c->state ? *c->state : Bells{};
}

struct Fixture {
  test::TempDir dir;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::unique_ptr<Store> store;
  Fixture() {
    StoreOptions o = test::FastStore();
    o.clock = clock;
    store = test::OpenTestStore(dir.Sub("store"), o);
  }
  std::unique_ptr<ActorSystem> Start() {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Reminder{}).ok());
    return system;
  }
  void Arm(ActorSystem& system, int32_t tag, int64_t delay_ms,
           const std::string& id = "reminder-1") {
    test::Await(
        system.Ref<Reminder>(id).Ask(Order{Order::kArm, tag, delay_ms}));
  }
};

TEST_CASE_FIXTURE(Fixture,
                  "a timer for another actor type or without events fails "
                  "its command and writes nothing") {
  auto system = Start();
  Status s = test::AwaitError(
      system->Ref<Reminder>("reminder-1").Ask(Order{Order::kArmOther, 1, 0}));
  CHECK(s.IsFailed());
  CHECK(s.ToString().find("fires at the actor that starts it") !=
        std::string::npos);
  Status none =
      test::AwaitError(system->Ref<Reminder>("reminder-1")
                           .Ask(Order{Order::kArmWithoutEvents, 1, 0}));
  CHECK(none.IsFailed());
  CHECK(none.ToString().find("without events") != std::string::npos);
  CHECK(Pending(*store).empty());
  auto head = store->journal().Head("reminder-1");
  CHECK((head.ok() ? *head : 0) == 0);
}

TEST_CASE_FIXTURE(Fixture,
                  "a timer due during downtime fires once after a restart, "
                  "waking its actor") {
  {
    auto system = Start();
    Arm(*system, 1, 3'600'000);  // an hour
    std::vector<StoredTimer> pending = Pending(*store);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].stream == "reminder-1");
    CHECK(pending[0].key == "t1");
    CHECK(pending[0].due_ns == clock->now.load() + kHour);
    CHECK(pending[0].id == DeliveryId{"reminder-1", 1, 0});
    RuntimeStats stats = system->Stats();
    CHECK(stats.timers_started == 1);
    CHECK(stats.timers_pending == 1);
    CHECK(stats.timers_fired == 0);
    REQUIRE(system->Shutdown().ok());
  }
  clock->now += 2 * kHour;
  {
    // No command is sent: the timer alone recovers the actor and rings.
    auto system = Start();
    REQUIRE(test::Eventually([&] { return Pending(*store).empty(); }));
    REQUIRE(
        test::Eventually([&] { return system->Stats().timers_fired == 1; }));
    CHECK(system->Stats().recoveries == 1);
    CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{1});
    CHECK(system->Stats().timers_pending == 0);
    REQUIRE(system->Shutdown().ok());
  }
  clock->now += 2 * kHour;
  auto system = Start();
  CHECK(system->Stats().timers_pending == 0);
  CHECK(Committed(*system, "reminder-1").rings == 1);
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{1});
}

TEST_CASE_FIXTURE(Fixture,
                  "a cancelled timer never fires, and a replaced one fires "
                  "only as its replacement") {
  {
    auto system = Start();
    Arm(*system, 1, 60 * 60'000);  // due first, then cancelled
    Arm(*system, 2, 70 * 60'000);  // replaced below
    Arm(*system, 3, 80 * 60'000);  // fires
    test::Await(
        system->Ref<Reminder>("reminder-1").Ask(Order{Order::kCancel, 1, 0}));
    Arm(*system, 2, 90 * 60'000);  // t2 again: the earlier one is gone
    // Started and cancelled by one command: never pending.
    test::Await(system->Ref<Reminder>("reminder-1")
                    .Ask(Order{Order::kArmAndCancel, 4, 1}));
    std::vector<StoredTimer> pending = Pending(*store);
    REQUIRE(pending.size() == 2);
    CHECK(pending[0].key == "t2");
    CHECK(pending[0].id.seq == 5);
    CHECK(pending[1].key == "t3");
    CHECK(system->Stats().timers_pending == 2);
    REQUIRE(system->Shutdown().ok());
  }
  clock->now += 2 * kHour;
  auto system = Start();
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "reminder-1").rings == 2; }));
  REQUIRE(test::Eventually([&] { return Pending(*store).empty(); }));
  // In due order; t1 (due first) and t4 never, t2 once.
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{3, 2});
  CHECK(system->Stats().timers_pending == 0);
}

TEST_CASE_FIXTURE(Fixture,
                  "a timer fires in a running system, and a refused timer "
                  "command is taken too") {
  auto system = Start();
  Arm(*system, 5, 1);
  Arm(*system, -1, 1, "reminder-2");  // its ring is refused
  // The wheel waits for the due time on the fake clock, in real time, and
  // reads the clock again when it has passed.
  clock->now += kHour;
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "reminder-1").rings == 1; }));
  REQUIRE(test::Eventually([&] { return Pending(*store).empty(); }));
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{5});
  CHECK(Rings(*store, "reminder-2").empty());
  REQUIRE(test::Eventually([&] { return system->Stats().timers_fired == 2; }));
  CHECK(system->Stats().timers_pending == 0);
}

TEST_CASE_FIXTURE(Fixture,
                  "a due timer of a type not registered yet waits, and fires "
                  "once when the type is registered") {
  {
    auto system = Start();
    Arm(*system, 1, 60 * 60'000);
    REQUIRE(system->Shutdown().ok());
  }
  clock->now += 2 * kHour;
  auto system = test::StartSystem(*store);  // no Reminder yet
  // It cannot fire without its type: it waits, pending.
  CHECK(system->Stats().timers_pending == 1);
  CHECK(Rings(*store, "reminder-1").empty());
  REQUIRE(system->Register(Reminder{}).ok());
  REQUIRE(test::Eventually([&] { return Pending(*store).empty(); }));
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{1});
  REQUIRE(test::Eventually([&] { return system->Stats().timers_fired == 1; }));
}

// Wakes the wheel (a timer started re-reads the clock) by starting one far
// ahead on another actor.
void WakeWheel(Fixture& f, ActorSystem& system, const std::string& id) {
  f.Arm(system, 30, int64_t{1000} * 3'600'000, id);
}

TEST_CASE_FIXTURE(Fixture,
                  "a timer whose cancel fails to commit is not lost: it "
                  "fires once the actor is rebuilt") {
  auto system = Start();
  Arm(*system, 1, 60 * 60'000);  // seq 1
  auto ref = system->Ref<Reminder>("reminder-1");
  g_gate.Close();
  GateGuard open_at_the_end;
  // With a callback: a future's Ask may run the turn on this thread.
  std::promise<Status> cancelled;
  ref.Ask(Order{Order::kBlockThenCancel, 1, 0},
          [&cancelled](Result<int64_t> r) { cancelled.set_value(r.status()); });
  REQUIRE(test::Eventually([] { return g_gate.entered(); }));
  // Someone else writes to the stream: the cancel's batch (expecting seq
  // 1) fails.
  REQUIRE(
      store->journal()
          .Append("reminder-1", Expected::At(1),
                  {Reminder::EventCodec::Encode(Order{Order::kCancel, 99, 0})})
          .ok());
  clock->now += 2 * kHour;
  WakeWheel(*this, *system, "reminder-2");
  // Handed to the actor while the cancel is being handled.
  REQUIRE(test::Eventually([&] { return system->Stats().timers_firing == 1; }));
  g_gate.Open();
  auto answer = cancelled.get_future();
  REQUIRE(answer.wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
  CHECK(answer.get().IsConflict());
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "reminder-1").rings == 1; }));
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{1});
  std::vector<StoredTimer> pending = Pending(*store);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].stream == "reminder-2");
}

TEST_CASE_FIXTURE(Fixture,
                  "a timer cancelled and started again while its firing is "
                  "on its way fires once, as the new one") {
  auto system = Start();
  Arm(*system, 1, 60 * 60'000);  // seq 1
  auto ref = system->Ref<Reminder>("reminder-1");
  g_gate.Close();
  GateGuard open_at_the_end;
  // Started again due 1 ms after the command: at once.
  std::promise<Status> restarted;
  ref.Ask(Order{Order::kBlockThenRestart, 1, 1},
          [&restarted](Result<int64_t> r) { restarted.set_value(r.status()); });
  REQUIRE(test::Eventually([] { return g_gate.entered(); }));
  clock->now += 2 * kHour;
  WakeWheel(*this, *system, "reminder-2");
  REQUIRE(test::Eventually([&] { return system->Stats().timers_firing == 1; }));
  g_gate.Open();
  auto answer = restarted.get_future();
  REQUIRE(answer.wait_for(std::chrono::seconds(20)) ==
          std::future_status::ready);
  REQUIRE(answer.get().ok());
  // The new timer falls due once the fake clock moves past it.
  clock->now += kHour;
  WakeWheel(*this, *system, "reminder-3");
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "reminder-1").rings == 1; }));
  REQUIRE(test::Eventually([&] {
    std::vector<StoredTimer> p = Pending(*store);
    return p.size() == 2 && system->Stats().timers_firing == 0;
  }));
  // Rung once (the old one was dropped, the new one taken once), and no
  // batch failed on a second take.
  CHECK(Rings(*store, "reminder-1") == std::vector<int32_t>{1});
  CHECK(system->Stats().commit_failures == 0);
  CHECK(system->Stats().timers_fired == 1);
}

TEST_CASE_FIXTURE(Fixture,
                  "destroying an actor removes its pending timers, and "
                  "leaves other actors' timers pending") {
  auto system = Start();
  Arm(*system, 1, 3'600'000);
  Arm(*system, 2, 3'600'000);
  Arm(*system, 3, 3'600'000, "reminder-2");
  REQUIRE(Pending(*store).size() == 3);
  REQUIRE(system->Ref<Reminder>("reminder-1").Destroy().get().ok());
  std::vector<StoredTimer> left = Pending(*store);
  REQUIRE(left.size() == 1);
  CHECK(left[0].stream == "reminder-2");
  CHECK(system->Stats().timers_pending == 1);
  clock->now += 2 * kHour;
  WakeWheel(*this, *system, "reminder-3");
  REQUIRE(test::Eventually(
      [&] { return Rings(*store, "reminder-2") == std::vector<int32_t>{3}; }));
  left = Pending(*store);
  REQUIRE(left.size() == 1);  // the far one that woke the wheel
  CHECK(left[0].stream == "reminder-3");
  CHECK(system->Stats().timers_stuck == 0);
}

}  // namespace
}  // namespace memoir::durable_timer_test
