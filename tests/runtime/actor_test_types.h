// Actor types and helpers shared by the runtime tests.
#ifndef MEMOIR_TESTS_RUNTIME_ACTOR_TEST_TYPES_H_
#define MEMOIR_TESTS_RUNTIME_ACTOR_TEST_TYPES_H_

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/store.h"
#include "support/open_store.h"

namespace memoir::test {

// A counter whose commands can be told to misbehave.
struct CounterCommand {
  enum Mode : int32_t {
    kAdd,          // add `amount` (> 0), reply the new total
    kGet,          // reply the total, write nothing
    kThrowHandle,  // Handle throws
    kThrowApply,   // the event's Apply throws
  };
  int64_t amount = 0;
  Mode mode = kAdd;
};
struct CounterEvent {
  int64_t amount = 0;
  int32_t explode = 0;  // non-zero: Apply throws
  int32_t pad = 0;
};

struct Counter {
  static constexpr std::string_view kTypeName = "counter";
  using State = int64_t;
  using Command = CounterCommand;
  using Event = CounterEvent;
  using Reply = int64_t;
  using EventCodec = PodCodec<CounterEvent, "Added">;
  using StateCodec = PodCodec<int64_t, "Total">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& total, const Command& c) const {
    switch (c.mode) {
      case Command::kGet:
        return Fx::Respond(total);
      case Command::kThrowHandle:
        throw std::runtime_error("handler bug");
      case Command::kThrowApply:
        return Fx::Persist(Event{c.amount, 1, 0}, total + c.amount);
      case Command::kAdd:
        break;
    }
    if (c.amount <= 0) return Fx::Reject("amount must be positive");
    return Fx::Persist(Event{c.amount, 0, 0}, total + c.amount);
  }
  void Apply(State& total, const Event& e) const {
    if (e.explode) throw std::runtime_error("apply bug");
    total += e.amount;
  }
};

inline CounterCommand Add(int64_t n) { return {n, CounterCommand::kAdd}; }
inline CounterCommand Get() { return {0, CounterCommand::kGet}; }

// Command sourcing: the journal holds the accepted commands themselves.
// A command is accepted only if it is the next number in sequence.
struct Sequencer {
  static constexpr std::string_view kTypeName = "sequencer";
  using State = int64_t;  // the last number accepted
  using Command = int64_t;
  using Event = int64_t;
  using Reply = int64_t;
  using EventCodec = PodCodec<int64_t, "Next">;
  using StateCodec = PodCodec<int64_t, "Last">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& last, const Command& next) const {
    if (next != last + 1) return Fx::Reject("out of order");
    return Fx::Persist(next, next);
  }
  void Apply(State& last, const Event& next) const { last = next; }
};

inline std::unique_ptr<Store> OpenTestStore(const std::string& path,
                                            StoreOptions o = FastStore()) {
  return OpenStoreOrFail(path, o);
}

inline std::unique_ptr<ActorSystem> StartSystem(Store& store,
                                                ActorSystemOptions o = {}) {
  auto system = ActorSystem::Create(store, std::move(o));
  REQUIRE_MESSAGE(system.ok(), system.status().ToString());
  return std::move(system).value();
}

// Waits for `done` with a deadline, so a bug fails the test instead of
// hanging it. Polls: the conditions are counters the runtime updates.
inline bool Eventually(
    const std::function<bool()>& done,
    std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

template <typename T>
T Await(std::future<Result<T>> f, const char* what = "ask") {
  REQUIRE_MESSAGE(
      f.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
      what << " did not answer within 20 s");
  Result<T> r = f.get();
  REQUIRE_MESSAGE(r.ok(), what << ": " << r.status().ToString());
  return std::move(r).value();
}

template <typename T>
Status AwaitError(std::future<Result<T>> f) {
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  Result<T> r = f.get();
  REQUIRE_MESSAGE(!r.ok(), "expected an error");
  return r.status();
}

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_RUNTIME_ACTOR_TEST_TYPES_H_
