#include "storage/writer.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <future>

#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

// Forces a sync after its (otherwise empty) commit.
class SyncOp final : public WriteOp {
 public:
  size_t bytes() const override { return 0; }
  int Apply(MDB_txn*, Status*) override { return 0; }
  void Done(Status status) override { promise_.set_value(std::move(status)); }
  bool wants_sync() const override { return true; }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  std::promise<Status> promise_;
};

// A failed sync is final whatever its errno (the kernel may have dropped the
// pages), so unlike a failed commit its status carries no advice to retry.
Status SyncFailure(int rc, const std::string& dir) {
  return Status::IOError(
             fmt::format("syncing store {}: {}", dir, mdb_strerror(rc)))
      .WithRawError(rc);
}

constexpr std::chrono::milliseconds kGrowWait{2000};
// The longest the writer waits for the submitters of its last group to
// come back before it commits what it has (see Run).
constexpr std::chrono::steady_clock::duration kMaxLinger =
    std::chrono::milliseconds(2);

}  // namespace

Writer::Writer(Env* env) : env_(env) {}

Writer::~Writer() { (void)Close(); }

void Writer::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Writer::Submit(std::unique_ptr<WriteOp> op) {
  Enqueue(Queued{op.release(), true});
}

void Writer::SubmitBorrowed(WriteOp* op) { Enqueue(Queued{op, false}); }

WaitNode* Writer::Finish(const Queued& entry, Status status, bool defer_wake) {
  const bool owned = entry.owned;
  WriteOp* op = entry.op;
  WaitNode* node = op->wait_node();
  op->Done(std::move(status));
  // A borrowed op without a wait node may already be gone: Done was the
  // last touch. One with a node stays until the node is woken.
  if (owned) {
    delete op;
  } else if (node != nullptr && !defer_wake) {
    node->ready_.Notify();
    node = nullptr;
  }
  return owned ? nullptr : node;
}

void Writer::Enqueue(Queued entry) {
  Status refused = env_->CheckProcess();
  if (refused.ok()) {
    const size_t bytes = entry.op->bytes();
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline =
        std::chrono::steady_clock::now() + env_->options().enqueue_timeout;
    const size_t max_bytes = env_->options().max_queue_bytes;
    for (;;) {
      if (closing_ || !started_) {
        refused = Status::Closed(
            fmt::format("store {} is closed; reopen it to write", env_->dir()));
        break;
      }
      if (!failure_.ok()) {
        refused = failure_;
        break;
      }
      // A request larger than the whole queue is admitted once the queue is
      // empty: its size alone never refuses it, but like any request it gets
      // kBusy if that does not happen before the deadline.
      if (queue_.empty() || queued_bytes_ + bytes <= max_bytes) {
        queued_bytes_ += bytes;
        queue_.push_back(entry);
        const bool wake =
            queue_.size() >= wake_at_ || queued_bytes_ >= wake_at_bytes_;
        lock.unlock();
        if (wake) not_empty_.notify_one();
        return;
      }
      if (not_full_.wait_until(lock, deadline) == std::cv_status::timeout) {
        refused = Status::Busy(fmt::format(
            "the write queue of store {} stayed full ({} bytes pending) for "
            "{} ms; the disk is slower than the offered load, retry later or "
            "raise StoreOptions::max_queue_bytes",
            env_->dir(), queued_bytes_,
            env_->options().enqueue_timeout.count()));
        break;
      }
    }
  }
  Finish(entry, std::move(refused));
}

Status Writer::Sync() {
  auto op = std::make_unique<SyncOp>();
  std::future<Status> done = op->future();
  Submit(std::move(op));
  return done.get();
}

Status Writer::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return failure_;
    closing_ = true;
    stopped_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  if (thread_.joinable()) {
    if (env_->forked()) {
      // The thread does not exist in a forked child; joining would hang.
      thread_.detach();
    } else {
      thread_.join();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

Status Writer::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

WriterStats Writer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Writer::SetFailed(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.ok()) {
    failure_ =
        Status::IOError(fmt::format("store {} stopped accepting writes after "
                                    "a storage failure ({}); reopen the store",
                                    env_->dir(), s.message()))
            .WithRawError(s.raw_error());
  }
}

void Writer::Run() {
  const auto period = env_->options().periodic_sync;
  auto next_sync = std::chrono::steady_clock::now() + period;
  std::vector<Queued> group;
  for (;;) {
    bool closing;
    bool linger = false;
    size_t group_bytes = 0;
    std::chrono::steady_clock::time_point linger_until;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [this] { return !queue_.empty() || closing_; };
      if (period.count() > 0) {
        not_empty_.wait_until(lock, next_sync, ready);
      } else {
        not_empty_.wait(lock, ready);
      }
      // Take what is queued (at least one op, then more while the batch
      // stays under max_batch_bytes); CommitGroup gathers the rest of the
      // submitters the last commit woke while it applies these.
      TakeQueued(group, &group_bytes);
      linger = returning_ > 1 && !closing_;
      linger_until =
          std::chrono::steady_clock::now() +
          test_hooks_.linger.value_or(std::min(last_commit_ / 2, kMaxLinger));
      closing = closing_ && queue_.empty();
    }
    not_full_.notify_all();
    if (!group.empty()) {
      CommitGroup(group, /*closing=*/false, linger ? &linger_until : nullptr,
                  group_bytes);
      group.clear();
    }
    if (period.count() > 0 && std::chrono::steady_clock::now() >= next_sync) {
      SyncNow();
      next_sync = std::chrono::steady_clock::now() + period;
    }
    if (closing) break;
  }
  // The final transaction lets observers persist what they defer (the
  // journal's index); then a sync covers modes that do not sync on commit.
  if (failure().ok()) {
    CommitGroup(group, /*closing=*/true, nullptr, 0);
    if (env_->options().durability != Durability::kSync) SyncNow();
  }
}

void Writer::TakeQueued(std::vector<Queued>& group, size_t* group_bytes) {
  const size_t max_batch = env_->options().max_batch_bytes;
  while (!queue_.empty()) {
    size_t b = queue_.front().op->bytes();
    if (!group.empty() && *group_bytes + b > max_batch) break;
    *group_bytes += b;
    queued_bytes_ -= b;
    group.push_back(queue_.front());
    queue_.pop_front();
  }
}

bool Writer::Gather(std::vector<Queued>& group, size_t* group_bytes,
                    std::chrono::steady_clock::time_point until) {
  const size_t before = group.size();
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Done once everyone is back or the time is up: a steady stream of
    // asynchronous requests must not keep the transaction open.
    if (closing_ || group.size() >= returning_ ||
        std::chrono::steady_clock::now() >= until) {
      return false;
    }
    const size_t max_batch = env_->options().max_batch_bytes;
    auto complete = [&] {
      return group.size() + queue_.size() >= returning_ || closing_ ||
             *group_bytes + queued_bytes_ >= max_batch;
    };
    if (queue_.empty() && !complete()) {
      // Woken when half of those still missing are queued (or all, or the
      // time is up), so that the writer applies the early arrivals while
      // the later ones are still on their way, without a wake-up for each.
      const size_t missing = returning_ - group.size();
      wake_at_ = std::max<size_t>(1, missing / 2);
      // A full batch ends the gather too (complete), whatever the count: the
      // request that fills it wakes the writer. The group is below
      // max_batch here, or the gather would already be complete.
      wake_at_bytes_ = max_batch - *group_bytes;
      if (test_hooks_.gathering) test_hooks_.gathering();
      const auto wait_start = std::chrono::steady_clock::now();
      not_empty_.wait_until(
          lock, until, [&] { return queue_.size() >= wake_at_ || complete(); });
      gather_wait_ += std::chrono::steady_clock::now() - wait_start;
      wake_at_ = 1;
      wake_at_bytes_ = std::numeric_limits<size_t>::max();
    }
    TakeQueued(group, group_bytes);
    if (group.size() == before) return false;
  }
  not_full_.notify_all();
  return true;
}

void Writer::SyncNow() {
  if (!failure().ok()) return;
  int rc = mdb_env_sync(env_->raw(), 1);
  if (rc != 0) {
    SetFailed(SyncFailure(rc, env_->dir()));
  }
}

bool Writer::EnvPanicked() {
  // mdb_txn_begin checks the environment's fatal flag before anything else.
  MDB_txn* probe = nullptr;
  int rc = env_->BeginWrite(&probe);
  if (rc == 0) mdb_txn_abort(probe);
  return rc == MDB_PANIC;
}

Status Writer::TranslateCommitError(int rc, size_t group_bytes) {
  std::string what = fmt::format("committing to store {}", env_->dir());
  if (rc == ENOSPC) return MdbStatus(rc, what);
  if (rc == EIO) {
    // LMDB reports a short write (a filesystem that ran out of space in the
    // middle of a write) as EIO. Tell it from a device error by looking at
    // the free space: nothing was committed either way, but only a real
    // device error makes the store unsafe to write.
    struct statvfs vfs {};
    if (statvfs(env_->dir().c_str(), &vfs) == 0) {
      uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      if (free_bytes < group_bytes + (uint64_t{1} << 20)) {
        return Status::StorageFull(
                   fmt::format("{}: the filesystem is full ({} bytes free); "
                               "free disk space, then retry (the store stays "
                               "usable)",
                               what, free_bytes))
            .WithRawError(rc);
      }
    }
  }
  return MdbStatus(rc, what);
}

void Writer::CommitGroup(std::vector<Queued>& group, bool closing,
                         const std::chrono::steady_clock::time_point* linger,
                         size_t group_bytes) {
  {
    Status failed = failure();
    if (!failed.ok()) {
      for (const Queued& q : group) Finish(q, failed);
      return;
    }
  }
  std::vector<Status> op_status;
  Status txn_status;
  const auto commit_start = std::chrono::steady_clock::now();
  gather_wait_ = {};
  for (int attempt = 0;; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = env_->BeginWrite(&txn);
    if (rc == 0) {
      for (TxnObserver* o : observers_) o->Begin(txn);
      op_status.assign(group.size(), Status::OK());
      for (size_t i = 0; i < group.size() && rc == 0; ++i) {
        rc = group[i].op->Apply(txn, &op_status[i]);
        // The submitters the last commit woke are still coming back: wait
        // for them (until `linger`) with the first ones applied, rather
        // than commit the first arrivals alone, which would split them over
        // two commits. Only the first attempt gathers; a retry applies the
        // same group again.
        if (rc == 0 && i + 1 == group.size() && linger != nullptr &&
            attempt == 0 && !closing && Gather(group, &group_bytes, *linger)) {
          op_status.resize(group.size(), Status::OK());
        }
      }
      for (TxnObserver* o : observers_) {
        if (rc == 0) rc = o->BeforeCommit(txn, closing);
      }
      if (rc == 0) {
        rc = mdb_txn_commit(txn);
      } else {
        mdb_txn_abort(txn);
      }
      if (rc != 0) {
        for (TxnObserver* o : observers_) o->Aborted();
      }
    }
    if (rc == 0) {
      for (TxnObserver* o : observers_) o->Committed();
      break;
    }
    if (rc == MDB_MAP_FULL && attempt == 0) {
      Status grown = env_->GrowMap(kGrowWait);
      if (grown.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.map_growths;
        continue;
      }
      txn_status = grown;
      break;
    }
    txn_status = TranslateCommitError(rc, group_bytes);
    if (rc != MDB_PANIC && EnvPanicked()) {
      // The commit failed while LMDB wrote its meta page (a full disk, a
      // device error): LMDB then marks the environment fatal and refuses
      // every later transaction, reads included, so whatever the errno
      // this is not a recoverable failure. Nothing acknowledged is lost
      // (the previous meta page still stands); only a reopen brings the
      // store back.
      SetFailed(Status::IOError(
                    fmt::format(
                        "committing to store {}: {} while LMDB wrote its meta "
                        "page, after which LMDB refuses this environment "
                        "(MDB_PANIC){}",
                        env_->dir(), mdb_strerror(rc),
                        txn_status.IsStorageFull() ? "; free disk space" : ""))
                    .WithRawError(rc));
      txn_status = failure();
    } else if (!txn_status.IsStorageFull() &&
               (IsFatalMdbError(rc) || txn_status.IsIOError())) {
      SetFailed(txn_status);
      // This group's callers, like later ones, learn that the store now
      // refuses writes until it is reopened.
      txn_status = failure();
    }
    break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Only commits that carried requests count, and only their requests:
    // commits / ops is the group size users read off these stats.
    if (txn_status.ok() && !group.empty()) {
      ++stats_.commits;
      stats_.ops += group.size();
      if (group.size() > stats_.max_group) stats_.max_group = group.size();
    }
  }
  bool sync = false;
  for (const Queued& q : group) sync = sync || q.op->wants_sync();
  Status sync_status;
  if (txn_status.ok() && sync) {
    int rc = mdb_env_sync(env_->raw(), 1);
    if (rc != 0) {
      sync_status = SyncFailure(rc, env_->dir());
      SetFailed(sync_status);
      sync_status = failure();
    }
  }
  // The commit's own cost, without the time Gather waited for submitters.
  last_commit_ = std::chrono::steady_clock::now() - commit_start - gather_wait_;
  wake_.clear();
  for (size_t i = 0; i < group.size(); ++i) {
    WaitNode* node;
    if (!txn_status.ok()) {
      node = Finish(group[i], txn_status, /*defer_wake=*/true);
    } else if (group[i].op->wants_sync() && !sync_status.ok()) {
      node = Finish(group[i], sync_status, /*defer_wake=*/true);
    } else {
      node = Finish(group[i], std::move(op_status[i]), /*defer_wake=*/true);
    }
    if (node != nullptr) wake_.push_back(node);
  }
  // Every outcome is recorded: link the waiters into a tree (node i wakes
  // 2i+1 and 2i+2) and wake its root. No node is touched after that.
  for (size_t i = 0; i < wake_.size(); ++i) {
    wake_[i]->children_[0] =
        2 * i + 1 < wake_.size() ? wake_[2 * i + 1] : nullptr;
    wake_[i]->children_[1] =
        2 * i + 2 < wake_.size() ? wake_[2 * i + 2] : nullptr;
  }
  returning_ = wake_.size();
  if (!wake_.empty()) wake_[0]->ready_.Notify();
}

}  // namespace memoir::internal
