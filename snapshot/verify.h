// The snapshot store's integrity check (memoir/inspect.h, VerifyStore):
// every snapshot record against its key and against the journal's streams.
#ifndef MEMOIR_SNAPSHOT_VERIFY_H_
#define MEMOIR_SNAPSHOT_VERIFY_H_

#include <lmdb.h>

#include <cstdint>

#include "storage/verify_context.h"

namespace memoir::internal {

// Checks the snapshots of stream `only_id` (every stream when 0) in table
// `dbi` of `txn`: each record's frame, checksum, verifier and key, and that
// it belongs to a stream in `streams` that is not deleted, at a seq from 1
// to the stream's head. Problems go to `ctx`; LMDB failures on the way are
// problems too.
void VerifySnapshots(MDB_txn* txn, MDB_dbi dbi, uint64_t only_id,
                     const StreamFactsMap& streams, VerifyContext* ctx);

}  // namespace memoir::internal

#endif  // MEMOIR_SNAPSHOT_VERIFY_H_
