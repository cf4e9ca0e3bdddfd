// The snapshot store's on-disk layout (store format version 1), beside the
// journal's (journal/layout.h) in the same LMDB environment.
//
// Integers in keys are big-endian so byte order is numeric order; integers
// in values are little-endian.
//
//   snapshots        stream id u64 ++ seq u64 -> snapshot record
//
//   snapshot record  := checksum u64 ++ envelope
//     checksum       := XXH3-64 (storage/checksum.h) of the envelope bytes
//     envelope       := FlatBuffer SnapshotEnvelope (snapshot/snapshot.fbs),
//                       identifier "MSNP"; its stream_id and seq repeat the
//                       key, so a record copied under the wrong key is caught
//
// Why keyed by (stream id, seq). A stream's snapshots are contiguous, so
// "the newest at or below seq N" is one cursor seek plus steps backwards,
// and deleting a tombstoned stream's snapshots is one range walk. Stream ids
// come from the journal's names table; a snapshot is only written while the
// writer transaction sees its stream existing, not tombstoned, and with a
// head at or above the snapshot's seq.
//
// Large snapshots (megabytes) go to LMDB overflow pages; the writer commits
// an op larger than StoreOptions::max_batch_bytes alone.
#ifndef MEMOIR_SNAPSHOT_LAYOUT_H_
#define MEMOIR_SNAPSHOT_LAYOUT_H_

#include <cstddef>

namespace memoir::internal {

inline constexpr char kSnapshotsDb[] = "snapshots";
inline constexpr size_t kSnapshotKeyBytes = 16;

}  // namespace memoir::internal

#endif  // MEMOIR_SNAPSHOT_LAYOUT_H_
