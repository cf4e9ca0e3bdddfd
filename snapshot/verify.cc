// The snapshot store's integrity check (verify.h).
#include "snapshot/verify.h"

#include <fmt/format.h>

#include "snapshot/layout.h"
#include "snapshot/snapshot_record.h"
#include "storage/bytes.h"

namespace memoir::internal {
namespace {

// The checks of the snapshot of stream `id` at `seq` stored as `val`.
void CheckSnapshot(uint64_t id, uint64_t seq, const MDB_val& val,
                   const StreamFactsMap& streams, AlignedScratch* scratch,
                   VerifyContext* ctx) {
  auto it = streams.find(id);
  if (it == streams.end()) {
    ctx->Problem(
        "", seq, 0,
        fmt::format("a snapshot of stream id {}, which does not exist", id));
    return;
  }
  const StreamFacts& stream = it->second;
  if (stream.deleted) {
    ctx->Problem(stream.name, seq, 0, "a snapshot of a deleted stream remains");
  } else if (seq == 0 || seq > stream.head) {
    ctx->Problem(stream.name, seq, 0,
                 fmt::format("a snapshot at seq {}, outside the stream's seqs "
                             "1 to {}",
                             seq, stream.head));
  }
  DecodedSnapshot decoded;
  Status s = DecodeSnapshotRecord(static_cast<const char*>(val.mv_data),
                                  val.mv_size, id, seq, scratch, &decoded);
  if (!s.ok()) {
    ctx->Problem(stream.name, seq, 0,
                 fmt::format("damaged snapshot record: {}", s.message()));
  }
}

}  // namespace

void VerifySnapshots(MDB_txn* txn, MDB_dbi dbi, uint64_t only_id,
                     const StreamFactsMap& streams, VerifyContext* ctx) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  Key128 start(only_id, 0);
  MDB_val k{kSnapshotKeyBytes, start.bytes};
  MDB_val v;
  AlignedScratch scratch;
  KeyOrder order;
  for (rc = rc != 0 ? rc
                    : mdb_cursor_get(cur, &k, &v,
                                     only_id != 0 ? MDB_SET_RANGE : MDB_FIRST);
       rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    ctx->Tick();
    if (!ctx->InOrder(order, k, "snapshots")) {
      rc = MDB_NOTFOUND;
      break;
    }
    if (k.mv_size != kSnapshotKeyBytes) {
      ctx->Problem("", 0, 0,
                   fmt::format("a snapshot key holds {} bytes, not {}",
                               k.mv_size, kSnapshotKeyBytes));
      continue;
    }
    const char* kp = static_cast<const char*>(k.mv_data);
    const uint64_t id = GetBig64(kp);
    if (only_id != 0 && id != only_id) {
      rc = MDB_NOTFOUND;  // past the stream's snapshots
      break;
    }
    ++ctx->report().snapshots;
    CheckSnapshot(id, GetBig64(kp + 8), v, streams, &scratch, ctx);
  }
  if (rc != MDB_NOTFOUND) {
    ctx->Problem("", 0, 0,
                 fmt::format("the snapshots table cannot be read to its end: "
                             "{}",
                             mdb_strerror(rc)));
  }
  if (cur != nullptr) mdb_cursor_close(cur);
}

}  // namespace memoir::internal
