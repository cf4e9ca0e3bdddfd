// An actor's turn on the pool: take the commit results that came back,
// release the replies they unblock, (re)build the state when needed, then
// handle a run of messages and send their events to the journal as one
// append.
//
// Invariants:
//  - c.head is the seq after every event handled; committed_seq <= head.
//  - c.replies is in the order the commands were handled; a reply is
//    released only when every batch up to its own is committed.
//  - appends of one actor expect the head their batch started from, so
//    after a failed batch every later batch of the actor fails too (none
//    can commit over a hole).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

#include "memoir/store.h"
#include "runtime/recovery.h"
#include "runtime/system_impl.h"

namespace memoir::internal {

namespace {

// The state must be rebuilt once every batch in flight is settled. The
// flag is mirrored under the lock so that passivation leaves such a cell
// alone (its restart history must survive until the restart is counted).
void SetBroken(Cell& c, bool counts_as_restart, const Status& cause) {
  c.broken = true;
  c.broken_restarts = counts_as_restart;
  c.broken_cause = cause;
  std::lock_guard lock(c.mu);
  c.rebuild_pending = true;
}

}  // namespace

void SystemImpl::RunTurn(const CellPtr& cell) {
  Cell& c = *cell;
  std::deque<Completion> done;
  {
    std::lock_guard lock(c.mu);
    done.swap(c.completions);
  }
  for (Completion& completion : done) {
    ProcessCompletion(cell, std::move(completion));
  }
  if (!done.empty()) {
    std::lock_guard lock(c.mu);
    c.in_flight -= done.size();
  }
  ReleaseReplies(c);

  if (EnsureActive(cell)) {
    HandleMessages(cell, /*on_caller_thread=*/false);
  } else {
    Phase phase;
    Status cause;
    std::deque<std::unique_ptr<detail::Message>> refused;
    {
      std::lock_guard lock(c.mu);
      phase = c.phase;
      cause = c.cause;
      if (phase == Phase::kQuarantined || phase == Phase::kDeleted) {
        refused.swap(c.mailbox);
        RoomMadeLocked(c);
      }
    }
    for (auto& m : refused) {
      if (m->control) {
        RunDestroy(cell, static_cast<DestroyMessage&>(*m));
      } else {
        Finish(*m, cause);
      }
    }
  }

  EndTurn(cell, /*replies_waiting=*/false);
}

void SystemImpl::InlineTurn(const CellPtr& cell) {
  // On the asking thread: handle and submit only. Commit results, replies,
  // Then actions and other senders' callbacks stay on the pool's threads.
  HandleMessages(cell, /*on_caller_thread=*/true);
  Cell& c = *cell;
  bool releasable =
      !c.replies.empty() && c.replies.front().batch <= c.committed_batch;
  EndTurn(cell, releasable);
}

void SystemImpl::EndTurn(const CellPtr& cell, bool replies_waiting) {
  Cell& c = *cell;
  bool again;
  // Read while this turn still owns the cell.
  const bool stop = c.stop_requested;
  {
    std::lock_guard lock(c.mu);
    c.last_used = SteadyClock::now();
    again = replies_waiting || !c.completions.empty() ||
            (!c.mailbox.empty() && c.phase != Phase::kRestarting &&
             !c.waiting_for_slot && !(c.broken && c.in_flight > 0));
    if (!again) c.scheduled = false;
  }
  if (again) executor_.Post([this, cell] { RunTurn(cell); });
  if (!again && stop) RetireIfStopped(cell);
  if (closing_.load()) idle_cv_.notify_all();
}

void SystemImpl::ProcessCompletion(const CellPtr& cell, Completion completion) {
  Cell& c = *cell;
  // Completions can arrive out of order: a request the journal refuses
  // before queueing it (kBusy, kClosed, a bad argument) is answered at once,
  // ahead of earlier batches still in the queue. Results are therefore
  // parked on their batch and settled strictly in batch order.
  auto it = std::find_if(
      c.batches.begin(), c.batches.end(),
      [&](const PendingBatch& b) { return b.id == completion.batch; });
  // After a failure the later batches were dropped; their (failed)
  // completions have nothing left to do.
  if (it == c.batches.end()) return;
  it->result.emplace(std::move(completion.result));
  while (!c.batches.empty() && c.batches.front().result) {
    PendingBatch batch = std::move(c.batches.front());
    c.batches.pop_front();
    if (batch.result->ok()) {
      c.committed_batch = batch.id;
      c.committed_seq.store(batch.last_seq);
      // A batch of takes alone (refused messages) appended nothing.
      if (batch.events > 0) {
        c.committed_position = batch.result->value().last_position;
      }
      counters_.events.fetch_add(batch.events);
      counters_.appends.fetch_add(1);
      // Not after a Destroy or a quarantine dropped the state.
      if (batch.state && c.state) {
        std::lock_guard lock(c.state_mu);
        c.committed_state = {std::move(batch.state), batch.last_seq};
      }
      if (c.behavior->durable_state()) PruneRevisions(cell);
      // Release now: a failure of a later batch in this same turn must not
      // touch replies whose own events are durable.
      ReleaseReplies(c);
      continue;
    }
    counters_.commit_failures.fetch_add(1);
    Status error = batch.result->status().WithContext(
        fmt::format("commit of actor '{}' seq {}..{} failed", c.id,
                    batch.last_seq - batch.events + 1, batch.last_seq));
    Log(LogLevel::kWarning,
        fmt::format("{}; rebuilding its state from the journal",
                    error.ToString()));
    // Every later batch expected this one's events: none of them can
    // commit, so every reply not yet released gets this error.
    FailPending(c, error);
    if (!c.broken) SetBroken(c, /*counts_as_restart=*/false, error);
    return;
  }
}

void SystemImpl::LinkEvents(const detail::Message& m,
                            std::vector<EventData>& events, Uuid* cause,
                            Uuid* correlation) {
  if (events.empty()) return;
  for (EventData& e : events) {
    if (e.id.empty()) e.id = Uuid::Generate();
  }
  // A command from outside starts a conversation, named by its first event.
  *correlation =
      m.correlation_id.empty() ? events.front().id : m.correlation_id;
  for (EventData& e : events) {
    if (e.causation_id.empty()) e.causation_id = m.causation_id;
    if (e.correlation_id.empty()) e.correlation_id = *correlation;
  }
  *cause = events.back().id;
}

void SystemImpl::FailPending(Cell& c, const Status& status) {
  std::deque<PendingReply> replies;
  replies.swap(c.replies);
  c.batches.clear();
  // Every batch handed out so far is now settled (failed), so replies
  // queued from here on wait only for their own batches.
  c.committed_batch = c.last_batch;
  for (PendingReply& r : replies) Finish(*r.message, status);
}

void SystemImpl::ReleaseReplies(Cell& c) {
  while (!c.replies.empty() && c.replies.front().batch <= c.committed_batch) {
    PendingReply r = std::move(c.replies.front());
    c.replies.pop_front();
    r.message->position = c.committed_position;
    Finish(*r.message, r.status);
    if (r.status.ok() && r.then) {
      // Commands the action sends carry its cause (SystemImpl::Send).
      CauseScope cause(r.cause, r.correlation);
      try {
        r.then(*this);
      } catch (...) {
        Log(LogLevel::kError,
            fmt::format("a Then action of actor '{}' threw {}", c.id,
                        detail::DescribeCurrentException()));
      }
    }
  }
}

std::vector<std::unique_ptr<detail::Message>> SystemImpl::TakeMessages(
    Cell& c) {
  std::vector<std::unique_ptr<detail::Message>> run;
  std::lock_guard lock(c.mu);
  size_t n = std::min(c.mailbox.size(), options_.max_messages_per_turn);
  run.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    run.push_back(std::move(c.mailbox.front()));
    c.mailbox.pop_front();
  }
  // Still counted against mailbox_capacity until this turn is done. Only
  // this turn writes in_turn, so it may read it without the lock.
  if (options_.mailbox_capacity > 0) c.in_turn = n;
  return run;
}

size_t SystemImpl::HandleRun(Cell& c,
                             std::vector<std::unique_ptr<detail::Message>>& run,
                             TurnWork& work) {
  size_t i = 0;
  auto now = SteadyClock::now();
  for (; i < run.size() && !c.broken; ++i) {
    detail::Message& m = *run[i];
    if (m.control) {
      work.destroy = static_cast<DestroyMessage*>(&m);
      return i + 1;
    }
    if (m.deadline < now) {
      Finish(m, Status::Timeout(fmt::format(
                    "actor '{}' did not take the command before its "
                    "deadline; it was not handled",
                    c.id)));
      continue;
    }
    if (m.fired) {
      bool uncommitted = false;
      Result<bool> pending = TimerPending(c, *m.fired, &uncommitted);
      if (!pending.ok()) {
        Finish(m, pending.status());
        continue;
      }
      if (!*pending && uncommitted) {
        // Cancelled or replaced by a command whose batch may still fail:
        // tried again; once that batch commits, the wheel drops it.
        Finish(m, Status::Busy(fmt::format(
                      "timer '{}' of actor '{}' is cancelled or replaced by "
                      "a command not committed yet",
                      m.fired->key, c.id)));
        continue;
      }
      if (!*pending) {
        m.taken_already = true;
        Finish(m, Status::NotFound(fmt::format(
                      "timer '{}' of actor '{}' is no longer pending "
                      "(cancelled or replaced)",
                      m.fired->key, c.id)));
        continue;
      }
    }
    if (m.taken && Dropped(m.taken->key)) {
      Finish(m, Status::NotFound(fmt::format(
                    "the message {}#{} to actor '{}' was dropped to the dead "
                    "letters",
                    m.taken->key.position, m.taken->key.n, c.id)));
      continue;
    }
    if (m.taken) {
      Result<bool> taken = TakenAlready(c, *m.taken);
      if (taken.ok() && *taken) m.taken_already = true;
      if (!taken.ok() || *taken) {
        Finish(m, taken.ok() ? Status::NotFound(fmt::format(
                                   "actor '{}' has taken the message from "
                                   "'{}' seq {} #{} already",
                                   c.id, m.taken->id.sender, m.taken->id.seq,
                                   m.taken->id.n))
                             : taken.status());
        continue;
      }
    }
    detail::HandleOutcome out = c.behavior->Handle(*c.state, m, c.head);
    counters_.commands.fetch_add(1);
    PendingReply reply{std::move(run[i]), 0, Status::OK(), nullptr};
    switch (out.kind) {
      case detail::HandleOutcome::Kind::kPersist:
        if (out.wipe) {
          // A durable-state actor's wiping stop: the id starts afresh.
          Result<std::unique_ptr<detail::StateBox>> fresh =
              c.behavior->Initial(c.id);
          if (!fresh.ok()) {
            counters_.failures.fetch_add(1);
            reply.status = fresh.status().WithContext(
                fmt::format("actor '{}' (nothing was written)", c.id));
            SetBroken(c, /*counts_as_restart=*/true, fresh.status());
            break;
          }
          c.state = std::move(*fresh);
        }
        c.stop_requested |= out.stop;
        if (options_.link_events) {
          LinkEvents(m, out.events, &reply.cause, &reply.correlation);
        }
        c.head += out.events.size();
        work.batch.events += out.events.size();
        work.snapshot_requested |= out.snapshot_requested;
        for (EventData& e : out.events) work.events.push_back(std::move(e));
        for (OutgoingMessage& s : out.sends) {
          s.with_event = work.events.size() - 1;  // the command's last
          work.sends.push_back(std::move(s));
        }
        if (!out.timers.empty()) {
          // The fired timer, if this is one, is taken before the changes.
          if (m.fired) c.timers[m.fired->key] = std::nullopt;
          TrackTimers(c, out.timers, work);
        }
        reply.then = std::move(out.then);
        break;
      case detail::HandleOutcome::Kind::kRespond:
        c.stop_requested |= out.stop;
        reply.then = std::move(out.then);
        break;
      case detail::HandleOutcome::Kind::kRejected:
        counters_.rejections.fetch_add(1);
        reply.status = out.error;
        break;
      case detail::HandleOutcome::Kind::kFailed:
      case detail::HandleOutcome::Kind::kBroken:
        counters_.failures.fetch_add(1);
        reply.status = out.error.WithContext(
            fmt::format("actor '{}' (nothing was written)", c.id));
        SetBroken(c, /*counts_as_restart=*/true, out.error);
        break;
    }
    // A handled durable message is taken with the batch, a refusal too
    // (which the store sends back if the sender asked).
    if (m.taken && (reply.status.ok() || reply.status.IsRejected())) {
      work.takes.push_back(*m.taken);
      if (reply.status.IsRejected()) {
        work.takes.back().refused = true;
        work.takes.back().reason = std::string(reply.status.message());
      }
      c.inbox[m.taken->id.sender] = m.taken->id;
    }
    if (m.fired && (reply.status.ok() || reply.status.IsRejected())) {
      work.fires.push_back(*m.fired);
      // A refusal's key is never used again: not remembered (the wheel
      // hands it over once until this batch is answered).
      auto t = c.timers.find(m.fired->key);
      // Unless the command started it again.
      if (m.fired->key.front() != '$' &&
          (t == c.timers.end() || t->second == m.fired->id)) {
        c.timers[m.fired->key] = std::nullopt;
      }
    }
    c.replies.push_back(std::move(reply));
  }
  return i;
}

void SystemImpl::TrackTimers(Cell& c, std::vector<TimerChange>& changes,
                             TurnWork& work) {
  // The ids the store will give: the seq of the command's last event (the
  // head now) and the place among that event's timers. Earlier commands
  // of this turn with the same last event cannot exist (each has events).
  uint32_t n = 0;
  for (TimerChange& t : changes) {
    t.with_event = work.events.size() - 1;
    if (t.cancel) {
      c.timers[t.key] = std::nullopt;
    } else {
      c.timers[t.key] = DeliveryId{c.id, c.head, n++};
    }
    work.timers.push_back(std::move(t));
  }
}

Result<bool> SystemImpl::TimerPending(Cell& c, const FiredTimer& fired,
                                      bool* uncommitted) {
  auto it = c.timers.find(fired.key);
  if (it != c.timers.end()) {
    const bool pending = it->second && *it->second == fired.id;
    // What the map knows may come from a batch not committed yet (the map
    // does not say which): only the store says a timer is gone for good.
    *uncommitted = !pending;
    return pending;
  }
  if (!messages_) {
    return Status::InvalidArgument(
        "this store keeps no durable timers (not opened by Store::Open)");
  }
  Result<std::optional<StoredTimer>> stored =
      messages_->FindTimer(c.id, fired.key);
  if (!stored.ok()) {
    return stored.status().WithContext(
        fmt::format("actor '{}' reading its timer '{}'", c.id, fired.key));
  }
  const bool pending = stored->has_value() && (*stored)->id == fired.id;
  // A refusal: its key is never used again, so it is not remembered.
  if (fired.key.front() == '$') return pending;
  c.timers.emplace(fired.key, stored->has_value()
                                  ? std::optional<DeliveryId>((*stored)->id)
                                  : std::nullopt);
  return pending;
}

Result<bool> SystemImpl::TakenAlready(Cell& c, const TakenMessage& taken) {
  auto it = c.inbox.find(taken.id.sender);
  if (it == c.inbox.end()) {
    if (!messages_) {
      return Status::InvalidArgument(
          "this store keeps no durable messages (not opened by Store::Open)");
    }
    Result<DeliveryId> last = messages_->LastTaken(c.id, taken.id.sender);
    if (!last.ok()) {
      return last.status().WithContext(fmt::format(
          "actor '{}' reading what it took from '{}'", c.id, taken.id.sender));
    }
    it = c.inbox.emplace(taken.id.sender, *last).first;
  }
  const DeliveryId& last = it->second;
  return !(last.seq < taken.id.seq ||
           (last.seq == taken.id.seq && last.n < taken.id.n));
}

void SystemImpl::HandleMessages(const CellPtr& cell, bool on_caller_thread) {
  Cell& c = *cell;
  std::vector<std::unique_ptr<detail::Message>> run = TakeMessages(c);
  const uint64_t first_head = c.head;
  const size_t handled_from = c.replies.size();
  TurnWork work;
  const size_t i = HandleRun(c, run, work);
  // Messages not reached go back to the front, in order; the ones handled
  // leave room for senders waiting on a full mailbox.
  if (i < run.size() || c.in_turn > 0) {
    std::lock_guard lock(c.mu);
    for (size_t j = run.size(); j-- > i;) {
      c.mailbox.push_front(std::move(run[j]));
    }
    c.in_turn = 0;
    RoomMadeLocked(c);
  }
  DestroyMessage* destroy = work.destroy;
  const bool snapshot_requested = work.snapshot_requested;
  if (!work.events.empty() || !work.takes.empty() || !work.fires.empty()) {
    work.batch.id = ++c.last_batch;
    work.batch.last_seq = c.head;
    // A failed apply damaged the state: publish nothing from it.
    if (!c.broken) work.batch.state = c.behavior->Copy(*c.state);
    SubmitBatch(cell, std::move(work), first_head);
  }
  for (size_t k = handled_from; k < c.replies.size(); ++k) {
    c.replies[k].batch = c.last_batch;
  }
  c.pending_seq.store(c.head);
  if (!c.broken && c.head > first_head) {
    MaybeSnapshot(c, snapshot_requested);
  }
  if (!on_caller_thread) ReleaseReplies(c);
  if (destroy != nullptr) RunDestroy(cell, *destroy);
}

void SystemImpl::SubmitBatch(const CellPtr& cell, TurnWork work,
                             uint64_t first_head) {
  Cell& c = *cell;
  c.events_since_snapshot += work.batch.events;
  uint64_t id = work.batch.id;
  c.batches.push_back(std::move(work.batch));
  {
    std::lock_guard lock(c.mu);
    ++c.in_flight;
  }
  auto complete = [this, cell, id](Result<AppendResult> result) {
    std::lock_guard lock(cell->mu);
    cell->completions.push_back(Completion{id, std::move(result)});
    ScheduleLocked(cell);
  };
  StreamAppend request{c.id, Expected::At(first_head), std::move(work.events)};
  if (work.sends.empty() && work.takes.empty() && work.fires.empty() &&
      work.timers.empty()) {
    store_.journal().Append(std::move(request), std::move(complete));
    return;
  }
  if (!messages_) {
    complete(Status::InvalidArgument(fmt::format(
        "actor '{}' sends or takes durable messages or timers, but this "
        "store keeps none: they need an LMDB store opened by Store::Open "
        "(a PostgreSQL store has none yet)",
        c.id)));
    return;
  }
  // The events, the messages sent with them and those taken, in one
  // transaction; the sent ones go to the dispatcher once committed.
  messages_->Commit(
      MessageCommit{std::move(request), std::move(work.sends),
                    std::move(work.takes), std::move(work.fires),
                    std::move(work.timers)},
      [this, id = c.id,
       complete = std::move(complete)](Result<MessageCommitResult> r) {
        if (!r.ok()) return complete(r.status());
        if (!r->sent.empty()) {
          counters_.messages_sent.fetch_add(r->sent.size());
          dispatcher_.Add(std::move(r->sent));
        }
        if (!r->timers_cancelled.empty()) {
          timers_.Cancel(id, r->timers_cancelled);
        }
        if (!r->timers_started.empty()) {
          counters_.timers_started.fetch_add(r->timers_started.size());
          timers_.Add(std::move(r->timers_started));
        }
        if (!r->refusals.empty()) {
          counters_.refusals_returned.fetch_add(r->refusals.size());
          timers_.Add(std::move(r->refusals));
        }
        complete(r->append);
      });
}

void SystemImpl::MaybeSnapshot(Cell& c, bool requested) {
  const SnapshotPolicy& policy = c.behavior->snapshot_policy();
  bool due = requested || (policy.every_events > 0 &&
                           c.events_since_snapshot >= policy.every_events);
  if (!due) return;
  c.events_since_snapshot = 0;
  Result<SnapshotData> data = c.behavior->EncodeState(*c.state);
  if (!data.ok()) {
    counters_.snapshot_failures.fetch_add(1);
    Log(LogLevel::kWarning,
        fmt::format("actor '{}': no snapshot at seq {}: {}", c.id, c.head,
                    data.status().ToString()));
    return;
  }
  // Queued behind this turn's append, so the writer sees the events first;
  // if they fail, so does the snapshot.
  saves_in_flight_.fetch_add(1);
  store_.snapshots().Save(
      c.id, c.head, std::move(*data),
      [this, id = c.id, seq = c.head, policy](Status s) {
        if (!s.ok()) {
          counters_.snapshot_failures.fetch_add(1);
          Log(LogLevel::kWarning,
              fmt::format("actor '{}': snapshot at seq {} failed: {}", id, seq,
                          s.ToString()));
        } else {
          counters_.snapshots.fetch_add(1);
          if (policy.keep > 0 || policy.delete_covered_events) {
            maintenance_.Post([this, id, policy] { Prune(id, policy); });
          }
        }
        saves_in_flight_.fetch_sub(1);
      });
}

void SystemImpl::Prune(const std::string& id, const SnapshotPolicy& policy) {
  if (policy.keep > 0) {
    Result<size_t> r = store_.snapshots().Retain(id, policy.keep);
    if (!r.ok() && !r.status().IsStreamDeleted()) {
      Log(LogLevel::kWarning, fmt::format("actor '{}': snapshot retention: {}",
                                          id, r.status().ToString()));
      return;
    }
  }
  if (!policy.delete_covered_events) return;
  Result<std::vector<SnapshotInfo>> list = store_.snapshots().List(id);
  if (!list.ok()) return;
  std::vector<uint64_t> usable;
  for (const SnapshotInfo& s : *list) {
    if (s.checksum_ok) usable.push_back(s.seq);
  }
  // Only when the kept snapshots are all there: recovery must never depend
  // on fewer than the policy promised.
  size_t want = std::max<size_t>(policy.keep, 1);
  if (usable.size() < want) return;
  uint64_t oldest = *std::min_element(usable.begin(), usable.end());
  Status s = store_.journal().DeleteTo(id, oldest);
  // kBusy: a consumer has not read the events yet; a later snapshot's
  // retention deletes them once it has.
  if (!s.ok() && !s.IsStreamDeleted() && !s.IsBusy()) {
    Log(LogLevel::kWarning, fmt::format("actor '{}': deleting events to {}: {}",
                                        id, oldest, s.ToString()));
  }
}

void SystemImpl::PruneRevisions(const CellPtr& cell) {
  // In bulk, once kRevisionsPerDeletion older revisions have gathered: a
  // deletion is a write of its own (and flushes the index), which after
  // every change cost 2.5 times the changes' own throughput
  // (memoir-bench --scenario actors). One deletion queued per actor at a
  // time; it deletes up to the revision committed when it runs.
  const uint64_t committed = cell->committed_seq.load();
  if (committed < cell->pruned_to.load() + 1 + kRevisionsPerDeletion) return;
  if (cell->prune_queued.exchange(true)) return;
  maintenance_.Post([this, cell] {
    cell->prune_queued.store(false);
    const uint64_t newest = cell->committed_seq.load();
    if (newest <= 1) return;
    Status s = store_.journal().DeleteTo(cell->id, newest - 1);
    // kBusy: a consumer has not read them yet; a later deletion takes them
    // once it has.
    if (s.ok() || s.IsBusy()) cell->pruned_to.store(newest - 1);
    if (!s.ok() && !s.IsStreamDeleted() && !s.IsBusy() && !s.IsNotFound()) {
      Log(LogLevel::kWarning,
          fmt::format("actor '{}': deleting revisions before {}: {}", cell->id,
                      newest, s.ToString()));
    }
  });
}

void SystemImpl::RunDestroy(const CellPtr& cell, DestroyMessage& message) {
  Cell& c = *cell;
  // Queued behind every append of this actor, so those commit first.
  Status s = store_.journal().DeleteStream(c.id);
  if (s.IsStreamDeleted() || s.IsNotFound()) s = Status::OK();
  if (s.ok()) {
    c.state.reset();
    {
      std::lock_guard lock(c.state_mu);
      c.committed_state = {};
    }
    std::lock_guard lock(c.mu);
    if (c.phase == Phase::kQuarantined) counters_.quarantined.fetch_sub(1);
    c.phase = Phase::kDeleted;
    c.cause = Status::StreamDeleted(
        fmt::format("actor '{}' was destroyed (its stream is deleted)", c.id));
  }
  if (s.ok() && messages_) {
    // Its timers could never fire. (A crash before this leaves them
    // pending: they then fail as stuck, and a later Destroy removes them.)
    Result<std::vector<std::string>> keys = messages_->DropTimers(c.id);
    if (!keys.ok()) {
      Log(LogLevel::kWarning,
          fmt::format("actor '{}' was destroyed, but its timers were not "
                      "removed: {}",
                      c.id, keys.status().ToString()));
    } else if (!keys->empty()) {
      timers_.Cancel(c.id, *keys);
    }
  }
  Finish(message, s);
}

}  // namespace memoir::internal
