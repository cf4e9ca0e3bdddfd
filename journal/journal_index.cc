// The stored index (journal_impl.h, layout.h): its bulk write from the
// unindexed tail, and deletion, which works on the index and so flushes it
// first.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

// DeleteTo / DeleteStream: the caller waits on the op's future.
class DeleteOp final : public WriteOp {
 public:
  DeleteOp(JournalImpl* journal, std::string name, uint64_t seq, bool tombstone,
           const DeleteOptions& options)
      : journal_(journal),
        name_(std::move(name)),
        seq_(seq),
        tombstone_(tombstone),
        options_(options) {}
  size_t bytes() const override { return 4096; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    held_ = JournalImpl::HeldBack{};  // a retried group applies it again
    return journal_->ApplyDelete(txn, name_, seq_, tombstone_, options_, &held_,
                                 op_status);
  }
  void Done(Status status) override {
    if (status.ok() && held_.held) {
      status = Status::Busy(fmt::format(
          "deleted stream '{}' only up to seq {}, not {}: the later events "
          "are held for {}, which has examined the log up to position {}; "
          "delete them once it has passed them, or force the deletion",
          name_, held_.deleted_to, held_.wanted, held_.holder, held_.floor));
    }
    promise_.set_value(std::move(status));
  }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  JournalImpl* journal_;
  std::string name_;
  uint64_t seq_;
  bool tombstone_;
  DeleteOptions options_;
  JournalImpl::HeldBack held_;
  std::promise<Status> promise_;
};

// Deletes the log record an index entry points at (`index_value`, 8
// bytes) with its tag entries. A record already gone is no error. Returns
// an LMDB code.
int DeleteLogRecord(MDB_txn* txn, const JournalImpl::Dbs& dbs,
                    const MDB_val& index_value, AlignedScratch* scratch,
                    DecodedEvent* decoded) {
  char pos_key[8];
  std::memcpy(pos_key, index_value.mv_data, 8);
  uint64_t pos = GetBig64(pos_key);
  MDB_val lk{8, pos_key};
  MDB_val lv;
  int r = mdb_get(txn, dbs.log, &lk, &lv);
  if (r == 0) {
    // A record that fails its checks is deleted all the same; its tag
    // entries (unknown) then point at nothing and readers skip them.
    // The tags view the record in LMDB's memory, which an update
    // (a deletion may spill pages) invalidates: keys first.
    std::vector<std::string> tag_keys;
    if (DecodeEventRecord(static_cast<const char*>(lv.mv_data), lv.mv_size,
                          scratch, decoded)
            .ok()) {
      for (std::string_view tag : decoded->tag_list) {
        std::string& tk = tag_keys.emplace_back(tag);
        tk.push_back('\0');
        AppendBig64(&tk, pos);
      }
      std::string& type_key =
          tag_keys.emplace_back(TypeIndexTag(decoded->type));
      type_key.push_back('\0');
      AppendBig64(&type_key, pos);
      for (std::string& tk : tag_keys) {
        MDB_val tkv{tk.size(), tk.data()};
        r = mdb_del(txn, dbs.tag_index, &tkv, nullptr);
        if (r != 0 && r != MDB_NOTFOUND) return r;
      }
    }
    r = mdb_del(txn, dbs.log, &lk, nullptr);
  }
  if (r != 0 && r != MDB_NOTFOUND) return r;
  return 0;
}

// Writes one stream's flushed entries (ascending seq) to the stream index
// through `index`, then updates its row through `rows` to count them. The
// row is rewritten in place. Returns an LMDB code (MDB_CORRUPTED when the
// row is missing or does not decode).
int PutStreamEntries(MDB_cursor* index, MDB_cursor* rows, uint64_t id,
                     const std::vector<TailEntry>& entries, StreamRow* row,
                     std::string* row_bytes) {
  int rc = 0;
  for (const TailEntry& e : entries) {
    Key128 key(id, e.seq);
    char pos[8];
    PutBig64(pos, e.position);
    MDB_val k{16, key.bytes};
    MDB_val v{8, pos};
    rc = mdb_cursor_put(index, &k, &v, 0);
    if (rc != 0) return rc;
  }
  // The stream row follows its events.
  Key64 rk(id);
  MDB_val k{8, rk.bytes};
  MDB_val v;
  rc = mdb_cursor_get(rows, &k, &v, MDB_SET_KEY);
  if (rc == MDB_NOTFOUND ||
      (rc == 0 &&
       !StreamRow::Decode(
            std::string_view(static_cast<const char*>(v.mv_data), v.mv_size),
            row)
            .ok())) {
    rc = MDB_CORRUPTED;
  }
  if (rc != 0) return rc;
  row->head = std::max(row->head, entries.back().seq);
  row->event_count += entries.size();
  row->last_write_ns =
      std::max(row->last_write_ns, entries.back().timestamp_ns);
  *row_bytes = row->Encode();
  MDB_val nv{row_bytes->size(), row_bytes->data()};
  return mdb_cursor_put(rows, &k, &nv, MDB_CURRENT);
}

}  // namespace

int JournalImpl::DeleteEventsTo(MDB_txn* txn, uint64_t id, uint64_t from_seq,
                                uint64_t to_seq, uint64_t max_position,
                                uint64_t* removed, uint64_t* held_seq) {
  // Walks the stream's index entries from from_seq, deleting each entry
  // after its log record, so an entry never outlives the record it
  // points at; *removed counts the entries deleted.
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbs_.stream_index, &cur);
  if (rc != 0) return rc;
  Key128 start(id, from_seq);
  MDB_val k{16, start.bytes};
  MDB_val v;
  AlignedScratch scratch;
  DecodedEvent decoded;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (k.mv_size != 16) break;
    const char* kp = static_cast<const char*>(k.mv_data);
    if (GetBig64(kp) != id || GetBig64(kp + 8) > to_seq) break;
    if (v.mv_size == 8 &&
        GetBig64(static_cast<const char*>(v.mv_data)) > max_position) {
      *held_seq = GetBig64(kp + 8);
      break;
    }
    if (v.mv_size == 8) {
      int r = DeleteLogRecord(txn, dbs_, v, &scratch, &decoded);
      if (r != 0) {
        mdb_cursor_close(cur);
        return r;
      }
    }
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) break;
    ++*removed;
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
  }
  mdb_cursor_close(cur);
  // EINVAL: the deletion left the cursor on no entry.
  if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) return rc;
  return 0;
}

Status JournalImpl::DeleteTo(std::string_view stream, uint64_t seq,
                             const DeleteOptions& options) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  auto op = std::make_unique<DeleteOp>(this, std::string(stream), seq, false,
                                       options);
  auto done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

Status JournalImpl::DeleteStream(std::string_view stream,
                                 const DeleteOptions& options) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  auto op =
      std::make_unique<DeleteOp>(this, std::string(stream), 0, true, options);
  auto done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

int JournalImpl::ApplyDelete(MDB_txn* txn, const std::string& name,
                             uint64_t seq, bool tombstone,
                             const DeleteOptions& options, HeldBack* held,
                             Status* op_status) {
  WriterStream* ws = nullptr;
  int rc = 0;
  Status s = FindStream(txn, name, HashName(name), &ws, &rc);
  if (rc != 0) return rc;
  if (s.ok() && ws == nullptr) {
    s = Status::NotFound(fmt::format("stream '{}' does not exist", name));
  }
  if (!s.ok()) {
    *op_status = s;
    return 0;
  }
  StreamState st = ws->txn_epoch == t_epoch_ ? ws->txn : ws->committed;
  if (st.deleted) {
    *op_status = Status::StreamDeleted(
        fmt::format("stream '{}' was already deleted", name));
    return 0;
  }
  if (options.expected_head && *options.expected_head != st.head) {
    *op_status = Status::Conflict(
        fmt::format("stream '{}': expected head {}, but its head is {}; "
                    "nothing was deleted",
                    name, *options.expected_head, st.head),
        st.head);
    return 0;
  }
  uint64_t target = tombstone ? st.head : seq;
  if (target > st.head) {
    if (!options.clamp_to_head) {
      *op_status = Status::InvalidArgument(fmt::format(
          "cannot delete stream '{}' up to seq {}: its head is {} (set "
          "DeleteOptions::clamp_to_head to delete up to the head)",
          name, seq, st.head));
      return 0;
    }
    target = st.head;
  }
  // Everything must be in the stored index before it can be deleted there.
  rc = FlushIndex(txn);
  if (rc != 0) return rc;
  // The row before any deletion: a row that cannot be read refuses the
  // delete with nothing deleted (the index flush above only stores what the
  // log already says).
  StreamRow row;
  s = ReadRow(txn, st.id, &row);
  if (!s.ok()) {
    *op_status = s.WithContext(fmt::format("deleting stream '{}'", name));
    return 0;
  }
  // Deleting log records can reshape the log's tree under the append
  // cursor; later appends in this transaction open a fresh one.
  if (t_log_ != nullptr) {
    mdb_cursor_close(t_log_);
    t_log_ = nullptr;
  }

  // A tombstone deletes all: the stream is gone for every reader.
  uint64_t floor = UINT64_MAX;
  std::string holder;
  if (!tombstone && !options.force && floor_ && target > st.deleted_to) {
    rc = floor_(txn, &floor, &holder);
    if (rc != 0) return rc;
  }
  uint64_t removed = 0;
  if (target > st.deleted_to) {
    uint64_t held_seq = 0;
    rc = DeleteEventsTo(txn, st.id, st.deleted_to + 1, target, floor, &removed,
                        &held_seq);
    if (rc != 0) return rc;
    if (held_seq != 0) {
      *held = HeldBack{true, std::max(held_seq - 1, st.deleted_to), target,
                       floor, holder};
      target = held_seq - 1;
    }
  }

  row.deleted_to = std::max(row.deleted_to, target);
  row.event_count -= std::min(row.event_count, removed);
  row.tombstone = tombstone;
  std::string bytes = row.Encode();
  Key64 rk(st.id);
  MDB_val k{8, rk.bytes};
  MDB_val v{bytes.size(), bytes.data()};
  rc = mdb_put(txn, dbs_.streams, &k, &v, 0);
  if (rc != 0) return rc;
  if (tombstone) {
    rc = DeleteStreamMetadata(txn, st.id);
    if (rc != 0) return rc;
    for (auto& hook : hooks_) {
      rc = hook(txn, st.id);
      if (rc != 0) return rc;
    }
  }
  StreamState& txn_state = TxnState(*ws);
  txn_state.deleted_to = row.deleted_to;
  txn_state.deleted = tombstone;
  return 0;
}

size_t JournalImpl::UnindexedCount() const {
  if (t_flushed_to_ == 0) return tail_.count() + t_tail_.size();
  return static_cast<size_t>(std::count_if(
      t_tail_.begin(), t_tail_.end(),
      [&](const PendingTail& p) { return p.entry.position > t_flushed_to_; }));
}

int JournalImpl::FlushIndex(MDB_txn* txn) {
  const uint64_t from = t_flushed_to_ != 0 ? t_flushed_to_ : tail_.indexed_to;
  const uint64_t to = t_next_position_ - 1;
  if (to <= from) return 0;

  // The entries above `from`: the published tail's and this transaction's,
  // visited stream by stream in ascending id and seq so the cursor moves
  // forward through the index. Within a stream, positions (and so seqs)
  // ascend: the tail's entries precede the transaction's.
  std::vector<const PendingTail*> pending;
  std::vector<uint64_t> ids;
  for (const PendingTail& p : t_tail_) {
    if (p.entry.position <= from) continue;
    pending.push_back(&p);
    ids.push_back(p.stream_id);
  }
  std::stable_sort(pending.begin(), pending.end(),
                   [](const PendingTail* a, const PendingTail* b) {
                     return a->stream_id < b->stream_id;
                   });
  tail_.ForEachStream([&](uint64_t id) { ids.push_back(id); });
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  int rc = FlushStreams(txn, from, to, pending, ids);
  if (rc != 0) return rc;
  rc = FlushTags(txn, from, pending);
  if (rc != 0) return rc;
  // The index now covers every position up to `to`; the counters say so in
  // the same transaction, so readers and a reopen see both or neither.
  for (const char* name : {kMetaIndexedTo, kMetaLastPosition}) {
    char buf[8];
    PutLittle64(buf, to);
    MDB_val k{std::strlen(name), const_cast<char*>(name)};
    MDB_val v{8, buf};
    rc = mdb_put(txn, dbs_.meta, &k, &v, 0);
    if (rc != 0) return rc;
  }
  t_flushed_to_ = to;
  return 0;
}

int JournalImpl::FlushStreams(MDB_txn* txn, uint64_t from, uint64_t to,
                              const std::vector<const PendingTail*>& pending,
                              const std::vector<uint64_t>& ids) {
  // Both tables are visited in ascending key order, each through one
  // cursor: a put lands on the page the cursor is on, or one near it. A
  // stream's row is rewritten in place (MDB_CURRENT: its size never changes
  // here), without a second search.
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbs_.stream_index, &cur);
  if (rc != 0) return rc;
  MDB_cursor* rows = nullptr;
  rc = mdb_cursor_open(txn, dbs_.streams, &rows);
  if (rc != 0) {
    mdb_cursor_close(cur);
    return rc;
  }
  std::vector<TailEntry> entries;
  StreamRow row;
  std::string row_bytes;
  size_t next_pending = 0;
  for (uint64_t id : ids) {
    entries.clear();
    tail_.Collect(id, from, to, &entries);
    for (; next_pending < pending.size() &&
           pending[next_pending]->stream_id == id;
         ++next_pending) {
      entries.push_back(pending[next_pending]->entry);
    }
    if (entries.empty()) continue;
    rc = PutStreamEntries(cur, rows, id, entries, &row, &row_bytes);
    if (rc != 0) break;
  }
  mdb_cursor_close(rows);
  mdb_cursor_close(cur);
  return rc;
}

int JournalImpl::FlushTags(MDB_txn* txn, uint64_t from,
                           const std::vector<const PendingTail*>& pending) {
  // One key per tag and position, written in key order.
  std::vector<std::pair<std::string_view, uint64_t>> tags;
  for (const auto& [tag, positions] : tail_.tags) {
    for (uint64_t p : positions) {
      if (p > from) tags.emplace_back(tag, p);
    }
  }
  std::vector<std::string> type_tags;  // the pending events' type keys
  type_tags.reserve(pending.size());
  for (const PendingTail* p : pending) {
    type_tags.push_back(TypeIndexTag(p->type));
    tags.emplace_back(type_tags.back(), p->entry.position);
    if (p->tags == nullptr) continue;
    for (const std::string& tag : *p->tags) {
      tags.emplace_back(tag, p->entry.position);
    }
  }
  std::sort(tags.begin(), tags.end());
  std::string tk;
  for (const auto& [tag, pos] : tags) {
    tk.assign(tag);
    tk.push_back('\0');
    AppendBig64(&tk, pos);
    MDB_val k{tk.size(), tk.data()};
    MDB_val v{0, nullptr};
    int rc = mdb_put(txn, dbs_.tag_index, &k, &v, 0);
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace memoir::internal
