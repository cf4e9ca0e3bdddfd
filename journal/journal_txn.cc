// The journal as the writer's TxnObserver (journal_impl.h): the writer-side
// state of the open transaction is set up when it begins, flushed to the
// index when it is large enough or the store closes, then published to
// readers when it commits or dropped when it aborts.
#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "storage/bytes.h"

namespace memoir::internal {

void JournalImpl::Begin(MDB_txn* /*txn*/) {
  t_next_position_ = w_next_position_;
  t_next_id_ = w_next_id_;
  t_flushed_to_ = 0;
  t_now_ = clock_->NowNanos();
  ++t_epoch_;
}

int JournalImpl::BeforeCommit(MDB_txn* txn, bool closing) {
  if (w_types_from_unsaved_) {
    char value[8];
    PutLittle64(value, w_types_from_);
    MDB_val k{sizeof kMetaTypesIndexedFrom - 1,
              const_cast<char*>(kMetaTypesIndexedFrom)};
    MDB_val v{8, value};
    int rc = mdb_put(txn, dbs_.meta, &k, &v, 0);
    if (rc != 0) return rc;
  }
  if (closing || UnindexedCount() >= env_->options().index_flush_events) {
    return FlushIndex(txn);
  }
  return 0;
}

void JournalImpl::Committed() {
  if (!t_created_.empty()) {
    std::lock_guard<std::mutex> lock(names_mu_);
    for (const std::string& name : t_created_) {
      id_names_.emplace(w_streams_.find(name)->second.committed.id, name);
    }
  }
  for (WriterStream* ws : t_touched_) {
    AdvanceRecent(*ws);
    ws->committed = ws->txn;
  }
  w_next_position_ = t_next_position_;
  w_next_id_ = t_next_id_;
  w_types_from_unsaved_ = false;
  {
    static const std::vector<std::string> kNoTags;
    std::unique_lock<std::shared_mutex> lock(view_mu_);
    if (t_flushed_to_ != 0) tail_.PruneTo(t_flushed_to_);
    for (const PendingTail& p : t_tail_) {
      if (p.entry.position > t_flushed_to_) {
        tail_.Add(p.stream_id, p.entry, p.tags != nullptr ? *p.tags : kNoTags);
        tail_.AddTag(TypeIndexTag(p.type), p.entry.position);
      }
    }
    if (w_next_position_ - 1 > tail_.last_position) {
      tail_.last_position = w_next_position_ - 1;
    }
  }
  // Readers see the commit from here on (BeginView takes view_mu_).
  commit_signal_.Publish(w_next_position_ - 1);
  if (notify_) notify_->Publish(w_next_position_ - 1);
  t_created_.clear();
  EndTxn();
}

void JournalImpl::Aborted() {
  // Streams created by the transaction do not exist after all.
  for (const std::string& name : t_created_) {
    auto it = w_streams_.find(name);
    if (it == w_streams_.end()) continue;
    if (it->second.recent != nullptr) --w_recent_rings_;
    w_streams_.erase(it);
  }
  t_created_.clear();
  EndTxn();
}

void JournalImpl::EndTxn() {
  // LMDB frees a write transaction's cursors when it ends.
  t_log_ = nullptr;
  t_touched_.clear();
  t_tail_.clear();
  t_flushed_to_ = 0;
  ++t_epoch_;
}

}  // namespace memoir::internal
