// Projection (memoir/projection.h): a Subscription whose handler applies
// each batch to a ReadModel and commits the writes with the checkpoint
// through ProjectionStore::Commit, the checkpoint store being the
// projection's own record.
#include "memoir/projection.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace memoir {
namespace {

// Rows removed per step when sweeping replaced versions.
constexpr size_t kSweepStep = 10'000;

// The projections running in this process, by store path and name.
std::mutex& RunningMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Running() {
  static auto* running = new std::set<std::string>();
  return *running;
}

class Model final : public ReadModel {
 public:
  Model(ProjectionSnapshot* snapshot, const std::vector<std::string>& tables,
        std::string_view name)
      : snapshot_(snapshot), tables_(tables), name_(name) {}

  Result<std::optional<std::string>> Get(std::string_view table,
                                         std::string_view key) override {
    Status s = Check(table);
    if (!s.ok()) return s;
    auto it = writes_.find(Key(table, key));
    if (it != writes_.end()) return it->second.value;
    return snapshot_->Get(table, key);
  }
  Status Put(std::string_view table, std::string_view key,
             std::string_view value) override {
    Status s = Check(table);
    if (!s.ok()) return s;
    writes_[Key(table, key)] = ProjectionWrite{
        std::string(table), std::string(key), std::string(value)};
    return s;
  }
  Status Delete(std::string_view table, std::string_view key) override {
    Status s = Check(table);
    if (!s.ok()) return s;
    writes_[Key(table, key)] =
        ProjectionWrite{std::string(table), std::string(key), std::nullopt};
    return s;
  }

  std::vector<ProjectionWrite> Take() {
    std::vector<ProjectionWrite> out;
    out.reserve(writes_.size());
    for (auto& [key, write] : writes_) out.push_back(std::move(write));
    writes_.clear();
    return out;
  }

 private:
  static std::string Key(std::string_view table, std::string_view key) {
    std::string k(table);
    k.push_back('\0');
    k.append(key);
    return k;
  }
  Status Check(std::string_view table) const {
    if (std::find(tables_.begin(), tables_.end(), table) != tables_.end()) {
      return Status::OK();
    }
    return Status::InvalidArgument(
        fmt::format("projection '{}' has no table '{}' (declare it in "
                    "ProjectionOptions::tables)",
                    name_, table));
  }

  ProjectionSnapshot* snapshot_;
  const std::vector<std::string>& tables_;
  std::string_view name_;
  std::map<std::string, ProjectionWrite> writes_;
};

class ProjectionImpl;

// The subscription's checkpoints: the projection's own record.
class RecordCheckpoints final : public CheckpointStore {
 public:
  explicit RecordCheckpoints(ProjectionImpl* owner) : owner_(owner) {}
  Result<uint64_t> Load(std::string_view name) override;
  Status Save(std::string_view name, uint64_t position) override;
  // Parked events live with the store's checkpoints.
  bool SupportsParking() const override { return true; }
  Status Park(std::string_view name, const ParkedEvent& event) override;
  Result<std::vector<ParkedEvent>> Parked(std::string_view name) override;
  Status Unpark(std::string_view name, uint64_t position) override;

 private:
  ProjectionImpl* owner_;
};

class ProjectionImpl final : public Projection {
  friend class RecordCheckpoints;

 public:
  ProjectionImpl(Store& store, std::unique_ptr<ProjectionStore> tables,
                 std::unique_ptr<CheckpointStore> parking,
                 ProjectionOptions options, Apply apply, std::string key,
                 const ProjectionVersion& record)
      : store_(store),
        tables_(std::move(tables)),
        parking_(std::move(parking)),
        options_(std::move(options)),
        apply_(std::move(apply)),
        running_key_(std::move(key)),
        checkpoints_(this),
        committed_(record.checkpoint),
        active_(record.active) {}

  ~ProjectionImpl() override { (void)Stop(); }

  // Starts the subscription. REQUIRES: control_mu_ held (or not yet
  // shared), not stopped, no subscription running.
  Status Launch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return Closed("start");
      if (sub_) return Status::OK();
    }
    // A version already at the head (an empty journal, a checkpoint set
    // there) becomes active now: no batch may ever come to do it.
    if (!Stats().active) {
      Result<uint64_t> head = store_.journal().LastPosition();
      if (!head.ok()) return head.status();
      const uint64_t at = committed();
      if (at >= *head) {
        Status s = CommitBatch({}, at, at, /*caught_up=*/true);
        if (!s.ok()) {
          return s.WithContext(fmt::format(
              "activating projection '{}' at the head", options_.name));
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      halting_ = false;
    }
    // Attached now, the subscription's first batch waits for a detach.
    Result<uint64_t> head = store_.journal().LastPosition();
    if (head.ok() && committed() >= *head) {
      SweepStep();
      TryAttach();
    }
    SubscriptionOptions sub;
    sub.name = options_.name;
    sub.filter = options_.filter;
    sub.checkpoints = &checkpoints_;
    sub.max_batch = options_.max_batch;
    sub.safety_poll = options_.safety_poll;
    sub.on_failure = options_.on_failure;
    // The projection's own commits carry the checkpoint; the subscription
    // only saves it over stretches without matching events.
    sub.checkpoint_every_events = SIZE_MAX;
    sub.checkpoint_every = std::chrono::milliseconds(500);
    // Its handler waits (attached, throttled, for its own commit): never
    // inside a read (SubscriptionOptions::zero_copy).
    sub.zero_copy = false;
    Result<std::unique_ptr<Subscription>> started = Subscription::Start(
        store_, std::move(sub),
        [this](const Batch& batch) { return Handle(batch); });
    if (!started.ok()) {
      DetachInline();
      return started.status().WithContext(
          fmt::format("projection '{}'", options_.name));
    }
    std::lock_guard<std::mutex> lock(mu_);
    sub_ = std::move(started).value();
    paused_ = false;
    return Status::OK();
  }

  Status Stop() override {
    std::lock_guard<std::mutex> control(control_mu_);
    Status s = Halt(/*pause=*/false);
    std::lock_guard<std::mutex> lock(RunningMutex());
    if (registered_) Running().erase(running_key_);
    registered_ = false;
    return s;
  }
  Status Pause() override {
    std::lock_guard<std::mutex> control(control_mu_);
    return Halt(/*pause=*/true);
  }

  Status Resume() override {
    std::lock_guard<std::mutex> control(control_mu_);
    return Launch();
  }

  Status Reset() override {
    return WhilePaused([&] {
      Status s = tables_->Reset(options_.name, options_.version);
      if (s.ok()) SetCommitted(0);
      return s;
    });
  }

  Status SetCheckpoint(uint64_t position) override {
    return WhilePaused([&] {
      Status s =
          tables_->SetCheckpoint(options_.name, options_.version, position);
      if (s.ok()) SetCommitted(position);
      return s;
    });
  }

  Status WaitFor(uint64_t position,
                 std::chrono::milliseconds timeout) override {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout;
    // The subscription may attach inline while we wait on it, and then
    // stops moving (the writer moves the checkpoint): wait on it in
    // slices and look again.
    constexpr auto kSlice = std::chrono::milliseconds(50);
    for (;;) {
      std::shared_ptr<Subscription> sub;
      std::chrono::milliseconds slice{0};
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Attached inline, the writer moves the checkpoint; the
        // subscription waits for a detach and knows nothing of it.
        cv_.wait_until(lock, deadline,
                       [&] { return committed_ >= position || !attached_; });
        if (committed_ >= position) return Status::OK();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(deadline - Clock::now(), Clock::duration::zero()));
        if (attached_ || left.count() == 0) {
          return Status::Timeout(
              fmt::format("projection '{}' is at position {}, not yet at {}",
                          options_.name, committed_, position));
        }
        sub = sub_;
        if (!sub) {
          return Status::Closed(fmt::format(
              "projection '{}' is {} at position {}, before {}", options_.name,
              stopped_ ? "stopped" : "paused", committed_, position));
        }
        slice = std::min(left, std::chrono::milliseconds(kSlice));
      }
      Status s = sub->WaitFor(position, slice);
      if (s.ok()) return s;
      if (!s.IsTimeout()) {
        return s.WithContext(fmt::format("projection '{}'", options_.name));
      }
    }
  }

  Status WaitAttached(std::chrono::milliseconds timeout) override {
    if (options_.mode != ProjectionOptions::Mode::kInline) {
      return Status::InvalidArgument(fmt::format(
          "projection '{}' runs in mode kAsync: it never attaches to the "
          "writer",
          options_.name));
    }
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::max(timeout, {});
    // Wakes in slices to look at the subscription, whose failure does not
    // reach cv_.
    constexpr auto kSlice = std::chrono::milliseconds(50);
    for (;;) {
      std::shared_ptr<Subscription> sub;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (attached_) return Status::OK();
        sub = sub_;
      }
      // Its own lock, not under mu_.
      if (sub) {
        if (Status failed = sub->Stats().cause; !failed.ok()) {
          return failed.WithContext(
              fmt::format("projection '{}'", options_.name));
        }
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (attached_) return Status::OK();
      if (stopped_ || paused_ || !sub_) {
        return Status::Closed(fmt::format(
            "projection '{}' is {} at position {}: it will not attach",
            options_.name, stopped_ ? "stopped" : "paused", committed_));
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        return Status::Timeout(fmt::format(
            "projection '{}' is not attached to the writer (at position {}; "
            "{})",
            options_.name, committed_,
            stats_.detached_because.ok()
                ? std::string("it has not caught up with the head yet")
                : "last detached because: " +
                      stats_.detached_because.ToString()));
      }
      cv_.wait_until(lock, std::min<Clock::time_point>(deadline, now + kSlice));
    }
  }

  ProjectionStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    ProjectionStats out = stats_;
    out.version = options_.version;
    out.active = active_;
    out.paused = paused_;
    out.checkpoint = committed_;
    if (sub_) {
      SubscriptionStats s = sub_->Stats();
      out.state = s.state;
      out.head = s.head;
      out.retries = s.retries;
      out.skipped = s.skipped;
      out.parked = s.parked;
      out.gone = s.gone;
      out.lag_seconds = s.lag_seconds;
      out.cause = s.cause;
      last_ = s;
    } else {
      out.state = SubscriptionStats::State::kStopped;
      out.head = last_.head;
      out.retries = last_.retries;
      out.skipped = last_.skipped;
      out.parked = last_.parked;
      out.gone = last_.gone;
      out.cause = last_.cause;
    }
    out.attached = attached_;
    if (attached_) {
      // The subscription sleeps while the writer applies the events.
      out.state = SubscriptionStats::State::kLive;
      out.lag_seconds = 0;
    }
    out.head = std::max(out.head, out.checkpoint);
    out.lag_events = out.head - out.checkpoint;
    out.lag_seconds = out.lag_events == 0 ? 0 : last_.lag_seconds;
    return out;
  }

  // RecordCheckpoints' side.
  uint64_t committed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }
  Status SaveCheckpoint(uint64_t position) {
    uint64_t from = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Attached, the record is the writer's to move.
      if (attached_) return Status::OK();
      from = committed_;
      if (position <= from && active_) return Status::OK();
    }
    Result<uint64_t> head = store_.journal().LastPosition();
    if (!head.ok()) return head.status();
    position = std::max(position, from);
    if (position == from && position < *head) return Status::OK();
    Status s = CommitBatch({}, from, position, position >= *head);
    SweepStep();
    // A skipped or parked event at the head ends here, not in Handle.
    if (s.ok() && position >= *head) TryAttach();
    return s;
  }

 private:
  Status Closed(std::string_view what) const {
    return Status::Closed(
        fmt::format("cannot {} projection '{}': stopped", what, options_.name));
  }

  // Stops the subscription (saving its checkpoint); keeps the last stats.
  Status Halt(bool pause) {
    std::shared_ptr<Subscription> sub;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return Status::OK();
      sub = std::move(sub_);
      if (pause) {
        paused_ = true;
      } else {
        stopped_ = true;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      halting_ = true;  // ends a commit_interval wait, stops attaching
    }
    cv_.notify_all();
    DetachInline();
    if (!sub) return Status::OK();
    Status s = sub->Stop();
    std::lock_guard<std::mutex> lock(mu_);
    last_ = sub->Stats();
    return s;
  }

  template <typename F>
  Status WhilePaused(F&& change) {
    std::lock_guard<std::mutex> control(control_mu_);
    bool was_running = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return Closed("change");
      was_running = sub_ != nullptr;
    }
    Status s = Halt(/*pause=*/true);
    if (!s.ok()) return s;
    s = change();
    if (!s.ok()) return s;
    return was_running ? Launch() : Status::OK();
  }

  void SetCommitted(uint64_t position) {
    std::lock_guard<std::mutex> lock(mu_);
    committed_ = position;
  }

  Status CommitBatch(std::vector<ProjectionWrite> writes, uint64_t from,
                     uint64_t to, bool caught_up,
                     std::span<const uint64_t> unpark = {}) {
    bool activate = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      activate = caught_up && !active_;
    }
    Status s = tables_->Commit(options_.name, options_.version, from, to,
                               writes, activate, unpark);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    committed_ = to;
    ++stats_.commits;
    if (activate) {
      active_ = true;
      sweep_ = true;
    }
    return s;
  }

  // Removes a step of a replaced version's rows; a failure only leaves
  // them for the next batch.
  void SweepStep() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!sweep_) return;
    }
    Result<size_t> removed = tables_->Sweep(options_.name, kSweepStep);
    if (removed.ok() && *removed == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      sweep_ = false;
    }
  }

  Status RetryParked() override {
    std::shared_ptr<Subscription> sub;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sub = sub_;
    }
    if (!sub) return Closed("retry the parked events of");
    // The subscription's thread retries them between batches: release it
    // from waiting for a detach, and keep it detached until done.
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++retrying_;
    }
    DetachInline();
    Status s = sub->RetryParked().WithContext(
        fmt::format("projection '{}'", options_.name));
    std::lock_guard<std::mutex> lock(mu_);
    --retrying_;
    return s;
  }

  Result<std::vector<ParkedEvent>> Parked() override {
    return parking_->Parked(ParkingName());
  }

  CheckpointStore& parking() { return *parking_; }
  std::string ParkingName() const {
    return ProjectionParkingName(options_.name, options_.version);
  }

  Status Handle(const Batch& batch) {
    if (batch.parked_retry) {
      DetachInline();
    } else {
      // Attached inline, the writer applies the events: wait until it
      // detaches (by itself, or for Stop, Pause and the like).
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !attached_; });
    }
    // Events the writer applied inline are in the tables already.
    const uint64_t done = batch.parked_retry ? 0 : committed();
    if (!batch.parked_retry && batch.scanned_to <= done) return Status::OK();
    SweepStep();
    Result<std::unique_ptr<ProjectionSnapshot>> snapshot =
        tables_->ReadVersion(options_.name, options_.version);
    if (!snapshot.ok()) return snapshot.status();
    Model model(snapshot->get(), options_.tables, options_.name);
    uint64_t applied = 0;
    for (const EventView& e : batch.events) {
      if (e.position <= done) continue;
      Status s = apply_(model, e);
      if (!s.ok()) return s;
      ++applied;
    }
    snapshot->reset();  // end the read transaction before the commit waits
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.applied += applied;
    }
    if (batch.parked_retry) {
      // An old event: its writes and its unparking in one transaction;
      // the checkpoint stays.
      std::vector<uint64_t> unpark;
      for (const EventView& e : batch.events) unpark.push_back(e.position);
      const uint64_t at = committed();
      return tables_->Commit(options_.name, options_.version, at, at,
                             model.Take(), false, unpark);
    }
    // Reaching the head activates a new version in this same commit (a
    // batch that ends exactly at the head is not marked live).
    bool caught_up = batch.live;
    if (!caught_up) {
      Result<uint64_t> head = store_.journal().LastPosition();
      caught_up = head.ok() && batch.scanned_to >= *head;
    }
    // An event parked before a crash and applied now must not stay parked
    // (RetryParked would apply it again): unpark it in the same commit.
    std::vector<uint64_t> unpark;
    if (options_.on_failure.then == OnFailure::kParkEvent ||
        options_.on_failure.then == OnFailure::kParkStream) {
      for (const EventView& e : batch.events) {
        if (e.position > done) unpark.push_back(e.position);
      }
    }
    Status s =
        CommitBatch(model.Take(), done, batch.scanned_to, caught_up, unpark);
    if (s.ok() && caught_up &&
        options_.mode == ProjectionOptions::Mode::kInline) {
      SweepStep();  // a version activated now sweeps its predecessor first
      if (TryAttach()) return s;
    }
    if (s.ok() && batch.live) Throttle();
    return s;
  }

  // Attaches the projection inline (mode kInline) when nothing stands in
  // the way: it is active, at rest, not sweeping, not retrying parked
  // events. True when attached. Called by the subscription's thread or,
  // before it runs, by Launch.
  bool TryAttach() {
    if (options_.mode != ProjectionOptions::Mode::kInline) return false;
    std::lock_guard<std::mutex> attach(attach_mu_);
    uint64_t at = 0;
    std::unique_ptr<InlineAttachment> stale;  // one that detached itself
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (attached_ || halting_ || stopped_ || retrying_ > 0 || !active_ ||
          sweep_) {
        return false;
      }
      at = committed_;
      stale = std::move(attachment_);
    }
    stale.reset();
    // A parked stream's later events must wait behind it, which only the
    // subscription knows how to do: stay on this thread until retried.
    if (options_.on_failure.then == OnFailure::kParkStream) {
      Result<std::vector<ParkedEvent>> parked = Parked();
      if (!parked.ok() || !parked->empty()) return false;
    }
    InlineProjection spec;
    spec.name = options_.name;
    spec.version = options_.version;
    spec.tables = options_.tables;
    spec.matches = [filter = options_.filter](const EventView& e) {
      return filter.Matches(e);
    };
    spec.apply = apply_;
    spec.max_events = options_.inline_max_events;
    // While attached_ holds, the writer alone moves the checkpoint.
    spec.committed = [this](uint64_t checkpoint, uint64_t applied) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (attached_) committed_ = checkpoint;
        stats_.applied += applied;
        ++stats_.commits;
      }
      cv_.notify_all();
    };
    spec.detached = [this](const Status& why, uint64_t checkpoint) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (attached_) committed_ = checkpoint;
        attached_ = false;
        ++stats_.detaches;
        stats_.detached_because = why;
      }
      cv_.notify_all();
    };
    Result<std::unique_ptr<InlineAttachment>> attached =
        tables_->AttachInline(std::move(spec), at);
    if (!attached.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.detached_because = attached.status();
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    attachment_ = std::move(attached).value();
    attached_ = true;
    cv_.notify_all();  // WaitAttached
    return true;
  }

  // Detaches the projection from the writer, if attached: afterwards the
  // writer no longer moves its record and committed_ is what it holds.
  void DetachInline() {
    std::lock_guard<std::mutex> attach(attach_mu_);
    std::unique_ptr<InlineAttachment> attachment;
    {
      std::lock_guard<std::mutex> lock(mu_);
      attachment = std::move(attachment_);
    }
    if (!attachment) return;
    const uint64_t checkpoint = attachment->Detach();
    {
      std::lock_guard<std::mutex> lock(mu_);
      // If it detached itself first, its callback set the checkpoint, and
      // this thread or the subscription's may have moved it on since.
      if (attached_) committed_ = checkpoint;
      attached_ = false;
    }
    cv_.notify_all();
  }

  // After a live commit: lets appends accumulate for up to commit_interval
  // so that the next commit carries many; Stop and Pause end the wait.
  void Throttle() {
    if (options_.commit_interval.count() <= 0) return;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.commit_interval, [&] { return halting_; });
  }

  Store& store_;
  const std::unique_ptr<ProjectionStore> tables_;
  const std::unique_ptr<CheckpointStore> parking_;
  const ProjectionOptions options_;
  const Apply apply_;
  const std::string running_key_;
  RecordCheckpoints checkpoints_;
  bool registered_ = true;  // guarded by RunningMutex()

  // Serialises Stop, Pause, Resume, Reset and SetCheckpoint, which stop
  // and start the subscription; taken before mu_, never by the
  // subscription's thread.
  std::mutex control_mu_;
  // Serialises attaching and detaching inline; taken before mu_, never
  // by the writer thread.
  std::mutex attach_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool halting_ = false;  // Halt is stopping the subscription
  std::unique_ptr<InlineAttachment> attachment_;
  bool attached_ = false;  // the writer applies the events
  int retrying_ = 0;       // RetryParked calls in progress
  std::shared_ptr<Subscription> sub_;
  uint64_t committed_;
  bool active_;
  bool paused_ = false;
  bool stopped_ = false;
  bool sweep_ = true;
  ProjectionStats stats_;
  mutable SubscriptionStats last_;
};

Result<uint64_t> RecordCheckpoints::Load(std::string_view /*name*/) {
  return owner_->committed();
}
Status RecordCheckpoints::Save(std::string_view /*name*/, uint64_t position) {
  return owner_->SaveCheckpoint(position);
}
Status RecordCheckpoints::Park(std::string_view name,
                               const ParkedEvent& event) {
  (void)name;
  return owner_->parking().Park(owner_->ParkingName(), event);
}
Result<std::vector<ParkedEvent>> RecordCheckpoints::Parked(
    std::string_view name) {
  (void)name;
  return owner_->parking().Parked(owner_->ParkingName());
}
Status RecordCheckpoints::Unpark(std::string_view name, uint64_t position) {
  (void)name;
  return owner_->parking().Unpark(owner_->ParkingName(), position);
}

Status CheckOptions(const ProjectionOptions& options, const auto& apply) {
  Status s = ValidateStreamName(options.name);
  if (!s.ok()) {
    return Status::InvalidArgument(
        fmt::format("projection name: {}", s.message()));
  }
  if (options.version == 0) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': versions are numbered from 1, not 0", options.name));
  }
  if (options.tables.empty()) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}' declares no tables (ProjectionOptions::tables)",
        options.name));
  }
  for (const std::string& table : options.tables) {
    s = ValidateStreamName(table);
    if (!s.ok()) {
      return Status::InvalidArgument(fmt::format(
          "projection '{}' table name: {}", options.name, s.message()));
    }
  }
  if (!apply) {
    return Status::InvalidArgument(
        fmt::format("projection '{}': no apply function", options.name));
  }
  if (options.mode == ProjectionOptions::Mode::kInline &&
      options.inline_max_events == 0) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': inline_max_events must be at least 1", options.name));
  }
  if ((options.on_failure.then == OnFailure::kParkEvent ||
       options.on_failure.then == OnFailure::kParkStream) &&
      ValidateStreamName(ProjectionParkingName(options.name, options.version))
              .ok() == false) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': the name is too long to park events under "
        "(parked events are kept as '{}')",
        options.name, ProjectionParkingName(options.name, options.version)));
  }
  return Status::OK();
}

// The record this version resumes from; refuses an outdated version.
Result<ProjectionVersion> FindRecord(ProjectionStore& tables,
                                     const ProjectionOptions& options) {
  Result<std::vector<ProjectionVersion>> all = tables.List();
  if (!all.ok()) return all.status();
  ProjectionVersion mine;
  mine.name = options.name;
  mine.version = options.version;
  bool found = false;
  bool any_active = false;
  for (const ProjectionVersion& v : *all) {
    if (v.name != options.name) continue;
    if (v.version == options.version) {
      mine = v;
      found = true;
    }
    any_active = any_active || v.active;
    if (v.active && v.version > options.version) {
      return Status::InvalidArgument(fmt::format(
          "projection '{}': the store's active version is {}, newer than "
          "version {} started here; run the newer code",
          options.name, v.version, options.version));
    }
  }
  if (found && mine.retired) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}' version {} was replaced by a newer version; run the "
        "newer code",
        options.name, options.version));
  }
  (void)any_active;
  return mine;
}

}  // namespace

Result<std::unique_ptr<Projection>> Projection::Start(Store& store,
                                                      ProjectionOptions options,
                                                      Apply apply) {
  Status s = CheckOptions(options, apply);
  if (!s.ok()) return s;
  Result<std::unique_ptr<ProjectionStore>> tables = InStoreProjections(store);
  if (!tables.ok()) return tables.status();
  if (options.mode == ProjectionOptions::Mode::kInline &&
      !(*tables)->SupportsInline()) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': inline projections run in the process that owns "
        "the store; {} is open read-only",
        options.name, store.path()));
  }
  std::string key = store.path();
  key.push_back('\0');
  key.append(options.name);
  {
    std::lock_guard<std::mutex> lock(RunningMutex());
    if (!Running().insert(key).second) {
      return Status::Busy(fmt::format(
          "projection '{}' is already running in this process on {}",
          options.name, store.path()));
    }
  }
  auto release = [&] {
    std::lock_guard<std::mutex> lock(RunningMutex());
    Running().erase(key);
  };
  Result<ProjectionVersion> record = FindRecord(**tables, options);
  if (!record.ok()) {
    release();
    return record.status();
  }
  // Writes the record as it stands: creates it, and proves the store
  // writable and no other runner moving it.
  s = (*tables)->Commit(options.name, options.version, record->checkpoint,
                        record->checkpoint, {}, false);
  if (!s.ok()) {
    release();
    return s.WithContext(fmt::format("starting projection '{}'", options.name));
  }
  Result<std::unique_ptr<CheckpointStore>> parking = InStoreCheckpoints(store);
  if (!parking.ok()) {
    release();
    return parking.status();
  }
  auto impl = std::make_unique<ProjectionImpl>(
      store, std::move(tables).value(), std::move(parking).value(),
      std::move(options), std::move(apply), key, *record);
  s = impl->Launch();
  if (!s.ok()) return s;  // the destructor releases the name
  return std::unique_ptr<Projection>(std::move(impl));
}

}  // namespace memoir
