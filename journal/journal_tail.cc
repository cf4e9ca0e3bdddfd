// The unindexed tail (journal_impl.h, tail_index.h): rebuilding it from the
// log above the last index flush, and keeping account of the records there
// that fail their checks, so reads they may affect fail instead of ending
// early.
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

TailDamage JournalImpl::DescribeDamage(MDB_txn* txn, uint64_t pos, MDB_val v,
                                       const Status& why) {
  TailDamage damage;
  damage.position = pos;
  damage.reason.assign(why.message());
  EventClaim claim;
  if (!ClaimEventIdentity(static_cast<const char*>(v.mv_data), v.mv_size,
                          &claim) ||
      claim.position != pos || claim.stream_id == 0 || claim.seq == 0) {
    return damage;
  }
  // A claim is taken only when it fits: a live stream whose stored head is
  // below the claimed seq (a tail event is above its stream row's head).
  StreamRow row;
  if (!ReadRow(txn, claim.stream_id, &row).ok() || row.tombstone ||
      claim.seq <= row.head) {
    return damage;
  }
  damage.stream_id = claim.stream_id;
  damage.seq = claim.seq;
  damage.proven = claim.proven;
  return damage;
}

std::string JournalImpl::DamageWhere(MDB_txn* txn, const TailDamage& damage) {
  if (damage.stream_id == 0) {
    return fmt::format(
        "log record at position {} (above the last index flush; it does not "
        "say which stream holds it)",
        damage.position);
  }
  Result<std::string> name = StreamName(txn, damage.stream_id);
  const std::string stream = name.ok() ? fmt::format("'{}'", *name)
                                       : fmt::format("id {}", damage.stream_id);
  if (damage.proven) {
    return fmt::format(
        "stream {} seq {} (log record at position {}, above the last index "
        "flush; whose it is was proven by finding the one flipped bit)",
        stream, damage.seq, damage.position);
  }
  return fmt::format(
      "log record at position {} (above the last index flush; its damaged "
      "header claims stream {} seq {}, unverified)",
      damage.position, stream, damage.seq);
}

Status JournalImpl::ScanTailInto(MDB_txn* txn, uint64_t after, uint64_t to,
                                 TailIndex* tail) {
  if (to <= after) return Status::OK();
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, dbs_.log, &cur.c);
  if (rc != 0) return MdbStatus(rc, "reading the log");
  Key64 start(after + 1);
  MDB_val k{8, start.bytes};
  MDB_val v;
  AlignedScratch scratch;
  DecodedEvent d;
  Status first_problem;
  uint64_t last = after;
  for (rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) break;
    uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data));
    if (pos > to) break;
    if (pos <= last) {
      return KeysOutOfOrder(
          "log", fmt::format("position {} after position {}", pos, last));
    }
    last = pos;
    Status s = DecodeEventRecord(static_cast<const char*>(v.mv_data), v.mv_size,
                                 &scratch, &d);
    if (s.ok() && d.position != pos) {
      s = Status::Corruption(
          fmt::format("envelope says position {}", d.position));
    }
    if (!s.ok()) {
      // Left out of the entries and kept as damage: reads of the stream it
      // belongs to (or of any stream, when it cannot say) then fail rather
      // than end early at the record before it.
      TailDamage damage = DescribeDamage(txn, pos, v, s);
      if (first_problem.ok()) {
        first_problem = s.WithContext(DamageWhere(txn, damage));
      }
      tail->damaged.push_back(std::move(damage));
      continue;
    }
    tail->Add(d.stream_id, TailEntry{d.seq, pos, d.timestamp_ns}, d.tag_list);
    tail->AddTag(TypeIndexTag(d.type), pos);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "reading the log");
  tail->last_position = std::max(tail->last_position, to);
  // A writer must know every head exactly; readers can live with a gap.
  if (writer_ != nullptr) return first_problem;
  return Status::OK();
}

Status JournalImpl::ExtendReadOnlyTail(MDB_txn* txn) {
  uint64_t indexed_to = ReadMeta64(txn, dbs_.meta, kMetaIndexedTo);
  uint64_t last = 0;
  int rc = LastLogPosition(txn, dbs_.log, &last);
  if (rc != 0) return MdbStatus(rc, "reading the end of the log");
  if (indexed_to != tail_.indexed_to || last < tail_.last_position) {
    tail_ = TailIndex{};
    tail_.indexed_to = indexed_to;
    tail_.last_position = indexed_to;
  }
  Status s = ScanTailInto(txn, tail_.last_position, last, &tail_);
  tail_.last_position = std::max(tail_.last_position, last);
  return s;
}

Hidden HiddenSeqs(const TailDamage& damage, uint64_t id, uint64_t head,
                  uint64_t newest_position) {
  Hidden h;
  if (damage.proven) {
    if (damage.stream_id == id) h = {damage.seq, damage.seq, true};
  } else if (damage.position > newest_position) {
    h = {head + 1, kMaxSeq, false};
  } else if (damage.stream_id == id && damage.seq > head) {
    h = {damage.seq, damage.seq, true};
  }
  return h;
}

uint64_t NewestTailPosition(uint64_t indexed_head,
                            const std::vector<TailEntry>& tail) {
  return !tail.empty() && tail.back().seq > indexed_head ? tail.back().position
                                                         : 0;
}

void JournalImpl::CopyDamage(const TailIndex& t, uint64_t id, uint64_t bound,
                             std::vector<TailDamage>* out) {
  if (out == nullptr) return;
  for (const TailDamage& d : t.damaged) {
    if (d.position <= bound && (d.stream_id == id || !d.proven)) {
      out->push_back(d);
    }
  }
}

Status JournalImpl::DamageError(MDB_txn* txn, std::string_view name,
                                uint64_t id, const StreamInfo& info,
                                uint64_t newest_position, uint64_t first_seq,
                                uint64_t last_seq,
                                const std::vector<TailDamage>& damage) {
  for (const TailDamage& d : damage) {
    const Hidden h = HiddenSeqs(d, id, info.head, newest_position);
    if (h.first > h.last || h.last < first_seq || h.first > last_seq) continue;
    const std::string what =
        fmt::format("{} failed its checks: {}", DamageWhere(txn, d), d.reason);
    if (h.claimed) {
      return Status::Corruption(fmt::format(
          "{}; reads of stream '{}' that reach seq {} fail rather than skip "
          "it; {}",
          what, name, h.first, kDamageAdvice));
    }
    return Status::Corruption(fmt::format(
        "{}; it may be stream '{}' seq {} or a later one (the stream's newest "
        "intact event is seq {}), so reads of the stream past seq {} fail; {}",
        what, name, h.first, info.head, info.head, kDamageAdvice));
  }
  return Status::OK();
}

}  // namespace memoir::internal
