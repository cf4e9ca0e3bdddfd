// What an ActorSystem is configured with (ActorSystemOptions) and what it
// reports (RuntimeStats, ActorInfo). memoir/actor_system.h includes this.
#ifndef MEMOIR_ACTOR_SYSTEM_OPTIONS_H_
#define MEMOIR_ACTOR_SYSTEM_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "memoir/status.h"

namespace memoir {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
using Logger = std::function<void(LogLevel, std::string_view message)>;

struct ActorSystemOptions {
  // Threads running actors; 0 picks the number of cores (at least 2).
  size_t threads = 0;
  // Recoveries (snapshot load + replay) running at once; the rest wait, so
  // a process restart does not stampede the disk. 0: threads / 2, at least 1.
  size_t max_concurrent_recoveries = 0;
  // Actors idle this long are passivated (their state dropped; the next
  // message recovers them). Zero: never by time.
  std::chrono::milliseconds idle_timeout{0};
  // At most this many actors in memory; beyond it the least recently used
  // idle ones are passivated. Zero: no cap.
  size_t max_active_actors = 0;
  // Messages one actor handles per turn before yielding its thread; their
  // events go to the journal as one append.
  size_t max_messages_per_turn = 64;
  // Backpressure: at most this many messages per actor that are queued or
  // being handled by its current turn. When an actor's mailbox is full,
  // Tell returns kBusy at once and Ask waits for room up to its timeout
  // (see ActorRef). Destroy is never refused for room. 0 (the default):
  // unbounded, nobody ever waits.
  size_t mailbox_capacity = 0;
  // Links the events of a chain of actors: every event an actor persists
  // gets an id (EventData::id), its correlation id is the one of the
  // command that caused it (or, for a command from outside, the id of the
  // command's first event), and its causation id is the id of the event
  // whose Then action sent the command (none for a command from outside).
  // A Tell or Ask made inside a Then action carries that action's cause;
  // one made from another thread the action started does not. Costs what
  // event ids cost (memoir-bench --scenario ids).
  bool link_events = false;
  // Receives warnings and errors (failed Tells, quarantines, snapshot
  // failures). Called from runtime threads; must be thread-safe.
  Logger logger;
};

struct RuntimeStats {
  uint64_t commands = 0;    // commands handled (any outcome)
  uint64_t rejections = 0;  // commands refused by their handler
  uint64_t failures = 0;    // handle/apply/codec exceptions
  uint64_t events = 0;      // events committed
  uint64_t appends = 0;     // journal appends committed (one per turn)
  uint64_t commit_failures = 0;
  uint64_t recoveries = 0;
  uint64_t recovery_failures = 0;  // replays that quarantined their actor
  uint64_t recoveries_peak = 0;    // most recoveries that ran at once
  double recovery_p50_ms = 0;      // over the last 4,096 recoveries
  double recovery_p99_ms = 0;
  double recovery_max_ms = 0;
  uint64_t snapshot_skips = 0;  // unusable snapshots passed over
  uint64_t restarts = 0;
  uint64_t quarantined = 0;  // actors quarantined now
  uint64_t snapshots = 0;    // snapshots saved
  uint64_t snapshot_failures = 0;
  uint64_t passivations = 0;
  uint64_t active = 0;  // actors in memory now
  // Backpressure (ActorSystemOptions::mailbox_capacity): Asks that found a
  // mailbox full and waited for room, and sends refused for a full mailbox
  // (Tells, Asks from runtime threads, Asks whose deadline passed first).
  uint64_t mailbox_waits = 0;
  uint64_t mailbox_refusals = 0;
  // Durable messages (Effect::Send): committed by their senders in this
  // system, taken by their receivers (refusals included), found taken
  // already and dropped, tried again after their receiver could not
  // handle them, and waiting now (loaded from the outbox at start or sent
  // since) with the age of the oldest: now on the wall clock minus its
  // send time on the store's clock (StoreOptions::clock).
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_duplicates = 0;
  uint64_t messages_retries = 0;
  uint64_t messages_waiting = 0;
  // Waiting first in their pair after an answer no retry changes (the
  // receiver was destroyed or runs as another type, the command cannot be
  // decoded): logged, tried again only on Register and Release.
  uint64_t messages_stuck = 0;
  // Given up on by ActorSystem::DropMessage (moved to the dead letters).
  uint64_t messages_dropped = 0;
  double oldest_waiting_ms = 0;
  // Refused messages sent back to senders that asked (ReplyIfRefused) by
  // this system's receivers. Each comes back as a timer of its sender, so
  // the timers_* counters below (but not timers_started) count them too.
  uint64_t refusals_returned = 0;
  // Durable timers (Effect::StartTimer): started by this system's actors,
  // pending now (in the store, loaded at start or started since), fired
  // (taken by their actors, refusals included), dropped (found cancelled
  // or replaced when they fired), and stuck like messages_stuck.
  uint64_t timers_started = 0;
  uint64_t timers_pending = 0;
  uint64_t timers_fired = 0;
  uint64_t timers_dropped = 0;
  uint64_t timers_stuck = 0;
  uint64_t timers_firing = 0;  // handed to their actors, not answered yet
};

// What the runtime knows about one actor right now.
struct ActorInfo {
  enum class Phase {
    kInactive,
    kRecovering,
    kActive,
    kRestarting,
    kQuarantined,
    kDeleted
  };
  Phase phase = Phase::kInactive;
  uint64_t committed_seq = 0;  // highest seq known committed
  uint64_t pending_seq = 0;    // highest seq handled (maybe uncommitted)
  Status cause;                // why it is quarantined
  double last_recovery_ms = 0;
};

}  // namespace memoir

#endif  // MEMOIR_ACTOR_SYSTEM_OPTIONS_H_
