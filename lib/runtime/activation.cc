// An actor's activation: a recovery slot, the state rebuilt from its
// newest good snapshot and the later events, restarts after a failure
// (with backoff) and quarantine when they come too often.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "memoir/store.h"
#include "runtime/recovery.h"
#include "runtime/system_impl.h"

namespace memoir::internal {

bool SystemImpl::EnsureActive(const CellPtr& cell) {
  Cell& c = *cell;
  if (c.broken) {
    {
      std::lock_guard lock(c.mu);
      if (c.in_flight > 0 || !c.completions.empty()) return false;
    }
    // Every earlier batch is settled: the in-memory state is thrown away
    // and rebuilt from the journal (promise 3 of lib/doc/design.md).
    c.state.reset();
    c.broken = false;
    {
      std::lock_guard lock(c.mu);
      c.rebuild_pending = false;
    }
    if (c.broken_restarts) {
      Restart(cell);
      return false;
    }
    std::lock_guard lock(c.mu);
    c.phase = Phase::kInactive;
  }
  {
    std::lock_guard lock(c.mu);
    if (c.phase == Phase::kActive) return true;
    if (c.phase != Phase::kInactive && c.phase != Phase::kRecovering) {
      return false;
    }
    if (c.mailbox.empty()) return false;  // recover on demand only
  }
  if (!TryAcquireSlot(cell)) return false;
  RecoverCell(cell);
  ReleaseSlot();
  std::lock_guard lock(c.mu);
  return c.phase == Phase::kActive;
}

bool SystemImpl::TryAcquireSlot(const CellPtr& cell) {
  size_t limit = options_.max_concurrent_recoveries;
  if (limit == 0) {
    limit = std::max<size_t>(
        1, (options_.threads > 0 ? options_.threads
                                 : std::thread::hardware_concurrency()) /
               2);
  }
  std::lock_guard lock(recovery_mu_);
  if (recoveries_running_ < limit) {
    ++recoveries_running_;
    recoveries_peak_ = std::max(recoveries_peak_, recoveries_running_);
    return true;
  }
  std::lock_guard cell_lock(cell->mu);
  cell->phase = Phase::kRecovering;
  if (!cell->waiting_for_slot) {
    cell->waiting_for_slot = true;
    recovery_waiting_.push_back(cell);
  }
  return false;
}

void SystemImpl::ReleaseSlot() {
  std::lock_guard lock(recovery_mu_);
  --recoveries_running_;
  if (recovery_waiting_.empty()) return;
  CellPtr next = std::move(recovery_waiting_.front());
  recovery_waiting_.pop_front();
  std::lock_guard cell_lock(next->mu);
  next->waiting_for_slot = false;
  ScheduleLocked(next);
}

void SystemImpl::RecoverCell(const CellPtr& cell) {
  Cell& c = *cell;
  {
    std::lock_guard lock(c.mu);
    c.phase = Phase::kRecovering;
  }
  auto start = SteadyClock::now();
  Result<Recovered> r = Recover(store_, *c.behavior, c.id);
  double ms = MillisSince(start);
  if (!r.ok()) {
    const Status& s = r.status();
    if (s.IsFailed() || s.IsCorruption()) {
      // The journal holds something this code cannot rebuild from: a retry
      // would fail the same way, so quarantine at once.
      counters_.recovery_failures.fetch_add(1);
      std::lock_guard lock(c.mu);
      QuarantineLocked(c, fmt::format("recovery failed: {}", s.ToString()));
      return;
    }
    // The store failed (I/O, ...): answer what waits, retry on demand.
    std::deque<std::unique_ptr<detail::Message>> waiting;
    {
      std::lock_guard lock(c.mu);
      c.phase = Phase::kInactive;
      waiting.swap(c.mailbox);
      RoomMadeLocked(c);
    }
    Status error = s.WithContext(fmt::format("recovering actor '{}'", c.id));
    Log(LogLevel::kError, error.ToString());
    for (auto& m : waiting) Finish(*m, error);
    return;
  }
  RecordRecovery(ms);
  c.last_recovery_ms.store(ms);
  counters_.snapshot_skips.fetch_add(r->skipped.size());
  for (const SnapshotSkip& skip : r->skipped) {
    Log(LogLevel::kWarning,
        fmt::format("actor '{}': skipped snapshot at seq {}: {}", c.id,
                    skip.seq, skip.reason));
  }
  if (r->deleted) {
    std::lock_guard lock(c.mu);
    c.phase = Phase::kDeleted;
    c.cause = Status::StreamDeleted(
        fmt::format("actor '{}' was destroyed (its stream is deleted)", c.id));
    return;
  }
  c.state = std::move(r->state);
  c.head = r->seq;
  c.inbox.clear();   // what was taken is read again from the inbox
  c.timers.clear();  // and which timers are pending
  // The recovered events' last position is somewhere before the head of
  // the log: an upper bound serves answers that wait for it.
  if (r->seq > 0) {
    Result<uint64_t> head = store_.journal().LastPosition();
    c.committed_position = head.ok() ? *head : 0;
  }
  c.committed_seq.store(r->seq);
  c.pending_seq.store(r->seq);
  c.events_since_snapshot = r->seq - r->snapshot_seq;
  if (std::shared_ptr<const detail::StateBox> published =
          c.behavior->Copy(*c.state)) {
    std::lock_guard lock(c.state_mu);
    c.committed_state = {std::move(published), r->seq};
  }
  std::lock_guard lock(c.mu);
  c.phase = Phase::kActive;
}

void SystemImpl::Restart(const CellPtr& cell) {
  Cell& c = *cell;
  const RestartPolicy& policy = c.behavior->restart_policy();
  auto now = SteadyClock::now();
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(c.mu);
    while (!c.restarts.empty() && now - c.restarts.front() > policy.window) {
      c.restarts.pop_front();
    }
    c.restarts.push_back(now);
    if (static_cast<int64_t>(c.restarts.size()) > policy.max_restarts) {
      QuarantineLocked(c, fmt::format("{} failures within {} ms, the last: {}",
                                      c.restarts.size(), policy.window.count(),
                                      c.broken_cause.message()));
      return;
    }
    // In floating point and clamped before converting: initial * factor^n
    // overflows an integer after a few dozen doublings.
    double ms = static_cast<double>(policy.backoff_initial.count()) *
                std::pow(policy.backoff_factor,
                         static_cast<double>(c.restarts.size() - 1));
    ms = std::min(ms, static_cast<double>(policy.backoff_max.count()));
    delay = std::chrono::milliseconds(static_cast<int64_t>(ms));
    c.phase = Phase::kRestarting;
  }
  counters_.restarts.fetch_add(1);
  Log(LogLevel::kWarning,
      fmt::format("actor '{}' restarts in {} ms after: {}", c.id, delay.count(),
                  c.broken_cause.ToString()));
  // Not under the cell's lock: after Shutdown, At runs the task at once.
  executor_.At(now + delay, [this, cell] {
    std::lock_guard lock(cell->mu);
    if (cell->phase != Phase::kRestarting) return;
    cell->phase = Phase::kInactive;
    ScheduleLocked(cell);
  });
}

void SystemImpl::QuarantineLocked(Cell& c, const std::string& why) {
  c.state.reset();
  c.phase = Phase::kQuarantined;
  c.cause = Status::Quarantined(
      fmt::format("actor '{}' (stream '{}', committed seq {}): {}. Fix the "
                  "cause, then release it (ActorRef::Release)",
                  c.id, c.id, c.committed_seq.load(), why));
  counters_.quarantined.fetch_add(1);
  Log(LogLevel::kError, c.cause.ToString());
  // Every caller runs inside the cell's turn, whose end sees the mailbox
  // and posts another turn that answers the queued messages.
}

}  // namespace memoir::internal
