// The snapshot store's read path, its opening, and the non-virtual parts of
// the public SnapshotStore API (snapshot_store_impl.h).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "snapshot/layout.h"
#include "snapshot/snapshot_store_impl.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir {

Status SnapshotStore::Save(std::string_view stream, uint64_t seq,
                           SnapshotData data) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  Save(stream, seq, std::move(data),
       [promise](Status s) { promise->set_value(std::move(s)); });
  return done.get();
}

}  // namespace memoir

namespace memoir::internal {

SnapshotWalk::~SnapshotWalk() {
  if (cur_ != nullptr) mdb_cursor_close(cur_);
}

int SnapshotWalk::Next(MDB_txn* txn, MDB_dbi dbi, uint64_t* seq, MDB_val* val) {
  MDB_val k;
  int rc;
  if (cur_ == nullptr) {
    rc = mdb_cursor_open(txn, dbi, &cur_);
    if (rc != 0) return rc;
    // The first key at or after (id, max_seq); if it is not exactly that,
    // the newest candidate is the one before it.
    Key128 start(id_, max_seq_);
    k = MDB_val{kSnapshotKeyBytes, start.bytes};
    rc = mdb_cursor_get(cur_, &k, val, MDB_SET_RANGE);
    if (rc == 0 && (k.mv_size != kSnapshotKeyBytes ||
                    std::memcmp(k.mv_data, start.bytes, 16) != 0)) {
      rc = mdb_cursor_get(cur_, &k, val, MDB_PREV);
    } else if (rc == MDB_NOTFOUND) {
      rc = mdb_cursor_get(cur_, &k, val, MDB_LAST);
    }
  } else {
    rc = mdb_cursor_get(cur_, &k, val, MDB_PREV);
  }
  if (rc != 0) return rc;
  if (k.mv_size != kSnapshotKeyBytes) return MDB_NOTFOUND;
  const char* kp = static_cast<const char*>(k.mv_data);
  if (GetBig64(kp) != id_) return MDB_NOTFOUND;
  *seq = GetBig64(kp + 8);
  if (*seq < min_seq_ || *seq > max_seq_) return MDB_NOTFOUND;
  return 0;
}

Result<std::unique_ptr<SnapshotStoreImpl>> SnapshotStoreImpl::Open(
    Env* env, Writer* writer, std::shared_ptr<Clock> clock, JournalLink link) {
  std::unique_ptr<SnapshotStoreImpl> s(new SnapshotStoreImpl(
      env, writer, clock ? std::move(clock) : Clock::System(),
      std::move(link)));
  Result<MDB_dbi> dbi = env->OpenDatabase(kSnapshotsDb);
  if (dbi.ok()) {
    s->dbi_ = *dbi;
  } else if (env->read_only() && dbi.status().IsCorruption()) {
    // A store written before snapshots existed, opened read-only: it simply
    // has none. (OpenDatabase reports a missing table as corruption.)
    s->present_ = false;
  } else {
    return dbi.status();
  }
  return s;
}

Status SnapshotStoreImpl::Read(
    std::string_view stream,
    const std::function<Status(MDB_txn*, uint64_t)>& visit) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  Result<uint64_t> id = link_.stream_id(txn->get(), stream);
  if (!id.ok()) return id.status();
  return visit(txn->get(), present_ ? *id : 0);
}

Result<LoadResult> SnapshotStoreImpl::LoadLatest(
    std::string_view stream, const SnapshotCriteria& criteria) {
  LoadResult result;
  Status s = Read(stream, [&](MDB_txn* txn, uint64_t id) -> Status {
    if (id == 0) return Status::OK();
    SnapshotWalk walk(id, criteria.min_seq, criteria.max_seq);
    AlignedScratch scratch;
    DecodedSnapshot d;
    uint64_t seq = 0;
    MDB_val val;
    int rc;
    while ((rc = walk.Next(txn, dbi_, &seq, &val)) == 0) {
      Status checked =
          DecodeSnapshotRecord(static_cast<const char*>(val.mv_data),
                               val.mv_size, id, seq, &scratch, &d);
      if (!checked.ok()) {
        // Its timestamp is unknown, so it may or may not match the time
        // bounds; report it either way rather than hide damage.
        result.skipped.push_back({seq, std::string(checked.message())});
        continue;
      }
      if (d.timestamp_ns < criteria.min_timestamp_ns ||
          d.timestamp_ns > criteria.max_timestamp_ns) {
        continue;
      }
      Snapshot snap;
      snap.info = SnapshotInfo{seq,
                               d.timestamp_ns,
                               std::string(d.type),
                               d.schema_version,
                               d.payload.size(),
                               /*checksum_ok=*/true};
      snap.payload.assign(d.payload);
      snap.metadata.assign(d.metadata);
      result.snapshot = std::move(snap);
      return Status::OK();
    }
    if (rc != MDB_NOTFOUND) {
      return MdbStatus(rc, fmt::format("loading a snapshot of stream '{}' "
                                       "in {}",
                                       stream, env_->dir()));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return result;
}

Result<std::vector<SnapshotInfo>> SnapshotStoreImpl::List(
    std::string_view stream) {
  std::vector<SnapshotInfo> list;
  Status s = Read(stream, [&](MDB_txn* txn, uint64_t id) -> Status {
    if (id == 0) return Status::OK();
    SnapshotWalk walk(id, 0, kMaxSeq);
    AlignedScratch scratch;
    DecodedSnapshot d;
    uint64_t seq = 0;
    MDB_val val;
    int rc;
    while ((rc = walk.Next(txn, dbi_, &seq, &val)) == 0) {
      SnapshotInfo info;
      info.seq = seq;
      info.size = val.mv_size;
      if (DecodeSnapshotRecord(static_cast<const char*>(val.mv_data),
                               val.mv_size, id, seq, &scratch, &d)
              .ok()) {
        info.timestamp_ns = d.timestamp_ns;
        info.type.assign(d.type);
        info.schema_version = d.schema_version;
        info.size = d.payload.size();
        info.checksum_ok = true;
      }
      list.push_back(std::move(info));
    }
    if (rc != MDB_NOTFOUND) {
      return MdbStatus(rc, fmt::format("listing snapshots of stream '{}' in {}",
                                       stream, env_->dir()));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::reverse(list.begin(), list.end());
  return list;
}

}  // namespace memoir::internal
