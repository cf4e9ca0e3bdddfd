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
#include "journal/layout.h"
#include "journal/record.h"
#include "journal/stream_row.h"
#include "storage/bytes.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal {
namespace {

constexpr uint64_t kNoPosition = ~uint64_t{0};

struct StreamCheck {
  std::string name;
  StreamRow row;
  bool row_ok = false;
  bool seen = false;           // an event of it was met
  uint64_t last_seq = 0;       // highest seq met
  uint64_t last_position = 0;  // position of the last event met
  uint64_t indexed_events = 0;
};

// Seqs [first, last] of stream `id` missing between two positions.
struct Gap {
  uint64_t id, first, last;
  uint64_t after, before;  // neighbours' positions; 0 / kNoPosition: none
};

// A log record that failed its checks.
struct BadRecord {
  std::string reason;
  bool attributed = false;
  uint64_t id = 0, seq = 0;
  std::string how;  // how it was tied to a stream, when not by an index
  // What it says it is: proven by a one-bit repair, or the envelope passes
  // the verifier, or at least its header keeps the canonical layout.
  bool claimed = false;
  bool proven = false;
  uint64_t claim_id = 0, claim_seq = 0, claim_position = 0;
};

std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class JournalVerifier {
 public:
  JournalVerifier(MDB_txn* txn, const JournalImpl::Dbs& dbs, VerifyContext* ctx)
      : txn_(txn), dbs_(dbs), ctx_(ctx) {}

  Status Run(std::string_view only, StreamFactsMap* facts) {
    ReadMeta();
    if (only.empty()) {
      LoadStreams();
      WalkLog();
      WalkStreamIndex(0);
      WalkTagIndex();
    } else {
      Status s = ValidateStreamName(only);
      if (!s.ok()) return s;
      MDB_val k{only.size(), const_cast<char*>(only.data())};
      MDB_val v;
      int rc = mdb_get(txn_, dbs_.names, &k, &v);
      if (rc == MDB_NOTFOUND) {
        return Status::NotFound(
            fmt::format("stream '{}' does not exist", only));
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
    }
    Finish(facts);
    ReportDamage();
    return Status::OK();
  }

 private:
  void Problem(std::string_view stream, uint64_t seq, uint64_t pos,
               std::string what) {
    ctx_->Problem(stream, seq, pos, std::move(what));
  }
  static Status TableError(const char* table, int rc) {
    return Status::IOError(
               fmt::format("reading the {} table: {}", table, mdb_strerror(rc)))
        .WithRawError(rc);
  }
  void TableProblem(const char* table, int rc) {
    Problem("", 0, 0,
            fmt::format("the {} table cannot be read to its end: {}", table,
                        mdb_strerror(rc)));
  }
  std::string NameOf(uint64_t id) const {
    auto it = streams_.find(id);
    return it != streams_.end() ? it->second.name : std::string();
  }

  // indexed_to bounds the index checks; last_position is only checked for
  // its form (it may lag the log by the unindexed tail).
  void ReadMeta() {
    uint64_t last_position = 0;
    for (auto [name, out] : {std::pair{kMetaIndexedTo, &indexed_to_},
                             std::pair{kMetaLastPosition, &last_position}}) {
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
  void AddStream(uint64_t id, std::string_view name) {
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
      Problem(name, 0, 0,
              fmt::format("its stream row names '{}'", sc.row.name));
    } else {
      sc.row_ok = true;
    }
  }

  void LoadStreams() {
    CursorCloser names;
    int rc = mdb_cursor_open(txn_, dbs_.names, &names.c);
    MDB_val k, v;
    KeyOrder name_order;
    for (rc = rc != 0 ? rc : mdb_cursor_get(names.c, &k, &v, MDB_FIRST);
         rc == 0; rc = mdb_cursor_get(names.c, &k, &v, MDB_NEXT)) {
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
        Problem(
            "", 0, 0,
            fmt::format("stream row {} has no entry in the names table", id));
      }
    }
    if (rc != MDB_NOTFOUND) TableProblem("streams", rc);
  }

  // Decodes the record at `pos`. A damaged record is kept for ReportDamage;
  // one that names another position is reported at once.
  bool Decode(uint64_t pos, const MDB_val& v, DecodedEvent* d) {
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
    const bool readable =
        pos > indexed_to_ &&
        ClaimEventIdentity(static_cast<const char*>(v.mv_data), v.mv_size,
                           &claim);
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
  bool DecodeAgain(uint64_t pos, const MDB_val& v, DecodedEvent* d) {
    if (only_id_ != 0) return Decode(pos, v, d);
    if (bad_.count(pos) || misplaced_.count(pos)) return false;
    return DecodeEventRecord(static_cast<const char*>(v.mv_data), v.mv_size,
                             &scratch_, d)
        .ok();
  }

  // What a record that failed its checksum says about itself, when its
  // envelope still passes the FlatBuffers verifier.
  bool Claim(const MDB_val& v, uint64_t* id, uint64_t* seq, uint64_t* pos) {
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
  void OnEvent(StreamCheck& sc, uint64_t id, const DecodedEvent& d,
               uint64_t pos) {
    const std::string& name = sc.name;
    if (sc.row_ok && sc.row.tombstone) {
      Problem(name, d.seq, pos,
              "the stream was deleted, but this event remains");
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

  void CheckIndexEntry(const std::string& name, uint64_t id, uint64_t seq,
                       uint64_t pos) {
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

  void CheckTagEntries(const std::string& name, const DecodedEvent& d,
                       uint64_t pos) {
    std::string key;
    for (std::string_view tag : d.tag_list) {
      key.assign(tag);
      key.push_back('\0');
      AppendBig64(&key, pos);
      MDB_val k{key.size(), key.data()};
      MDB_val v;
      int rc = mdb_get(txn_, dbs_.tag_index, &k, &v);
      if (rc == MDB_NOTFOUND) {
        Problem(name, d.seq, pos,
                fmt::format("tag '{}' is missing from the tag index", tag));
      } else if (rc != 0) {
        Problem(name, d.seq, pos,
                fmt::format("tag '{}' cannot be read from the tag index: {}",
                            tag, mdb_strerror(rc)));
      }
    }
  }

  void WalkLog() {
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

  void VisitLogRecord(uint64_t pos, const MDB_val& v, DecodedEvent* d) {
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
  void WalkTail() {
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

  // Every stream_index entry (of stream `only`, when not 0) must point at a
  // record naming it. For one stream the entries also drive OnEvent.
  void WalkStreamIndex(uint64_t only) {
    CursorCloser cur;
    int rc = mdb_cursor_open(txn_, dbs_.stream_index, &cur.c);
    Key128 start(only, 0);
    MDB_val k{16, start.bytes};
    MDB_val v;
    DecodedEvent d;
    KeyOrder order;
    for (rc = rc != 0 ? rc
                      : mdb_cursor_get(cur.c, &k, &v,
                                       only != 0 ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      ctx_->Tick();
      if (!ctx_->InOrder(order, k, "stream_index")) {
        rc = MDB_NOTFOUND;
        break;
      }
      if (k.mv_size != 16 || v.mv_size != 8) {
        Problem(NameOf(only), 0, 0,
                fmt::format("a stream index entry holds a {}-byte key and a "
                            "{}-byte value",
                            k.mv_size, v.mv_size));
        continue;
      }
      const char* kp = static_cast<const char*>(k.mv_data);
      const uint64_t id = GetBig64(kp), seq = GetBig64(kp + 8);
      const uint64_t pos = GetBig64(static_cast<const char*>(v.mv_data));
      if (only != 0 && id != only) {
        rc = MDB_NOTFOUND;  // past the stream's entries
        break;
      }
      ++ctx_->report().index_entries;
      CheckIndexTarget(id, seq, pos, &d);
    }
    if (rc != MDB_NOTFOUND) TableProblem("stream_index", rc);
  }

  void CheckIndexTarget(uint64_t id, uint64_t seq, uint64_t pos,
                        DecodedEvent* d) {
    auto it = streams_.find(id);
    if (it == streams_.end()) {
      Problem("", seq, pos,
              fmt::format("a stream index entry for stream id {}, which has "
                          "no name",
                          id));
      return;
    }
    StreamCheck& sc = it->second;
    if (pos > indexed_to_) {
      Problem(sc.name, seq, pos,
              fmt::format("a stream index entry above the indexed position {}",
                          indexed_to_));
    }
    Key64 key(pos);
    MDB_val k{8, key.bytes};
    MDB_val v;
    int rc = mdb_get(txn_, dbs_.log, &k, &v);
    if (rc != 0) {
      Problem(sc.name, seq, pos,
              rc == MDB_NOTFOUND
                  ? "the stream index points at a position missing from the "
                    "log"
                  : fmt::format("its log record cannot be read: {}",
                                mdb_strerror(rc)));
      return;
    }
    if (only_id_ != 0) ++ctx_->report().events;
    if (!DecodeAgain(pos, v, d)) {
      if (auto bad = bad_.find(pos); bad != bad_.end()) {
        bad->second.attributed = true;
        bad->second.id = id;
        bad->second.seq = seq;
        if (pos <= indexed_to_) ++sc.indexed_events;  // present, if damaged
      }
      return;
    }
    if (d->stream_id != id || d->seq != seq) {
      Problem(sc.name, seq, pos,
              fmt::format("the stream index points at an event of stream "
                          "'{}' seq {}",
                          NameOf(d->stream_id), d->seq));
      return;
    }
    if (only_id_ != 0) OnEvent(sc, id, *d, pos);
  }

  void WalkTagIndex() {
    CursorCloser cur;
    int rc = mdb_cursor_open(txn_, dbs_.tag_index, &cur.c);
    MDB_val k, v;
    DecodedEvent d;
    KeyOrder order;
    for (rc = rc != 0 ? rc : mdb_cursor_get(cur.c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      ctx_->Tick();
      if (!ctx_->InOrder(order, k, "tag_index")) {
        rc = MDB_NOTFOUND;
        break;
      }
      ++ctx_->report().tag_entries;
      std::string_view key = View(k);
      if (key.size() < 10 || key[key.size() - 9] != '\0' ||
          key.substr(0, key.size() - 9).find('\0') != std::string_view::npos) {
        Problem("", 0, 0, "a malformed tag index key");
        continue;
      }
      std::string_view tag = key.substr(0, key.size() - 9);
      const uint64_t pos = GetBig64(key.data() + key.size() - 8);
      if (pos > indexed_to_) {
        Problem("", 0, pos,
                fmt::format("tag '{}': an entry above the indexed position {}",
                            tag, indexed_to_));
      }
      Key64 lk(pos);
      MDB_val lkv{8, lk.bytes};
      MDB_val lv;
      int r = mdb_get(txn_, dbs_.log, &lkv, &lv);
      if (r == MDB_NOTFOUND) {
        ++ctx_->report().dangling_tag_entries;
        continue;
      }
      if (r != 0 || !DecodeAgain(pos, lv, &d)) continue;
      if (std::find(d.tag_list.begin(), d.tag_list.end(), tag) ==
          d.tag_list.end()) {
        Problem(NameOf(d.stream_id), d.seq, pos,
                fmt::format("the tag index lists tag '{}' for this event, "
                            "which does not carry it",
                            tag));
      }
    }
    if (rc != MDB_NOTFOUND) TableProblem("tag_index", rc);
  }

  // Per-stream checks that need the whole walk.
  void Finish(StreamFactsMap* facts) {
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
        gaps_.push_back({id, top + 1, row.head, sc.seen ? sc.last_position : 0,
                         kNoPosition});
      }
    }
  }

  // Damaged records, tied to a stream and seq where possible, and the gaps
  // they do not explain.
  //
  // Above the index, a record's own claim is all there is. It is taken when
  // proven (a one-bit repair makes the checksum match), when it exactly
  // fills a gap in its stream, or when it continues its stream past the
  // newest intact event (a stream's newest event leaves no gap); the last
  // is marked unverified, since the damage may be in the claim itself.
  void ReportDamage() {
    for (auto& [pos, bad] : bad_) {
      if (bad.attributed || !bad.claimed || bad.claim_position != pos) {
        continue;
      }
      auto sc = streams_.find(bad.claim_id);
      if (sc == streams_.end() || bad.claim_seq == 0) continue;
      if (bad.proven) {
        Attribute(bad, "whose it is was proven by finding the one flipped bit");
        continue;
      }
      for (const Gap& g : gaps_) {
        if (g.id == bad.claim_id && bad.claim_seq >= g.first &&
            bad.claim_seq <= g.last && pos > g.after && pos < g.before) {
          Attribute(bad, "");
          break;
        }
      }
      if (!bad.attributed && pos > indexed_to_ &&
          pos > sc->second.last_position &&
          bad.claim_seq > sc->second.last_seq &&
          (!sc->second.row_ok || bad.claim_seq > sc->second.row.head)) {
        Attribute(
            bad, fmt::format("named by its own damaged header, unverified; the "
                             "stream's newest intact event is seq {}",
                             sc->second.last_seq));
      }
    }
    std::set<std::pair<uint64_t, uint64_t>> explained;
    for (const auto& [pos, bad] : bad_) {
      if (bad.attributed) explained.insert({bad.id, bad.seq});
    }
    for (const Gap& g : gaps_) {
      uint64_t from = g.first;
      for (auto it = explained.lower_bound({g.id, g.first});
           it != explained.end() && it->first == g.id && it->second <= g.last;
           ++it) {
        if (it->second > from) ReportGap(g, from, it->second - 1);
        from = it->second + 1;
      }
      if (from <= g.last) ReportGap(g, from, g.last);
    }
    for (const auto& [pos, bad] : bad_) {
      if (bad.attributed) {
        Problem(NameOf(bad.id), bad.seq, pos,
                bad.how.empty()
                    ? fmt::format("damaged event record: {}", bad.reason)
                    : fmt::format("damaged event record: {} ({})", bad.reason,
                                  bad.how));
      } else if (only_id_ == 0 || !bad.proven || bad.claim_id == only_id_) {
        // (For one stream: every record that may be the stream's.)
        std::string claim = bad.claimed
                                ? fmt::format(
                                      " (its unverified envelope claims "
                                      "stream id {} seq {})",
                                      bad.claim_id, bad.claim_seq)
                                : std::string();
        Problem("", 0, pos,
                fmt::format("damaged event record: {}{}", bad.reason, claim));
      }
    }
  }

  static void Attribute(BadRecord& bad, std::string how) {
    bad.attributed = true;
    bad.id = bad.claim_id;
    bad.seq = bad.claim_seq;
    bad.how = std::move(how);
  }

  void ReportGap(const Gap& g, uint64_t first, uint64_t last) {
    std::string seqs = first == last
                           ? fmt::format("seq {} is", first)
                           : fmt::format("seqs {} to {} are", first, last);
    std::string where;
    if (g.after != 0 && g.before != kNoPosition) {
      where = fmt::format(" (between positions {} and {})", g.after, g.before);
    } else if (g.before != kNoPosition) {
      where = fmt::format(" (before position {})", g.before);
    } else {
      where = " (up to the head of its stream row)";
    }
    Problem(NameOf(g.id), first, 0,
            fmt::format("{} missing from the log{}", seqs, where));
  }

  MDB_txn* txn_;
  const JournalImpl::Dbs& dbs_;
  VerifyContext* ctx_;
  uint64_t only_id_ = 0;  // 0: the whole journal
  uint64_t indexed_to_ = 0;
  std::map<uint64_t, StreamCheck> streams_;
  std::vector<Gap> gaps_;
  std::map<uint64_t, BadRecord> bad_;  // by position
  std::set<uint64_t> misplaced_;       // positions naming another position
  AlignedScratch scratch_;
};

}  // namespace

Status VerifyJournal(MDB_txn* txn, const JournalImpl::Dbs& dbs,
                     std::string_view only, VerifyContext* ctx,
                     StreamFactsMap* facts) {
  JournalVerifier verifier(txn, dbs, ctx);
  return verifier.Run(only, facts);
}

}  // namespace memoir::internal
