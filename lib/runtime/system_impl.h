// SystemImpl: the ActorSystem behind the public interface.
//
// Lock order: map_mu_ before a cell's mu; recovery_mu_ and stats locks are
// leaves. No lock is held while user code (Handle, Apply, codecs, Then
// actions, Ask callbacks) runs or while the journal is called.
#ifndef MEMOIR_RUNTIME_SYSTEM_IMPL_H_
#define MEMOIR_RUNTIME_SYSTEM_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/message_store.h"
#include "memoir/store.h"
#include "runtime/cell.h"
#include "runtime/dispatcher.h"
#include "runtime/executor.h"
#include "runtime/routes.h"
#include "runtime/timers.h"

namespace memoir::internal {

// While alive, Tells and Asks made on this thread carry `cause` and
// `correlation` (a Then action's, with link_events).
class CauseScope {
 public:
  CauseScope(const Uuid& cause, const Uuid& correlation);
  ~CauseScope();
  CauseScope(const CauseScope&) = delete;
  CauseScope& operator=(const CauseScope&) = delete;

 private:
  Uuid saved_cause_;
  Uuid saved_correlation_;
};

class SystemImpl final : public ActorSystem {
 public:
  SystemImpl(Store& store, ActorSystemOptions options);
  ~SystemImpl() override;

  Status Shutdown(std::chrono::milliseconds timeout) override;
  // Shutdown's parts: whether nothing is running (and, with `mailboxes`,
  // nothing is queued), and kClosed for every message still queued.
  bool Quiet(bool mailboxes);
  void AnswerQueued();
  RuntimeStats Stats() const override;
  Store& store() override { return store_; }

 protected:
  Status RegisterBehavior(std::unique_ptr<detail::Behavior> b) override;
  Status Send(std::string_view type, std::string_view id,
              std::unique_ptr<detail::Message> message) override;
  void At(Deadline when, std::function<void()> fn) override;
  Result<detail::CommittedBox> CommittedState(std::string_view type,
                                              std::string_view id) override;
  Status Release(std::string_view id) override;
  std::future<Status> Destroy(std::string_view type,
                              std::string_view id) override;
  ActorInfo Info(std::string_view id) override;
  Result<std::unique_ptr<Route>> StartRouteErased(
      detail::RouteSpec spec) override;
  Status DropMessage(MessageKey key, std::string_view reason) override;

 private:
  using CellPtr = std::shared_ptr<Cell>;

  // --- system.cc ---
  const detail::Behavior* FindBehavior(std::string_view type) const;
  Status Enqueue(const detail::Behavior* behavior, std::string_view id,
                 std::unique_ptr<detail::Message> message);
  // OK when `message` may join the mailbox of `cell` now (or the caller
  // must look again: the cell was retired or quarantined meanwhile); else
  // why not. An Ask off the runtime's threads waits here, releasing `lock`
  // (cell.mu), until there is room, the system closes or its deadline.
  Status WaitForRoomLocked(Cell& cell, const detail::Message& message,
                           std::unique_lock<std::mutex>& lock);
  // Wakes the Asks waiting for room in `cell`. REQUIRES: cell.mu held.
  void RoomMadeLocked(Cell& cell);
  // Reports a message that was not queued: a message that wants a reply is
  // finished with `status`; a Tell's sender gets it from Send instead of
  // the logger. Returns `status`.
  Status Refuse(detail::Message& message, Status status);
  CellPtr FindCell(std::string_view id);
  // Puts `cell` on the pool unless a turn is queued or running. REQUIRES:
  // cell->mu held.
  void ScheduleLocked(const CellPtr& cell);
  void Schedule(const CellPtr& cell);
  // Passivates idle cells: those idle since `idle_before`, then the least
  // recently used until at most `keep` remain (0: no cap).
  void Passivate(SteadyClock::time_point idle_before, size_t keep);
  void SweepLater();
  bool TryRetireLocked(Cell& cell);
  void Log(LogLevel level, std::string_view message) const;
  void Finish(detail::Message& message, const Status& status);

  // --- turn.cc ---
  void RunTurn(const CellPtr& cell);
  // A turn on a thread that Asked and will block on the answer.
  void InlineTurn(const CellPtr& cell);
  // Posts another turn if work is left, else marks the cell idle.
  void EndTurn(const CellPtr& cell, bool replies_waiting);
  void ProcessCompletion(const CellPtr& cell, Completion completion);
  // A durable-state actor: deletes its revisions before the newest
  // committed one, on the maintenance thread.
  void PruneRevisions(const CellPtr& cell);
  // A durable-state actor that asked to stop leaves memory once idle.
  void RetireIfStopped(const CellPtr& cell);
  void ReleaseReplies(Cell& cell);
  void FailPending(Cell& cell, const Status& status);
  // link_events: gives a command's events ids, causation and correlation
  // from message `m`; *cause and *correlation get what commands sent by
  // its Then action carry.
  static void LinkEvents(const detail::Message& m,
                         std::vector<EventData>& events, Uuid* cause,
                         Uuid* correlation);
  // Returns false when the cell cannot handle messages now (waiting for a
  // recovery slot, backing off, quarantined).
  bool EnsureActive(const CellPtr& cell);
  void RecoverCell(const CellPtr& cell);
  void HandleMessages(const CellPtr& cell, bool on_caller_thread);
  // Up to max_messages_per_turn messages from the cell's mailbox.
  std::vector<std::unique_ptr<detail::Message>> TakeMessages(Cell& cell);
  // Handles `run` in order into `work` and the cell's replies; stops at a
  // Destroy or when the cell breaks. Returns how many messages it took.
  size_t HandleRun(Cell& cell,
                   std::vector<std::unique_ptr<detail::Message>>& run,
                   TurnWork& work);
  void SubmitBatch(const CellPtr& cell, TurnWork work, uint64_t first_head);
  // A durable message taken by `cell` already (its inbox holds the id or
  // a later one of the same sender). Loads the inbox record on first use.
  Result<bool> TakenAlready(Cell& cell, const TakenMessage& taken);
  // Records the timer changes of a command in the cell and moves them to
  // `work`, giving each the id the store will.
  void TrackTimers(Cell& cell, std::vector<TimerChange>& changes,
                   TurnWork& work);
  // Whether `fired` is still pending (not cancelled, replaced or fired);
  // *uncommitted when it is not because of what this actor did since its
  // state was built, which may not be committed yet.
  Result<bool> TimerPending(Cell& cell, const FiredTimer& fired,
                            bool* uncommitted);

  // --- messages.cc ---
  // Hands a durable message from the outbox to its receiver.
  void DeliverDurable(const StoredMessage& message, Dispatcher::Done done);
  // Gives the dispatcher every message waiting in the outbox.
  void LoadOutbox();
  // Hands a due timer to its actor.
  void FireTimer(const StoredTimer& timer, TimerWheel::Done done);
  // Gives the wheel every pending timer.
  void LoadTimers();
  void MaybeSnapshot(Cell& cell, bool requested);
  void Restart(const CellPtr& cell);
  void QuarantineLocked(Cell& cell, const std::string& why);
  void RunDestroy(const CellPtr& cell, DestroyMessage& message);
  // Snapshot retention and event deletion after a save (maintenance thread).
  void Prune(const std::string& id, const SnapshotPolicy& policy);
  bool TryAcquireSlot(const CellPtr& cell);
  void ReleaseSlot();
  void RecordRecovery(double ms);

  Store& store_;
  const ActorSystemOptions options_;
  std::map<std::string, std::unique_ptr<detail::Behavior>, std::less<>>
      behaviors_;  // registered before use; read without a lock after
  mutable std::mutex behaviors_mu_;

  mutable std::mutex map_mu_;
  std::unordered_map<std::string, CellPtr> cells_;  // map_mu_

  mutable std::mutex recovery_mu_;
  size_t recoveries_running_ = 0;         // recovery_mu_
  size_t recoveries_peak_ = 0;            // recovery_mu_
  std::deque<CellPtr> recovery_waiting_;  // recovery_mu_

  std::atomic<bool> closing_{false};
  std::atomic<int64_t> saves_in_flight_{0};
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // shutdown_mu_
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;

  mutable std::mutex recovery_times_mu_;
  std::vector<double> recovery_times_;  // ring of the last 4,096
  size_t recovery_times_next_ = 0;

  struct Counters {
    std::atomic<uint64_t> commands{0}, rejections{0}, failures{0}, events{0},
        appends{0}, commit_failures{0}, recoveries{0}, recovery_failures{0},
        snapshot_skips{0}, restarts{0}, quarantined{0}, snapshots{0},
        snapshot_failures{0}, passivations{0}, mailbox_waits{0},
        mailbox_refusals{0}, messages_sent{0}, timers_started{0},
        refusals_returned{0};
  };
  mutable Counters counters_;

  Executor executor_;
  Executor maintenance_;  // blocking snapshot retention and event deletion
  // Durable messages; null when the store keeps none (a PostgreSQL store,
  // or a Store not made by Store::Open): an Effect::Send or a timer then
  // fails its command's commit.
  std::unique_ptr<MessageStore> messages_;
  // Messages DropMessage gives up on: a turn that meets one finishes it
  // unhandled, so that its take does not fail the receiver's batch.
  mutable std::mutex dropped_mu_;
  std::set<MessageKey> dropped_;
  bool Dropped(const MessageKey& key) const {
    std::lock_guard lock(dropped_mu_);
    return dropped_.count(key) != 0;
  }
  Dispatcher dispatcher_;
  TimerWheel timers_;
  const std::shared_ptr<RouteRegistry> routes_ =
      std::make_shared<RouteRegistry>();
};

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_SYSTEM_IMPL_H_
