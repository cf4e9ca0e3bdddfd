// Idempotent appends (journal_impl.h): recognising a request whose events
// the stream already holds, by their ids, before anything is written.
//
// The rule (KurrentDB's): a request whose ids the stream holds at
// consecutive seqs, in the same order, is a repeat of an append that
// committed; it succeeds with the original result and writes nothing. Where
// to look follows from the expectation. An exact one, At(k), that no longer
// holds points at seqs k+1...: the whole history can be checked (unless
// those events were deleted). Any and Exists point nowhere, so the stream's
// newest StoreOptions::idempotency_window events are searched for the first
// id. A request that matches only in part is refused: writing it would
// duplicate the part that matched, and dropping it would lose the rest.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "journal/journal_impl.h"
#include "storage/bytes.h"

namespace memoir::internal {
namespace {

Status PartialRepeat(std::string_view stream, uint64_t head,
                     std::string_view detail) {
  return Status::Conflict(
      fmt::format("stream '{}': the request repeats part of what is stored "
                  "({}); a retry must resend exactly the events of the "
                  "original request, with their ids",
                  stream, detail),
      head);
}

}  // namespace

int JournalImpl::ReadStoredIds(MDB_txn* txn, std::string_view name,
                               const WriterStream& ws, uint64_t lo, uint64_t hi,
                               uint64_t base, std::vector<IdAt>* out,
                               Status* refusal) {
  // Positions: the unindexed tail, then the stream index for the rest (an
  // index flush earlier in this transaction may have put some in both).
  const uint64_t sid = ws.committed.id;
  std::vector<std::pair<uint64_t, uint64_t>> found;  // seq, position
  std::vector<TailEntry> tail;
  tail_.Collect(sid, 0, ~uint64_t{0}, &tail);
  uint64_t tail_low = hi + 1;
  for (const TailEntry& e : tail) {
    if (e.seq >= lo && e.seq <= hi) {
      found.emplace_back(e.seq, e.position);
      tail_low = std::min(tail_low, e.seq);
    }
  }
  if (lo < tail_low) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, dbs_.stream_index, &cur);
    if (rc != 0) return rc;
    Key128 start(sid, lo);
    MDB_val k{16, start.bytes};
    MDB_val v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      const char* kp = static_cast<const char*>(k.mv_data);
      if (k.mv_size != 16 || GetBig64(kp) != sid ||
          GetBig64(kp + 8) >= tail_low) {
        break;
      }
      if (v.mv_size == 8) {
        found.emplace_back(GetBig64(kp + 8),
                           GetBig64(static_cast<const char*>(v.mv_data)));
      }
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  AlignedScratch scratch;
  DecodedEvent d;
  for (const auto& [seq, position] : found) {
    Key64 key(position);
    MDB_val k{8, key.bytes};
    MDB_val v;
    int rc = mdb_get(txn, dbs_.log, &k, &v);
    if (rc == MDB_NOTFOUND) continue;  // deleted in this transaction
    if (rc != 0) return rc;
    Status s = DecodeChecked(v, position, name, sid, seq, &scratch, &d);
    if (!s.ok()) {
      *refusal = s.WithContext(
          "checking whether an append with event ids repeats stored events");
      return 0;
    }
    IdAt& slot = (*out)[seq - base];
    slot.id = d.id;
    slot.position = position;
  }
  return 0;
}

int JournalImpl::StreamIds(MDB_txn* txn, std::string_view name,
                           WriterStream& ws, uint64_t lo, uint64_t hi,
                           std::vector<IdAt>* out, Status* refusal) {
  out->assign(hi - lo + 1, IdAt{});
  for (uint64_t seq = lo; seq <= hi; ++seq) (*out)[seq - lo].seq = seq;
  const uint64_t committed_head = ws.committed.head;
  if (hi > committed_head && ws.txn_epoch == t_epoch_) {
    for (const IdAt& e : ws.txn_ids) {
      if (e.seq >= lo && e.seq <= hi) (*out)[e.seq - lo] = e;
    }
  }
  if (lo > committed_head) return 0;
  const uint64_t stored_hi = std::min(hi, committed_head);
  if (ws.recent != nullptr && ws.recent->low <= lo &&
      ws.recent->top >= stored_hi) {
    const std::vector<IdAt>& ring = ws.recent->ring;
    for (uint64_t seq = lo; seq <= stored_hi; ++seq) {
      const IdAt& e = ring[seq % ring.size()];
      if (e.seq == seq) (*out)[seq - lo] = e;
    }
    return 0;
  }
  return ReadStoredIds(txn, name, ws, lo, stored_hi, lo, out, refusal);
}

void JournalImpl::AdvanceRecent(WriterStream& ws) {
  if (ws.recent == nullptr) return;
  RecentIds& r = *ws.recent;
  const uint64_t w = r.ring.size();
  const uint64_t top = ws.txn.head;
  if (top <= r.top) return;
  // The new seqs start without ids; the transaction's ids fill theirs.
  for (uint64_t seq = std::max(r.top + 1, top >= w ? top - w + 1 : 1);
       seq <= top; ++seq) {
    r.ring[seq % w] = IdAt{seq, Uuid{}, 0};
  }
  for (const IdAt& e : ws.txn_ids) {
    if (e.seq + w > top) r.ring[e.seq % w] = e;
  }
  r.top = top;
  r.low = std::max(r.low, top >= w ? top - w + 1 : uint64_t{1});
}

int JournalImpl::CheckRepeat(MDB_txn* txn, const AppendPart& part,
                             const std::vector<Uuid>& ids, WriterStream& ws,
                             Repeat* repeat, AppendResult* original,
                             Status* refusal) {
  *repeat = Repeat::kNew;
  const StreamState& st = ws.txn_epoch == t_epoch_ ? ws.txn : ws.committed;
  const Expected& e = part.request->expected;
  const std::string& name = part.request->stream;
  const uint64_t n = ids.size();
  const uint64_t floor = st.deleted_to;  // seqs up to here are gone
  std::vector<IdAt> stored;
  uint64_t start = 0;  // where ids[0] is stored
  if (!e.any() && !e.exists()) {
    // An exact expectation that still holds is a new append; one past the
    // head is a plain conflict; events deleted cannot be compared.
    const uint64_t k = e.seq();
    if (st.head <= k || k + 1 <= floor) return 0;
    int rc = StreamIds(txn, name, ws, k + 1, std::min(k + n, st.head), &stored,
                       refusal);
    if (rc != 0 || !refusal->ok()) return rc;
    if (stored[0].id != ids[0]) return 0;
    start = k + 1;
  } else {
    const uint64_t w = env_->options().idempotency_window;
    if (w == 0) return 0;
    const uint64_t lo =
        std::max(floor + 1, st.head >= w ? st.head - w + 1 : uint64_t{1});
    if (lo > st.head) return 0;
    // The ring makes the search a walk over memory; it is loaded once per
    // stream (and kept only while no deletion in this transaction makes
    // the committed events differ from what the transaction sees).
    if (ws.recent == nullptr && st.deleted_to == ws.committed.deleted_to) {
      if (w_recent_rings_ >= kMaxRecentRings) {
        for (auto& [unused, each] : w_streams_) each.recent.reset();
        w_recent_rings_ = 0;
      }
      auto r = std::make_unique<RecentIds>();
      const uint64_t top = ws.committed.head;
      r->top = top;
      r->low = top >= w ? top - w + 1 : 1;
      r->ring.assign(w, IdAt{});
      if (top >= r->low) {
        std::vector<IdAt> loaded(top - r->low + 1);
        for (uint64_t seq = r->low; seq <= top; ++seq) {
          loaded[seq - r->low].seq = seq;
        }
        int rc = ReadStoredIds(txn, name, ws, std::max(r->low, floor + 1), top,
                               r->low, &loaded, refusal);
        if (rc != 0 || !refusal->ok()) return rc;
        for (const IdAt& each : loaded) r->ring[each.seq % w] = each;
      }
      ws.recent = std::move(r);
      ++w_recent_rings_;
    }
    int rc = StreamIds(txn, name, ws, lo, st.head, &stored, refusal);
    if (rc != 0 || !refusal->ok()) return rc;
    // The newest match: an id may be stored twice (appended again past
    // the window, or under an exact expectation that held), and a retry
    // repeats the latest append.
    auto newest = std::find_if(stored.rbegin(), stored.rend(),
                               [&](const IdAt& s) { return s.id == ids[0]; });
    auto at = newest == stored.rend() ? stored.end() : std::prev(newest.base());
    if (at == stored.end()) {
      // Not a repeat, unless a later event of the request is stored.
      if (n > 1) {
        std::unordered_set<Uuid> window;
        for (const IdAt& s : stored) {
          if (!s.id.empty()) window.insert(s.id);
        }
        for (uint64_t j = 1; j < n; ++j) {
          if (window.count(ids[j]) != 0) {
            *refusal = PartialRepeat(
                name, st.head,
                fmt::format("event {} of the request, id {}, is stored, but "
                            "not the events before it",
                            j, ids[j].ToString()));
            return 0;
          }
        }
      }
      return 0;
    }
    start = at->seq;
    stored.erase(stored.begin(), at);
  }
  // ids[0] is stored at `start`: every other id must follow it in order.
  for (uint64_t j = 0; j < n; ++j) {
    if (start + j > st.head) {
      *refusal = PartialRepeat(
          name, st.head,
          fmt::format("its first {} of {} events are stored at seqs {} to "
                      "{}, the rest are not",
                      j, n, start, start + j - 1));
      return 0;
    }
    if (stored[j].id != ids[j]) {
      *refusal = PartialRepeat(
          name, st.head,
          fmt::format("event 0 of the request, id {}, is stored at seq {}, "
                      "but event {} differs from seq {}",
                      ids[0].ToString(), start, j, start + j));
      return 0;
    }
  }
  *repeat = Repeat::kDuplicate;
  original->first_seq = start;
  original->last_seq = start + n - 1;
  original->first_position = stored[0].position;
  original->last_position = stored[n - 1].position;
  return 0;
}

}  // namespace memoir::internal
