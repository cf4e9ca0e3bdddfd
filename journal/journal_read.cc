// The journal's read path (journal_impl.h): consistent views, stream
// lookups, and the reads by stream, by position and by tag.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "journal/log_cursor.h"
#include "journal/tail_damage.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal {

Result<JournalImpl::View> JournalImpl::BeginView(const Grab& grab) {
  View view;
  // The read gate before our own lock, as every reader takes them.
  std::shared_lock<std::shared_timed_mutex> gate = env_->ShareGate();
  if (writer_ != nullptr) {
    std::shared_lock<std::shared_mutex> lock(view_mu_);
    Result<ReadTxn> txn = env_->BeginRead(std::move(gate));
    if (!txn.ok()) return txn.status();
    view.txn.emplace(std::move(txn).value());
    view.bound = tail_.last_position;
    Status s = grab(view.txn->get(), tail_, view.bound);
    if (!s.ok()) return s;
    return view;
  }
  std::lock_guard<std::mutex> lock(ro_mu_);
  Result<ReadTxn> txn = env_->BeginRead(std::move(gate));
  if (!txn.ok()) return txn.status();
  view.txn.emplace(std::move(txn).value());
  Status s = ExtendReadOnlyTail(view.txn->get());
  if (!s.ok()) return s;
  view.bound = tail_.last_position;
  s = grab(view.txn->get(), tail_, view.bound);
  if (!s.ok()) return s;
  return view;
}

Result<uint64_t> JournalImpl::StreamId(MDB_txn* txn, std::string_view name) {
  MDB_val k{name.size(), const_cast<char*>(name.data())};
  MDB_val v;
  int rc = mdb_get(txn, dbs_.names, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return Status::NotFound(fmt::format("stream '{}' does not exist", name));
  }
  if (rc != 0)
    return MdbStatus(rc, fmt::format("looking up stream '{}'", name));
  if (v.mv_size != 8) {
    return Status::Corruption(
        fmt::format("stream '{}': names entry has {} bytes", name, v.mv_size));
  }
  return GetBig64(static_cast<const char*>(v.mv_data));
}

Status JournalImpl::ReadRow(MDB_txn* txn, uint64_t id, StreamRow* row) {
  Key64 key(id);
  MDB_val k{8, key.bytes};
  MDB_val v;
  int rc = mdb_get(txn, dbs_.streams, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return Status::Corruption(
        fmt::format("stream id {} has a name but no stream row", id));
  }
  if (rc != 0) return MdbStatus(rc, fmt::format("reading stream row {}", id));
  Status s = StreamRow::Decode(
      std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), row);
  if (!s.ok()) return s.WithContext(fmt::format("stream id {}", id));
  return Status::OK();
}

Result<std::string> JournalImpl::StreamName(MDB_txn* txn, uint64_t id,
                                            bool remember) {
  {
    std::lock_guard<std::mutex> lock(names_mu_);
    if (auto it = id_names_.find(id); it != id_names_.end()) return it->second;
  }
  StreamRow row;
  Status s = ReadRow(txn, id, &row);
  if (!s.ok()) return s;
  if (!remember) return row.name;
  std::lock_guard<std::mutex> lock(names_mu_);
  id_names_.emplace(id, row.name);
  return row.name;
}

StreamInfo JournalImpl::MakeInfo(uint64_t id, const StreamRow& row,
                                 const std::vector<TailEntry>& tail) {
  StreamInfo info;
  info.name = row.name;
  info.id = id;
  info.head = row.head;
  info.deleted_to = row.deleted_to;
  info.event_count = row.event_count;
  info.deleted = row.tombstone;
  info.created_ns = row.created_ns;
  info.last_write_ns = row.last_write_ns;
  for (const TailEntry& e : tail) {
    if (e.seq <= info.head) continue;  // already indexed
    info.head = e.seq;
    ++info.event_count;
    info.last_write_ns = std::max(info.last_write_ns, e.timestamp_ns);
  }
  return info;
}

namespace {
// Copies the tail entries of `id` visible under `bound`.
std::vector<TailEntry> CopyTail(const TailIndex& tail, uint64_t id,
                                uint64_t bound) {
  std::vector<TailEntry> out;
  tail.Collect(id, 0, bound, &out);
  return out;
}
}  // namespace

Status JournalImpl::DecodeChecked(MDB_val val, uint64_t position,
                                  std::string_view name, uint64_t stream_id,
                                  uint64_t seq, AlignedScratch* scratch,
                                  DecodedEvent* d) {
  Status s = DecodeEventRecord(static_cast<const char*>(val.mv_data),
                               val.mv_size, scratch, d);
  if (s.ok() &&
      (d->position != position ||
       (stream_id != 0 && (d->stream_id != stream_id || d->seq != seq)))) {
    s = Status::Corruption(
        fmt::format("the envelope names stream id {} seq {} position {}",
                    d->stream_id, d->seq, d->position));
  }
  if (s.ok()) return s;
  if (stream_id != 0) {
    return s.WithContext(
        fmt::format("stream '{}' seq {} (position {})", name, seq, position));
  }
  return s.WithContext(fmt::format("position {}", position));
}

bool JournalImpl::Emit(std::string_view name, DecodedEvent& d,
                       const EventVisitor& visit) {
  d.stream = name;
  return visit(d);
}

Result<JournalImpl::View> JournalImpl::BeginStreamView(
    std::string_view stream, uint64_t* id, std::vector<TailEntry>* tail,
    uint64_t* tail_indexed_to, std::vector<TailDamage>* damage) {
  return BeginView(
      [&](MDB_txn* txn, const TailIndex& t, uint64_t bound) -> Status {
        Result<uint64_t> r = StreamId(txn, stream);
        if (!r.ok()) return r.status();
        *id = *r;
        *tail = CopyTail(t, *id, bound);
        *tail_indexed_to = t.indexed_to;
        CopyDamage(t, *id, bound, damage);
        return Status::OK();
      });
}

Status JournalImpl::ReadStream(std::string_view stream, StreamRead* r) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  Result<View> view = BeginStreamView(stream, &r->id, &r->tail,
                                      &r->tail_indexed_to, &r->damage);
  if (!view.ok()) return view.status();
  r->view.txn.emplace(std::move(*view->txn));
  r->view.bound = view->bound;
  s = ReadRow(r->view.txn->get(), r->id, &r->row);
  if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", stream));
  return Status::OK();
}

// Reads one stream's events by seq within one view. A stream written in
// runs sits in consecutive log records, so the next record (the previous
// one, backward) is usually the next event: its envelope, once checked,
// proves it. Only when it is not does the reader ask the index, and the log
// cursor seeks. The claim a record makes before its checks only decides
// which to try first. Either way an event is returned only once its
// envelope has been checked to be `seq` of this stream, at or below the
// view's bound.
class JournalImpl::SeqReader {
 public:
  // `tail` is the stream's visible tail entries, `indexed_head` the head of
  // its stored row: seqs above it come from the tail, the rest from the
  // stored index (the two may overlap just after a flush; either is right).
  SeqReader(const Dbs& dbs, MDB_txn* txn, std::string_view stream, uint64_t id,
            uint64_t indexed_head, const std::vector<TailEntry>& tail,
            uint64_t tail_indexed_to, uint64_t bound, bool backward)
      : dbs_(dbs),
        txn_(txn),
        stream_(stream),
        id_(id),
        tail_(tail),
        tail_indexed_to_(tail_indexed_to),
        bound_(bound),
        backward_(backward),
        prefetch_(backward) {
    for (const TailEntry& e : tail_) {
      if (e.seq > indexed_head) {
        tail_first_ = e.seq;
        break;
      }
    }
  }

  // Opens the cursors on the stream index and the log.
  Status Open() {
    int rc = mdb_cursor_open(txn_, dbs_.stream_index, &idx_.c);
    if (rc != 0) return MdbStatus(rc, "opening the stream index");
    rc = mdb_cursor_open(txn_, dbs_.log, &log_.c);
    if (rc != 0) return MdbStatus(rc, "opening the log");
    return Status::OK();
  }

  // Reads event `seq` into decoded(), valid until the next Read.
  // REQUIRES: successive calls step one seq in the scan's direction.
  Status Read(uint64_t seq) {
    bool found = false;
    if (positioned_) {
      Status s = StepTo(seq, &found);
      if (!s.ok()) return s;
    }
    if (!found) {
      Status s = SeekTo(seq);
      if (!s.ok()) return s;
    }
    positioned_ = true;
    return Status::OK();
  }
  DecodedEvent& decoded() { return decoded_; }

 private:
  // Tries the log record next to the last one read: *found when it is
  // `seq`. A record that is not (or fails its checks) is no error here;
  // SeekTo then reads `seq` where the index says it is.
  Status StepTo(uint64_t seq, bool* found) {
    MDB_val k;
    MDB_val v;
    int r = mdb_cursor_get(log_.c, &k, &v, backward_ ? MDB_PREV : MDB_NEXT);
    if (r != 0 && r != MDB_NOTFOUND) return MdbStatus(r, "reading the log");
    if (r == 0) prefetch_.Touch(v.mv_data, v.mv_size);
    if (r == 0 && k.mv_size == 8) {
      const uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data));
      *found = pos <= bound_ &&
               DecodeEventRecordIfItIs(static_cast<const char*>(v.mv_data),
                                       v.mv_size, id_, seq, pos, &scratch_,
                                       &decoded_);
    }
    return Status::OK();
  }

  // Reads `seq` at the position the index or the tail gives: a record
  // missing there, or failing its checks, is corruption.
  Status SeekTo(uint64_t seq) {
    uint64_t pos = 0;
    Status st =
        seq >= tail_first_ ? TailPosition(seq, &pos) : IndexPosition(seq, &pos);
    if (!st.ok()) return st;
    Key64 key(pos);
    MDB_val k{8, key.bytes};
    MDB_val v;
    int r = mdb_cursor_get(log_.c, &k, &v, MDB_SET_KEY);
    if (r == MDB_NOTFOUND) {
      return Status::Corruption(fmt::format(
          "stream '{}' seq {}: its event at position {} is missing from "
          "the log",
          stream_, seq, pos));
    }
    if (r != 0) return MdbStatus(r, "reading the log");
    prefetch_.Touch(v.mv_data, v.mv_size);
    return DecodeChecked(v, pos, stream_, id_, seq, &scratch_, &decoded_);
  }

  Status TailPosition(uint64_t seq, uint64_t* pos) const {
    auto it = std::lower_bound(
        tail_.begin(), tail_.end(), seq,
        [](const TailEntry& e, uint64_t sq) { return e.seq < sq; });
    if (it == tail_.end() || it->seq != seq) {
      return Status::Corruption(fmt::format(
          "stream '{}' seq {} is missing from the unindexed log tail (a log "
          "record after position {} failed its checks; run 'memoir verify')",
          stream_, seq, tail_indexed_to_));
    }
    *pos = it->position;
    return Status::OK();
  }

  Status IndexPosition(uint64_t seq, uint64_t* pos) {
    Key128 key(id_, seq);
    MDB_val k{16, key.bytes};
    MDB_val v;
    int r = mdb_cursor_get(idx_.c, &k, &v, MDB_SET_KEY);
    if (r != 0 && r != MDB_NOTFOUND) {
      return MdbStatus(r, fmt::format("reading the index of '{}'", stream_));
    }
    if (r == MDB_NOTFOUND || v.mv_size != 8) {
      return Status::Corruption(fmt::format(
          "stream '{}' seq {} is missing from the stream index", stream_, seq));
    }
    *pos = GetBig64(static_cast<const char*>(v.mv_data));
    return Status::OK();
  }

  const Dbs& dbs_;
  MDB_txn* txn_;
  std::string_view stream_;
  uint64_t id_;
  const std::vector<TailEntry>& tail_;
  uint64_t tail_first_ = kMaxSeq;  // the first seq read from the tail
  uint64_t tail_indexed_to_;
  uint64_t bound_;
  bool backward_;
  CursorCloser idx_;
  CursorCloser log_;
  AlignedScratch scratch_;
  DecodedEvent decoded_;
  PagePrefetcher prefetch_;
  bool positioned_ = false;  // the log cursor is on the last event read
};

Status JournalImpl::ScanDamageError(MDB_txn* txn, std::string_view stream,
                                    const StreamInfo& info,
                                    uint64_t newest_position,
                                    const ReadOptions& options, uint64_t lo,
                                    const std::vector<TailDamage>& damage) {
  // The seqs this read would visit were the damaged records whole: up to
  // the highest seq one of them may hide, and at most max_count of them
  // from the end the read starts at. If one of those may be hidden, the
  // read fails instead of ending early.
  uint64_t top = info.head;
  for (const TailDamage& d : damage) {
    const Hidden h = HiddenSeqs(d, info.id, info.head, newest_position);
    if (h.first <= h.last) top = std::max(top, h.last);
  }
  const uint64_t reach = std::min(options.to_seq, top);
  if (lo > reach) return Status::OK();
  const uint64_t span = std::min<uint64_t>(options.max_count, kMaxSeq) - 1;
  uint64_t first = lo, last = reach;
  if (reach - lo > span) {
    if (options.backward) {
      first = reach - span;
    } else {
      last = lo + span;
    }
  }
  return DamageError(txn, stream, info.id, info, newest_position, first, last,
                     damage);
}

Status JournalImpl::Scan(std::string_view stream, const ReadOptions& options,
                         const EventVisitor& visit) {
  StreamRead r;
  Status s = ReadStream(stream, &r);
  if (!s.ok()) return s;
  MDB_txn* txn = r.view.txn->get();
  if (r.row.tombstone) {
    return Status::StreamDeleted(
        fmt::format("stream '{}' was deleted", stream));
  }
  // [lo, hi]: the requested seqs above the deleted prefix, up to the head
  // this view shows (the stored row plus the visible tail).
  StreamInfo info = MakeInfo(r.id, r.row, r.tail);
  const uint64_t lo = std::max(options.from_seq, info.deleted_to + 1);
  const uint64_t hi = std::min(options.to_seq, info.head);
  if (!r.damage.empty() && options.max_count > 0) {
    s = ScanDamageError(txn, stream, info,
                        NewestTailPosition(r.row.head, r.tail), options, lo,
                        r.damage);
    if (!s.ok()) return s;
  }
  if (lo > hi || options.max_count == 0) return Status::OK();

  // Visits seqs one by one in the scan's direction, each read and checked
  // before the visitor sees it; stops at max_count or when it says so.
  SeqReader reader(dbs_, txn, stream, r.id, r.row.head, r.tail,
                   r.tail_indexed_to, r.view.bound, options.backward);
  s = reader.Open();
  if (!s.ok()) return s;
  auto visit_seq = [&](uint64_t seq, bool* keep_going) -> Status {
    Status st = reader.Read(seq);
    if (!st.ok()) return st;
    *keep_going = Emit(stream, reader.decoded(), visit);
    return Status::OK();
  };
  size_t visited = 0;
  bool keep_going = true;
  if (!options.backward) {
    for (uint64_t seq = lo;
         seq <= hi && keep_going && visited < options.max_count; ++seq) {
      Status st = visit_seq(seq, &keep_going);
      if (!st.ok()) return st;
      ++visited;
    }
  } else {
    for (uint64_t seq = hi;
         seq >= lo && keep_going && visited < options.max_count; --seq) {
      Status st = visit_seq(seq, &keep_going);
      if (!st.ok()) return st;
      ++visited;
      if (seq == 0) break;
    }
  }
  return Status::OK();
}

Result<StreamInfo> JournalImpl::GetStream(std::string_view stream) {
  StreamRead r;
  Status s = ReadStream(stream, &r);
  if (!s.ok()) return s;
  MDB_txn* txn = r.view.txn->get();
  StreamInfo info = MakeInfo(r.id, r.row, r.tail);
  if (!r.damage.empty() && !info.deleted) {
    // Its head is not known when a damaged record may be its newest.
    s = DamageError(txn, stream, r.id, info,
                    NewestTailPosition(r.row.head, r.tail), 1, kMaxSeq,
                    r.damage);
    if (!s.ok()) return s;
  }
  if (info.head == 0 && !info.deleted) {
    // Created by a commit that is not yet visible in this view.
    return Status::NotFound(fmt::format("stream '{}' does not exist", stream));
  }
  return info;
}

Result<uint64_t> JournalImpl::Head(std::string_view stream) {
  Result<StreamInfo> info = GetStream(stream);
  if (!info.ok()) {
    if (info.status().IsNotFound()) return uint64_t{0};
    return info.status();
  }
  if (info->deleted) {
    return Status::StreamDeleted(
        fmt::format("stream '{}' was deleted", stream));
  }
  return info->head;
}

Result<StreamPage> JournalImpl::ListStreams(std::string_view prefix,
                                            std::string_view start_after,
                                            size_t limit) {
  ListStreamsOptions options;
  options.prefix = std::string(prefix);
  options.start_after = std::string(start_after);
  options.limit = limit;
  return ListStreams(options);
}

Result<StreamPage> JournalImpl::ListStreams(const ListStreamsOptions& o) {
  if (o.limit == 0) {
    return Status::InvalidArgument(
        "listing streams needs a limit of at least 1 stream per page");
  }
  const bool by_name = o.order == ListStreamsOptions::Order::kName;
  // In creation order the token is the last stream id listed.
  uint64_t after_id = 0;
  if (!by_name && !o.start_after.empty()) {
    const char* end = o.start_after.data() + o.start_after.size();
    auto [at, ec] = std::from_chars(o.start_after.data(), end, after_id);
    if (ec != std::errc() || at != end) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is not a creation-order page token: pass the `next` of the "
          "previous page",
          o.start_after));
    }
  }
  std::unordered_map<uint64_t, std::vector<TailEntry>> tails;
  std::vector<TailDamage> damage;
  Result<View> view = BeginView([&](MDB_txn*, const TailIndex& t,
                                    uint64_t bound) -> Status {
    t.ForEachStream([&](uint64_t id) { tails[id] = CopyTail(t, id, bound); });
    for (const TailDamage& d : t.damaged) {
      if (d.position <= bound) damage.push_back(d);
    }
    return Status::OK();
  });
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();
  StreamPage page;
  uint64_t total = 0;
  bool full = false;
  // Takes one stream met in the walk; false stops it.
  auto consider = [&](std::string_view name, uint64_t id, const StreamRow& row,
                      bool past_start) -> Status {
    auto it = tails.find(id);
    const std::vector<TailEntry> none;
    const std::vector<TailEntry>& tail = it == tails.end() ? none : it->second;
    StreamInfo info = MakeInfo(id, row, tail);
    if (!damage.empty() && !info.deleted) {
      // Where GetStream fails, the listing goes on and says why.
      Status s =
          DamageError(txn, name, id, info, NewestTailPosition(row.head, tail),
                      1, kMaxSeq, damage);
      if (!s.ok()) info.damage = std::string(s.message());
    }
    // Not yet visible; unless a damaged record may be its first event.
    if (info.head == 0 && !info.deleted && info.damage.empty()) {
      return Status::OK();
    }
    ++total;
    if (!past_start || full) return Status::OK();
    if (page.streams.size() == o.limit) {
      page.next = by_name ? page.streams.back().name
                          : std::to_string(page.streams.back().id);
      full = true;
      return Status::OK();
    }
    page.streams.push_back(std::move(info));
    return Status::OK();
  };
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, by_name ? dbs_.names : dbs_.streams, &cur.c);
  if (rc != 0) return MdbStatus(rc, "listing streams");
  MDB_val k, v;
  if (by_name) {
    // With a total, the walk starts at the prefix, not at start_after.
    std::string start(o.count_total ? o.prefix
                                    : std::max(o.prefix, o.start_after));
    k = MDB_val{start.size(), start.data()};
    rc = start.empty() ? mdb_cursor_get(cur.c, &k, &v, MDB_FIRST)
                       : mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
    std::string previous;
    bool have_previous = false;
    for (; rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      std::string_view name(static_cast<const char*>(k.mv_data), k.mv_size);
      if (have_previous && name <= previous) {
        return KeysOutOfOrder(
            "names", fmt::format("stream '{}' after '{}'", name, previous));
      }
      previous.assign(name);
      have_previous = true;
      if (name.substr(0, o.prefix.size()) != o.prefix) break;
      if (v.mv_size != 8) {
        return Status::Corruption(fmt::format(
            "stream '{}': names entry has {} bytes", name, v.mv_size));
      }
      uint64_t id = GetBig64(static_cast<const char*>(v.mv_data));
      StreamRow row;
      Status s = ReadRow(txn, id, &row);
      if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", name));
      s = consider(name, id, row,
                   o.start_after.empty() || name > o.start_after);
      if (!s.ok()) return s;
      if (full && !o.count_total) break;
    }
  } else {
    // The streams table is keyed by id, and ids are given out in creation
    // order (an id is reused only after its creating transaction rolled
    // back, when no row of it remains).
    Key64 start(o.count_total ? 0 : after_id);
    k = MDB_val{8, start.bytes};
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      if (k.mv_size != 8) {
        return Status::Corruption(
            fmt::format("streams: a key of {} bytes, expected 8", k.mv_size));
      }
      const uint64_t id = GetBig64(static_cast<const char*>(k.mv_data));
      StreamRow row;
      Status s = ReadRow(txn, id, &row);
      if (!s.ok()) return s.WithContext(fmt::format("stream id {}", id));
      if (std::string_view(row.name).substr(0, o.prefix.size()) != o.prefix) {
        continue;
      }
      s = consider(row.name, id, row, id > after_id);
      if (!s.ok()) return s;
      if (full && !o.count_total) break;
    }
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "listing streams");
  if (o.count_total) page.total = total;
  return page;
}

}  // namespace memoir::internal
