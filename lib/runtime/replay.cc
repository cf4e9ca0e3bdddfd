// The library side of memoir/replay.h: rebuilding a state for the typed
// Replayer with the same recovery the runtime uses.
#include "memoir/replay.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/recovery.h"

namespace memoir::detail {
namespace {

// Whether the deliberate deletion of events 1..deleted_to, rather than
// damage, is what keeps the state after `to_seq` from being rebuilt: no
// snapshot at or below `limit` (0: none may be used) can serve as the
// base, and none that could was damaged.
bool DeletionStops(const std::vector<SnapshotInfo>& snapshots,
                   uint64_t deleted_to, uint64_t to_seq, uint64_t limit) {
  for (const SnapshotInfo& s : snapshots) {
    if (s.seq > limit) continue;
    // A damaged snapshot that could have been the base: recovery reports
    // that as the damage it is.
    if (!s.checksum_ok) {
      if (s.seq >= deleted_to) return false;
      continue;
    }
    if (s.seq >= deleted_to || s.seq == to_seq) return false;
  }
  return true;
}

uint64_t Earliest(const std::vector<SnapshotInfo>& snapshots,
                  uint64_t deleted_to) {
  uint64_t earliest = 0;
  for (const SnapshotInfo& s : snapshots) {
    if (s.checksum_ok && s.seq >= deleted_to &&
        (earliest == 0 || s.seq < earliest)) {
      earliest = s.seq;
    }
  }
  return earliest;
}

}  // namespace

Result<DeletedPrefix> FindDeletedPrefix(Store& store, std::string_view stream) {
  DeletedPrefix out;
  Result<StreamInfo> info = store.journal().GetStream(stream);
  if (!info.ok()) {
    return info.status().IsNotFound() ? Result<DeletedPrefix>(out)
                                      : Result<DeletedPrefix>(info.status());
  }
  if (info->deleted || info->deleted_to == 0) return out;
  Result<std::vector<SnapshotInfo>> list = store.snapshots().List(stream);
  if (!list.ok()) return list.status();
  out.deleted_to = info->deleted_to;
  out.earliest = Earliest(*list, out.deleted_to);
  return out;
}

Status DeletedEvents(std::string_view stream, const DeletedPrefix& prefix,
                     std::string_view consequence) {
  const uint64_t d = prefix.deleted_to;
  std::string from =
      prefix.earliest != 0
          ? fmt::format(
                "the earliest state that can be rebuilt is the one after seq "
                "{} (the oldest snapshot at or after seq {})",
                prefix.earliest, d)
          : fmt::format(
                "no snapshot at or after seq {} exists, so no state after seq "
                "{} can be rebuilt",
                d, d);
  return Status::NotFound(
      fmt::format("events 1..{} of stream '{}' were deleted (delete-to), so "
                  "{}; {}",
                  d, stream, consequence, from));
}

Result<Rebuilt> Rebuild(Store& store, const Behavior& behavior,
                        std::string_view stream, uint64_t to_seq,
                        bool use_snapshots, uint64_t max_snapshot_seq) {
  Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
  if (to_seq > 0) {
    // Recovery calls a missing base Corruption, as it is for a live actor;
    // here a deliberate deletion gets its own answer.
    Result<StreamInfo> info = store.journal().GetStream(stream);
    if (info.ok() && !info->deleted && info->deleted_to > 0) {
      Result<std::vector<SnapshotInfo>> list = store.snapshots().List(stream);
      if (!list.ok()) return list.status();
      const uint64_t d = info->deleted_to;
      const uint64_t to = std::min(to_seq, info->head);
      const uint64_t limit =
          use_snapshots ? std::min(to_seq, max_snapshot_seq) : 0;
      if (DeletionStops(*list, d, to, limit)) {
        return DeletedEvents(
            stream, DeletedPrefix{d, Earliest(*list, d)},
            use_snapshots
                ? fmt::format("the state after seq {} cannot be rebuilt", to)
                : std::string("a replay from the first event cannot run"));
      }
    }
  }
  internal::RecoveryOptions options;
  options.to_seq = to_seq;
  options.use_snapshots = use_snapshots;
  options.max_snapshot_seq = max_snapshot_seq;
  Result<internal::Recovered> r =
      internal::Recover(store, behavior, stream, options);
  if (!r.ok()) return r.status();
  if (r->deleted) {
    return Status::StreamDeleted(fmt::format(
        "stream '{}' was deleted; there is nothing to replay", stream));
  }
  Rebuilt out;
  out.state = std::move(r->state);
  out.seq = r->seq;
  out.snapshot_seq = r->snapshot_seq;
  out.events_replayed = r->events_replayed;
  out.skipped = std::move(r->skipped);
  return out;
}

}  // namespace memoir::detail
