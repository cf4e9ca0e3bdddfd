// The journal's write path: validation in the caller's thread, then
// WriteOps applied by the writer thread (journal_impl.h).
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <unordered_set>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

Status ValidateEvent(const EventData& e, std::string_view stream, size_t i) {
  auto where = [&] {
    return fmt::format("event {} of stream '{}'", i, stream);
  };
  if (e.type.empty() || e.type.size() > kMaxTypeNameBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: type name must be 1 to {} bytes, got {}", where(),
                    kMaxTypeNameBytes, e.type.size()));
  }
  if (e.payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: payload of {} bytes exceeds the limit of {}", where(),
                    e.payload.size(), kMaxPayloadBytes));
  }
  if (e.tags.size() > kMaxTagsPerEvent) {
    return Status::InvalidArgument(
        fmt::format("{}: {} tags, at most {} allowed", where(), e.tags.size(),
                    kMaxTagsPerEvent));
  }
  for (const std::string& tag : e.tags) {
    if (tag.empty() || tag.size() > kMaxTagBytes ||
        tag.find('\0') != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("{}: a tag must be 1 to {} bytes without NUL", where(),
                      kMaxTagBytes));
    }
  }
  return Status::OK();
}

class AppendOp final : public WriteOp {
 public:
  AppendOp(JournalImpl* journal, std::vector<StreamAppend> requests,
           Journal::AppendCallback single, Journal::MultiAppendCallback multi)
      : journal_(journal),
        requests_(std::move(requests)),
        single_(std::move(single)),
        multi_(std::move(multi)) {
    // Encoding happens here, in the producer's thread, so the writer only
    // patches ids and checksums.
    records_.resize(requests_.size());
    for (size_t r = 0; r < requests_.size(); ++r) {
      records_[r].reserve(requests_[r].events.size());
      for (EventData& e : requests_[r].events) {
        records_[r].push_back(EventRecord::Encode(e));
        bytes_ += records_[r].back().size() + 64;
        std::string().swap(e.payload);  // the record holds the bytes now
      }
    }
  }
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    results_.clear();
    return journal_->ApplyAppend(txn, requests_, records_, &results_,
                                 op_status);
  }
  void Done(Status status) override {
    // An exception from a user callback must not kill the writer thread.
    try {
      if (single_) {
        if (status.ok()) {
          single_(results_.front());
        } else {
          single_(std::move(status));
        }
      } else if (multi_) {
        if (status.ok()) {
          multi_(std::move(results_));
        } else {
          multi_(std::move(status));
        }
      }
    } catch (...) {
    }
  }

 private:
  JournalImpl* journal_;
  std::vector<StreamAppend> requests_;
  std::vector<std::vector<EventRecord>> records_;
  std::vector<AppendResult> results_;
  Journal::AppendCallback single_;
  Journal::MultiAppendCallback multi_;
  size_t bytes_ = 0;
};

class DeleteOp final : public WriteOp {
 public:
  DeleteOp(JournalImpl* journal, std::string name, uint64_t seq, bool tombstone)
      : journal_(journal),
        name_(std::move(name)),
        seq_(seq),
        tombstone_(tombstone) {}
  size_t bytes() const override { return 4096; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return journal_->ApplyDelete(txn, name_, seq_, tombstone_, op_status);
  }
  void Done(Status status) override { promise_.set_value(std::move(status)); }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  JournalImpl* journal_;
  std::string name_;
  uint64_t seq_;
  bool tombstone_;
  std::promise<Status> promise_;
};

}  // namespace

Status JournalImpl::RefuseWrites() const {
  if (writer_ == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "store {} is open read-only; open it without read_only to write",
        env_->dir()));
  }
  return Status::OK();
}

Status JournalImpl::ValidateRequest(const StreamAppend& r) {
  Status s = ValidateStreamName(r.stream);
  if (!s.ok()) return s;
  if (r.events.empty()) {
    return Status::InvalidArgument(
        fmt::format("append to stream '{}' has no events", r.stream));
  }
  for (size_t i = 0; i < r.events.size(); ++i) {
    s = ValidateEvent(r.events[i], r.stream, i);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

void JournalImpl::Append(StreamAppend request, AppendCallback done) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateRequest(request);
  if (!s.ok()) {
    done(std::move(s));
    return;
  }
  std::vector<StreamAppend> one;
  one.push_back(std::move(request));
  writer_->Submit(std::make_unique<AppendOp>(this, std::move(one),
                                             std::move(done), nullptr));
}

void JournalImpl::AppendMulti(std::vector<StreamAppend> requests,
                              MultiAppendCallback done) {
  Status s = RefuseWrites();
  if (s.ok() && requests.empty()) {
    s = Status::InvalidArgument("multi-stream append has no streams");
  }
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; s.ok() && i < requests.size(); ++i) {
    s = ValidateRequest(requests[i]);
    if (s.ok() && !seen.insert(requests[i].stream).second) {
      s = Status::InvalidArgument(fmt::format(
          "stream '{}' appears twice in one multi-stream append; merge its "
          "events into one request",
          requests[i].stream));
    }
  }
  if (!s.ok()) {
    done(std::move(s));
    return;
  }
  writer_->Submit(std::make_unique<AppendOp>(this, std::move(requests), nullptr,
                                             std::move(done)));
}

Status JournalImpl::DeleteTo(std::string_view stream, uint64_t seq) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  auto op = std::make_unique<DeleteOp>(this, std::string(stream), seq, false);
  auto done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

Status JournalImpl::DeleteStream(std::string_view stream) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  auto op = std::make_unique<DeleteOp>(this, std::string(stream), 0, true);
  auto done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

Status JournalImpl::WriterLookup(MDB_txn* txn, std::string_view name,
                                 StreamState* out, int* rc) {
  *rc = 0;
  std::string key(name);
  uint64_t id = 0;
  if (auto it = t_names_.find(key); it != t_names_.end()) {
    id = it->second;
  } else if (auto it2 = w_names_.find(key); it2 != w_names_.end()) {
    id = it2->second;
  } else {
    MDB_val k{key.size(), key.data()};
    MDB_val v;
    int r = mdb_get(txn, dbs_.names, &k, &v);
    if (r == MDB_NOTFOUND) {
      return Status::NotFound(fmt::format("stream '{}' does not exist", name));
    }
    if (r != 0) {
      *rc = r;
      return Status::OK();
    }
    if (v.mv_size != 8) {
      return Status::Corruption(
          fmt::format("stream '{}': its names entry has {} bytes, expected 8",
                      name, v.mv_size));
    }
    id = GetBig64(static_cast<const char*>(v.mv_data));
    w_names_.emplace(key, id);
  }
  if (auto it = t_streams_.find(id); it != t_streams_.end()) {
    *out = it->second;
    return Status::OK();
  }
  if (auto it = w_streams_.find(id); it != w_streams_.end()) {
    *out = it->second;
    return Status::OK();
  }
  StreamRow row;
  Status s = ReadRow(txn, id, &row);
  if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", name));
  StreamState st{id, row.head, row.deleted_to, row.tombstone};
  if (auto it = tail_.streams.find(id); it != tail_.streams.end()) {
    st.head = std::max(st.head, it->second.back().seq);
  }
  w_streams_[id] = st;
  *out = st;
  return Status::OK();
}

int JournalImpl::ApplyAppend(MDB_txn* txn, std::vector<StreamAppend>& requests,
                             std::vector<std::vector<EventRecord>>& records,
                             std::vector<AppendResult>* results,
                             Status* op_status) {
  // Phase 1: check every expectation. Nothing is written unless all hold.
  std::vector<StreamState> states(requests.size());
  std::vector<bool> exists(requests.size(), true);
  for (size_t r = 0; r < requests.size(); ++r) {
    int rc = 0;
    Status s = WriterLookup(txn, requests[r].stream, &states[r], &rc);
    if (rc != 0) return rc;
    if (s.IsNotFound()) {
      exists[r] = false;
      states[r] = StreamState{};
    } else if (!s.ok()) {
      *op_status = s;
      return 0;
    }
    const StreamState& st = states[r];
    if (st.deleted) {
      *op_status = Status::StreamDeleted(
          fmt::format("stream '{}' was deleted; appends to it are refused",
                      requests[r].stream));
      return 0;
    }
    const Expected& e = requests[r].expected;
    if (!e.any() && e.seq() != st.head) {
      *op_status = Status::Conflict(
          fmt::format("stream '{}': expected head {}, but it is {}; reload "
                      "the stream and retry",
                      requests[r].stream, e.seq(), st.head),
          st.head);
      return 0;
    }
  }
  // Phase 2: write.
  for (size_t r = 0; r < requests.size(); ++r) {
    StreamState& st = states[r];
    if (!exists[r]) {
      st.id = t_next_id_++;
      const std::string& name = requests[r].stream;
      char idbuf[8];
      PutBig64(idbuf, st.id);
      MDB_val k{name.size(), const_cast<char*>(name.data())};
      MDB_val v{8, idbuf};
      int rc = mdb_put(txn, dbs_.names, &k, &v, MDB_NOOVERWRITE);
      if (rc != 0) return rc;
      StreamRow row;
      row.name = name;
      row.created_ns = t_now_;
      std::string bytes = row.Encode();
      MDB_val rk{8, idbuf};
      MDB_val rv{bytes.size(), bytes.data()};
      rc = mdb_put(txn, dbs_.streams, &rk, &rv, MDB_APPEND);
      if (rc != 0) return rc;
      t_names_[name] = st.id;
    }
    AppendResult result;
    result.first_seq = st.head + 1;
    result.first_position = t_next_position_;
    for (size_t i = 0; i < records[r].size(); ++i) {
      EventRecord& rec = records[r][i];
      uint64_t seq = ++st.head;
      uint64_t pos = t_next_position_++;
      rec.Seal(st.id, seq, pos, t_now_);
      char kb[8];
      PutBig64(kb, pos);
      MDB_val k{8, kb};
      MDB_val v{rec.size(), const_cast<char*>(rec.data())};
      int rc = mdb_put(txn, dbs_.log, &k, &v, MDB_APPEND);
      if (rc != 0) return rc;
      t_tail_.push_back(PendingTail{st.id, TailEntry{seq, pos, t_now_},
                                    &requests[r].events[i].tags});
    }
    result.last_seq = st.head;
    result.last_position = t_next_position_ - 1;
    t_streams_[st.id] = st;
    results->push_back(result);
  }
  return 0;
}

int JournalImpl::ApplyDelete(MDB_txn* txn, const std::string& name,
                             uint64_t seq, bool tombstone, Status* op_status) {
  StreamState st;
  int rc = 0;
  Status s = WriterLookup(txn, name, &st, &rc);
  if (rc != 0) return rc;
  if (!s.ok()) {
    *op_status = s;
    return 0;
  }
  if (st.deleted) {
    *op_status = Status::StreamDeleted(
        fmt::format("stream '{}' was already deleted", name));
    return 0;
  }
  uint64_t target = tombstone ? st.head : seq;
  if (target > st.head) {
    *op_status = Status::InvalidArgument(
        fmt::format("cannot delete stream '{}' up to seq {}: its head is {}",
                    name, seq, st.head));
    return 0;
  }
  // Everything must be in the stored index before it can be deleted there.
  rc = FlushIndex(txn);
  if (rc != 0) return rc;

  uint64_t removed = 0;
  if (target > st.deleted_to) {
    MDB_cursor* cur = nullptr;
    rc = mdb_cursor_open(txn, dbs_.stream_index, &cur);
    if (rc != 0) return rc;
    Key128 start(st.id, st.deleted_to + 1);
    MDB_val k{16, start.bytes};
    MDB_val v;
    AlignedScratch scratch;
    DecodedEvent decoded;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      if (k.mv_size != 16) break;
      const char* kp = static_cast<const char*>(k.mv_data);
      if (GetBig64(kp) != st.id || GetBig64(kp + 8) > target) break;
      if (v.mv_size == 8) {
        char pos_key[8];
        std::memcpy(pos_key, v.mv_data, 8);
        uint64_t pos = GetBig64(pos_key);
        MDB_val lk{8, pos_key};
        MDB_val lv;
        int r = mdb_get(txn, dbs_.log, &lk, &lv);
        if (r == 0) {
          // A record that fails its checks is deleted all the same; its tag
          // entries (unknown) then point at nothing and readers skip them.
          if (DecodeEventRecord(static_cast<const char*>(lv.mv_data),
                                lv.mv_size, &scratch, &decoded)
                  .ok()) {
            for (std::string_view tag : decoded.tags) {
              std::string tk(tag);
              tk.push_back('\0');
              AppendBig64(&tk, pos);
              MDB_val tkv{tk.size(), tk.data()};
              r = mdb_del(txn, dbs_.tag_index, &tkv, nullptr);
              if (r != 0 && r != MDB_NOTFOUND) {
                mdb_cursor_close(cur);
                return r;
              }
            }
          }
          r = mdb_del(txn, dbs_.log, &lk, nullptr);
        }
        if (r != 0 && r != MDB_NOTFOUND) {
          mdb_cursor_close(cur);
          return r;
        }
      }
      rc = mdb_cursor_del(cur, 0);
      if (rc != 0) break;
      ++removed;
      rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) return rc;
  }

  StreamRow row;
  s = ReadRow(txn, st.id, &row);
  if (!s.ok()) {
    *op_status = s.WithContext(fmt::format("deleting stream '{}'", name));
    return 0;
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
    for (auto& hook : hooks_) {
      rc = hook(txn, st.id);
      if (rc != 0) return rc;
    }
  }
  st.deleted_to = row.deleted_to;
  st.deleted = tombstone;
  t_streams_[st.id] = st;
  return 0;
}

size_t JournalImpl::UnindexedCount() const {
  if (t_flushed_to_ == 0) return tail_.count + t_tail_.size();
  return static_cast<size_t>(std::count_if(
      t_tail_.begin(), t_tail_.end(),
      [&](const PendingTail& p) { return p.entry.position > t_flushed_to_; }));
}

int JournalImpl::FlushIndex(MDB_txn* txn) {
  const uint64_t from = t_flushed_to_ != 0 ? t_flushed_to_ : tail_.indexed_to;
  const uint64_t to = t_next_position_ - 1;
  if (to <= from) return 0;

  // Gather (stream, entry) and (tag, position) above `from`, sorted so the
  // cursor moves forward through each table.
  struct Item {
    uint64_t id;
    TailEntry e;
  };
  std::vector<Item> items;
  std::vector<std::pair<std::string_view, uint64_t>> tags;
  for (const auto& [id, entries] : tail_.streams) {
    for (const TailEntry& e : entries) {
      if (e.position > from) items.push_back({id, e});
    }
  }
  for (const auto& [tag, positions] : tail_.tags) {
    for (uint64_t p : positions) {
      if (p > from) tags.emplace_back(tag, p);
    }
  }
  for (const PendingTail& p : t_tail_) {
    if (p.entry.position <= from) continue;
    items.push_back({p.stream_id, p.entry});
    for (const std::string& tag : *p.tags)
      tags.emplace_back(tag, p.entry.position);
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.id != b.id ? a.id < b.id : a.e.seq < b.e.seq;
  });
  std::sort(tags.begin(), tags.end());

  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbs_.stream_index, &cur);
  if (rc != 0) return rc;
  for (size_t i = 0; i < items.size() && rc == 0;) {
    const uint64_t id = items[i].id;
    size_t j = i;
    for (; j < items.size() && items[j].id == id && rc == 0; ++j) {
      Key128 key(id, items[j].e.seq);
      char pos[8];
      PutBig64(pos, items[j].e.position);
      MDB_val k{16, key.bytes};
      MDB_val v{8, pos};
      rc = mdb_cursor_put(cur, &k, &v, 0);
    }
    if (rc != 0) break;
    // The stream row follows its events.
    StreamRow row;
    Status s = ReadRow(txn, id, &row);
    if (!s.ok()) {
      rc = MDB_CORRUPTED;
      break;
    }
    row.head = std::max(row.head, items[j - 1].e.seq);
    row.event_count += j - i;
    row.last_write_ns =
        std::max(row.last_write_ns, items[j - 1].e.timestamp_ns);
    std::string bytes = row.Encode();
    Key64 rk(id);
    MDB_val k{8, rk.bytes};
    MDB_val v{bytes.size(), bytes.data()};
    rc = mdb_put(txn, dbs_.streams, &k, &v, 0);
    i = j;
  }
  mdb_cursor_close(cur);
  if (rc != 0) return rc;

  std::string tk;
  for (const auto& [tag, pos] : tags) {
    tk.assign(tag);
    tk.push_back('\0');
    AppendBig64(&tk, pos);
    MDB_val k{tk.size(), tk.data()};
    MDB_val v{0, nullptr};
    rc = mdb_put(txn, dbs_.tag_index, &k, &v, 0);
    if (rc != 0) return rc;
  }
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

void JournalImpl::Begin(MDB_txn* /*txn*/) {
  t_next_position_ = w_next_position_;
  t_next_id_ = w_next_id_;
  t_flushed_to_ = 0;
  t_now_ = clock_->NowNanos();
}

int JournalImpl::BeforeCommit(MDB_txn* txn, bool closing) {
  if (closing || UnindexedCount() >= env_->options().index_flush_events) {
    return FlushIndex(txn);
  }
  return 0;
}

void JournalImpl::Committed() {
  {
    std::lock_guard<std::mutex> lock(names_mu_);
    for (const auto& [name, id] : t_names_) id_names_.emplace(id, name);
  }
  for (auto& [name, id] : t_names_) w_names_[name] = id;
  for (auto& [id, st] : t_streams_) w_streams_[id] = st;
  w_next_position_ = t_next_position_;
  w_next_id_ = t_next_id_;
  {
    std::unique_lock<std::shared_mutex> lock(view_mu_);
    for (const PendingTail& p : t_tail_) {
      if (p.entry.position > t_flushed_to_)
        tail_.Add(p.stream_id, p.entry, *p.tags);
    }
    if (t_flushed_to_ != 0) tail_.PruneTo(t_flushed_to_);
    if (w_next_position_ - 1 > tail_.last_position) {
      tail_.last_position = w_next_position_ - 1;
    }
  }
  Aborted();  // clears the transaction's state
}

void JournalImpl::Aborted() {
  t_names_.clear();
  t_streams_.clear();
  t_tail_.clear();
  t_flushed_to_ = 0;
}

}  // namespace memoir::internal
