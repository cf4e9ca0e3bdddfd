// Recovery: rebuilding an actor's state from its snapshots and events.
//
// Used by activation, by restarts, and by reads of an inactive actor's
// committed state. Never writes.
#ifndef MEMOIR_RUNTIME_RECOVERY_H_
#define MEMOIR_RUNTIME_RECOVERY_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "memoir/detail/behavior.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/store.h"

namespace memoir::internal {

struct Recovered {
  std::unique_ptr<detail::StateBox> state;
  uint64_t seq = 0;           // the last event applied (0: none)
  uint64_t snapshot_seq = 0;  // the snapshot started from (0: none)
  uint64_t events_replayed = 0;
  // Snapshots passed over: failed checks, or the codec could not read them.
  std::vector<SnapshotSkip> skipped;
  bool deleted = false;  // the stream was tombstoned; `state` is null
};

struct RecoveryOptions {
  uint64_t to_seq = kMaxSeq;  // stop after this event
  bool use_snapshots = true;  // false: fold every event from seq 1
  // Consider only snapshots at or below this seq (and at or below to_seq).
  uint64_t max_snapshot_seq = kMaxSeq;
};

// Rebuilds the state of stream `id` with `behavior`: the newest usable
// snapshot at or below options.to_seq, then the later events. Errors:
// kFailed naming the seq when a stored event cannot be upcast, decoded or
// applied; kCorruption when a stored event fails its checks, when the
// sequence has a gap, or when deleted events are not covered by a usable
// snapshot; other codes from the store (kIOError, ...).
Result<Recovered> Recover(Store& store, const detail::Behavior& behavior,
                          std::string_view id,
                          const RecoveryOptions& options = {});

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_RECOVERY_H_
