// Writer: the single thread that owns every write transaction (group commit).
//
// LMDB allows one write transaction at a time. The writer drains a bounded
// queue of WriteOps from all threads, applies as many as fit into one
// transaction, commits once, and only then completes each op. An op that is
// refused (a failed expectation) fails alone; a failure of the transaction
// itself (I/O, full disk) fails every op in it.
//
// Group formation: the writer takes everything queued (up to
// max_batch_bytes). Submitters blocked on their own op (SubmitBorrowed with
// a WaitNode) are woken as a tree after the commit and usually come right
// back; until they have (or the batch is full), the writer waits for them,
// at most half the last commit's duration and never above 2 ms, so that they
// share one commit instead of trickling into two.
//
// Failure policy:
// - Full map: grow it (Env::GrowMap) and retry the group once.
// - Full disk (ENOSPC, or EIO from a short write on a full filesystem): every
//   op of the group gets kStorageFull; nothing was committed; later groups are
//   tried normally, so appends work again once space is freed.
// - Any other I/O error, a failed sync or MDB_PANIC: the writer becomes
//   failed; every later op gets kIOError until the store is reopened. A failed
//   fsync is never retried: the kernel may have dropped the dirty pages.
//
// Thread safety: Submit, Sync and Close may be called from any thread.
#ifndef MEMOIR_STORAGE_WRITER_H_
#define MEMOIR_STORAGE_WRITER_H_

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "memoir/status.h"
#include "storage/env.h"
#include "storage/notification.h"

namespace memoir::internal {

// A thread blocked until its own op is done (an op it submitted with
// SubmitBorrowed). Waking every waiter of a group from the writer thread
// would cost the writer one futex wake, and often a preemption by the woken
// thread, per op before it could start on the next group. Instead the
// writer links the group's waiters into a binary tree and wakes only the
// root; every waiter, once running, wakes its two children. The wake-ups
// then run in parallel on all cores while the writer goes on.
class WaitNode {
 public:
  // Blocks until woken, then wakes this node's children.
  void Wait() {
    ready_.Wait();
    WaitNode* first = children_[0];
    WaitNode* second = children_[1];
    // Past here this node (and the op holding it) may be destroyed; the
    // children are still blocked in their own Wait.
    if (first != nullptr) first->ready_.Notify();
    if (second != nullptr) second->ready_.Notify();
  }

 private:
  friend class Writer;
  Notification ready_;
  WaitNode* children_[2] = {nullptr, nullptr};
};

class WriteOp {
 public:
  virtual ~WriteOp() = default;
  // Approximate bytes the op writes; bounds the queue and the batch.
  virtual size_t bytes() const = 0;
  // Applies the op inside `txn`. A refusal of this op alone goes to
  // *op_status, and the op must then have written nothing. A non-zero LMDB
  // code dooms the whole transaction; the op may be applied again in a retry.
  virtual int Apply(MDB_txn* txn, Status* op_status) = 0;
  // Called exactly once with the final outcome, on the writer thread (or on
  // the submitting thread when the op is refused before being queued). For
  // an op submitted with SubmitBorrowed this is the writer's last access to
  // it: the submitter may destroy it as soon as Done has signalled it.
  virtual void Done(Status status) = 0;
  // True if the op asks for an explicit sync after its commit.
  virtual bool wants_sync() const { return false; }
  // For an op whose submitter blocks until it is done: where it blocks.
  // Done must then only record the outcome; the writer wakes the node.
  virtual WaitNode* wait_node() { return nullptr; }
};

// A layer with state that follows the transaction (the journal's stream
// heads and unindexed tail, for instance).
class TxnObserver {
 public:
  virtual ~TxnObserver() = default;
  virtual void Begin(MDB_txn* /*txn*/) {}
  // Last chance to write before the commit. `closing` is true for the final
  // transaction at Close. Non-zero dooms the transaction.
  virtual int BeforeCommit(MDB_txn* /*txn*/, bool /*closing*/) { return 0; }
  virtual void Committed() {}
  virtual void Aborted() {}
};

// Test-only controls of group formation (tests/storage/writer_test.cc), so
// that a test can hold the writer inside a gather without sleeping.
struct WriterTestHooks {
  // Replaces the gather's time limit, min(last commit / 2, 2 ms): a test sets
  // it long, so that only what it tests (returning submitters, a full batch,
  // Close) ends the gather.
  std::optional<std::chrono::steady_clock::duration> linger;
  // Called on the writer thread, with the writer's lock held, each time
  // Gather starts waiting for submitters. Must not block or call the writer.
  std::function<void()> gathering;
};

struct WriterStats {
  uint64_t commits = 0;
  uint64_t ops = 0;
  uint64_t max_group = 0;
  uint64_t map_growths = 0;
};

class Writer {
 public:
  explicit Writer(Env* env);
  ~Writer();  // closes
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Observers must be added before Start and outlive the writer.
  void AddObserver(TxnObserver* observer) { observers_.push_back(observer); }
  void Start();
  // Test-only. REQUIRES: before Start.
  void SetTestHooks(WriterTestHooks hooks) { test_hooks_ = std::move(hooks); }

  // Queues `op`, waiting up to the store's enqueue_timeout for room.
  void Submit(std::unique_ptr<WriteOp> op);
  // As Submit, for an op the caller owns and keeps alive until its Done has
  // been called (typically on the caller's stack while it waits): the
  // writer never deletes it, and the memory it holds is freed by the thread
  // that allocated it.
  void SubmitBorrowed(WriteOp* op);

  // Forces everything committed so far to disk (mdb_env_sync with force),
  // whatever the durability mode. A failure makes the writer failed.
  Status Sync();

  // Drains the queue, runs a final transaction with BeforeCommit(closing),
  // and stops the thread. Later Submits fail with kClosed. Idempotent;
  // returns the first fatal error seen, if any.
  Status Close();

  // OK, or the error that stopped writes.
  Status failure() const;
  WriterStats stats() const;

 private:
  // A queued op and whether the writer owns (and so deletes) it.
  struct Queued {
    WriteOp* op;
    bool owned;
  };
  void Enqueue(Queued entry);
  // Calls Done, then deletes the op if the writer owns it, or wakes its
  // wait node. With `defer_wake`, a node is returned instead of woken.
  static WaitNode* Finish(const Queued& entry, Status status,
                          bool defer_wake = false);
  void Run();
  // Applies `group` in one transaction and commits it. With `linger`, the
  // first attempt also gathers (Gather) the submitters the last commit woke
  // until that time. `group_bytes` is the sum of the ops' bytes().
  void CommitGroup(std::vector<Queued>& group, bool closing,
                   const std::chrono::steady_clock::time_point* linger,
                   size_t group_bytes);
  // Moves queued ops into `group` while it stays under max_batch_bytes (at
  // least one when `group` is empty). Requires mu_.
  void TakeQueued(std::vector<Queued>& group, size_t* group_bytes);
  // Waits until `until` for more of the returning submitters and takes them
  // (with anything else queued) into `group`. False, and nothing taken, once
  // all of them are in the group, the batch is full, the time is up or the
  // writer is closing, or when none came: the group is then complete.
  bool Gather(std::vector<Queued>& group, size_t* group_bytes,
              std::chrono::steady_clock::time_point until);
  Status TranslateCommitError(int rc, size_t group_bytes);
  // True when LMDB has marked the environment fatal (MDB_PANIC): after a
  // failed meta-page write, say; only closing and reopening clears it.
  bool EnvPanicked();
  void SetFailed(const Status& s);
  void SyncNow();

  Env* env_;
  std::vector<TxnObserver*> observers_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool started_ = false;
  bool stopped_ = false;
  Status failure_;
  WriterStats stats_;
  // Writer thread: the last group's wait nodes, how many submitters it woke
  // and how long its commit took.
  std::vector<WaitNode*> wake_;
  size_t returning_ = 0;
  std::chrono::steady_clock::duration last_commit_{};
  // Time the current commit spent in Gather's wait (writer thread only).
  std::chrono::steady_clock::duration gather_wait_{};
  // Guarded by mu_: the queue length at which a submitter wakes the writer
  // (above 1 while the writer waits for the woken submitters to return),
  // and the queued bytes at which one does whatever the length (while the
  // writer gathers: what fills its batch, which ends the gather too).
  size_t wake_at_ = 1;
  size_t wake_at_bytes_ = std::numeric_limits<size_t>::max();
  WriterTestHooks test_hooks_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_WRITER_H_
