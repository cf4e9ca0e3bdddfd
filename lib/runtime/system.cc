// ActorSystem: creation, the registry, sending, passivation, shutdown,
// reads from outside the mailbox, and statistics. The actor's turn (what
// runs on the pool) is in turn.cc.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>

#include "memoir/clock.h"
#include "memoir/store.h"
#include "runtime/recovery.h"
#include "runtime/system_impl.h"

namespace memoir {

namespace {

size_t ThreadCount(const ActorSystemOptions& o) {
  if (o.threads > 0) return o.threads;
  return std::max<size_t>(2, std::thread::hardware_concurrency());
}

}  // namespace

Result<std::unique_ptr<ActorSystem>> ActorSystem::Create(
    Store& store, ActorSystemOptions options) {
  if (options.max_messages_per_turn == 0) {
    return Status::InvalidArgument("max_messages_per_turn must be at least 1");
  }
  if (options.threads > 1024) {
    return Status::InvalidArgument(
        fmt::format("threads = {} is more than 1024", options.threads));
  }
  return std::unique_ptr<ActorSystem>(
      std::make_unique<internal::SystemImpl>(store, std::move(options)));
}

namespace internal {

SystemImpl::SystemImpl(Store& store, ActorSystemOptions options)
    : store_(store),
      options_(std::move(options)),
      executor_(ThreadCount(options_)),
      maintenance_(1),
      dispatcher_(
          [this](const StoredMessage& m, Dispatcher::Done done) {
            DeliverDurable(m, std::move(done));
          },
          [this](std::chrono::milliseconds delay, std::function<void()> task) {
            if (delay.count() == 0) {
              executor_.Post(std::move(task));
            } else {
              executor_.At(SteadyClock::now() + delay, std::move(task));
            }
          }),
      timers_([this](const StoredTimer& t,
                     TimerWheel::Done done) { FireTimer(t, std::move(done)); },
              [this](SteadyClock::time_point when, std::function<void()> task) {
                // The wheel ticks on the pool, not on the deadline thread,
                // which a burst of due timers must not hold up; one tick
                // hands over every due timer, in due order.
                executor_.At(when, [this, task = std::move(task)]() mutable {
                  executor_.Post(std::move(task));
                });
              }) {
  if (options_.idle_timeout.count() > 0) SweepLater();
  LoadOutbox();
  LoadTimers();
}

SystemImpl::~SystemImpl() {
  Status s = Shutdown(std::chrono::seconds(30));
  if (!s.ok()) Log(LogLevel::kError, s.ToString());
}

Status SystemImpl::RegisterBehavior(std::unique_ptr<detail::Behavior> b) {
  std::lock_guard lock(behaviors_mu_);
  std::string name(b->type_name());
  Status valid = ValidateStreamName(name);
  if (!valid.ok()) {
    return Status::InvalidArgument(
        fmt::format("actor type name '{}': {}", name, valid.message()));
  }
  const RestartPolicy& r = b->restart_policy();
  if (r.max_restarts < 0 || !(r.backoff_factor >= 1.0) ||
      !std::isfinite(r.backoff_factor) || r.backoff_initial.count() < 0 ||
      r.backoff_max < r.backoff_initial || r.window.count() <= 0 ||
      r.window > std::chrono::hours(24 * 365)) {
    return Status::InvalidArgument(fmt::format(
        "actor type '{}': restart policy needs max_restarts >= 0, a finite "
        "backoff_factor >= 1, 0 <= backoff_initial <= backoff_max and a "
        "window between 1 ms and a year",
        name));
  }
  if (behaviors_.count(name)) {
    return Status::InvalidArgument(
        fmt::format("actor type '{}' is already registered", name));
  }
  behaviors_.emplace(std::move(name), std::move(b));
  // Messages and timers that waited for this type go now.
  dispatcher_.Wake();
  timers_.Wake();
  return Status::OK();
}

const detail::Behavior* SystemImpl::FindBehavior(std::string_view type) const {
  std::lock_guard lock(behaviors_mu_);
  auto it = behaviors_.find(type);
  return it == behaviors_.end() ? nullptr : it->second.get();
}

void SystemImpl::Log(LogLevel level, std::string_view message) const {
  if (!options_.logger) return;
  try {
    options_.logger(level, message);
  } catch (...) {
    // A logger that throws must not take the runtime down with it.
  }
}

void SystemImpl::Finish(detail::Message& message, const Status& status) {
  if (!status.ok() && !message.wants_reply()) {
    Log(LogLevel::kWarning, fmt::format("tell failed: {}", status.ToString()));
  }
  try {
    message.Finish(status);
  } catch (...) {
    Log(LogLevel::kError, fmt::format("an Ask callback threw {}",
                                      detail::DescribeCurrentException()));
  }
}

void SystemImpl::At(Deadline when, std::function<void()> fn) {
  executor_.At(when, std::move(fn));
}

Status SystemImpl::Refuse(detail::Message& message, Status status) {
  if (message.wants_reply()) Finish(message, status);
  return status;
}

namespace {
// The cause of the Then action running on this thread (CauseScope).
thread_local Uuid t_cause;
thread_local Uuid t_correlation;
}  // namespace

CauseScope::CauseScope(const Uuid& cause, const Uuid& correlation)
    : saved_cause_(t_cause), saved_correlation_(t_correlation) {
  t_cause = cause;
  t_correlation = correlation;
}

CauseScope::~CauseScope() {
  t_cause = saved_cause_;
  t_correlation = saved_correlation_;
}

Status SystemImpl::Send(std::string_view type, std::string_view id,
                        std::unique_ptr<detail::Message> message) {
  if (!t_cause.empty() && message->causation_id.empty()) {
    message->causation_id = t_cause;
    message->correlation_id = t_correlation;
  }
  const detail::Behavior* behavior = FindBehavior(type);
  if (behavior == nullptr) {
    return Refuse(*message, Status::InvalidArgument(fmt::format(
                                "actor type '{}' is not registered", type)));
  }
  return Enqueue(behavior, id, std::move(message));
}

SystemImpl::CellPtr SystemImpl::FindCell(std::string_view id) {
  std::lock_guard lock(map_mu_);
  auto it = cells_.find(std::string(id));
  return it == cells_.end() ? nullptr : it->second;
}

Status SystemImpl::Enqueue(const detail::Behavior* behavior,
                           std::string_view id,
                           std::unique_ptr<detail::Message> message) {
  Status valid = ValidateStreamName(id);
  if (!valid.ok()) {
    return Refuse(*message, Status::InvalidArgument(
                                fmt::format("actor id: {}", valid.message())));
  }
  for (;;) {
    // Inside the loop: an Ask that waited for room comes back here.
    if (closing_.load()) {
      return Refuse(*message, Status::Closed(fmt::format(
                                  "actor system is shut down; message to "
                                  "'{}' not delivered",
                                  id)));
    }
    CellPtr cell;
    bool over_cap = false;
    {
      std::lock_guard lock(map_mu_);
      auto [it, inserted] = cells_.try_emplace(std::string(id));
      if (inserted) it->second = std::make_shared<Cell>(it->first, behavior);
      cell = it->second;
      over_cap = inserted && options_.max_active_actors > 0 &&
                 cells_.size() > options_.max_active_actors;
    }
    if (cell->behavior != behavior) {
      return Refuse(*message,
                    Status::InvalidArgument(fmt::format(
                        "actor '{}' is running as type '{}', not '{}'", id,
                        cell->behavior->type_name(), behavior->type_name())));
    }
    Status refuse;
    bool run_here = false;
    {
      std::unique_lock lock(cell->mu);
      if (cell->retired) continue;  // passivated meanwhile: a fresh cell
      if (!message->control) {
        refuse = WaitForRoomLocked(*cell, *message, lock);
        if (cell->retired) continue;  // passivated while the Ask waited
      }
      cell->last_used = SteadyClock::now();
      if (!refuse.ok()) {
        // Not queued: answered below.
      } else if (cell->phase == Phase::kQuarantined && !message->control) {
        refuse = cell->cause;
      } else {
        // A caller about to block on the answer lends its thread: the
        // handling runs here instead of waiting for a pool thread, saving a
        // hop. Only for an active, healthy actor (no recovery on the
        // caller's thread) and never on a runtime thread (no nested turns).
        // Replies and callbacks are still released by the pool.
        run_here = message->caller_waits && !cell->scheduled &&
                   !cell->waiting_for_slot && !cell->rebuild_pending &&
                   cell->phase == Phase::kActive &&
                   !Executor::OnRuntimeThread();
        cell->mailbox.push_back(std::move(message));
        if (run_here) {
          cell->scheduled = true;
        } else {
          ScheduleLocked(cell);
        }
      }
    }
    if (!refuse.ok()) refuse = Refuse(*message, std::move(refuse));
    if (run_here) InlineTurn(cell);
    if (over_cap) {
      // Evict down to 90% of the cap at once so that eviction scans are
      // amortised over many activations.
      size_t keep =
          options_.max_active_actors - options_.max_active_actors / 10;
      Passivate(SteadyClock::time_point::min(), std::max<size_t>(keep, 1));
    }
    return refuse;
  }
}

Status SystemImpl::WaitForRoomLocked(Cell& cell, const detail::Message& message,
                                     std::unique_lock<std::mutex>& lock) {
  const size_t capacity = options_.mailbox_capacity;
  auto full = [&] { return cell.mailbox.size() + cell.in_turn >= capacity; };
  if (capacity == 0 || !full()) return Status::OK();
  if (!message.wants_reply() || Executor::OnRuntimeThread()) {
    counters_.mailbox_refusals.fetch_add(1);
  }
  if (!message.wants_reply()) {
    return Status::Busy(fmt::format(
        "actor '{}': mailbox full (mailbox_capacity {}); the command was not "
        "queued. Retry later, use Ask (which waits for room up to its "
        "timeout), or raise ActorSystemOptions::mailbox_capacity",
        cell.id, capacity));
  }
  if (Executor::OnRuntimeThread()) {
    // The pool thread we would block may be the one the actor needs.
    return Status::Busy(fmt::format(
        "actor '{}': mailbox full (mailbox_capacity {}); the command was not "
        "queued. An Ask from one of the system's threads (a Then action or "
        "an Ask callback) does not wait for room; retry later or raise "
        "ActorSystemOptions::mailbox_capacity",
        cell.id, capacity));
  }
  counters_.mailbox_waits.fetch_add(1);
  const auto deadline = message.deadline;
  // Shutdown sets closing_ before notifying under cell.mu, so the check
  // below cannot miss it.
  while (full() && !cell.retired && !closing_.load()) {
    if (deadline == detail::Message::Clock::time_point::max()) {
      cell.room.wait(lock);
    } else if (cell.room.wait_until(lock, deadline) ==
                   std::cv_status::timeout &&
               full() && !cell.retired && !closing_.load()) {
      counters_.mailbox_refusals.fetch_add(1);
      return Status::Timeout(fmt::format(
          "actor '{}': mailbox stayed full (mailbox_capacity {}) until the "
          "Ask's deadline; the command was not queued and will not run. "
          "Give the Ask a longer timeout, slow the senders down, or raise "
          "ActorSystemOptions::mailbox_capacity",
          cell.id, capacity));
    }
  }
  if (closing_.load() && !cell.retired) {
    return Status::Closed(fmt::format(
        "actor system is shut down; message to '{}' not delivered", cell.id));
  }
  return Status::OK();
}

void SystemImpl::RoomMadeLocked(Cell& cell) {
  if (options_.mailbox_capacity > 0) cell.room.notify_all();
}

void SystemImpl::ScheduleLocked(const CellPtr& cell) {
  if (cell->scheduled || cell->waiting_for_slot) return;
  cell->scheduled = true;
  executor_.Post([this, cell] { RunTurn(cell); });
}

void SystemImpl::Schedule(const CellPtr& cell) {
  std::lock_guard lock(cell->mu);
  ScheduleLocked(cell);
}

bool SystemImpl::TryRetireLocked(Cell& cell) {
  if (cell.scheduled || cell.waiting_for_slot || !cell.mailbox.empty() ||
      !cell.completions.empty() || cell.in_flight > 0 || cell.rebuild_pending ||
      cell.phase == Phase::kQuarantined || cell.phase == Phase::kRestarting ||
      cell.phase == Phase::kRecovering) {
    return false;
  }
  cell.retired = true;
  return true;
}

void SystemImpl::Passivate(SteadyClock::time_point idle_before, size_t keep) {
  std::vector<CellPtr> retired;
  {
    std::lock_guard lock(map_mu_);
    std::vector<std::pair<SteadyClock::time_point, std::string>> idle;
    for (auto& [id, cell] : cells_) {
      std::lock_guard cell_lock(cell->mu);
      if (cell->last_used < idle_before && TryRetireLocked(*cell)) {
        retired.push_back(cell);
      } else if (keep > 0) {
        idle.emplace_back(cell->last_used, id);
      }
    }
    for (const CellPtr& c : retired) cells_.erase(c->id);
    if (keep > 0 && cells_.size() > keep) {
      std::sort(idle.begin(), idle.end());
      for (auto& [used, id] : idle) {
        if (cells_.size() <= keep) break;
        auto it = cells_.find(id);
        std::lock_guard cell_lock(it->second->mu);
        if (TryRetireLocked(*it->second)) {
          retired.push_back(it->second);
          cells_.erase(it);
        }
      }
    }
  }
  for (const CellPtr& c : retired) {
    if (c->phase == Phase::kActive) counters_.passivations.fetch_add(1);
  }
  // The cells' states are freed here, outside the locks, as the last
  // references go.
}

void SystemImpl::RetireIfStopped(const CellPtr& cell) {
  std::lock_guard lock(map_mu_);
  auto it = cells_.find(cell->id);
  if (it == cells_.end() || it->second != cell) return;
  std::lock_guard cell_lock(cell->mu);
  // Not while a reply waits for its commit, a message waits, or a restart
  // or quarantine is under way: a later turn tries again.
  if (!TryRetireLocked(*cell)) return;
  if (cell->phase == Phase::kActive) counters_.passivations.fetch_add(1);
  cells_.erase(it);
}

void SystemImpl::SweepLater() {
  auto period =
      std::max(options_.idle_timeout / 2, std::chrono::milliseconds(5));
  executor_.At(SteadyClock::now() + period, [this] {
    if (closing_.load()) return;
    Passivate(SteadyClock::now() - options_.idle_timeout, 0);
    SweepLater();
  });
}

Result<detail::CommittedBox> SystemImpl::CommittedState(std::string_view type,
                                                        std::string_view id) {
  const detail::Behavior* behavior = FindBehavior(type);
  if (behavior == nullptr) {
    return Status::InvalidArgument(
        fmt::format("actor type '{}' is not registered", type));
  }
  Status valid = ValidateStreamName(id);
  if (!valid.ok()) {
    return Status::InvalidArgument(
        fmt::format("actor id: {}", valid.message()));
  }
  if (CellPtr cell = FindCell(id)) {
    {
      std::lock_guard lock(cell->mu);
      if (cell->phase == Phase::kQuarantined) return cell->cause;
    }
    std::lock_guard lock(cell->state_mu);
    if (cell->committed_state.state) return cell->committed_state;
  }
  // Not in memory: rebuild a private copy without activating the actor.
  Result<Recovered> r = Recover(store_, *behavior, id);
  if (!r.ok()) return r.status();
  if (r->deleted) {
    return Status::StreamDeleted(fmt::format("actor '{}' was destroyed", id));
  }
  return detail::CommittedBox{
      std::shared_ptr<const detail::StateBox>(std::move(r->state)), r->seq};
}

Status SystemImpl::Release(std::string_view id) {
  CellPtr cell = FindCell(id);
  if (cell) {
    std::lock_guard lock(cell->mu);
    if (cell->phase == Phase::kQuarantined) {
      cell->phase = Phase::kInactive;
      cell->cause = Status::OK();
      cell->restarts.clear();
      counters_.quarantined.fetch_sub(1);
      if (!cell->mailbox.empty()) ScheduleLocked(cell);
      Log(LogLevel::kInfo,
          fmt::format("actor '{}' released from quarantine", id));
      // Its durable messages and timers, held while it was quarantined, go
      // now.
      dispatcher_.Wake();
      timers_.Wake();
      return Status::OK();
    }
  }
  return Status::NotFound(fmt::format("actor '{}' is not quarantined", id));
}

std::future<Status> SystemImpl::Destroy(std::string_view type,
                                        std::string_view id) {
  auto message = std::make_unique<DestroyMessage>();
  std::future<Status> future = message->promise.get_future();
  // A refusal is delivered to the future too.
  static_cast<void>(Send(type, id, std::move(message)));
  return future;
}

ActorInfo SystemImpl::Info(std::string_view id) {
  ActorInfo info;
  CellPtr cell = FindCell(id);
  if (!cell) return info;
  std::lock_guard lock(cell->mu);
  info.phase = cell->phase;
  info.cause = cell->cause;
  info.committed_seq = cell->committed_seq.load();
  info.pending_seq = cell->pending_seq.load();
  info.last_recovery_ms = cell->last_recovery_ms.load();
  return info;
}

// Quiet(true): every mailbox handled. Quiet(false): no turn running and
// nothing in the writer's hands, so no callback can reach this object once
// the executors stop.
bool SystemImpl::Quiet(bool mailboxes) {
  if (saves_in_flight_.load() > 0) return false;
  std::lock_guard lock(map_mu_);
  for (auto& [id, cell] : cells_) {
    std::lock_guard cell_lock(cell->mu);
    if (cell->scheduled || !cell->completions.empty() || cell->in_flight > 0) {
      return false;
    }
    if (mailboxes &&
        (cell->waiting_for_slot || cell->phase == Phase::kRestarting ||
         (!cell->mailbox.empty() && cell->phase != Phase::kQuarantined))) {
      return false;
    }
  }
  return true;
}

// Whatever is still queued will not run: answer it now.
void SystemImpl::AnswerQueued() {
  std::vector<CellPtr> cells;
  {
    std::lock_guard lock(map_mu_);
    for (auto& [id, cell] : cells_) cells.push_back(cell);
  }
  for (const CellPtr& cell : cells) {
    std::deque<std::unique_ptr<detail::Message>> left;
    {
      std::lock_guard lock(cell->mu);
      left.swap(cell->mailbox);
      RoomMadeLocked(*cell);
    }
    for (auto& m : left) {
      Finish(*m, Status::Closed("actor system shut down before handling it"));
    }
  }
}

Status SystemImpl::Shutdown(std::chrono::milliseconds timeout) {
  if (Executor::OnRuntimeThread()) {
    // The calling turn would wait for itself, then join its own thread.
    return Status::InvalidArgument(
        "ActorSystem::Shutdown was called on one of the system's own threads "
        "(a Then action, an Ask callback or a deadline); call it from "
        "another thread");
  }
  std::lock_guard shutdown_lock(shutdown_mu_);
  if (shut_down_) return Status::OK();
  closing_.store(true);
  // Waiting durable messages stay in the outbox for the next start. Before
  // the executor stops: after that, the dispatcher's tasks would run on
  // the calling thread, inside its lock.
  // Routes first: they write messages for the dispatcher.
  routes_->Close();
  dispatcher_.Stop();
  timers_.Stop();
  {
    // Asks waiting for room in a full mailbox give up with kClosed.
    std::lock_guard lock(map_mu_);
    for (auto& [id, cell] : cells_) {
      std::lock_guard cell_lock(cell->mu);
      RoomMadeLocked(*cell);
    }
  }
  auto deadline = SteadyClock::now() + timeout;
  bool drained = true;
  {
    std::unique_lock lock(idle_mu_);
    // Turns notify idle_cv_ when they end; the period bounds the wait for
    // a notification that raced with the check.
    while (!Quiet(/*mailboxes=*/true)) {
      if (SteadyClock::now() >= deadline) {
        drained = false;
        break;
      }
      idle_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  if (!drained) {
    AnswerQueued();
    // Appends and saves already submitted finish in bounded time (the
    // writer completes every request, with an error if it must); their
    // callbacks hold this object, so wait for them without a limit.
    std::unique_lock lock(idle_mu_);
    while (!Quiet(/*mailboxes=*/false)) {
      idle_cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  executor_.Stop();
  maintenance_.Stop();
  shut_down_ = true;
  if (drained) return Status::OK();
  return Status::Timeout(fmt::format(
      "actor system did not drain within {} ms; unhandled messages were "
      "answered with kClosed",
      timeout.count()));
}

void SystemImpl::RecordRecovery(double ms) {
  counters_.recoveries.fetch_add(1);
  std::lock_guard lock(recovery_times_mu_);
  constexpr size_t kRing = 4096;
  if (recovery_times_.size() < kRing) {
    recovery_times_.push_back(ms);
  } else {
    recovery_times_[recovery_times_next_] = ms;
  }
  recovery_times_next_ = (recovery_times_next_ + 1) % kRing;
}

RuntimeStats SystemImpl::Stats() const {
  RuntimeStats s;
  s.commands = counters_.commands.load();
  s.rejections = counters_.rejections.load();
  s.failures = counters_.failures.load();
  s.events = counters_.events.load();
  s.appends = counters_.appends.load();
  s.commit_failures = counters_.commit_failures.load();
  s.recoveries = counters_.recoveries.load();
  s.recovery_failures = counters_.recovery_failures.load();
  s.snapshot_skips = counters_.snapshot_skips.load();
  s.restarts = counters_.restarts.load();
  s.quarantined = counters_.quarantined.load();
  s.snapshots = counters_.snapshots.load();
  s.snapshot_failures = counters_.snapshot_failures.load();
  s.passivations = counters_.passivations.load();
  s.mailbox_waits = counters_.mailbox_waits.load();
  s.mailbox_refusals = counters_.mailbox_refusals.load();
  const DispatchCounters d = dispatcher_.Counters();
  s.messages_sent = counters_.messages_sent.load();
  s.messages_delivered = d.delivered;
  s.messages_duplicates = d.duplicates;
  s.messages_retries = d.retries;
  s.messages_waiting = d.waiting;
  s.messages_stuck = d.stuck;
  s.messages_dropped = d.dropped;
  const TimerCounters t = timers_.Counters();
  s.timers_started = counters_.timers_started.load();
  s.refusals_returned = counters_.refusals_returned.load();
  s.timers_pending = t.pending;
  s.timers_fired = t.fired;
  s.timers_dropped = t.dropped;
  s.timers_stuck = t.stuck;
  s.timers_firing = t.firing;
  if (d.oldest_sent_ns != 0) {
    s.oldest_waiting_ms = std::max(
        0.0, double(Clock::System()->NowNanos() - d.oldest_sent_ns) / 1e6);
  }
  {
    std::lock_guard lock(map_mu_);
    s.active = cells_.size();
  }
  {
    std::lock_guard lock(recovery_mu_);
    s.recoveries_peak = recoveries_peak_;
  }
  std::vector<double> times;
  {
    std::lock_guard lock(recovery_times_mu_);
    times = recovery_times_;
  }
  if (!times.empty()) {
    std::sort(times.begin(), times.end());
    auto at = [&](double q) {
      return times[std::min(times.size() - 1,
                            static_cast<size_t>(q * times.size()))];
    };
    s.recovery_p50_ms = at(0.50);
    s.recovery_p99_ms = at(0.99);
    s.recovery_max_ms = times.back();
  }
  return s;
}

}  // namespace internal
}  // namespace memoir
