// Opening the journal (journal_impl.h): its databases, and for a writable
// store the writer's starting point, which needs the unindexed tail whole.
#include <fmt/format.h>

#include <algorithm>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "journal/log_cursor.h"
#include "journal/tail_damage.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal {

Result<std::unique_ptr<JournalImpl>> JournalImpl::Open(
    Env* env, Writer* writer, std::shared_ptr<Clock> clock) {
  std::unique_ptr<JournalImpl> j(
      new JournalImpl(env, writer, clock ? std::move(clock) : Clock::System()));
  Status s = j->Load();
  if (!s.ok()) return s;
  if (writer != nullptr) writer->AddObserver(j.get());
  return j;
}

Status JournalImpl::Load() {
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } named[] = {{"names", &dbs_.names},
               {"streams", &dbs_.streams},
               {"log", &dbs_.log},
               {"stream_index", &dbs_.stream_index},
               {"tag_index", &dbs_.tag_index}};
  for (const Named& n : named) {
    Result<MDB_dbi> dbi = env_->OpenDatabase(n.name);
    if (!dbi.ok()) return dbi.status();
    *n.dbi = *dbi;
  }
  dbs_.meta = env_->meta();
  // Stream metadata came later: a read-only store written before it has
  // no such table, and then no stream has metadata.
  if (env_->read_only()) {
    Result<std::optional<MDB_dbi>> dbi =
        env_->OpenDatabaseIfPresent(kStreamMetaDb);
    if (!dbi.ok()) return dbi.status();
    if (dbi->has_value()) dbs_.stream_meta = **dbi;
    has_stream_meta_ = dbi->has_value();
  } else {
    Result<MDB_dbi> dbi = env_->OpenDatabase(kStreamMetaDb);
    if (!dbi.ok()) return dbi.status();
    dbs_.stream_meta = *dbi;
    has_stream_meta_ = true;
  }
  if (writer_ == nullptr) return Status::OK();  // read-only: tail per read

  // The writer's starting point: next position and stream id, and the
  // unindexed tail rebuilt from the log.
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_txn* t = txn->get();
  tail_.indexed_to = ReadMeta64(t, dbs_.meta, kMetaIndexedTo);
  uint64_t last_log = 0;
  int rc = LastLogPosition(t, dbs_.log, &last_log);
  if (rc != 0) return MdbStatus(rc, "reading the end of the log");
  uint64_t last =
      std::max(last_log, ReadMeta64(t, dbs_.meta, kMetaLastPosition));
  w_next_position_ = last + 1;
  // A store written before the type index existed gets it from here on.
  w_types_from_ = ReadMeta64(t, dbs_.meta, kMetaTypesIndexedFrom);
  if (w_types_from_ == 0) {
    w_types_from_ = last + 1;
    w_types_from_unsaved_ = true;
  }
  commit_signal_.Publish(last);
  notify_ = NotifyFile::ForWriter(env_->dir());
  if (notify_) notify_->Publish(last);
  tail_.last_position = last;
  {
    CursorCloser cur;
    rc = mdb_cursor_open(t, dbs_.streams, &cur.c);
    if (rc != 0) return MdbStatus(rc, "reading the streams table");
    MDB_val k, v;
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) {
      w_next_id_ = GetBig64(static_cast<const char*>(k.mv_data)) + 1;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
      return MdbStatus(rc, "reading the streams table");
    }
  }
  Status s = ScanTailInto(t, tail_.indexed_to, last_log, &tail_);
  if (!s.ok()) {
    return s.WithContext(fmt::format(
        "store {}: cannot rebuild the unindexed tail for writing (read-only "
        "opens still work); {}",
        env_->dir(), kDamageAdvice));
  }
  return Status::OK();
}

}  // namespace memoir::internal
