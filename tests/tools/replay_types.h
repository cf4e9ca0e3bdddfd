// Actor types of the replay CLI tests, shared by the test plugin
// (replay_plugin.cc) and the tests that write their journals
// (cli_replay_test.cc).
//
//   ledger    command-sourced: each command is an entry added to a balance
//   strict    the same, with today's handler refusing an overdraft
//   flaky     a ledger whose Apply adds noise for entries marked `wobble`
//   tally     event-sourced (its commands are not its events)
#ifndef MEMOIR_TESTS_TOOLS_REPLAY_TYPES_H_
#define MEMOIR_TESTS_TOOLS_REPLAY_TYPES_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "memoir/actor.h"

namespace memoir::test::replay {

struct Entry {
  int64_t amount = 0;
  int32_t wobble = 0;  // non-zero: Flaky::Apply is non-deterministic
  int32_t pad = 0;
};

struct Balance {
  int64_t balance = 0;
  int64_t entries = 0;
};

struct Ledger {
  static constexpr std::string_view kTypeName = "ledger";
  using State = Balance;
  using Command = Entry;
  using Event = Entry;
  using Reply = int64_t;
  using EventCodec = PodCodec<Entry, "Entry">;
  using StateCodec = PodCodec<Balance, "Balance">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& s, const Command& c) const {
    if (c.amount == 0) return Fx::Reject("an entry of 0");
    return Fx::Persist(c, s.balance + c.amount);
  }
  void Apply(State& s, const Event& e) const {
    s.balance += e.amount;
    ++s.entries;
  }
};

// Today's handler: refuses an entry that would take the balance below 0.
struct StrictLedger : Ledger {
  Fx Handle(const State& s, const Command& c) const {
    if (s.balance + c.amount < 0) {
      return Fx::Reject("would overdraw: balance " + std::to_string(s.balance) +
                        ", entry " + std::to_string(c.amount));
    }
    return Ledger::Handle(s, c);
  }
};

// What the original run's Apply added for a wobble entry: 5000, which the
// replay's noise (1 to 1000) never equals.
inline constexpr int64_t kOriginalNoise = 5000;

struct Flaky : Ledger {
  static constexpr std::string_view kTypeName = "flaky";
  void Apply(State& s, const Event& e) const {
    Ledger::Apply(s, e);
    if (e.wobble != 0) {
      s.balance += 1 + static_cast<int64_t>(std::random_device{}() % 1000);
    }
  }
};

// Event-sourced: commands ask to add, events record what was added.
struct Add {
  int64_t amount = 0;
};
struct Tally : Ledger {
  static constexpr std::string_view kTypeName = "tally";
  using Command = Add;
  Fx Handle(const State& s, const Command& c) const {
    return Fx::Persist(Entry{c.amount, 0, 0}, s.balance + c.amount);
  }
};

}  // namespace memoir::test::replay

#endif  // MEMOIR_TESTS_TOOLS_REPLAY_TYPES_H_
