// SnapshotStoreImpl: the SnapshotStore on one LMDB environment (layout in
// layout.h).
//
// The snapshot layer never includes the journal's internals. What it needs
// from the journal (a stream's id and head as the writer transaction sees
// them, a stream's id in a read transaction, and an append applied inside a
// transaction) comes through JournalLink, wired by the store. Writes run on
// the store's Writer thread as WriteOps; reads use plain LMDB read
// transactions, since every snapshot is written directly to its table.
#ifndef MEMOIR_SNAPSHOT_SNAPSHOT_STORE_IMPL_H_
#define MEMOIR_SNAPSHOT_SNAPSHOT_STORE_IMPL_H_

#include <lmdb.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "memoir/clock.h"
#include "memoir/snapshot_store.h"
#include "snapshot/snapshot_record.h"
#include "storage/env.h"
#include "storage/writer.h"

namespace memoir::internal {

// An append validated and encoded in the caller's thread, to be applied
// inside the writer's transaction (for AppendWithSnapshot).
class PreparedAppend {
 public:
  virtual ~PreparedAppend() = default;
  virtual size_t bytes() const = 0;
  // Same contract as WriteOp::Apply; may run again when the group retries.
  virtual int Apply(MDB_txn* txn, Status* op_status) = 0;
  // REQUIRES: the last Apply returned 0 with an OK *op_status.
  virtual AppendResult result() const = 0;
};

// The journal, as far as snapshots need it.
struct JournalLink {
  struct StreamHead {
    uint64_t id = 0;
    uint64_t head = 0;
    bool deleted = false;
  };
  // Writer thread: the stream as the open write transaction sees it
  // (including appends earlier in that transaction). kNotFound when it does
  // not exist; a non-zero *rc is an LMDB failure that dooms the transaction.
  std::function<Status(MDB_txn*, std::string_view, StreamHead*, int* rc)>
      writer_lookup;
  // Any thread: the id of a stream in a read transaction, or kNotFound.
  std::function<Result<uint64_t>(MDB_txn*, std::string_view)> stream_id;
  // Caller's thread: validates and encodes an append. May be null, and then
  // AppendWithSnapshot is refused.
  std::function<Result<std::unique_ptr<PreparedAppend>>(StreamAppend)>
      prepare_append;
};

// Which snapshots a deletion removes.
struct PruneSpec {
  enum class Kind { kOne, kMatching, kRetain };
  Kind kind = Kind::kOne;
  uint64_t seq = 0;           // kOne
  SnapshotCriteria criteria;  // kMatching
  size_t keep = 0;            // kRetain
};

class SnapshotStoreImpl final : public SnapshotStore {
 public:
  // Opens (in a writable store: creates) the snapshots table. `writer` is
  // null for a read-only store. Call before the store is shared.
  static Result<std::unique_ptr<SnapshotStoreImpl>> Open(
      Env* env, Writer* writer, std::shared_ptr<Clock> clock, JournalLink link);

  // SnapshotStore.
  void Save(std::string_view stream, uint64_t seq, SnapshotData data,
            SaveCallback done) override;
  using SnapshotStore::Save;
  Result<AppendResult> AppendWithSnapshot(StreamAppend events,
                                          SnapshotData snapshot) override;
  Status Delete(std::string_view stream, uint64_t seq) override;
  Result<size_t> DeleteMatching(std::string_view stream,
                                const SnapshotCriteria& criteria) override;
  Result<size_t> Retain(std::string_view stream, size_t keep_newest) override;
  Result<LoadResult> LoadLatest(std::string_view stream,
                                const SnapshotCriteria& criteria) override;
  Result<std::vector<SnapshotInfo>> List(std::string_view stream) override;

  // The snapshots table, for whole-store checks (snapshot/verify.h).
  // present() is false in a read-only store written before snapshots
  // existed, which has no such table.
  MDB_dbi dbi() const { return dbi_; }
  bool present() const { return present_; }

  // Writer thread: deletes every snapshot of stream `id` inside `txn`. The
  // journal calls it when it tombstones a stream, so both happen atomically.
  int DeleteStreamSnapshots(MDB_txn* txn, uint64_t id);

  // Writer thread: the bodies of the write ops (snapshot_write.cc).
  int ApplySave(MDB_txn* txn, const std::string& stream, uint64_t seq,
                SnapshotRecord* record, Status* op_status);
  int ApplyPrune(MDB_txn* txn, const std::string& stream, const PruneSpec& spec,
                 size_t* deleted, Status* op_status);
  // AppendWithSnapshot: the append, then (unless it was a repeat of a
  // committed one) the snapshot at its last seq.
  int ApplyAppendSave(MDB_txn* txn, const std::string& stream,
                      PreparedAppend* append, SnapshotRecord* record,
                      Status* op_status);

 private:
  SnapshotStoreImpl(Env* env, Writer* writer, std::shared_ptr<Clock> clock,
                    JournalLink link)
      : env_(env),
        writer_(writer),
        clock_(std::move(clock)),
        link_(std::move(link)) {}
  Status RefuseWrites() const;
  Result<size_t> Prune(std::string_view stream, PruneSpec spec);
  // Reader side: calls `visit` with the stream's id and a read transaction
  // (id 0 and no table when an older read-only store has none).
  Status Read(std::string_view stream,
              const std::function<Status(MDB_txn*, uint64_t)>& visit);

  Env* env_;
  Writer* writer_;
  std::shared_ptr<Clock> clock_;
  JournalLink link_;
  MDB_dbi dbi_ = 0;
  // False only in a read-only store written before snapshots existed.
  bool present_ = true;
};

// Walks one stream's snapshots from newest to oldest, within
// [min_seq, max_seq].
class SnapshotWalk {
 public:
  SnapshotWalk(uint64_t id, uint64_t min_seq, uint64_t max_seq)
      : id_(id), min_seq_(min_seq), max_seq_(max_seq) {}
  ~SnapshotWalk();
  SnapshotWalk(const SnapshotWalk&) = delete;
  SnapshotWalk& operator=(const SnapshotWalk&) = delete;

  // Steps to the next older snapshot: 0 with *seq and *val set,
  // MDB_NOTFOUND past the last one, or another LMDB code.
  int Next(MDB_txn* txn, MDB_dbi dbi, uint64_t* seq, MDB_val* val);

 private:
  uint64_t id_, min_seq_, max_seq_;
  MDB_cursor* cur_ = nullptr;
};

}  // namespace memoir::internal

#endif  // MEMOIR_SNAPSHOT_SNAPSHOT_STORE_IMPL_H_
