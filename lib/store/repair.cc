// RepairStore (memoir/inspect.h): one-bit repairs of damaged event records.
//
// It works on the LMDB environment directly, below the journal: a store
// whose unindexed tail holds a damaged record refuses to open for writing,
// which is exactly when a repair is wanted.
#include <fmt/format.h>
#include <lmdb.h>

#include <cstring>
#include <memory>
#include <string>

#include "journal/layout.h"
#include "journal/record.h"
#include "journal/stream_row.h"
#include "memoir/inspect.h"
#include "storage/bytes.h"
#include "storage/env.h"
#include "storage/lmdb_error.h"
#include "storage/lmdb_handles.h"

namespace memoir {
namespace {

using internal::CursorCloser;
using internal::GetBig64;
using internal::TxnAborter;

class Repairer {
 public:
  Repairer(MDB_txn* txn, MDB_dbi log, MDB_dbi streams, MDB_dbi index,
           MDB_dbi meta)
      : txn_(txn), log_(log), streams_(streams), index_(index) {
    MDB_val k{std::strlen(internal::kMetaIndexedTo),
              const_cast<char*>(internal::kMetaIndexedTo)};
    MDB_val v;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 8) {
      indexed_to_ = internal::GetLittle64(static_cast<const char*>(v.mv_data));
    }
  }

  Status Run(bool dry_run, RepairReport* report) {
    CursorCloser cur;
    int rc = mdb_cursor_open(txn_, log_, &cur.c);
    if (rc != 0) return internal::MdbStatus(rc, "reading the log");
    MDB_val k, v;
    internal::AlignedScratch scratch;
    internal::DecodedEvent d;
    std::string repaired;
    for (rc = mdb_cursor_get(cur.c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      ++report->records;
      if (k.mv_size != 8) continue;  // not a log key: verify reports it
      const uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data));
      const char* data = static_cast<const char*>(v.mv_data);
      Status s = internal::DecodeEventRecord(data, v.mv_size, &scratch, &d);
      if (s.ok()) continue;  // (a misplaced record is verify's to report)
      DamagedRecord damaged;
      damaged.position = pos;
      internal::EventClaim claim;
      const bool proven =
          internal::ClaimEventIdentity(data, v.mv_size, &claim, &repaired) &&
          claim.proven;
      std::string mismatch;
      if (proven) {
        damaged.stream = NameOf(claim.stream_id);
        damaged.seq = claim.seq;
        mismatch = Mismatch(pos, claim);
      }
      if (!proven || !mismatch.empty()) {
        damaged.what = fmt::format(
            "{}; {}", s.message(),
            !proven ? "no single flipped bit explains it; left as it is"
                    : mismatch + "; left as it is");
        report->unrepaired.push_back(std::move(damaged));
        continue;
      }
      damaged.what = fmt::format(
          "{}; one flipped bit found: the record as written has a matching "
          "checksum and names this stream, seq and position{}",
          s.message(), dry_run ? " (not written: dry run)" : "; rewritten");
      if (!dry_run) {
        // Same size, same key: the record is replaced in place.
        MDB_val nv{repaired.size(), repaired.data()};
        rc = mdb_cursor_put(cur.c, &k, &nv, MDB_CURRENT);
        if (rc != 0) {
          return internal::MdbStatus(
              rc, fmt::format("rewriting the log record at position {}", pos));
        }
      }
      report->repaired.push_back(std::move(damaged));
    }
    if (rc != MDB_NOTFOUND) return internal::MdbStatus(rc, "reading the log");
    return Status::OK();
  }

 private:
  std::string NameOf(uint64_t id) {
    internal::Key64 key(id);
    MDB_val k{8, key.bytes};
    MDB_val v;
    internal::StreamRow row;
    if (mdb_get(txn_, streams_, &k, &v) != 0 ||
        !internal::StreamRow::Decode(
             std::string_view(static_cast<const char*>(v.mv_data), v.mv_size),
             &row)
             .ok()) {
      return std::string();
    }
    return row.name;
  }

  // Why a repaired record is not the one stored here; empty when it is.
  std::string Mismatch(uint64_t pos, const internal::EventClaim& claim) {
    if (claim.position != pos) {
      return fmt::format("the repaired record names position {}",
                         claim.position);
    }
    if (pos > indexed_to_) return std::string();  // the log is all there is
    internal::Key128 key(claim.stream_id, claim.seq);
    MDB_val k{16, key.bytes};
    MDB_val v;
    if (mdb_get(txn_, index_, &k, &v) != 0 || v.mv_size != 8 ||
        GetBig64(static_cast<const char*>(v.mv_data)) != pos) {
      return fmt::format(
          "the stream index does not place stream id {} seq {} here",
          claim.stream_id, claim.seq);
    }
    return std::string();
  }

  MDB_txn* txn_;
  MDB_dbi log_, streams_, index_;
  uint64_t indexed_to_ = 0;
};

}  // namespace

Result<RepairReport> RepairStore(const std::string& path,
                                 const RepairOptions& options) {
  StoreOptions o;
  o.create_if_missing = false;
  Result<std::unique_ptr<internal::Env>> env = internal::Env::Open(path, o);
  if (!env.ok()) return env.status();
  MDB_dbi dbi[4];
  const char* names[4] = {"log", "streams", "stream_index", nullptr};
  for (int i = 0; i < 3; ++i) {
    Result<MDB_dbi> d = (*env)->OpenDatabase(names[i]);
    if (!d.ok()) return d.status();
    dbi[i] = *d;
  }
  dbi[3] = (*env)->meta();
  TxnAborter txn;
  int rc = (*env)->BeginWrite(&txn.txn);
  if (rc != 0) {
    return internal::MdbStatus(rc, fmt::format("repairing {}", path));
  }
  RepairReport report;
  Repairer repairer(txn.txn, dbi[0], dbi[1], dbi[2], dbi[3]);
  Status s = repairer.Run(options.dry_run, &report);
  if (!s.ok()) return s.WithContext(fmt::format("repairing {}", path));
  if (options.dry_run || report.repaired.empty()) return report;
  rc = mdb_txn_commit(txn.txn);
  txn.txn = nullptr;
  if (rc != 0) {
    return internal::MdbStatus(
        rc, fmt::format("committing the repair of {}: nothing was changed; "
                        "fix the cause and run the repair again",
                        path));
  }
  rc = mdb_env_sync((*env)->raw(), 1);
  if (rc != 0) {
    return internal::MdbStatus(
        rc, fmt::format("syncing the repair of {}: it was committed but may "
                        "not be on disk; run 'memoir verify' once the device "
                        "is healthy",
                        path));
  }
  return report;
}

}  // namespace memoir
