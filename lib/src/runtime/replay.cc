// The library side of memoir/replay.h: rebuilding a state for the typed
// Replayer with the same recovery the runtime uses.
#include "memoir/replay.h"

#include <fmt/format.h>

#include "runtime/recovery.h"

namespace memoir::detail {

Result<Rebuilt> Rebuild(Store& store, const Behavior& behavior,
                        std::string_view stream, uint64_t to_seq,
                        bool use_snapshots, uint64_t max_snapshot_seq) {
  Status valid = ValidateStreamName(stream);
  if (!valid.ok()) return valid;
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
