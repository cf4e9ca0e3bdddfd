// The journal's integrity check, as one walker over the tables of
// journal/layout.h (verify.h runs it). Its parts: verify.cc (the run, the
// stream table), verify_log.cc (the log, in commit order),
// verify_index.cc (the indexes, and damage tied to streams at the end).
#ifndef MEMOIR_JOURNAL_JOURNAL_VERIFIER_H_
#define MEMOIR_JOURNAL_JOURNAL_VERIFIER_H_

#include <lmdb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "journal/journal_impl.h"
#include "journal/record.h"
#include "journal/stream_row.h"
#include "storage/verify_context.h"

namespace memoir::internal::journal_check {

inline constexpr uint64_t kNoPosition = ~uint64_t{0};

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

inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class JournalVerifier {
 public:
  JournalVerifier(MDB_txn* txn, const JournalImpl::Dbs& dbs, VerifyContext* ctx)
      : txn_(txn), dbs_(dbs), ctx_(ctx) {}

  Status Run(std::string_view only, StreamFactsMap* facts);

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
  void ReadMeta();

  // Registers stream `id` and checks its row.
  void AddStream(uint64_t id, std::string_view name);

  void LoadStreams();

  // Decodes the record at `pos`. A damaged record is kept for ReportDamage;
  // one that names another position is reported at once.
  bool Decode(uint64_t pos, const MDB_val& v, DecodedEvent* d);

  // Decodes a record the log walk has judged already (silently: what is
  // wrong with it was reported then); for one stream, a first look.
  bool DecodeAgain(uint64_t pos, const MDB_val& v, DecodedEvent* d);

  // What a record that failed its checksum says about itself, when its
  // envelope still passes the FlatBuffers verifier.
  bool Claim(const MDB_val& v, uint64_t* id, uint64_t* seq, uint64_t* pos);

  // The checks of one good event of stream `id`, met in commit order.
  void OnEvent(StreamCheck& sc, uint64_t id, const DecodedEvent& d,
               uint64_t pos);

  void CheckIndexEntry(const std::string& name, uint64_t id, uint64_t seq,
                       uint64_t pos);

  void CheckTagEntries(const std::string& name, const DecodedEvent& d,
                       uint64_t pos);

  void WalkLog();

  void VisitLogRecord(uint64_t pos, const MDB_val& v, DecodedEvent* d);

  // One stream's check: the log above the index, where its newest events
  // may be.
  void WalkTail();

  // Every stream_index entry (of stream `only`, when not 0) must point at a
  // record naming it. For one stream the entries also drive OnEvent.
  void WalkStreamIndex(uint64_t only);

  void CheckIndexTarget(uint64_t id, uint64_t seq, uint64_t pos,
                        DecodedEvent* d);

  void WalkTagIndex();

  // Every stream_meta record (of stream `only`, when not 0) must belong to
  // a live stream and pass its checksum.
  void WalkStreamMeta(uint64_t only);

  // Per-stream checks that need the whole walk.
  void Finish(StreamFactsMap* facts);

  // Damaged records, tied to a stream and seq where possible, and the gaps
  // they do not explain.
  //
  // Above the index, a record's own claim is all there is. It is taken when
  // proven (a one-bit repair makes the checksum match), when it exactly
  // fills a gap in its stream, or when it continues its stream past the
  // newest intact event (a stream's newest event leaves no gap); the last
  // is marked unverified, since the damage may be in the claim itself.
  void ReportDamage();

  static void Attribute(BadRecord& bad, std::string how);

  void ReportGap(const Gap& g, uint64_t first, uint64_t last);

  MDB_txn* txn_;
  const JournalImpl::Dbs& dbs_;
  VerifyContext* ctx_;
  uint64_t only_id_ = 0;  // 0: the whole journal
  uint64_t indexed_to_ = 0;
  // The type index's first position; 0 when the store has none yet.
  uint64_t types_indexed_from_ = 0;
  std::map<uint64_t, StreamCheck> streams_;
  std::vector<Gap> gaps_;
  std::map<uint64_t, BadRecord> bad_;  // by position
  std::set<uint64_t> misplaced_;       // positions naming another position
  AlignedScratch scratch_;
};

}  // namespace memoir::internal::journal_check

#endif  // MEMOIR_JOURNAL_JOURNAL_VERIFIER_H_
