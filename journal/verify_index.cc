// The journal check's walks of the stream and tag indexes
// (journal_verifier.h), and at the end, damaged records tied to streams
// and the gaps they do not explain.
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

// Every stream_index entry (of stream `only`, when not 0) must point at a
// record naming it. For one stream the entries also drive OnEvent.
void JournalVerifier::WalkStreamIndex(uint64_t only) {
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

void JournalVerifier::CheckIndexTarget(uint64_t id, uint64_t seq, uint64_t pos,
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

void JournalVerifier::WalkTagIndex() {
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
    std::string_view key = View(k);
    // A type entry (layout.h) starts with NUL and its type's length; a tag
    // has no NUL.
    const bool type_entry = !key.empty() && key[0] == '\0';
    ++(type_entry ? ctx_->report().type_entries : ctx_->report().tag_entries);
    if (key.size() < 10 || key[key.size() - 9] != '\0' ||
        (type_entry ? key.size() < 12 ||
                          static_cast<unsigned char>(key[1]) != key.size() - 11
                    : key.substr(0, key.size() - 9).find('\0') !=
                          std::string_view::npos)) {
      Problem("", 0, 0, "a malformed tag index key");
      continue;
    }
    std::string_view tag = type_entry ? key.substr(2, key.size() - 11)
                                      : key.substr(0, key.size() - 9);
    const std::string what = type_entry ? fmt::format("type '{}'", tag)
                                        : fmt::format("tag '{}'", tag);
    const uint64_t pos = GetBig64(key.data() + key.size() - 8);
    if (pos > indexed_to_) {
      Problem("", 0, pos,
              fmt::format("{}: an entry above the indexed position {}", what,
                          indexed_to_));
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
    if (type_entry ? d.type != tag
                   : std::find(d.tag_list.begin(), d.tag_list.end(), tag) ==
                         d.tag_list.end()) {
      Problem(
          NameOf(d.stream_id), d.seq, pos,
          fmt::format("the tag index lists {} for this event, which {}", what,
                      type_entry ? fmt::format("is of type '{}'", d.type)
                                 : std::string("does not carry it")));
    }
  }
  if (rc != MDB_NOTFOUND) TableProblem("tag_index", rc);
}

// Damaged records, tied to a stream and seq where possible, and the gaps
// they do not explain.
//
// Above the index, a record's own claim is all there is. It is taken when
// proven (a one-bit repair makes the checksum match), when it exactly
// fills a gap in its stream, or when it continues its stream past the
// newest intact event (a stream's newest event leaves no gap); the last
// is marked unverified, since the damage may be in the claim itself.
void JournalVerifier::ReportDamage() {
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
        pos > sc->second.last_position && bad.claim_seq > sc->second.last_seq &&
        (!sc->second.row_ok || bad.claim_seq > sc->second.row.head)) {
      Attribute(bad,
                fmt::format("named by its own damaged header, unverified; the "
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
      std::string claim = bad.claimed ? fmt::format(
                                            " (its unverified envelope claims "
                                            "stream id {} seq {})",
                                            bad.claim_id, bad.claim_seq)
                                      : std::string();
      Problem("", 0, pos,
              fmt::format("damaged event record: {}{}", bad.reason, claim));
    }
  }
}

void JournalVerifier::Attribute(BadRecord& bad, std::string how) {
  bad.attributed = true;
  bad.id = bad.claim_id;
  bad.seq = bad.claim_seq;
  bad.how = std::move(how);
}

void JournalVerifier::ReportGap(const Gap& g, uint64_t first, uint64_t last) {
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
}  // namespace memoir::internal::journal_check
