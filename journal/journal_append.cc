// Appends (journal_impl.h): validation and encoding in the caller's thread,
// then WriteOps the writer thread applies, checking each stream's expected
// head before anything is written.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "base/append_rules.h"
#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

// The records hold the events' bytes once encoded. Unless some event has
// tags (which the writer indexes from the request), the events are freed
// right away, on the producer's thread rather than the writer's.
void ReleaseEvents(StreamAppend* request) {
  for (const EventData& e : request->events) {
    if (!e.tags.empty()) {
      for (EventData& each : request->events) std::string().swap(each.payload);
      return;
    }
  }
  std::vector<EventData>().swap(request->events);
}

// An append to one stream, encoded in the producer's thread so the writer
// only patches ids and computes checksums. `words` holds the records.
class SingleAppend : public WriteOp {
 public:
  SingleAppend(JournalImpl* journal, StreamAppend request, uint64_t* words)
      : journal_(journal), request_(std::move(request)) {
    batch_ = words != nullptr ? EventBatch(request_.events, words)
                              : EventBatch(request_.events);
    bytes_ = batch_.record_bytes() + 64 * batch_.count();
    ReleaseEvents(&request_);
    part_.request = &request_;
    part_.batch = &batch_;
    part_.name_hash = JournalImpl::HashName(request_.stream);
  }
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return journal_->ApplyAppendParts(txn, {&part_, 1}, &result_, op_status);
  }

 protected:
  AppendResult result_;

 private:
  JournalImpl* journal_;
  StreamAppend request_;
  EventBatch batch_;
  JournalImpl::AppendPart part_;
  size_t bytes_ = 0;
};

// Append(request, callback): the op and its records share one allocation,
// which the writer frees after the callback.
class CallbackAppendOp final : public SingleAppend {
 public:
  static std::unique_ptr<WriteOp> Create(JournalImpl* journal,
                                         StreamAppend request,
                                         Journal::AppendCallback done) {
    static_assert(sizeof(CallbackAppendOp) % alignof(uint64_t) == 0);
    const size_t words = EventBatch::WordsFor(request.events);
    void* memory =
        ::operator new(sizeof(CallbackAppendOp) + words * sizeof(uint64_t));
    auto* records = reinterpret_cast<uint64_t*>(static_cast<char*>(memory) +
                                                sizeof(CallbackAppendOp));
    try {
      return std::unique_ptr<WriteOp>(new (memory) CallbackAppendOp(
          journal, std::move(request), records, std::move(done)));
    } catch (...) {
      ::operator delete(memory);
      throw;
    }
  }
  // Matches the allocation in Create.
  static void operator delete(void* memory) { ::operator delete(memory); }

  void Done(Status status) override {
    // An exception from a user callback must not kill the writer thread.
    try {
      if (status.ok()) {
        done_(result_);
      } else {
        done_(std::move(status));
      }
    } catch (...) {
    }
  }

 private:
  CallbackAppendOp(JournalImpl* journal, StreamAppend request,
                   uint64_t* records, Journal::AppendCallback done)
      : SingleAppend(journal, std::move(request), records),
        done_(std::move(done)) {}

  Journal::AppendCallback done_;
};

// The blocking Append: the op lives on the caller's stack while it waits,
// so nothing is allocated for it and the records are freed by the thread
// that encoded them.
class WaitedAppendOp final : public SingleAppend {
 public:
  WaitedAppendOp(JournalImpl* journal, StreamAppend request)
      : SingleAppend(journal, std::move(request), nullptr) {}

  // Records the outcome only: the writer wakes the caller (WaitNode).
  void Done(Status status) override { status_ = std::move(status); }
  WaitNode* wait_node() override { return &woken_; }
  Result<AppendResult> Wait() {
    woken_.Wait();
    if (!status_.ok()) return status_;
    return result_;
  }

 private:
  Status status_;
  WaitNode woken_;
};

// An atomic append to several streams.
class MultiAppendOp final : public WriteOp {
 public:
  MultiAppendOp(JournalImpl* journal, std::vector<StreamAppend> requests,
                Journal::MultiAppendCallback done)
      : journal_(journal),
        requests_(std::move(requests)),
        done_(std::move(done)) {
    batches_.reserve(requests_.size());
    parts_.resize(requests_.size());
    for (size_t r = 0; r < requests_.size(); ++r) {
      batches_.emplace_back(requests_[r].events);
      bytes_ += batches_[r].record_bytes() + 64 * batches_[r].count();
      ReleaseEvents(&requests_[r]);
      parts_[r].request = &requests_[r];
      parts_[r].batch = &batches_[r];
      parts_[r].name_hash = JournalImpl::HashName(requests_[r].stream);
    }
    results_.resize(requests_.size());
  }
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return journal_->ApplyAppendParts(txn, parts_, results_.data(), op_status);
  }
  void Done(Status status) override {
    try {
      if (status.ok()) {
        done_(std::move(results_));
      } else {
        done_(std::move(status));
      }
    } catch (...) {
    }
  }

 private:
  JournalImpl* journal_;
  std::vector<StreamAppend> requests_;
  std::vector<EventBatch> batches_;
  std::vector<JournalImpl::AppendPart> parts_;
  std::vector<AppendResult> results_;
  Journal::MultiAppendCallback done_;
  size_t bytes_ = 0;
};

// The ids of the part's events into *ids; false when they carry none.
bool PartIds(const JournalImpl::AppendPart& part, std::vector<Uuid>* ids) {
  ids->clear();
  if (part.batch != nullptr) {
    part.batch->ForEach([&](char* record, size_t) {
      const Uuid id = EncodedEventId(record);
      if (id.empty()) return 1;  // none has one (ValidateRequest)
      ids->push_back(id);
      return 0;
    });
  } else {
    for (const EventRecord& rec : *part.records) {
      const Uuid id = EncodedEventId(rec.data());
      if (id.empty()) break;
      ids->push_back(id);
    }
  }
  return !ids->empty();
}

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
  return ValidateAppendRequest(r);
}

void JournalImpl::GenerateIds(StreamAppend* r) const {
  if (!env_->options().generate_event_ids || !r->events[0].id.empty()) return;
  for (EventData& e : r->events) e.id = Uuid::Generate();
}

void JournalImpl::Append(StreamAppend request, AppendCallback done) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateRequest(request);
  if (!s.ok()) {
    done(std::move(s));
    return;
  }
  GenerateIds(&request);
  writer_->Submit(
      CallbackAppendOp::Create(this, std::move(request), std::move(done)));
}

Result<AppendResult> JournalImpl::AppendAndWait(StreamAppend request) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateRequest(request);
  if (!s.ok()) return s;
  GenerateIds(&request);
  WaitedAppendOp op(this, std::move(request));
  writer_->SubmitBorrowed(&op);
  return op.Wait();
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
  for (StreamAppend& r : requests) GenerateIds(&r);
  writer_->Submit(std::make_unique<MultiAppendOp>(this, std::move(requests),
                                                  std::move(done)));
}

JournalImpl::StreamState& JournalImpl::TxnState(WriterStream& ws) {
  if (ws.txn_epoch != t_epoch_) {
    ws.txn_epoch = t_epoch_;
    ws.txn = ws.committed;
    ws.txn_ids.clear();
    t_touched_.push_back(&ws);
  }
  return ws.txn;
}

Status JournalImpl::FindStream(MDB_txn* txn, std::string_view name, size_t hash,
                               WriterStream** out, int* rc) {
  *rc = 0;
  *out = nullptr;
  if (auto it = w_streams_.find(HashedName{name, hash});
      it != w_streams_.end()) {
    *out = &it->second;
    return Status::OK();
  }
  MDB_val k{name.size(), const_cast<char*>(name.data())};
  MDB_val v;
  int r = mdb_get(txn, dbs_.names, &k, &v);
  if (r == MDB_NOTFOUND) return Status::OK();
  if (r != 0) {
    *rc = r;
    return Status::OK();
  }
  if (v.mv_size != 8) {
    return Status::Corruption(
        fmt::format("stream '{}': its names entry has {} bytes, expected 8",
                    name, v.mv_size));
  }
  const uint64_t id = GetBig64(static_cast<const char*>(v.mv_data));
  StreamRow row;
  Status s = ReadRow(txn, id, &row);
  if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", name));
  StreamState st{id, row.head, row.deleted_to, row.tombstone};
  uint64_t tail_head = 0;
  if (tail_.LastSeq(id, &tail_head)) st.head = std::max(st.head, tail_head);
  // Read inside the write transaction before it changed the stream, this
  // is the committed state whatever becomes of the transaction.
  WriterStream& ws = w_streams_[std::string(name)];
  ws.committed = st;
  *out = &ws;
  return Status::OK();
}

Status JournalImpl::WriterLookup(MDB_txn* txn, std::string_view name,
                                 StreamState* out, int* rc) {
  WriterStream* ws = nullptr;
  Status s = FindStream(txn, name, HashName(name), &ws, rc);
  if (!s.ok() || *rc != 0) return s;
  if (ws == nullptr) {
    return Status::NotFound(fmt::format("stream '{}' does not exist", name));
  }
  *out = ws->txn_epoch == t_epoch_ ? ws->txn : ws->committed;
  return Status::OK();
}

int JournalImpl::CreateStream(MDB_txn* txn, const std::string& name,
                              WriterStream** out) {
  const uint64_t id = t_next_id_++;
  char idbuf[8];
  PutBig64(idbuf, id);
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
  // The slot exists only for this transaction until it commits; Aborted
  // removes it again.
  WriterStream& ws = w_streams_[name];
  ws.committed = StreamState{id, 0, 0, false};
  TxnState(ws) = ws.committed;
  t_created_.push_back(name);
  *out = &ws;
  return 0;
}

int JournalImpl::CheckExpectations(MDB_txn* txn,
                                   std::span<const AppendPart> parts,
                                   WriterStream** slots, AppendResult* results,
                                   bool* repeated, Status* refusal) {
  // Reads only: each part's stream as this transaction sees it (slot null
  // when it does not exist yet), refused when deleted or not at the head
  // the request expects. Every failed expectation is listed, so that a
  // caller of a multi-stream append reloads them all at once.
  std::string conflicts;
  size_t conflict_count = 0;
  uint64_t first_actual = 0;
  size_t repeats = 0;
  std::vector<Uuid> ids;
  for (size_t r = 0; r < parts.size(); ++r) {
    const StreamAppend& request = *parts[r].request;
    int rc = 0;
    Status s =
        FindStream(txn, request.stream, parts[r].name_hash, &slots[r], &rc);
    if (rc != 0) return rc;
    if (!s.ok()) {
      *refusal = s;
      return 0;
    }
    StreamState st;
    if (slots[r] != nullptr) {
      st =
          slots[r]->txn_epoch == t_epoch_ ? slots[r]->txn : slots[r]->committed;
    }
    if (st.deleted) {
      *refusal = Status::StreamDeleted(
          fmt::format("stream '{}' was deleted; appends to it are refused",
                      request.stream));
      return 0;
    }
    if (slots[r] != nullptr && st.head > 0 && PartIds(parts[r], &ids)) {
      Repeat repeat = Repeat::kNew;
      rc = CheckRepeat(txn, parts[r], ids, *slots[r], &repeat, &results[r],
                       refusal);
      if (rc != 0 || !refusal->ok()) return rc;
      if (repeat == Repeat::kDuplicate) {
        ++repeats;
        continue;
      }
    }
    const Expected& e = request.expected;
    if (!e.Holds(st.head)) {
      if (conflict_count++ == 0) {
        first_actual = st.head;
      } else {
        conflicts += "; ";
      }
      conflicts += fmt::format(
          "stream '{}': expected {}, but {}", request.stream,
          e.exists() ? "it to exist" : fmt::format("head {}", e.seq()),
          st.head == 0 ? std::string("it has no events")
                       : fmt::format("its head is {}", st.head));
    }
  }
  if (repeats == parts.size()) {
    *repeated = true;
    return 0;
  }
  if (repeats > 0) {
    *refusal = Status::Conflict(
        fmt::format("{} of the {} streams of this multi-stream append "
                    "already hold its events (by their ids) and the others "
                    "do not; a retry must resend exactly the original "
                    "request",
                    repeats, parts.size()),
        first_actual);
    return 0;
  }
  if (conflict_count == 1) {
    *refusal = Status::Conflict(
        fmt::format("{}; reload the stream and retry", conflicts),
        first_actual);
  } else if (conflict_count > 1) {
    *refusal = Status::Conflict(
        fmt::format("{} streams are not where the request expected: {}; "
                    "reload them and retry",
                    conflict_count, conflicts),
        first_actual);
  }
  return 0;
}

int JournalImpl::WritePart(MDB_txn* txn, const AppendPart& part,
                           WriterStream** slot, AppendResult* result) {
  // Each record gets the stream's next seq and the log's next position,
  // both consecutive, and a pending tail entry the commit publishes.
  const StreamAppend& request = *part.request;
  if (*slot == nullptr) {
    int rc = CreateStream(txn, request.stream, slot);
    if (rc != 0) return rc;
  }
  StreamState& st = TxnState(**slot);
  result->first_seq = st.head + 1;
  result->first_position = t_next_position_;
  size_t i = 0;
  auto put = [&](char* record, size_t size) {
    const uint64_t seq = ++st.head;
    const uint64_t pos = t_next_position_++;
    SealEventRecord(record, size, st.id, seq, pos, t_now_);
    if (const Uuid id = EncodedEventId(record); !id.empty()) {
      (*slot)->txn_ids.push_back(IdAt{seq, id, pos});
    }
    Key64 key(pos);
    MDB_val k{8, key.bytes};
    MDB_val v{size, record};
    int rc = mdb_cursor_put(t_log_, &k, &v, MDB_APPEND);
    if (rc != 0) return rc;
    const std::vector<std::string>* tags = nullptr;
    if (i < request.events.size() && !request.events[i].tags.empty()) {
      tags = &request.events[i].tags;
    }
    ++i;
    t_tail_.push_back(PendingTail{st.id, TailEntry{seq, pos, t_now_}, tags,
                                  EncodedEventType(record)});
    return 0;
  };
  int rc = 0;
  if (part.batch != nullptr) {
    rc = part.batch->ForEach(put);
  } else {
    for (EventRecord& rec : *part.records) {
      rc = put(const_cast<char*>(rec.data()), rec.size());
      if (rc != 0) break;
    }
  }
  if (rc != 0) return rc;
  result->last_seq = st.head;
  result->last_position = t_next_position_ - 1;
  return 0;
}

int JournalImpl::ApplyAppendParts(MDB_txn* txn,
                                  std::span<const AppendPart> parts,
                                  AppendResult* results, Status* op_status) {
  // Phase 1: check every expectation. Nothing is written unless all hold.
  WriterStream* one = nullptr;
  std::vector<WriterStream*> many;
  WriterStream** slots = &one;
  if (parts.size() > 1) {
    many.resize(parts.size());
    slots = many.data();
  }
  Status refusal;
  bool repeated = false;
  int rc = CheckExpectations(txn, parts, slots, results, &repeated, &refusal);
  if (rc != 0) return rc;
  if (!refusal.ok()) {
    *op_status = refusal;
    return 0;
  }
  // A repeat of a committed append: its original results, nothing written.
  if (repeated) return 0;
  // Phase 2: write. The log is written through one cursor per transaction:
  // with MDB_APPEND it stays on the last page instead of searching the tree.
  if (t_log_ == nullptr) {
    rc = mdb_cursor_open(txn, dbs_.log, &t_log_);
    if (rc != 0) {
      t_log_ = nullptr;
      return rc;
    }
  }
  for (size_t r = 0; r < parts.size(); ++r) {
    rc = WritePart(txn, parts[r], &slots[r], &results[r]);
    if (rc != 0) return rc;
  }
  return 0;
}

int JournalImpl::ApplyAppend(MDB_txn* txn, std::vector<StreamAppend>& requests,
                             std::vector<std::vector<EventRecord>>& records,
                             std::vector<AppendResult>* results,
                             Status* op_status) {
  std::vector<AppendPart> parts(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    parts[r].request = &requests[r];
    parts[r].records = &records[r];
    parts[r].name_hash = HashName(requests[r].stream);
  }
  results->assign(requests.size(), AppendResult{});
  int rc = ApplyAppendParts(txn, parts, results->data(), op_status);
  if (rc != 0 || !op_status->ok()) results->clear();
  return rc;
}

}  // namespace memoir::internal
