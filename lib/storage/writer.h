// Writer: the single thread that owns every write transaction (group commit).
//
// LMDB allows one write transaction at a time. The writer drains a bounded
// queue of WriteOps from all threads, applies as many as fit into one
// transaction, commits once, and only then completes each op. An op that is
// refused (a failed expectation) fails alone; a failure of the transaction
// itself (I/O, full disk) fails every op in it.
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
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "memoir/status.h"
#include "storage/env.h"

namespace memoir::internal {

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
  // the submitting thread when the op is refused before being queued).
  virtual void Done(Status status) = 0;
  // True if the op asks for an explicit sync after its commit.
  virtual bool wants_sync() const { return false; }
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

  // Queues `op`, waiting up to the store's enqueue_timeout for room.
  void Submit(std::unique_ptr<WriteOp> op);

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
  void Run();
  void CommitGroup(std::vector<std::unique_ptr<WriteOp>>& group, bool closing);
  Status TranslateCommitError(int rc, size_t group_bytes);
  void SetFailed(const Status& s);
  void SyncNow();

  Env* env_;
  std::vector<TxnObserver*> observers_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::unique_ptr<WriteOp>> queue_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool started_ = false;
  bool stopped_ = false;
  Status failure_;
  WriterStats stats_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_WRITER_H_
