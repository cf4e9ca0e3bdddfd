// The journal check's walk of the log in commit order (journal_verifier.h):
// each record decoded, and each good event checked against its stream,
// the stream index and the tag index.
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

// Decodes the record at `pos`. A damaged record is kept for ReportDamage;
// one that names another position is reported at once.
bool JournalVerifier::Decode(uint64_t pos, const MDB_val& v, DecodedEvent* d) {
  Status s = DecodeEventRecord(static_cast<const char*>(v.mv_data), v.mv_size,
                               &scratch_, d);
  if (s.ok() && d->position == pos) return true;
  if (s.ok()) {
    misplaced_.insert(pos);
    Problem(NameOf(d->stream_id), d->seq, pos,
            fmt::format("stored under position {}, its envelope names "
                        "position {}",
                        pos, d->position));
    return false;
  }
  BadRecord& bad = bad_[pos];
  bad.reason.assign(s.message());
  // Above the index only the record can say whose it is: try to prove it
  // (below, the stream index says so).
  EventClaim claim;
  const bool readable = pos > indexed_to_ &&
                        ClaimEventIdentity(static_cast<const char*>(v.mv_data),
                                           v.mv_size, &claim);
  if (readable && claim.proven) {
    bad.claimed = bad.proven = true;
    bad.claim_id = claim.stream_id;
    bad.claim_seq = claim.seq;
    bad.claim_position = claim.position;
  } else if (Claim(v, &bad.claim_id, &bad.claim_seq, &bad.claim_position)) {
    bad.claimed = true;
  } else if (readable) {
    bad.claimed = true;
    bad.claim_id = claim.stream_id;
    bad.claim_seq = claim.seq;
    bad.claim_position = claim.position;
  }
  return false;
}

// Decodes a record the log walk has judged already (silently: what is
// wrong with it was reported then); for one stream, a first look.
bool JournalVerifier::DecodeAgain(uint64_t pos, const MDB_val& v,
                                  DecodedEvent* d) {
  if (only_id_ != 0) return Decode(pos, v, d);
  if (bad_.count(pos) || misplaced_.count(pos)) return false;
  return DecodeEventRecord(static_cast<const char*>(v.mv_data), v.mv_size,
                           &scratch_, d)
      .ok();
}

// What a record that failed its checksum says about itself, when its
// envelope still passes the FlatBuffers verifier.
bool JournalVerifier::Claim(const MDB_val& v, uint64_t* id, uint64_t* seq,
                            uint64_t* pos) {
  if (v.mv_size < kRecordHeaderBytes + 8 || v.mv_size > (size_t{1} << 31)) {
    return false;
  }
  const size_t n = v.mv_size - kRecordHeaderBytes;
  const char* body = scratch_.Hold(
      static_cast<const char*>(v.mv_data) + kRecordHeaderBytes, n);
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(body), n,
                                 /*max_depth=*/16, /*max_tables=*/1024);
  if (!fb::VerifyEventEnvelopeBuffer(verifier)) return false;
  const fb::EventEnvelope* env = fb::GetEventEnvelope(body);
  *id = env->stream_id();
  *seq = env->seq();
  *pos = env->position();
  return true;
}

// The checks of one good event of stream `id`, met in commit order.
void JournalVerifier::OnEvent(StreamCheck& sc, uint64_t id,
                              const DecodedEvent& d, uint64_t pos) {
  const std::string& name = sc.name;
  if (sc.row_ok && sc.row.tombstone) {
    Problem(name, d.seq, pos, "the stream was deleted, but this event remains");
  }
  if (sc.seen && pos <= sc.last_position) {
    Problem(name, d.seq, pos,
            fmt::format("its position is not above that of the stream's "
                        "previous event (position {})",
                        sc.last_position));
  }
  const uint64_t expected =
      sc.seen ? sc.last_seq + 1 : (sc.row_ok ? sc.row.deleted_to + 1 : d.seq);
  if (d.seq > expected) {
    gaps_.push_back(
        {id, expected, d.seq - 1, sc.seen ? sc.last_position : 0, pos});
  } else if (d.seq < expected) {
    Problem(name, d.seq, pos,
            sc.seen ? fmt::format("seq {} follows seq {}: seqs must rise by "
                                  "one in commit order",
                                  d.seq, sc.last_seq)
                    : fmt::format("seq {} is at or below the stream's "
                                  "deleted-to mark {}",
                                  d.seq, sc.row.deleted_to));
  }
  sc.last_seq = std::max(sc.last_seq, d.seq);
  sc.last_position = pos;
  sc.seen = true;
  if (pos > indexed_to_) {
    if (sc.row_ok && d.seq <= sc.row.head) {
      Problem(name, d.seq, pos,
              fmt::format("an unindexed event at or below the head {} of "
                          "its stream row",
                          sc.row.head));
    }
    return;
  }
  ++sc.indexed_events;
  if (sc.row_ok && d.seq > sc.row.head) {
    Problem(name, d.seq, pos,
            fmt::format("an indexed event above the head {} of its stream "
                        "row",
                        sc.row.head));
  }
  CheckIndexEntry(name, id, d.seq, pos);
  CheckTagEntries(name, d, pos);
}

void JournalVerifier::CheckIndexEntry(const std::string& name, uint64_t id,
                                      uint64_t seq, uint64_t pos) {
  Key128 key(id, seq);
  MDB_val k{16, key.bytes};
  MDB_val v;
  int rc = mdb_get(txn_, dbs_.stream_index, &k, &v);
  if (rc == MDB_NOTFOUND) {
    Problem(name, seq, pos, "missing from the stream index");
  } else if (rc != 0) {
    Problem(name, seq, pos,
            fmt::format("its stream index entry cannot be read: {}",
                        mdb_strerror(rc)));
  } else if (v.mv_size != 8 ||
             GetBig64(static_cast<const char*>(v.mv_data)) != pos) {
    Problem(
        name, seq, pos,
        v.mv_size != 8
            ? fmt::format("its stream index entry holds {} bytes", v.mv_size)
            : fmt::format("the stream index points to position {} instead",
                          GetBig64(static_cast<const char*>(v.mv_data))));
  }
}

void JournalVerifier::CheckTagEntries(const std::string& name,
                                      const DecodedEvent& d, uint64_t pos) {
  std::string key;
  auto check = [&](std::string_view tag, std::string_view what) {
    key.assign(tag);
    key.push_back('\0');
    AppendBig64(&key, pos);
    MDB_val k{key.size(), key.data()};
    MDB_val v;
    int rc = mdb_get(txn_, dbs_.tag_index, &k, &v);
    if (rc == MDB_NOTFOUND) {
      Problem(name, d.seq, pos,
              fmt::format("{} is missing from the tag index", what));
    } else if (rc != 0) {
      Problem(name, d.seq, pos,
              fmt::format("{} cannot be read from the tag index: {}", what,
                          mdb_strerror(rc)));
    }
  };
  for (std::string_view tag : d.tag_list) {
    check(tag, fmt::format("tag '{}'", tag));
  }
  if (types_indexed_from_ != 0 && pos >= types_indexed_from_) {
    check(TypeIndexTag(d.type), fmt::format("type '{}'", d.type));
  }
}

void JournalVerifier::WalkLog() {
  CursorCloser cur;
  int rc = mdb_cursor_open(txn_, dbs_.log, &cur.c);
  MDB_val k, v;
  DecodedEvent d;
  KeyOrder order;
  for (rc = rc != 0 ? rc : mdb_cursor_get(cur.c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    ctx_->Tick();
    if (!ctx_->InOrder(order, k, "log")) {
      rc = MDB_NOTFOUND;
      break;
    }
    ++ctx_->report().events;
    if (k.mv_size != 8) {
      Problem("", 0, 0, fmt::format("a log key holds {} bytes", k.mv_size));
      continue;
    }
    VisitLogRecord(GetBig64(static_cast<const char*>(k.mv_data)), v, &d);
  }
  if (rc != MDB_NOTFOUND) TableProblem("log", rc);
}

void JournalVerifier::VisitLogRecord(uint64_t pos, const MDB_val& v,
                                     DecodedEvent* d) {
  if (!Decode(pos, v, d)) return;
  if (only_id_ != 0 && d->stream_id != only_id_) return;
  auto it = streams_.find(d->stream_id);
  if (it == streams_.end()) {
    Problem("", d->seq, pos,
            fmt::format("the event names stream id {}, which has no name",
                        d->stream_id));
    return;
  }
  OnEvent(it->second, d->stream_id, *d, pos);
}

// One stream's check: the log above the index, where its newest events
// may be.
void JournalVerifier::WalkTail() {
  CursorCloser cur;
  int rc = mdb_cursor_open(txn_, dbs_.log, &cur.c);
  Key64 start(indexed_to_ + 1);
  MDB_val k{8, start.bytes};
  MDB_val v;
  DecodedEvent d;
  KeyOrder order;
  for (rc = rc != 0 ? rc : mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
       rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    ctx_->Tick();
    if (!ctx_->InOrder(order, k, "log")) {
      rc = MDB_NOTFOUND;
      break;
    }
    ++ctx_->report().events;
    if (k.mv_size != 8) continue;
    VisitLogRecord(GetBig64(static_cast<const char*>(k.mv_data)), v, &d);
  }
  if (rc != MDB_NOTFOUND) TableProblem("log", rc);
}
}  // namespace memoir::internal::journal_check
