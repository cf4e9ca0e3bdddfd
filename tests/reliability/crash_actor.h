// The actor that crash_child runs and crash_test checks: an event-sourced
// ledger whose commands each persist 1 to 5 events.
//
// Everything about a command follows from its id, so the parent can check
// each stored event against the command it belongs to without being told
// what the child sent:
//
//   id      = generation << 40 | client << 32 | counter   (counter from 1)
//   actor   = Mix(id) % kActors
//   events  = 1 + Mix(id + 1) % 5, event i carrying Amount(id, i)
//
// A client thread numbers its commands 1, 2, 3...; the commands it sends to
// one actor are therefore the ids of its lane whose actor is that one, in
// counter order.
#ifndef MEMOIR_TESTS_RELIABILITY_CRASH_ACTOR_H_
#define MEMOIR_TESTS_RELIABILITY_CRASH_ACTOR_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "memoir/actor.h"

namespace memoir::crash {

inline constexpr int kActors = 64;
inline constexpr int kClients = 16;             // client threads in the child
inline constexpr uint64_t kSnapshotEvery = 32;  // events between snapshots

inline uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t CommandId(uint64_t generation, uint64_t client,
                          uint64_t counter) {
  return generation << 40 | client << 32 | counter;
}
inline uint64_t Generation(uint64_t id) { return id >> 40; }
inline uint64_t Client(uint64_t id) { return (id >> 32) & 0xff; }
inline uint64_t Counter(uint64_t id) { return id & 0xffffffffULL; }
inline int ActorOf(uint64_t id) { return static_cast<int>(Mix(id) % kActors); }
inline uint32_t EventsOf(uint64_t id) {
  return 1 + static_cast<uint32_t>(Mix(id + 1) % 5);
}
inline int64_t Amount(uint64_t id, uint32_t index) {
  return static_cast<int64_t>(Mix(id * 8 + index) % 1000) - 300;
}
inline std::string ActorName(int actor) {
  std::string n = std::to_string(actor);
  return "ledger-" + std::string(2 - std::min<size_t>(2, n.size()), '0') + n;
}

struct LedgerEvent {
  uint64_t command = 0;
  uint32_t index = 0;
  uint32_t count = 0;
  int64_t amount = 0;
};

// Trivially copyable, so PodCodec stores it as is.
struct LedgerState {
  uint64_t events = 0;
  uint64_t commands = 0;
  int64_t balance = 0;
  uint64_t hash = 0;  // over every event, in order
  // Per client thread, the highest command id fully applied.
  std::array<uint64_t, kClients> last{};
  bool operator==(const LedgerState&) const = default;
};

// The fold both the actor and the test's model use.
inline void ApplyLedger(LedgerState& s, const LedgerEvent& e) {
  ++s.events;
  s.balance += e.amount;
  s.hash =
      Mix(s.hash ^ Mix(e.command + e.index) ^ static_cast<uint64_t>(e.amount));
  if (e.index + 1 == e.count) {
    ++s.commands;
    uint64_t& last = s.last[Client(e.command) % kClients];
    if (e.command > last) last = e.command;
  }
}

inline std::vector<LedgerEvent> EventsFor(uint64_t id) {
  std::vector<LedgerEvent> out;
  uint32_t n = EventsOf(id);
  for (uint32_t i = 0; i < n; ++i) out.push_back({id, i, n, Amount(id, i)});
  return out;
}

// Command: a command id (0 asks for the state and writes nothing).
struct Ledger {
  static constexpr std::string_view kTypeName = "ledger";
  using State = LedgerState;
  using Command = uint64_t;
  using Event = LedgerEvent;
  using Reply = LedgerState;  // the state after the command
  using EventCodec = PodCodec<LedgerEvent, "LedgerEvent">;
  using StateCodec = PodCodec<LedgerState, "LedgerState">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& s, const Command& id) const {
    if (id == 0) return Fx::Respond(s);
    State after = s;
    std::vector<Event> events = EventsFor(id);
    for (const Event& e : events) ApplyLedger(after, e);
    return Fx::Persist(std::move(events), after);
  }
  void Apply(State& s, const Event& e) const { ApplyLedger(s, e); }
};

inline ActorTypeOptions<Ledger> LedgerOptions() {
  ActorTypeOptions<Ledger> o;
  o.snapshots.every_events = kSnapshotEvery;
  o.snapshots.keep = 2;
  return o;
}

}  // namespace memoir::crash

#endif  // MEMOIR_TESTS_RELIABILITY_CRASH_ACTOR_H_
