// The journal's read path (journal_impl.h): consistent views, stream
// lookups, and the reads by stream, by position and by tag.
#include <fmt/format.h>

#include <algorithm>
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
  if (writer_ != nullptr) {
    std::shared_lock<std::shared_mutex> lock(view_mu_);
    Result<ReadTxn> txn = env_->BeginRead();
    if (!txn.ok()) return txn.status();
    view.txn.emplace(std::move(txn).value());
    view.bound = tail_.last_position;
    Status s = grab(view.txn->get(), tail_, view.bound);
    if (!s.ok()) return s;
    return view;
  }
  std::lock_guard<std::mutex> lock(ro_mu_);
  Result<ReadTxn> txn = env_->BeginRead();
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

Result<std::string> JournalImpl::StreamName(MDB_txn* txn, uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(names_mu_);
    if (auto it = id_names_.find(id); it != id_names_.end()) return it->second;
  }
  StreamRow row;
  Status s = ReadRow(txn, id, &row);
  if (!s.ok()) return s;
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

Status JournalImpl::Scan(std::string_view stream, const ReadOptions& options,
                         const EventVisitor& visit) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  uint64_t id = 0;
  uint64_t tail_indexed_to = 0;
  std::vector<TailEntry> tail;
  std::vector<TailDamage> damage;
  Result<View> view =
      BeginStreamView(stream, &id, &tail, &tail_indexed_to, &damage);
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();
  StreamRow row;
  s = ReadRow(txn, id, &row);
  if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", stream));
  if (row.tombstone) {
    return Status::StreamDeleted(
        fmt::format("stream '{}' was deleted", stream));
  }
  StreamInfo info = MakeInfo(id, row, tail);
  const uint64_t lo = std::max(options.from_seq, info.deleted_to + 1);
  const uint64_t hi = std::min(options.to_seq, info.head);
  if (!damage.empty() && options.max_count > 0) {
    // The seqs this read would visit were the damaged records whole: if one
    // of them may be hidden, the read fails instead of ending early.
    const uint64_t newest = NewestTailPosition(row.head, tail);
    uint64_t top = info.head;
    for (const TailDamage& d : damage) {
      const Hidden h = HiddenSeqs(d, id, info.head, newest);
      if (h.first <= h.last) top = std::max(top, h.last);
    }
    const uint64_t reach = std::min(options.to_seq, top);
    if (lo <= reach) {
      const uint64_t span = std::min<uint64_t>(options.max_count, kMaxSeq) - 1;
      uint64_t first = lo, last = reach;
      if (reach - lo > span) {
        if (options.backward) {
          first = reach - span;
        } else {
          last = lo + span;
        }
      }
      s = DamageError(txn, stream, id, info, newest, first, last, damage);
      if (!s.ok()) return s;
    }
  }
  if (lo > hi || options.max_count == 0) return Status::OK();

  // Seqs below tail_first come from the stored index, the rest from the
  // tail (which may overlap the index just after a flush; either is right).
  uint64_t tail_first = kMaxSeq;
  for (const TailEntry& e : tail) {
    if (e.seq > row.head) {
      tail_first = e.seq;
      break;
    }
  }
  auto tail_position = [&](uint64_t seq, uint64_t* pos) -> Status {
    auto it = std::lower_bound(
        tail.begin(), tail.end(), seq,
        [](const TailEntry& e, uint64_t sq) { return e.seq < sq; });
    if (it == tail.end() || it->seq != seq) {
      return Status::Corruption(fmt::format(
          "stream '{}' seq {} is missing from the unindexed log tail (a log "
          "record after position {} failed its checks; run 'memoir verify')",
          stream, seq, tail_indexed_to));
    }
    *pos = it->position;
    return Status::OK();
  };

  CursorCloser idx;
  int rc = mdb_cursor_open(txn, dbs_.stream_index, &idx.c);
  if (rc != 0) return MdbStatus(rc, "opening the stream index");
  CursorCloser log;
  rc = mdb_cursor_open(txn, dbs_.log, &log.c);
  if (rc != 0) return MdbStatus(rc, "opening the log");

  // The position of `seq` according to the stored index or the tail.
  auto index_position = [&](uint64_t seq, uint64_t* pos) -> Status {
    if (seq >= tail_first) return tail_position(seq, pos);
    Key128 key(id, seq);
    MDB_val k{16, key.bytes};
    MDB_val v;
    int r = mdb_cursor_get(idx.c, &k, &v, MDB_SET_KEY);
    if (r != 0 && r != MDB_NOTFOUND) {
      return MdbStatus(r, fmt::format("reading the index of '{}'", stream));
    }
    if (r == MDB_NOTFOUND || v.mv_size != 8) {
      return Status::Corruption(fmt::format(
          "stream '{}' seq {} is missing from the stream index", stream, seq));
    }
    *pos = GetBig64(static_cast<const char*>(v.mv_data));
    return Status::OK();
  };

  // A stream written in runs sits in consecutive log records, so the next
  // record (the previous one, backward) is usually the next event: its
  // envelope, once checked, proves it. Only when it is not does the scan
  // ask the index, and the log cursor seeks. The claim a record makes
  // before its checks only decides which to try first.
  AlignedScratch scratch;
  DecodedEvent decoded;
  PagePrefetcher prefetch(options.backward);
  bool positioned = false;
  auto visit_seq = [&](uint64_t seq, bool backward,
                       bool* keep_going) -> Status {
    MDB_val v{};
    uint64_t pos = 0;
    bool found = false;
    if (positioned) {
      MDB_val k;
      int r = mdb_cursor_get(log.c, &k, &v, backward ? MDB_PREV : MDB_NEXT);
      if (r != 0 && r != MDB_NOTFOUND) return MdbStatus(r, "reading the log");
      if (r == 0) prefetch.Touch(v.mv_data, v.mv_size);
      if (r == 0 && k.mv_size == 8) {
        pos = GetBig64(static_cast<const char*>(k.mv_data));
        found = pos <= view->bound &&
                DecodeEventRecordIfItIs(static_cast<const char*>(v.mv_data),
                                        v.mv_size, id, seq, pos, &scratch,
                                        &decoded);
      }
    }
    if (!found) {
      Status st = index_position(seq, &pos);
      if (!st.ok()) return st;
      Key64 key(pos);
      MDB_val k{8, key.bytes};
      int r = mdb_cursor_get(log.c, &k, &v, MDB_SET_KEY);
      if (r == MDB_NOTFOUND) {
        return Status::Corruption(fmt::format(
            "stream '{}' seq {}: its event at position {} is missing from "
            "the log",
            stream, seq, pos));
      }
      if (r != 0) return MdbStatus(r, "reading the log");
      prefetch.Touch(v.mv_data, v.mv_size);
      st = DecodeChecked(v, pos, stream, id, seq, &scratch, &decoded);
      if (!st.ok()) return st;
    }
    positioned = true;
    *keep_going = Emit(stream, decoded, visit);
    return Status::OK();
  };

  size_t visited = 0;
  bool keep_going = true;
  if (!options.backward) {
    for (uint64_t seq = lo;
         seq <= hi && keep_going && visited < options.max_count; ++seq) {
      Status st = visit_seq(seq, false, &keep_going);
      if (!st.ok()) return st;
      ++visited;
    }
  } else {
    for (uint64_t seq = hi;
         seq >= lo && keep_going && visited < options.max_count; --seq) {
      Status st = visit_seq(seq, true, &keep_going);
      if (!st.ok()) return st;
      ++visited;
      if (seq == 0) break;
    }
  }
  return Status::OK();
}

Result<StreamInfo> JournalImpl::GetStream(std::string_view stream) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  uint64_t id = 0;
  uint64_t tail_indexed_to = 0;
  std::vector<TailEntry> tail;
  std::vector<TailDamage> damage;
  Result<View> view =
      BeginStreamView(stream, &id, &tail, &tail_indexed_to, &damage);
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();
  StreamRow row;
  s = ReadRow(txn, id, &row);
  if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", stream));
  StreamInfo info = MakeInfo(id, row, tail);
  if (!damage.empty() && !info.deleted) {
    // Its head is not known when a damaged record may be its newest.
    s = DamageError(txn, stream, id, info, NewestTailPosition(row.head, tail),
                    1, kMaxSeq, damage);
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
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, dbs_.names, &cur.c);
  if (rc != 0) return MdbStatus(rc, "listing streams");
  std::string start(std::max(prefix, start_after));
  MDB_val k{start.size(), start.data()};
  MDB_val v;
  StreamPage page;
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
    if (name.substr(0, prefix.size()) != prefix) break;
    if (!start_after.empty() && name <= start_after) continue;
    if (page.streams.size() == limit) {
      page.next = page.streams.back().name;
      break;
    }
    if (v.mv_size != 8) {
      return Status::Corruption(fmt::format(
          "stream '{}': names entry has {} bytes", name, v.mv_size));
    }
    uint64_t id = GetBig64(static_cast<const char*>(v.mv_data));
    StreamRow row;
    Status s = ReadRow(txn, id, &row);
    if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", name));
    auto it = tails.find(id);
    const std::vector<TailEntry> none;
    const std::vector<TailEntry>& tail = it == tails.end() ? none : it->second;
    StreamInfo info = MakeInfo(id, row, tail);
    if (!damage.empty() && !info.deleted) {
      // Where GetStream fails, the listing goes on and says why.
      s = DamageError(txn, name, id, info, NewestTailPosition(row.head, tail),
                      1, kMaxSeq, damage);
      if (!s.ok()) info.damage = std::string(s.message());
    }
    // Not yet visible; unless a damaged record may be its first event.
    if (info.head == 0 && !info.deleted && info.damage.empty()) continue;
    page.streams.push_back(std::move(info));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "listing streams");
  return page;
}

Status JournalImpl::ScanAll(uint64_t from_position, size_t max_count,
                            const EventVisitor& visit) {
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, dbs_.log, &cur.c);
  if (rc != 0) return MdbStatus(rc, "reading the log");
  Key64 start(std::max<uint64_t>(from_position, 1));
  MDB_val k{8, start.bytes};
  MDB_val v;
  AlignedScratch scratch;
  DecodedEvent d;
  PagePrefetcher prefetch(/*backward=*/false);
  // Names of the streams met so far: one lookup per stream, not per event.
  std::unordered_map<uint64_t, std::string> names;
  uint64_t last_id = 0;
  const std::string* last_name = nullptr;
  size_t visited = 0;
  bool keep_going = true;
  for (rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
       rc == 0 && keep_going && visited < max_count;
       rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) {
      return Status::Corruption("log key of the wrong size");
    }
    uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data));
    if (pos > view->bound) break;
    if (visited > 0 && pos <= d.position) {
      return KeysOutOfOrder(
          "log", fmt::format("position {} after position {}", pos, d.position));
    }
    prefetch.Touch(v.mv_data, v.mv_size);
    Status s = DecodeChecked(v, pos, "", 0, 0, &scratch, &d);
    if (!s.ok()) return s;
    if (last_name == nullptr || d.stream_id != last_id) {
      auto it = names.find(d.stream_id);
      if (it == names.end()) {
        Result<std::string> name = StreamName(txn, d.stream_id);
        if (!name.ok())
          return name.status().WithContext(fmt::format("position {}", pos));
        it = names.emplace(d.stream_id, std::move(name).value()).first;
      }
      last_id = d.stream_id;
      last_name = &it->second;
    }
    ++visited;
    keep_going = Emit(*last_name, d, visit);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "reading the log");
  return Status::OK();
}

Status JournalImpl::ScanTag(std::string_view tag, uint64_t from_position,
                            size_t max_count, const EventVisitor& visit) {
  if (tag.empty() || tag.size() > kMaxTagBytes ||
      tag.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("a tag must be 1 to {} bytes without NUL", kMaxTagBytes));
  }
  std::vector<uint64_t> tail_positions;
  std::vector<TailDamage> damage;
  Result<View> view =
      BeginView([&](MDB_txn*, const TailIndex& t, uint64_t bound) -> Status {
        for (const TailDamage& d : t.damaged) {
          if (d.position >= from_position && d.position <= bound) {
            damage.push_back(d);
          }
        }
        auto it = t.tags.find(tag);
        if (it == t.tags.end()) return Status::OK();
        for (uint64_t p : it->second) {
          if (p >= from_position && p <= bound) tail_positions.push_back(p);
        }
        return Status::OK();
      });
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();

  std::vector<uint64_t> positions;
  {
    CursorCloser cur;
    int rc = mdb_cursor_open(txn, dbs_.tag_index, &cur.c);
    if (rc != 0) return MdbStatus(rc, "reading the tag index");
    std::string key(tag);
    key.push_back('\0');
    const size_t prefix = key.size();
    AppendBig64(&key, from_position);
    MDB_val k{key.size(), key.data()};
    MDB_val v;
    for (rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
         rc == 0 && positions.size() < max_count;
         rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      if (k.mv_size != prefix + 8 ||
          std::memcmp(k.mv_data, key.data(), prefix) != 0) {
        break;
      }
      uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data) + prefix);
      if (pos > view->bound) break;
      if (!positions.empty() && pos <= positions.back()) {
        return KeysOutOfOrder(
            "tag_index", fmt::format("tag '{}': position {} after position {}",
                                     tag, pos, positions.back()));
      }
      positions.push_back(pos);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
      return MdbStatus(rc, "reading the tag index");
  }
  uint64_t last = positions.empty() ? 0 : positions.back();
  for (uint64_t p : tail_positions) {
    if (positions.size() >= max_count) break;
    if (p > last) positions.push_back(p);
  }

  // A damaged tail record may carry the tag: reads that would pass it fail.
  auto damaged_before = [&](uint64_t pos) -> Status {
    if (damage.empty() || damage.front().position > pos) return Status::OK();
    const TailDamage& d = damage.front();
    return Status::Corruption(fmt::format(
        "{} failed its checks: {}; it may carry tag '{}', so reads of the tag "
        "past position {} fail; {}",
        DamageWhere(txn, d), d.reason, tag, d.position - 1, kDamageAdvice));
  };
  LogReader log(txn, dbs_.log);
  AlignedScratch scratch;
  DecodedEvent d;
  bool keep_going = true;
  size_t visited = 0;
  for (uint64_t pos : positions) {
    if (!keep_going) break;
    Status damaged = damaged_before(pos);
    if (!damaged.ok()) return damaged;
    ++visited;
    MDB_val v;
    int rc = log.Get(pos, &v);
    if (rc == MDB_NOTFOUND) continue;  // the event was deleted
    if (rc != 0) return MdbStatus(rc, "reading the log");
    Status s = DecodeChecked(v, pos, "", 0, 0, &scratch, &d);
    if (!s.ok()) return s;
    Result<std::string> name = StreamName(txn, d.stream_id);
    if (!name.ok())
      return name.status().WithContext(fmt::format("position {}", pos));
    keep_going = Emit(*name, d, visit);
  }
  if (keep_going && visited < max_count) return damaged_before(kMaxSeq);
  return Status::OK();
}

Result<uint64_t> JournalImpl::LastPosition() {
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  return view->bound;
}

}  // namespace memoir::internal
