// Cell: one actor's mailbox, phase and in-memory state inside the runtime.
//
// Fields under `mu` are shared between senders, the writer thread's commit
// callbacks and the actor's turn. Fields marked "turn" are touched only by
// the actor's turn, and at most one turn of a cell runs at a time (the
// `scheduled` flag, set and cleared under `mu`, guarantees it).
#ifndef MEMOIR_RUNTIME_CELL_H_
#define MEMOIR_RUNTIME_CELL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/detail/behavior.h"
#include "memoir/journal.h"
#include "memoir/result.h"

namespace memoir::internal {

using SteadyClock = std::chrono::steady_clock;

// A durable-state actor deletes its older revisions once this many have
// gathered (SystemImpl::PruneRevisions).
inline constexpr uint64_t kRevisionsPerDeletion = 16;
using Phase = ActorInfo::Phase;

inline double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start)
      .count();
}

// A Destroy request travelling through the mailbox, so that it runs after
// every command queued before it.
class DestroyMessage final : public detail::Message {
 public:
  DestroyMessage() { control = true; }
  void Finish(const Status& status) override { promise.set_value(status); }
  bool wants_reply() const override { return true; }
  std::promise<Status> promise;
};

// The writer's answer for one append of a turn's events.
struct Completion {
  uint64_t batch = 0;
  Result<AppendResult> result{Status::Failed("internal: no result")};
};

// A reply waiting for the commit of batch `batch` (and of all before it).
struct PendingReply {
  std::unique_ptr<detail::Message> message;
  uint64_t batch = 0;
  Status status;  // OK: deliver the stored reply; else this error
  std::function<void(ActorSystem&)> then;  // after a successful release
  // With link_events: the cause a Tell or Ask made by `then` carries (the
  // command's last event, and its conversation).
  Uuid cause{};
  Uuid correlation{};
};

// A turn's events on their way to the journal.
struct PendingBatch {
  uint64_t id = 0;
  uint64_t last_seq = 0;
  uint64_t events = 0;
  std::shared_ptr<const detail::StateBox> state;  // null: do not publish
  std::optional<Result<AppendResult>> result;     // arrived, not yet settled
};

// What one turn's handled commands produced, on its way to SubmitBatch.
struct TurnWork {
  std::vector<EventData> events;
  std::vector<OutgoingMessage> sends;  // with_event: index in `events`
  std::vector<TakenMessage> takes;
  std::vector<FiredTimer> fires;
  std::vector<TimerChange> timers;  // with_event: index in `events`
  PendingBatch batch;
  bool snapshot_requested = false;
  DestroyMessage* destroy = nullptr;  // a Destroy ends the turn's run
};

struct Cell {
  Cell(std::string cell_id, const detail::Behavior* cell_behavior)
      : id(std::move(cell_id)), behavior(cell_behavior) {}

  const std::string id;
  const detail::Behavior* const behavior;

  std::mutex mu;
  std::deque<std::unique_ptr<detail::Message>> mailbox;  // mu
  // Messages the running turn took from the mailbox and has not finished;
  // they count against ActorSystemOptions::mailbox_capacity.
  size_t in_turn = 0;  // mu
  // Signalled (under mu) whenever the mailbox or in_turn shrinks, for Asks
  // waiting for room in a full mailbox.
  std::condition_variable room;
  std::deque<Completion> completions;  // mu
  bool scheduled = false;              // mu
  bool retired = false;                // mu: passivated, out of the map
  bool waiting_for_slot = false;       // mu: queued for a recovery slot
  Phase phase = Phase::kInactive;      // mu
  size_t in_flight = 0;  // mu: appends whose completion is not processed
  Status cause;          // mu: why quarantined or deleted
  bool rebuild_pending = false;                  // mu: mirrors `broken` below
  std::deque<SteadyClock::time_point> restarts;  // mu
  SteadyClock::time_point last_used = SteadyClock::now();  // mu

  // Turn-owned.
  std::unique_ptr<detail::StateBox> state;
  uint64_t head = 0;  // seq after every handled event
  uint64_t last_batch = 0;
  uint64_t committed_batch = 0;
  // At or after the global position of the last committed event (an
  // upper bound after recovery): the position answers carry.
  uint64_t committed_position = 0;
  std::deque<PendingReply> replies;
  std::deque<PendingBatch> batches;
  bool broken = false;           // state must be rebuilt once in_flight == 0
  bool broken_restarts = false;  // ... and it counts as a restart
  Status broken_cause;
  uint64_t events_since_snapshot = 0;
  // Per sender, the last durable message taken (committed or on its way):
  // loaded from the inbox on first use, dropped when the state is rebuilt.
  std::unordered_map<std::string, DeliveryId> inbox;
  // Per timer key this actor started, cancelled or fired since its state
  // was built: the id pending (nullopt: none), committed or on its way.
  // Keys not here are read from the store. Dropped when it is rebuilt.
  std::unordered_map<std::string, std::optional<DeliveryId>> timers;
  // A durable-state actor asked to stop (StateEffect::Stop): it leaves
  // memory at the end of the first turn that finds it idle.
  bool stop_requested = false;
  // A durable-state actor's deletion of its older revisions is queued; the
  // seq they were last deleted up to by it.
  std::atomic<bool> prune_queued{false};
  std::atomic<uint64_t> pruned_to{0};

  // Readable from any thread.
  std::atomic<uint64_t> committed_seq{0};
  std::atomic<uint64_t> pending_seq{0};
  std::atomic<double> last_recovery_ms{0};
  std::mutex state_mu;
  // The last published state and the seq it is at; null until the first
  // recovery publishes one.
  detail::CommittedBox committed_state;  // state_mu
};

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_CELL_H_
