// The journal's integrity check (verify.h).
//
// The log is the truth (layout.h); everything else is checked against it:
//  - every log record: frame, checksum, verifier, and the position it names;
//  - per stream, in commit order: seqs continue from the deleted-to mark by
//    one each, so they are gap-free and rise with the global position;
//  - every indexed event (position <= indexed_to) has its stream_index
//    entry and a tag_index entry per tag, and every stream row counts and
//    heads its indexed events;
//  - in reverse, every stream_index and tag_index entry points at a record
//    that names it.
// A damaged record cannot be trusted to say whose it is. The stream index
// ties it to a stream and seq; above the index, what the record claims is
// taken when a one-bit repair proves it, when it exactly fills a gap in
// that stream, or (marked unverified) when it continues the stream past its
// newest intact event. The report then names the stream and seq, and the
// gap the damage leaves is not reported a second time.
#include "journal/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "journal/envelope_generated.h"
#include "journal/journal_verifier.h"
#include "journal/layout.h"
#include "journal/record.h"
#include "journal/stream_row.h"
#include "storage/bytes.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal::journal_check {

Status JournalVerifier::Run(std::string_view only, StreamFactsMap* facts) {
  ReadMeta();
  if (only.empty()) {
    LoadStreams();
    WalkLog();
    WalkStreamIndex(0);
    WalkTagIndex();
    WalkStreamMeta(0);
  } else {
    Status s = ValidateStreamName(only);
    if (!s.ok()) return s;
    MDB_val k{only.size(), const_cast<char*>(only.data())};
    MDB_val v;
    int rc = mdb_get(txn_, dbs_.names, &k, &v);
    if (rc == MDB_NOTFOUND) {
      return Status::NotFound(fmt::format("stream '{}' does not exist", only));
    }
    if (rc != 0) return TableError("names", rc);
    if (v.mv_size != 8) {
      Problem(only, 0, 0,
              fmt::format("its names entry holds {} bytes, not "
                          "an 8-byte stream id",
                          v.mv_size));
      return Status::OK();
    }
    only_id_ = GetBig64(static_cast<const char*>(v.mv_data));
    if (only_id_ == 0) {  // ids start at 1; 0 means "every stream" here
      Problem(only, 0, 0, "its names entry holds stream id 0");
      return Status::OK();
    }
    AddStream(only_id_, only);
    WalkStreamIndex(only_id_);
    WalkTail();
    WalkStreamMeta(only_id_);
  }
  Finish(facts);
  ReportDamage();
  return Status::OK();
}

// indexed_to bounds the index checks; last_position is only checked for
// its form (it may lag the log by the unindexed tail).
void JournalVerifier::ReadMeta() {
  uint64_t last_position = 0;
  for (auto [name, out] :
       {std::pair{kMetaIndexedTo, &indexed_to_},
        std::pair{kMetaLastPosition, &last_position},
        std::pair{kMetaTypesIndexedFrom, &types_indexed_from_}}) {
    MDB_val k{std::strlen(name), const_cast<char*>(name)};
    MDB_val v;
    int rc = mdb_get(txn_, dbs_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) continue;  // nothing was indexed yet
    if (rc != 0 || v.mv_size != 8) {
      Problem("", 0, 0,
              rc != 0 ? fmt::format("meta '{}' cannot be read: {}", name,
                                    mdb_strerror(rc))
                      : fmt::format("meta '{}' holds {} bytes, not 8", name,
                                    v.mv_size));
      continue;
    }
    *out = GetLittle64(static_cast<const char*>(v.mv_data));
  }
}

// Registers stream `id` and checks its row.
void JournalVerifier::AddStream(uint64_t id, std::string_view name) {
  auto [it, fresh] = streams_.try_emplace(id);
  if (!fresh) {
    Problem(name, 0, 0,
            fmt::format("shares stream id {} with stream '{}'", id,
                        it->second.name));
    return;
  }
  StreamCheck& sc = it->second;
  sc.name.assign(name);
  ++ctx_->report().streams;
  Key64 key(id);
  MDB_val k{8, key.bytes};
  MDB_val v;
  int rc = mdb_get(txn_, dbs_.streams, &k, &v);
  if (rc != 0) {
    Problem(name, 0, 0,
            rc == MDB_NOTFOUND
                ? fmt::format("stream id {} has no stream row", id)
                : fmt::format("its stream row cannot be read: {}",
                              mdb_strerror(rc)));
    return;
  }
  Status s = StreamRow::Decode(View(v), &sc.row);
  if (!s.ok()) {
    Problem(name, 0, 0, fmt::format("stream row: {}", s.message()));
  } else if (sc.row.name != name) {
    Problem(name, 0, 0, fmt::format("its stream row names '{}'", sc.row.name));
  } else {
    sc.row_ok = true;
  }
}

void JournalVerifier::LoadStreams() {
  CursorCloser names;
  int rc = mdb_cursor_open(txn_, dbs_.names, &names.c);
  MDB_val k, v;
  KeyOrder name_order;
  for (rc = rc != 0 ? rc : mdb_cursor_get(names.c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(names.c, &k, &v, MDB_NEXT)) {
    ctx_->Tick();
    if (!ctx_->InOrder(name_order, k, "names")) {
      rc = MDB_NOTFOUND;
      break;
    }
    std::string_view name = View(k);
    Status valid = ValidateStreamName(name);
    if (!valid.ok()) {
      Problem(name, 0, 0, fmt::format("bad name: {}", valid.message()));
    }
    if (v.mv_size != 8) {
      Problem(name, 0, 0,
              fmt::format("its names entry holds {} bytes, not an 8-byte "
                          "stream id",
                          v.mv_size));
      continue;
    }
    AddStream(GetBig64(static_cast<const char*>(v.mv_data)), name);
  }
  if (rc != MDB_NOTFOUND) TableProblem("names", rc);

  CursorCloser rows;
  rc = mdb_cursor_open(txn_, dbs_.streams, &rows.c);
  KeyOrder row_order;
  for (rc = rc != 0 ? rc : mdb_cursor_get(rows.c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(rows.c, &k, &v, MDB_NEXT)) {
    ctx_->Tick();
    if (!ctx_->InOrder(row_order, k, "streams")) {
      rc = MDB_NOTFOUND;
      break;
    }
    if (k.mv_size != 8) {
      Problem("", 0, 0,
              fmt::format("a stream row key holds {} bytes", k.mv_size));
    } else if (uint64_t id = GetBig64(static_cast<const char*>(k.mv_data));
               !streams_.count(id)) {
      Problem("", 0, 0,
              fmt::format("stream row {} has no entry in the names table", id));
    }
  }
  if (rc != MDB_NOTFOUND) TableProblem("streams", rc);
}

void JournalVerifier::WalkStreamMeta(uint64_t only) {
  // Handle 0 (LMDB's free list, never a named table): an older read-only
  // store without the table (JournalImpl::has_stream_meta()).
  if (dbs_.stream_meta == 0) return;
  CursorCloser cur;
  int rc = mdb_cursor_open(txn_, dbs_.stream_meta, &cur.c);
  MDB_val k, v;
  Key64 key(only);
  if (rc == 0 && only != 0) {
    k = MDB_val{8, key.bytes};
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_KEY);
  } else if (rc == 0) {
    rc = mdb_cursor_get(cur.c, &k, &v, MDB_FIRST);
  }
  KeyOrder order;
  for (; rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    ctx_->Tick();
    if (!ctx_->InOrder(order, k, "stream_meta")) {
      rc = MDB_NOTFOUND;
      break;
    }
    if (k.mv_size != 8) {
      Problem("", 0, 0,
              fmt::format("a stream metadata key holds {} bytes", k.mv_size));
      continue;
    }
    const uint64_t id = GetBig64(static_cast<const char*>(k.mv_data));
    if (only != 0 && id != only) break;
    auto it = streams_.find(id);
    if (it == streams_.end()) {
      Problem("", 0, 0,
              fmt::format("stream metadata is kept for stream id {}, which "
                          "has no entry in the names table",
                          id));
      continue;
    }
    const StreamCheck& sc = it->second;
    if (sc.row_ok && sc.row.tombstone) {
      Problem(sc.name, 0, 0,
              "the stream was deleted but its metadata record remains");
    }
    std::string metadata;
    Status s = DecodeStreamMetadata(
        std::string_view(static_cast<const char*>(v.mv_data), v.mv_size),
        sc.name, &metadata);
    if (!s.ok()) Problem(sc.name, 0, 0, std::string(s.message()));
    if (only != 0) {
      rc = MDB_NOTFOUND;
      break;
    }
  }
  if (rc != MDB_NOTFOUND) TableProblem("stream_meta", rc);
}

// Per-stream checks that need the whole walk.
void JournalVerifier::Finish(StreamFactsMap* facts) {
  for (auto& [id, sc] : streams_) {
    StreamFacts& f = (*facts)[id];
    f.name = sc.name;
    f.head = sc.last_seq;
    if (!sc.row_ok) continue;
    const StreamRow& row = sc.row;
    f.head = std::max(row.head, sc.last_seq);
    f.deleted = row.tombstone;
    if (sc.indexed_events != row.event_count) {
      Problem(sc.name, 0, 0,
              fmt::format("its stream row counts {} events, but the log "
                          "holds {} indexed ones",
                          row.event_count, sc.indexed_events));
    }
    const uint64_t top = sc.seen ? sc.last_seq : row.deleted_to;
    if (row.head > top) {
      gaps_.push_back(
          {id, top + 1, row.head, sc.seen ? sc.last_position : 0, kNoPosition});
    }
  }
}

}  // namespace memoir::internal::journal_check

namespace memoir::internal {

Status VerifyJournal(MDB_txn* txn, const JournalImpl::Dbs& dbs,
                     std::string_view only, VerifyContext* ctx,
                     StreamFactsMap* facts) {
  journal_check::JournalVerifier verifier(txn, dbs, ctx);
  return verifier.Run(only, facts);
}

}  // namespace memoir::internal
