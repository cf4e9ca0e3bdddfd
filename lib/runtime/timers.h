// TimerWheel: fires the durable timers (Effect::StartTimer) when they fall
// due, on the store's clock.
//
// It keeps every pending timer in memory, by (stream, key), loaded at start
// and updated from each commit that starts or cancels one. A due timer is
// handed to its actor once at a time; the actor's take (committed with its
// events, or its refusal), or finding it no longer pending, removes it.
// One not handled (a quarantined or failing actor, a type not registered
// yet) is tried again after a backoff, or at once on Wake; one refused for
// good as things are (a destroyed actor, a command it cannot decode) waits
// for a Wake only.
//
// The wait for the next due time is real time, re-measured at least every
// minute, so a clock that jumps (or a fake one in tests) is followed.
//
// Thread safety: every method may be called from any thread. No lock is
// held while `fire` runs.
#ifndef MEMOIR_RUNTIME_TIMERS_H_
#define MEMOIR_RUNTIME_TIMERS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "memoir/message_store.h"
#include "memoir/status.h"

namespace memoir::internal {

struct TimerCounters {
  uint64_t pending = 0;  // known and not fired
  uint64_t fired = 0;    // taken by their actors (refusals included)
  uint64_t dropped = 0;  // found no longer pending when they fired
  uint64_t stuck = 0;    // refused for good until a Wake
  uint64_t firing = 0;   // handed to their actors, not answered yet
};

class TimerWheel {
 public:
  // `done` runs once: OK when the take committed, kRejected when the actor
  // refused the command (taken too), `gone` when the timer was no longer
  // pending, or why it was not handled (tried again).
  using Done = std::function<void(const Status&, bool gone)>;
  using Fire = std::function<void(const StoredTimer& timer, Done done)>;
  // Runs `task` on the runtime at steady time `when`.
  using At = std::function<void(std::chrono::steady_clock::time_point when,
                                std::function<void()> task)>;
  using Now = std::function<int64_t()>;  // the store's clock

  TimerWheel(Fire fire, At at) : fire_(std::move(fire)), at_(std::move(at)) {}

  // The clock timers are due on; before the first Add.
  void SetClock(Now now);
  // Timers started (each replaces one of the same stream and key).
  void Add(std::vector<StoredTimer> timers);
  // Timers of `stream` cancelled.
  void Cancel(const std::string& stream, const std::vector<std::string>& keys);
  void Wake();
  // Fires nothing more.
  void Stop();
  TimerCounters Counters() const;

 private:
  struct Entry {
    StoredTimer timer;
    int64_t next_ns = 0;  // its due time, the queue's order
    // The id handed to the actor and not answered yet: only its answer
    // counts, and while it is out the entry is not handed over again.
    std::optional<DeliveryId> in_flight;
    bool cancelled = false;  // while in flight; erased on its answer
    bool stuck = false;
    // Not handled last time: back in the queue after `backoff` of real
    // time (not the store's clock, which may stand still).
    bool backing_off = false;
    std::chrono::milliseconds backoff{0};
  };
  void Tick();
  void Finished(const std::string& key, const DeliveryId& id, const Status& s,
                bool gone);
  void Retry(const std::string& key, const DeliveryId& id);
  // Queues Tick for the earliest entry unless one is queued no later.
  // REQUIRES: mu_ held.
  void ArmLocked();
  void Queue(Entry& e, const std::string& key);  // REQUIRES: mu_ held
  void Unqueue(const Entry& e, const std::string& key);

  const Fire fire_;
  const At at_;
  Now now_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;             // stream \0 key
  std::set<std::pair<int64_t, std::string>> queue_;  // (next_ns, key)
  std::optional<std::chrono::steady_clock::time_point> armed_;
  bool stopped_ = false;
  TimerCounters counters_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_TIMERS_H_
