// Durable sends between actors (Effect::Send): a message is written with
// the sender's events and taken with the receiver's, so it arrives once,
// in order per sender and receiver, after a restart, an unregistered type
// or a quarantine. Failure paths first. Waits have generous deadlines and
// poll committed state; none decides an outcome by elapsed time.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/durable_state.h"
#include "memoir/message_store.h"
#include "memoir/store.h"
#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

// A namespace of its own: the runtime tests build as one unit in unity
// builds, and other files have their own Relay and Ledger.
namespace memoir::durable_send_test {
namespace {

struct Note {
  enum Target : int32_t {
    kChain,     // relay-<hop> forwards to relay-<hop + 1>, up to relay-2
    kLedger,    // to ledger-1
    kNoEvents,  // a Send without events
  };
  int64_t value = 0;
  int32_t hop = 0;
  Target target = kChain;
  int32_t fail = 0;  // the ledger throws on it while g_fail_budget > 0
  int32_t pad = 0;
};
struct Tally {
  int64_t count = 0;
  int64_t sum = 0;
  int64_t last = 0;
  int64_t out_of_order = 0;  // values not above the one before
};
void Count(Tally& t, const Note& n) {
  ++t.count;
  t.sum += n.value;
  if (n.value <= t.last) ++t.out_of_order;
  t.last = n.value;
}

std::atomic<int> g_fail_budget{0};
constexpr int kHops = 3;

std::string RelayId(int hop) { return "relay-" + std::to_string(hop); }

struct Ledger {
  static constexpr std::string_view kTypeName = "ledger";
  using State = Tally;
  using Command = Note;
  using Event = Note;
  using Reply = int64_t;
  using EventCodec = PodCodec<Note, "Booked">;
  using CommandCodec = PodCodec<Note, "Book">;
  using StateCodec = PodCodec<Tally, "Tally">;
  using Fx = Effect<Event, Reply>;
  Fx Handle(const State& s, const Command& c) const {
    if (c.fail != 0 && g_fail_budget.fetch_sub(1) > 0) {
      throw std::runtime_error("ledger bug");
    }
    if (c.value < 0) return Fx::Reject("negative amounts are refused");
    return Fx::Persist(c, s.count + 1);
  }
  void Apply(State& s, const Event& e) const { Count(s, e); }
};

struct Relay {
  static constexpr std::string_view kTypeName = "relay";
  using State = Tally;
  using Command = Note;
  using Event = Note;
  using Reply = int64_t;
  using EventCodec = PodCodec<Note, "Relayed">;
  using CommandCodec = PodCodec<Note, "Relay">;
  using StateCodec = PodCodec<Tally, "Tally">;
  using Fx = Effect<Event, Reply>;
  Fx Handle(const State& s, const Command& c) const {
    switch (c.target) {
      case Note::kNoEvents:
        return Fx::Respond(s.count).Send<Ledger>("ledger-1", c);
      case Note::kLedger: {
        Note out = c;
        out.target = Note::kChain;
        return Fx::Persist(c, s.count + 1).Send<Ledger>("ledger-1", out);
      }
      case Note::kChain:
        break;
    }
    if (c.hop + 1 >= kHops) return Fx::Persist(c, s.count + 1);
    Note next = c;
    ++next.hop;
    return Fx::Persist(c, s.count + 1).Send<Relay>(RelayId(next.hop), next);
  }
  void Apply(State& s, const Event& e) const { Count(s, e); }
};

Tally Committed(ActorSystem& system, const std::string& type,
                const std::string& id) {
  if (type == "ledger") {
    auto c = system.Ref<Ledger>(id).CommittedState();
    return c.ok() && c->state ? *c->state : Tally{};
  }
  auto c = system.Ref<Relay>(id).CommittedState();
  return c.ok() && c->state ? *c->state : Tally{};
}

std::vector<int64_t> Values(Store& store, const std::string& id) {
  std::vector<int64_t> out;
  Status s = store.journal().Scan(id, ReadOptions{}, [&](const EventView& e) {
    REQUIRE(e.payload.size() == sizeof(Note));
    Note n;
    std::memcpy(&n, e.payload.data(), sizeof n);
    out.push_back(n.value);
    return true;
  });
  if (s.IsNotFound()) return out;  // no events yet
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

size_t Waiting(Store& store) {
  auto m = InStoreMessages(store);
  REQUIRE(m.ok());
  auto w = (*m)->Waiting({}, 100'000);
  REQUIRE_MESSAGE(w.ok(), w.status().ToString());
  return w->size();
}

Note ToLedger(int64_t value, int32_t fail = 0) {
  return Note{value, 0, Note::kLedger, fail, 0};
}

TEST_CASE("a Send without events fails its command and writes nothing") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Relay{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  Status s = test::AwaitError(
      system->Ref<Relay>("relay-0").Ask(Note{5, 0, Note::kNoEvents, 0, 0}));
  CHECK(s.IsFailed());
  CHECK(s.ToString().find("Send without events") != std::string::npos);
  CHECK(Waiting(*store) == 0);
  auto head = store->journal().Head("relay-0");
  CHECK((head.ok() ? *head : 0) == 0);
}

TEST_CASE(
    "messages to a type not registered yet wait in the outbox, and a new "
    "system delivers them once it is registered") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Relay{}).ok());
    auto relay = system->Ref<Relay>("relay-0");
    for (int64_t v = 1; v <= 3; ++v) test::Await(relay.Ask(ToLedger(v)));
    // Committed with the sender's events before the answers came back.
    CHECK(Waiting(*store) == 3);
    REQUIRE(system->Shutdown().ok());
  }
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Relay{}).ok());
  CHECK(Waiting(*store) == 3);  // still no ledger type
  REQUIRE(system->Register(Ledger{}).ok());
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 3; }));
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{1, 2, 3});
  CHECK(Waiting(*store) == 0);
  auto m = InStoreMessages(*store).value();
  CHECK(m->LastTaken("ledger-1", "relay-0").value() ==
        DeliveryId{"relay-0", 3, 0});
}

// Registers the relay and a ledger that a first failure quarantines, and
// makes the relay's first message to the ledger fail, then sends `more`
// after it (values 2, 3, ...); returns once the ledger is quarantined.
void QuarantineBehindFirst(ActorSystem& system, int64_t more) {
  REQUIRE(system.Register(Relay{}).ok());
  ActorTypeOptions<Ledger> strict;
  strict.restarts.max_restarts = 0;  // the first failure quarantines
  REQUIRE(system.Register(Ledger{}, strict).ok());
  g_fail_budget = 1'000'000;
  auto relay = system.Ref<Relay>("relay-0");
  test::Await(relay.Ask(ToLedger(1, /*fail=*/1)));
  for (int64_t v = 2; v <= 1 + more; ++v) test::Await(relay.Ask(ToLedger(v)));
  auto ledger = system.Ref<Ledger>("ledger-1");
  REQUIRE(test::Eventually(
      [&] { return ledger.Info().phase == ActorInfo::Phase::kQuarantined; }));
}

TEST_CASE(
    "a quarantined receiver holds its messages, and gets them in order "
    "after Release") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  QuarantineBehindFirst(*system, 4);
  auto ledger = system->Ref<Ledger>("ledger-1");
  // Nothing behind the failing message went ahead of it.
  CHECK(Waiting(*store) == 5);
  CHECK(Values(*store, "ledger-1").empty());
  RuntimeStats held = system->Stats();
  CHECK(held.messages_sent == 5);
  CHECK(held.messages_waiting == 5);
  CHECK(held.messages_delivered == 0);
  CHECK(held.oldest_waiting_ms > 0);
  g_fail_budget = 0;
  REQUIRE(ledger.Release().ok());
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 5; }));
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(Committed(*system, "ledger", "ledger-1").out_of_order == 0);
  CHECK(Waiting(*store) == 0);
  REQUIRE(test::Eventually(
      [&] { return system->Stats().messages_delivered == 5; }));
  RuntimeStats after = system->Stats();
  CHECK(after.messages_waiting == 0);
  CHECK(after.messages_retries >= 1);  // at least the one Release woke
  CHECK(after.oldest_waiting_ms == 0);
}

TEST_CASE(
    "DropMessage gives up on a message that quarantines its receiver: it "
    "moves to the dead letters and the rest of the pair follows after "
    "Release") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  QuarantineBehindFirst(*system, 3);
  auto ledger = system->Ref<Ledger>("ledger-1");
  auto messages = InStoreMessages(*store).value();
  std::vector<StoredMessage> waiting = messages->Waiting({}, 10).value();
  REQUIRE(waiting.size() == 4);
  CHECK(system->DropMessage({999, 0}, "no such").IsNotFound());
  REQUIRE(
      system->DropMessage(waiting[0].key, "the ledger cannot book it").ok());
  g_fail_budget = 0;
  REQUIRE(ledger.Release().ok());
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 3; }));
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{2, 3, 4});
  REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
  REQUIRE(test::Eventually(
      [&] { return system->Stats().messages_delivered == 3; }));
  RuntimeStats stats = system->Stats();
  CHECK(stats.messages_dropped == 1);
  CHECK(stats.messages_waiting == 0);
  CHECK(stats.messages_duplicates == 0);
  CHECK(store->journal().Head(std::string(kDeadLetterStream)).value() == 1);
}

TEST_CASE(
    "a message whose taking commit fails is delivered again and applied "
    "once") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Relay{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  auto relay = system->Ref<Relay>("relay-0");
  test::Await(relay.Ask(ToLedger(1)));
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 1; }));
  // Someone else writes to the ledger's stream: the actor, still at seq 1
  // in memory, takes the next message in a batch that expects seq 1 and
  // fails with a conflict, after its turn recorded the take in memory.
  Note outside{100, 0, Note::kChain, 0, 0};
  REQUIRE(store->journal()
              .Append("ledger-1", Expected::At(1),
                      {Ledger::EventCodec::Encode(outside)})
              .ok());
  test::Await(relay.Ask(ToLedger(2)));
  REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{1, 100, 2});
  REQUIRE(test::Eventually(
      [&] { return system->Stats().messages_delivered == 2; }));
  RuntimeStats stats = system->Stats();
  CHECK(stats.commit_failures >= 1);
  CHECK(stats.messages_duplicates == 0);
  CHECK(stats.messages_retries >= 1);
}

TEST_CASE(
    "a message to a destroyed receiver waits in the outbox, counted as "
    "stuck") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Relay{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  auto ledger = system->Ref<Ledger>("ledger-1");
  CHECK(test::Await(ledger.Ask(ToLedger(1))) == 1);
  REQUIRE(ledger.Destroy().get().ok());
  auto relay = system->Ref<Relay>("relay-0");
  test::Await(relay.Ask(ToLedger(2)));
  REQUIRE(
      test::Eventually([&] { return system->Stats().messages_stuck == 1; }));
  RuntimeStats stats = system->Stats();
  CHECK(stats.messages_waiting == 1);
  CHECK(stats.messages_delivered == 0);
  CHECK(Waiting(*store) == 1);
}

TEST_CASE(
    "a refusal by the receiver takes the message: it leaves the outbox and "
    "is never delivered again") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Relay{}).ok());
    REQUIRE(system->Register(Ledger{}).ok());
    auto relay = system->Ref<Relay>("relay-0");
    test::Await(relay.Ask(ToLedger(-7)));
    test::Await(relay.Ask(ToLedger(8)));
    REQUIRE(test::Eventually(
        [&] { return Committed(*system, "ledger", "ledger-1").count == 1; }));
    REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
    REQUIRE(system->Shutdown().ok());
  }
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{8});
  auto m = InStoreMessages(*store).value();
  CHECK(m->LastTaken("ledger-1", "relay-0").value() ==
        DeliveryId{"relay-0", 2, 0});
  // A new system finds nothing to deliver again.
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Relay{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  auto ledger = system->Ref<Ledger>("ledger-1");
  CHECK(test::Await(ledger.Ask(ToLedger(9))) == 2);
  CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{8, 9});
}

TEST_CASE(
    "messages through a chain of three actors arrive once each, in order, "
    "with every sender's events") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  constexpr int64_t kNotes = 200;
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Relay{}).ok());
    auto first = system->Ref<Relay>(RelayId(0));
    std::vector<std::future<Result<int64_t>>> asks;
    for (int64_t v = 1; v <= kNotes; ++v) asks.push_back(first.Ask(Note{v}));
    for (auto& a : asks) test::Await(std::move(a));
    REQUIRE(test::Eventually([&] {
      return Committed(*system, "relay", RelayId(kHops - 1)).count == kNotes;
    }));
    REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
    REQUIRE(test::Eventually(
        [&] { return system->Stats().messages_delivered == 2 * kNotes; }));
    RuntimeStats stats = system->Stats();
    CHECK(stats.messages_sent == 2 * kNotes);
    CHECK(stats.messages_duplicates == 0);
    CHECK(stats.messages_waiting == 0);
    REQUIRE(system->Shutdown().ok());
  }
  std::vector<int64_t> want;
  for (int64_t v = 1; v <= kNotes; ++v) want.push_back(v);
  for (int hop = 0; hop < kHops; ++hop) {
    CAPTURE(hop);
    CHECK(Values(*store, RelayId(hop)) == want);
  }
  auto m = InStoreMessages(*store).value();
  CHECK(m->LastTaken(RelayId(2), RelayId(1)).value() ==
        DeliveryId{RelayId(1), kNotes, 0});
}

// Asks the ledger to book amounts, wanting refusals back, and books each
// refusal it gets, checking what the refusal says.
struct AskerTally {
  int64_t sent = 0;
  int64_t refused = 0;
  int64_t refused_sum = 0;
  int64_t wrong = 0;  // refusals naming another receiver, reason or sender
};
struct AskerCommand {
  int64_t value = 0;
  int32_t refused = 0;  // 1: a refusal that came back
  // In a refusal: 1 when it named the wrong receiver, reason or sender.
  // In a request: kAskForOther or kDollarTimer, mistakes the runtime
  // must refuse.
  int32_t wrong = 0;
};
constexpr int32_t kAskForOther = 2;  // ReplyIfRefused<Bystander>
constexpr int32_t kDollarTimer = 3;  // a timer key starting with '$'

// Another type that could take refusals; an Asker must not name it.
struct Bystander {
  static constexpr std::string_view kTypeName = "bystander";
  using Command = AskerCommand;
  static Command OnRefused(const Refusal&) { return {}; }
};

struct Asker {
  static constexpr std::string_view kTypeName = "asker";
  using State = AskerTally;
  using Command = AskerCommand;
  using Event = AskerCommand;
  using Reply = int64_t;
  using EventCodec = PodCodec<AskerCommand, "Asked">;
  using CommandCodec = PodCodec<AskerCommand, "AskLedger">;
  using StateCodec = PodCodec<AskerTally, "AskerTally">;
  using Fx = Effect<Event, Reply>;
  static Command OnRefused(const Refusal& r) {
    const Note n = r.Command<Ledger>();
    const bool right =
        r.receiver_type == "ledger" && r.receiver == "ledger-1" &&
        r.reason == "negative amounts are refused" && r.id.sender == "asker-1";
    return Command{n.value, 1, right ? 0 : 1};
  }
  Fx Handle(const State& s, const Command& c) const {
    if (c.refused != 0) return Fx::Persist(c, s.refused + 1);
    if (c.wrong == kAskForOther) {
      return Fx::Persist(c, s.sent + 1)
          .Send<Ledger>("ledger-1", Note{c.value}, ReplyIfRefused<Bystander>{});
    }
    if (c.wrong == kDollarTimer) {
      return Fx::Persist(c, s.sent + 1)
          .StartTimer<Asker>("$refused-1-0", std::chrono::hours(1), c);
    }
    return Fx::Persist(c, s.sent + 1)
        .Send<Ledger>("ledger-1", Note{c.value}, ReplyIfRefused<Asker>{});
  }
  void Apply(State& s, const Event& e) const {
    if (e.refused == 0) {
      ++s.sent;
      return;
    }
    ++s.refused;
    s.refused_sum += e.value;
    s.wrong += e.wrong;
  }
};

AskerTally AskerState(ActorSystem& system) {
  auto c = system.Ref<Asker>("asker-1").CommittedState();
  return c.ok() && c->state ? *c->state : AskerTally{};
}

size_t PendingTimers(Store& store) {
  auto m = InStoreMessages(store);
  REQUIRE(m.ok());
  auto t = (*m)->Timers("", "", 100'000);
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  return t->size();
}

TEST_CASE(
    "a refused message whose sender asked comes back to it once, saying "
    "who refused what and why; a handled one does not") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Asker{}).ok());
    REQUIRE(system->Register(Ledger{}).ok());
    auto asker = system->Ref<Asker>("asker-1");
    for (int64_t v : {-3, 4, -5}) test::Await(asker.Ask(AskerCommand{v}));
    REQUIRE(test::Eventually([&] { return AskerState(*system).refused == 2; }));
    AskerTally t = AskerState(*system);
    CHECK(t.sent == 3);
    CHECK(t.refused_sum == -8);
    CHECK(t.wrong == 0);
    CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{4});
    REQUIRE(test::Eventually(
        [&] { return Waiting(*store) == 0 && PendingTimers(*store) == 0; }));
    REQUIRE(
        test::Eventually([&] { return system->Stats().timers_fired == 2; }));
    RuntimeStats stats = system->Stats();
    CHECK(stats.refusals_returned == 2);
    CHECK(stats.timers_started == 0);
    CHECK(stats.timers_pending == 0);
    CHECK(stats.rejections == 2);
    REQUIRE(system->Shutdown().ok());
  }
  // Nothing is left to come back: no message and no timer is pending, and
  // the sender's journal holds each refusal once.
  CHECK(Waiting(*store) == 0);
  CHECK(PendingTimers(*store) == 0);
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Asker{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  CHECK(test::Await(system->Ref<Asker>("asker-1").Ask(AskerCommand{6})) == 4);
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 2; }));
  CHECK(AskerState(*system).refused == 2);
  CHECK(store->journal().Head("asker-1").value() == 6);
}

TEST_CASE(
    "a refusal for a sender whose type is not registered waits in the "
    "store, and comes back once a later system registers it") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Asker{}).ok());
    test::Await(system->Ref<Asker>("asker-1").Ask(AskerCommand{-3}));
    REQUIRE(system->Shutdown().ok());
  }
  CHECK(Waiting(*store) == 1);  // no ledger yet
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Ledger{}).ok());
    REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
    // Refused and taken; the refusal waits for an asker type.
    CHECK(PendingTimers(*store) == 1);
    REQUIRE(system->Shutdown().ok());
  }
  auto m = InStoreMessages(*store).value();
  auto pending = m->Timers("", "", 10).value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].stream == "asker-1");
  CHECK(pending[0].key == "$refused-1-0");
  CHECK(pending[0].type == kRefusalType);
  CHECK(pending[0].receiver_type == "asker");
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Asker{}).ok());
  REQUIRE(test::Eventually([&] { return AskerState(*system).refused == 1; }));
  REQUIRE(test::Eventually([&] { return PendingTimers(*store) == 0; }));
  AskerTally t = AskerState(*system);
  CHECK(t.refused_sum == -3);
  CHECK(t.wrong == 0);
  CHECK(store->journal().Head("asker-1").value() == 2);
}

TEST_CASE(
    "a send asking refusals back for another type, or a timer under a '$' "
    "key, fails its own command; the others commit") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Asker{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  auto asker = system->Ref<Asker>("asker-1");
  // Asked together, so they may share a batch.
  auto other = asker.Ask(AskerCommand{-1, 0, kAskForOther});
  auto dollar = asker.Ask(AskerCommand{-2, 0, kDollarTimer});
  auto good = asker.Ask(AskerCommand{-3});
  Status s = test::AwaitError(std::move(other));
  CHECK(s.IsFailed());
  CHECK_MESSAGE(
      s.ToString().find("ReplyIfRefused<bystander>") != std::string::npos,
      s.ToString());
  s = test::AwaitError(std::move(dollar));
  CHECK(s.IsFailed());
  CHECK_MESSAGE(s.ToString().find("'$' are memoir's own") != std::string::npos,
                s.ToString());
  CHECK(test::Await(std::move(good)) == 1);
  REQUIRE(test::Eventually([&] { return AskerState(*system).refused == 1; }));
  CHECK(AskerState(*system).refused_sum == -3);
  CHECK(asker.Info().phase != ActorInfo::Phase::kQuarantined);
  CHECK(store->journal().Head("asker-1").value() == 2);
}

// A durable-state actor at both ends of durable messages: it books what it
// receives and passes the amount on to the ledger, asking for a refusal
// back, which takes the amount off again.
struct WalletState {
  int64_t balance = 0;
  int64_t received = 0;
  int64_t refused = 0;
};
struct Wallet {
  static constexpr std::string_view kTypeName = "wallet";
  using State = WalletState;
  using Command = AskerCommand;
  using Reply = int64_t;
  using StateCodec = PodCodec<WalletState, "Wallet">;
  using CommandCodec = PodCodec<AskerCommand, "WalletCommand">;
  using Fx = StateEffect<State, Reply>;
  static Command OnRefused(const Refusal& r) {
    return Command{r.Command<Ledger>().value, 1, 0};
  }
  Fx Handle(const State& s, const Command& c) const {
    State next = s;
    if (c.refused != 0) {
      ++next.refused;
      next.balance -= c.value;
      return Fx::Persist(next, next.balance);
    }
    if (c.wrong == kDollarTimer) {
      return Fx::Respond(s.balance).Send<Ledger>("ledger-1", Note{c.value});
    }
    ++next.received;
    next.balance += c.value;
    return Fx::Persist(next, next.balance)
        .Send<Ledger>("ledger-1", Note{c.value}, ReplyIfRefused<Wallet>{});
  }
};

WalletState WalletOf(ActorSystem& system, const std::string& id) {
  auto c = system.Ref<Wallet>(id).CommittedState();
  return c.ok() && c->state ? *c->state : WalletState{};
}

TEST_CASE(
    "a durable-state actor sends durable messages with its revisions, gets "
    "refusals back, and receives messages itself") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  {
    auto system = test::StartSystem(*store);
    REQUIRE(system->Register(Wallet{}).ok());
    REQUIRE(system->Register(Ledger{}).ok());
    REQUIRE(system->Register(Asker{}).ok());
    auto wallet = system->Ref<Wallet>("wallet-1");
    CHECK(test::Await(wallet.Ask(AskerCommand{5})) == 5);
    CHECK(test::Await(wallet.Ask(AskerCommand{-2})) == 3);
    // A Send without a revision fails its command alone.
    Status none =
        test::AwaitError(wallet.Ask(AskerCommand{7, 0, kDollarTimer}));
    CHECK(none.IsFailed());
    CHECK(none.ToString().find("Send without events") != std::string::npos);
    // The ledger books 5 and refuses -2, which comes back and is undone.
    REQUIRE(test::Eventually(
        [&] { return WalletOf(*system, "wallet-1").refused == 1; }));
    WalletState w = WalletOf(*system, "wallet-1");
    CHECK(w.balance == 5);
    CHECK(w.received == 2);
    CHECK(Values(*store, "ledger-1") == std::vector<int64_t>{5});
    REQUIRE(test::Eventually(
        [&] { return Waiting(*store) == 0 && PendingTimers(*store) == 0; }));
    REQUIRE(system->Shutdown().ok());
  }
  // Receiving: the wallet is the receiver of a message sent before a
  // restart; it takes it once.
  auto messages = InStoreMessages(*store).value();
  MessageCommit send;
  send.append = {"payer", Expected::Any(), {{"Paid", "x", 1, {}}}};
  OutgoingMessage out;
  out.receiver_type = "wallet";
  out.receiver = "wallet-1";
  out.command = Wallet::CommandCodec::Encode(AskerCommand{10});
  send.send.push_back(out);
  REQUIRE(messages->Commit(std::move(send)).ok());
  auto system = test::StartSystem(*store);
  REQUIRE(system->Register(Wallet{}).ok());
  REQUIRE(system->Register(Ledger{}).ok());
  REQUIRE(test::Eventually(
      [&] { return WalletOf(*system, "wallet-1").received == 3; }));
  CHECK(WalletOf(*system, "wallet-1").balance == 15);
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "ledger", "ledger-1").count == 2; }));
  CHECK(messages->LastTaken("wallet-1", "payer").value().seq == 1);
  REQUIRE(test::Eventually([&] { return Waiting(*store) == 0; }));
}

}  // namespace
}  // namespace memoir::durable_send_test
