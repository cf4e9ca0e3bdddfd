// The snapshot store's write path: validation in the caller's thread, then
// WriteOps applied by the writer thread (snapshot_store_impl.h).
#include <fmt/format.h>

#include <future>
#include <vector>

#include "base/append_rules.h"
#include "snapshot/layout.h"
#include "snapshot/snapshot_store_impl.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

// Runs the user's callback; an exception from it must not kill the writer
// thread.
void Complete(const SnapshotStore::SaveCallback& done, Status status) {
  try {
    if (done) done(std::move(status));
  } catch (...) {
  }
}

class SaveOp final : public WriteOp {
 public:
  SaveOp(SnapshotStoreImpl* store, std::string stream, uint64_t seq,
         SnapshotRecord record, SnapshotStore::SaveCallback done)
      : store_(store),
        stream_(std::move(stream)),
        seq_(seq),
        record_(std::move(record)),
        done_(std::move(done)) {}
  size_t bytes() const override { return record_.size() + 64; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return store_->ApplySave(txn, stream_, seq_, &record_, op_status);
  }
  void Done(Status status) override { Complete(done_, std::move(status)); }

 private:
  SnapshotStoreImpl* store_;
  std::string stream_;
  uint64_t seq_;
  SnapshotRecord record_;
  SnapshotStore::SaveCallback done_;
};

class AppendSaveOp final : public WriteOp {
 public:
  AppendSaveOp(SnapshotStoreImpl* store, std::string stream,
               std::unique_ptr<PreparedAppend> append, SnapshotRecord record)
      : store_(store),
        stream_(std::move(stream)),
        append_(std::move(append)),
        record_(std::move(record)) {}
  size_t bytes() const override {
    return append_->bytes() + record_.size() + 64;
  }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return store_->ApplyAppendSave(txn, stream_, append_.get(), &record_,
                                   op_status);
  }
  void Done(Status status) override {
    if (status.ok()) {
      promise_.set_value(append_->result());
    } else {
      promise_.set_value(std::move(status));
    }
  }
  std::future<Result<AppendResult>> future() { return promise_.get_future(); }

 private:
  SnapshotStoreImpl* store_;
  std::string stream_;
  std::unique_ptr<PreparedAppend> append_;
  SnapshotRecord record_;
  std::promise<Result<AppendResult>> promise_;
};

class PruneOp final : public WriteOp {
 public:
  PruneOp(SnapshotStoreImpl* store, std::string stream, PruneSpec spec)
      : store_(store), stream_(std::move(stream)), spec_(spec) {}
  size_t bytes() const override { return 4096; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    deleted_ = 0;
    return store_->ApplyPrune(txn, stream_, spec_, &deleted_, op_status);
  }
  void Done(Status status) override {
    if (status.ok()) {
      promise_.set_value(deleted_);
    } else {
      promise_.set_value(std::move(status));
    }
  }
  std::future<Result<size_t>> future() { return promise_.get_future(); }

 private:
  SnapshotStoreImpl* store_;
  std::string stream_;
  PruneSpec spec_;
  size_t deleted_ = 0;
  std::promise<Result<size_t>> promise_;
};

// Looks `stream` up for a write; on a refusal sets *op_status and returns
// false with *rc 0.
bool LookupForWrite(const JournalLink& link, MDB_txn* txn,
                    const std::string& stream, JournalLink::StreamHead* st,
                    int* rc, Status* op_status) {
  Status s = link.writer_lookup(txn, stream, st, rc);
  if (*rc != 0) return false;
  if (!s.ok()) {
    *op_status = s;
    return false;
  }
  if (st->deleted) {
    *op_status = Status::StreamDeleted(fmt::format(
        "stream '{}' was deleted; its snapshots cannot be changed", stream));
    return false;
  }
  return true;
}

}  // namespace

Status SnapshotStoreImpl::RefuseWrites() const {
  if (writer_ == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "store {} is open read-only; open it without read_only to write "
        "snapshots",
        env_->dir()));
  }
  return Status::OK();
}

void SnapshotStoreImpl::Save(std::string_view stream, uint64_t seq,
                             SnapshotData data, SaveCallback done) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateSave(stream, seq, data);
  if (!s.ok()) {
    Complete(done, std::move(s));
    return;
  }
  // Encoding happens here, in the caller's thread, so the writer only
  // patches ids and the checksum.
  SnapshotRecord record = SnapshotRecord::Encode(data);
  std::string().swap(data.payload);  // the record holds the bytes now
  writer_->Submit(std::make_unique<SaveOp>(this, std::string(stream), seq,
                                           std::move(record), std::move(done)));
}

Result<AppendResult> SnapshotStoreImpl::AppendWithSnapshot(
    StreamAppend events, SnapshotData snapshot) {
  Status s = RefuseWrites();
  if (s.ok() && !link_.prepare_append) {
    s = Status::InvalidArgument(
        "this store cannot append events and a snapshot atomically");
  }
  // The seq is not known yet; 1 stands in for it during validation.
  if (s.ok()) s = ValidateSave(events.stream, 1, snapshot);
  if (!s.ok()) return s;
  std::string stream = events.stream;
  Result<std::unique_ptr<PreparedAppend>> append =
      link_.prepare_append(std::move(events));
  if (!append.ok()) return append.status();
  SnapshotRecord record = SnapshotRecord::Encode(snapshot);
  std::string().swap(snapshot.payload);
  auto op = std::make_unique<AppendSaveOp>(
      this, std::move(stream), std::move(append).value(), std::move(record));
  std::future<Result<AppendResult>> done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

Result<size_t> SnapshotStoreImpl::Prune(std::string_view stream,
                                        PruneSpec spec) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  auto op = std::make_unique<PruneOp>(this, std::string(stream), spec);
  std::future<Result<size_t>> done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

Status SnapshotStoreImpl::Delete(std::string_view stream, uint64_t seq) {
  PruneSpec spec;
  spec.kind = PruneSpec::Kind::kOne;
  spec.seq = seq;
  Result<size_t> r = Prune(stream, spec);
  return r.ok() ? Status::OK() : r.status();
}

Result<size_t> SnapshotStoreImpl::DeleteMatching(
    std::string_view stream, const SnapshotCriteria& criteria) {
  PruneSpec spec;
  spec.kind = PruneSpec::Kind::kMatching;
  spec.criteria = criteria;
  return Prune(stream, spec);
}

Result<size_t> SnapshotStoreImpl::Retain(std::string_view stream,
                                         size_t keep_newest) {
  PruneSpec spec;
  spec.kind = PruneSpec::Kind::kRetain;
  spec.keep = keep_newest;
  return Prune(stream, spec);
}

int SnapshotStoreImpl::ApplySave(MDB_txn* txn, const std::string& stream,
                                 uint64_t seq, SnapshotRecord* record,
                                 Status* op_status) {
  JournalLink::StreamHead st;
  int rc = 0;
  if (!LookupForWrite(link_, txn, stream, &st, &rc, op_status)) return rc;
  if (seq > st.head) {
    *op_status = Status::InvalidArgument(fmt::format(
        "snapshot of stream '{}' at seq {} is above its head {}; save a "
        "snapshot only after the events it covers are appended",
        stream, seq, st.head));
    return 0;
  }
  record->Seal(st.id, seq, clock_->NowNanos());
  Key128 key(st.id, seq);
  MDB_val k{kSnapshotKeyBytes, key.bytes};
  MDB_val v{record->size(), const_cast<char*>(record->data())};
  return mdb_put(txn, dbi_, &k, &v, 0);
}

int SnapshotStoreImpl::ApplyAppendSave(MDB_txn* txn, const std::string& stream,
                                       PreparedAppend* append,
                                       SnapshotRecord* record,
                                       Status* op_status) {
  // The head before the append tells a repeat (an idempotent retry whose
  // events are stored already: the journal returns the original result and
  // writes nothing) from a new append, which always raises it.
  JournalLink::StreamHead before;
  int rc = 0;
  Status s = link_.writer_lookup(txn, stream, &before, &rc);
  if (rc != 0) return rc;
  if (!s.ok() && !s.IsNotFound()) {
    *op_status = s;
    return 0;
  }
  rc = append->Apply(txn, op_status);
  if (rc != 0 || !op_status->ok()) return rc;
  const uint64_t last = append->result().last_seq;
  if (s.ok() && last <= before.head) return 0;  // a repeat writes nothing
  rc = ApplySave(txn, stream, last, record, op_status);
  if (rc == 0 && !op_status->ok()) {
    // The events are already written, and a refused op must have written
    // nothing, so doom the transaction instead. Unreachable while the
    // journal keeps its contract: the append just made the stream exist
    // with exactly this head.
    return EINVAL;
  }
  return rc;
}

int SnapshotStoreImpl::ApplyPrune(MDB_txn* txn, const std::string& stream,
                                  const PruneSpec& spec, size_t* deleted,
                                  Status* op_status) {
  JournalLink::StreamHead st;
  int rc = 0;
  if (!LookupForWrite(link_, txn, stream, &st, &rc, op_status)) return rc;
  if (spec.kind == PruneSpec::Kind::kOne) {
    Key128 key(st.id, spec.seq);
    MDB_val k{kSnapshotKeyBytes, key.bytes};
    rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc == MDB_NOTFOUND) {
      *op_status = Status::NotFound(fmt::format(
          "stream '{}' has no snapshot at seq {}", stream, spec.seq));
      return 0;
    }
    if (rc == 0) *deleted = 1;
    return rc;
  }

  // Choose first, delete afterwards: the walk's cursor stays valid.
  const SnapshotCriteria& c = spec.criteria;
  const bool matching = spec.kind == PruneSpec::Kind::kMatching;
  const bool time_bounded =
      matching && (c.min_timestamp_ns != SnapshotCriteria{}.min_timestamp_ns ||
                   c.max_timestamp_ns != SnapshotCriteria{}.max_timestamp_ns);
  std::vector<uint64_t> doomed;
  {
    SnapshotWalk walk(st.id, matching ? c.min_seq : 0,
                      matching ? c.max_seq : kMaxSeq);
    AlignedScratch scratch;
    DecodedSnapshot d;
    uint64_t seq = 0;
    MDB_val val;
    size_t good = 0;
    while ((rc = walk.Next(txn, dbi_, &seq, &val)) == 0) {
      // Seq bounds alone need no decoding; time bounds and retention
      // (which counts only usable snapshots) do.
      const bool ok =
          (matching && !time_bounded) ||
          DecodeSnapshotRecord(static_cast<const char*>(val.mv_data),
                               val.mv_size, st.id, seq, &scratch, &d)
              .ok();
      if (matching) {
        if (!time_bounded || (ok && d.timestamp_ns >= c.min_timestamp_ns &&
                              d.timestamp_ns <= c.max_timestamp_ns)) {
          doomed.push_back(seq);
        }
      } else if (good >= spec.keep) {
        doomed.push_back(seq);  // older than the newest `keep` good ones
      } else if (ok) {
        ++good;
      }
    }
    if (rc != MDB_NOTFOUND) return rc;
  }
  for (uint64_t seq : doomed) {
    Key128 key(st.id, seq);
    MDB_val k{kSnapshotKeyBytes, key.bytes};
    rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc != 0) return rc;
  }
  *deleted = doomed.size();
  return 0;
}

int SnapshotStoreImpl::DeleteStreamSnapshots(MDB_txn* txn, uint64_t id) {
  if (!present_) return 0;
  std::vector<uint64_t> doomed;
  {
    SnapshotWalk walk(id, 0, kMaxSeq);
    uint64_t seq = 0;
    MDB_val val;
    int rc;
    while ((rc = walk.Next(txn, dbi_, &seq, &val)) == 0) doomed.push_back(seq);
    if (rc != MDB_NOTFOUND) return rc;
  }
  for (uint64_t seq : doomed) {
    Key128 key(id, seq);
    MDB_val k{kSnapshotKeyBytes, key.bytes};
    int rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace memoir::internal
