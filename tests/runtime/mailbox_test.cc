// Bounded mailboxes (ActorSystemOptions::mailbox_capacity): a full mailbox
// refuses Tell, makes Ask wait for room up to its deadline, and the
// default stays unbounded. Room is made deterministically: an actor is held
// inside its handler on a gate the test opens.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "memoir/actor_system.h"
#include "memoir/store.h"
#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Where the test holds a handler and lets it go.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool open = false;

  // In the handler: says it is in, then waits until opened (a bounded
  // wait, so a broken test fails instead of hanging).
  void Pass() {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    if (!cv.wait_for(lock, seconds(60), [this] { return open; })) {
      throw std::runtime_error("the test never opened the gate");
    }
  }
  bool WaitEntered() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, seconds(20), [this] { return entered; });
  }
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

struct GatedCommand {
  int64_t amount = 0;
  int32_t hold = 0;  // non-zero: wait at the gate before answering
  int32_t pad = 0;
};

// A counter whose "hold" command keeps its turn busy until the gate opens.
struct Gated {
  static constexpr std::string_view kTypeName = "gated";
  using State = int64_t;
  using Command = GatedCommand;
  using Event = int64_t;
  using Reply = int64_t;
  using EventCodec = PodCodec<int64_t, "Added">;
  using StateCodec = PodCodec<int64_t, "Total">;
  using Fx = Effect<Event, Reply>;

  std::shared_ptr<Gate> gate = std::make_shared<Gate>();

  Fx Handle(const State& total, const Command& c) const {
    if (c.hold != 0) gate->Pass();
    if (c.amount == 0) return Fx::Respond(total);
    return Fx::Persist(c.amount, total + c.amount);
  }
  void Apply(State& total, const Event& e) const { total += e; }
};

GatedCommand Hold(int64_t amount) { return {amount, 1, 0}; }
GatedCommand Plus(int64_t amount) { return {amount, 0, 0}; }
GatedCommand Total() { return {0, 0, 0}; }

// A system with one Gated type whose actor "g" is held at the gate by a
// command that adds 100.
struct Held {
  explicit Held(size_t capacity) {
    store = test::OpenTestStore(dir.path());
    ActorSystemOptions o;
    o.threads = 2;
    o.mailbox_capacity = capacity;
    system = test::StartSystem(*store, o);
    REQUIRE(system->Register<Gated>(actor).ok());
    held = g().Ask(Hold(100));
    REQUIRE_MESSAGE(actor.gate->WaitEntered(),
                    "the handler did not start within 20 s");
  }
  // A failed check must not leave the handler waiting out its bound.
  ~Held() { actor.gate->Open(); }
  ActorRef<Gated> g() { return system->Ref<Gated>("g"); }
  uint64_t Head() { return store->journal().Head("g").value(); }

  test::TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<ActorSystem> system;
  Gated actor;
  std::future<Result<int64_t>> held;
};

TEST_CASE(
    "a Tell to a full mailbox returns kBusy naming the actor and the "
    "capacity, and writes nothing") {
  Held h(/*capacity=*/2);
  // The held command counts until its turn ends: one more fits.
  REQUIRE(h.g().Tell(Plus(1)).ok());
  Status full = h.g().Tell(Plus(10));
  CHECK(full.IsBusy());
  CHECK(full.message().find("actor 'g'") != std::string_view::npos);
  CHECK(full.message().find("mailbox_capacity 2") != std::string_view::npos);
  CHECK(full.message().find("not queued") != std::string_view::npos);
  CHECK(h.system->Stats().mailbox_refusals == 1);
  h.actor.gate->Open();
  CHECK(test::Await(std::move(h.held)) == 100);
  CHECK(test::Await(h.g().Ask(Total())) == 101);
  CHECK(h.Head() == 2);  // the held command's event and Plus(1) only
}

TEST_CASE(
    "an Ask to a full mailbox waits for room and is handled once the actor "
    "makes room") {
  Held h(/*capacity=*/1);
  REQUIRE(h.g().Tell(Plus(1)).IsBusy());  // full
  std::promise<std::future<Result<int64_t>>> asked;
  std::thread asker([&] { asked.set_value(h.g().Ask(Plus(5))); });
  // The asker is inside Ask, waiting, before the gate opens.
  bool waiting =
      test::Eventually([&] { return h.system->Stats().mailbox_waits == 1; });
  h.actor.gate->Open();
  asker.join();
  REQUIRE(waiting);
  CHECK(test::Await(std::move(h.held)) == 100);
  CHECK(test::Await(asked.get_future().get()) == 105);
  CHECK(h.Head() == 2);
}

TEST_CASE(
    "an Ask to a mailbox that stays full fails at its deadline, and its "
    "command never runs") {
  Held h(/*capacity=*/1);
  // The gate stays shut past the deadline: a slow machine only makes the
  // deadline pass sooner relative to the work.
  Status s = test::AwaitError(h.g().Ask(Plus(5), milliseconds(50)));
  CHECK(s.IsTimeout());
  CHECK(s.message().find("actor 'g'") != std::string_view::npos);
  CHECK(s.message().find("mailbox stayed full (mailbox_capacity 1)") !=
        std::string_view::npos);
  CHECK(s.message().find("will not run") != std::string_view::npos);
  RuntimeStats stats = h.system->Stats();
  CHECK(stats.mailbox_waits == 1);
  CHECK(stats.mailbox_refusals == 1);
  h.actor.gate->Open();
  CHECK(test::Await(std::move(h.held)) == 100);
  CHECK(test::Await(h.g().Ask(Total())) == 100);
  CHECK(h.Head() == 1);
}

TEST_CASE("shutdown answers an Ask waiting for room with kClosed") {
  Held h(/*capacity=*/1);
  std::promise<std::future<Result<int64_t>>> asked;
  std::thread asker([&] { asked.set_value(h.g().Ask(Plus(5))); });
  bool waiting =
      test::Eventually([&] { return h.system->Stats().mailbox_waits == 1; });
  // Shutdown first wakes the waiting Ask, then drains the held actor,
  // which needs the gate open.
  std::future<Status> shutdown = std::async(
      std::launch::async, [&] { return h.system->Shutdown(seconds(60)); });
  asker.join();
  h.actor.gate->Open();
  REQUIRE(waiting);
  Status s = test::AwaitError(asked.get_future().get());
  CHECK(s.IsClosed());
  REQUIRE(shutdown.wait_for(seconds(60)) == std::future_status::ready);
  CHECK(shutdown.get().ok());
  CHECK(h.Head() == 1);
}

TEST_CASE("Destroy is queued even when the mailbox is full") {
  Held h(/*capacity=*/1);
  REQUIRE(h.g().Tell(Plus(1)).IsBusy());
  std::future<Status> destroyed = h.g().Destroy();
  h.actor.gate->Open();
  CHECK(test::Await(std::move(h.held)) == 100);
  REQUIRE(destroyed.wait_for(seconds(20)) == std::future_status::ready);
  CHECK(destroyed.get().ok());
  CHECK(test::AwaitError(h.g().Ask(Total())).IsStreamDeleted());
}

// Persists its command, then asks "g" to add it, reporting the answer.
struct Forward {
  static constexpr std::string_view kTypeName = "forward";
  using State = int64_t;
  using Command = int64_t;
  using Event = int64_t;
  using Reply = Done;
  using EventCodec = PodCodec<int64_t, "Forwarded">;
  using StateCodec = PodCodec<int64_t, "Count">;

  std::shared_ptr<std::promise<Status>> answer =
      std::make_shared<std::promise<Status>>();

  Effect<int64_t, Done> Handle(const State&, const Command& n) const {
    return Effect<int64_t, Done>::Persist(n, Done{}).Then(
        [n, answer = answer](ActorSystem& system) {
          system.Ref<Gated>("g").Ask(Plus(n), [answer](Result<int64_t> r) {
            answer->set_value(r.status());
          });
        });
  }
  void Apply(State& s, const Event&) const { ++s; }
};

TEST_CASE(
    "an Ask from a Then action to a full mailbox fails at once with kBusy "
    "instead of blocking a runtime thread") {
  Held h(/*capacity=*/1);
  Forward forward;
  REQUIRE(h.system->Register<Forward>(forward).ok());
  CHECK(test::Await(h.system->Ref<Forward>("f").Ask(7)) == Done{});
  std::future<Status> answer = forward.answer->get_future();
  REQUIRE(answer.wait_for(seconds(20)) == std::future_status::ready);
  Status s = answer.get();
  CHECK(s.IsBusy());
  CHECK(s.message().find("does not wait for room") != std::string_view::npos);
  h.actor.gate->Open();
  CHECK(test::Await(std::move(h.held)) == 100);
  CHECK(h.Head() == 1);
}

TEST_CASE(
    "without mailbox_capacity a mailbox is unbounded: every Tell to a busy "
    "actor is queued and handled") {
  Held h(/*capacity=*/0);
  for (int i = 0; i < 1000; ++i) REQUIRE(h.g().Tell(Plus(1)).ok());
  h.actor.gate->Open();
  CHECK(test::Await(std::move(h.held)) == 100);
  CHECK(test::Await(h.g().Ask(Total())) == 1100);
  RuntimeStats stats = h.system->Stats();
  CHECK(stats.mailbox_waits == 0);
  CHECK(stats.mailbox_refusals == 0);
}

TEST_CASE("mailbox_capacity defaults to 0, unbounded") {
  CHECK(ActorSystemOptions{}.mailbox_capacity == 0);
}

}  // namespace
}  // namespace memoir
