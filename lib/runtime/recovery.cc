#include "runtime/recovery.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace memoir::internal {

namespace {

// Loads the newest snapshot at or below `max_seq` that passes its checks
// and that the actor's codec can read, recording every one passed over.
Status LoadSnapshot(Store& store, const detail::Behavior& behavior,
                    std::string_view id, uint64_t max_seq, Recovered& out) {
  SnapshotCriteria criteria;
  criteria.max_seq = max_seq;
  while (criteria.max_seq > 0) {
    Result<LoadResult> loaded = store.snapshots().LoadLatest(id, criteria);
    if (!loaded.ok()) {
      return loaded.status().IsNotFound() ? Status::OK() : loaded.status();
    }
    for (SnapshotSkip& skip : loaded->skipped) {
      out.skipped.push_back(std::move(skip));
    }
    if (!loaded->snapshot) return Status::OK();
    const Snapshot& snap = *loaded->snapshot;
    Result<std::unique_ptr<detail::StateBox>> state =
        behavior.DecodeState(snap);
    if (state.ok()) {
      out.state = std::move(*state);
      out.seq = out.snapshot_seq = snap.info.seq;
      return Status::OK();
    }
    out.skipped.push_back(
        SnapshotSkip{snap.info.seq, std::string(state.status().message())});
    criteria.max_seq = snap.info.seq - 1;
  }
  return Status::OK();
}

// A durable-state actor: its state is its newest stored revision (the
// initial state when none was ever written). Older revisions, when some
// remain, are not read. The runtime never deletes the newest revision (a
// wipe stores a cleared one), so a stream whose revisions were all deleted
// lost its state: that is damage, not a fresh start.
Result<Recovered> RecoverDurable(Store& store, const detail::Behavior& behavior,
                                 std::string_view id, const StreamInfo& info,
                                 const RecoveryOptions& options) {
  Recovered out;
  Result<std::unique_ptr<detail::StateBox>> initial = behavior.Initial(id);
  if (!initial.ok()) {
    return initial.status().WithContext(fmt::format("stream '{}'", id));
  }
  out.state = std::move(*initial);
  const uint64_t to = std::min(options.to_seq, info.head);
  out.seq = to;
  if (to > 0 && to <= info.deleted_to) {
    if (to < info.head) {
      return Status::NotFound(fmt::format(
          "stream '{}': revision {} is no longer stored (a durable-state "
          "actor keeps only its newest revision, {})",
          id, to, info.head));
    }
    return Status::Corruption(fmt::format(
        "stream '{}': its newest revision {} was deleted (events 1..{} are "
        "gone, by Journal::DeleteTo or an import of an export that raced "
        "with a change), so its state cannot be rebuilt; store a state "
        "again (for example by importing a good export) and release the "
        "actor, or destroy it",
        id, to, info.deleted_to));
  }
  ReadOptions newest;
  newest.from_seq = info.deleted_to + 1;
  newest.to_seq = to;
  newest.backward = true;
  newest.max_count = 1;
  Status failure;
  Status scan =
      store.journal().Scan(id, newest, [&](const EventView& event) -> bool {
        if (event.seq != to) {
          failure = Status::Corruption(fmt::format(
              "stream '{}': expected its revision {} but found seq {}", id, to,
              event.seq));
          return false;
        }
        Status applied = behavior.ApplyStored(*out.state, event);
        if (!applied.ok()) {
          failure = applied.WithContext(
              fmt::format("stream '{}' revision {} (type '{}' version {})", id,
                          event.seq, event.type, event.schema_version));
          return false;
        }
        out.events_replayed = 1;
        return true;
      });
  if (!failure.ok()) return failure;
  if (!scan.ok()) {
    if (scan.IsStreamDeleted()) {
      out.state.reset();
      out.deleted = true;
      return out;
    }
    return scan.WithContext(fmt::format("stream '{}'", id));
  }
  if (out.events_replayed == 0) {
    // Another writer's revision and its deletion of the older ones came
    // between the two reads: the caller reads again.
    return Status::Busy(fmt::format(
        "stream '{}': its revision {} was replaced while it was read", id, to));
  }
  return out;
}

}  // namespace

Result<Recovered> Recover(Store& store, const detail::Behavior& behavior,
                          std::string_view id, const RecoveryOptions& options) {
  Recovered out;
  Result<StreamInfo> info = store.journal().GetStream(id);
  if (!info.ok() && !info.status().IsNotFound()) return info.status();
  if (info.ok() && info->deleted) {
    out.deleted = true;
    return out;
  }
  if (!info.ok()) {  // never written: the initial state
    Result<std::unique_ptr<detail::StateBox>> initial = behavior.Initial(id);
    if (!initial.ok())
      return initial.status().WithContext(fmt::format("stream '{}'", id));
    out.state = std::move(*initial);
    return out;
  }
  if (behavior.durable_state()) {
    Result<Recovered> r = RecoverDurable(store, behavior, id, *info, options);
    for (int again = 0; again < 3 && !r.ok() && r.status().IsBusy(); ++again) {
      info = store.journal().GetStream(id);
      if (!info.ok()) return info.status();
      r = RecoverDurable(store, behavior, id, *info, options);
    }
    return r;
  }
  if (options.use_snapshots) {
    Status s =
        LoadSnapshot(store, behavior, id,
                     std::min(options.to_seq, options.max_snapshot_seq), out);
    if (!s.ok()) return s.WithContext(fmt::format("stream '{}'", id));
  }
  if (!out.state) {
    Result<std::unique_ptr<detail::StateBox>> initial = behavior.Initial(id);
    if (!initial.ok()) {
      return initial.status().WithContext(fmt::format("stream '{}'", id));
    }
    out.state = std::move(*initial);
  }
  if (out.seq < info->deleted_to && out.seq < options.to_seq) {
    return Status::Corruption(fmt::format(
        "stream '{}': events 1..{} were deleted and no usable snapshot at or "
        "after seq {} remains ({} skipped); the state cannot be rebuilt",
        id, info->deleted_to, info->deleted_to, out.skipped.size()));
  }
  if (out.seq >= options.to_seq) return out;

  ReadOptions range;
  range.from_seq = out.seq + 1;
  range.to_seq = options.to_seq;
  Status failure;
  Status scan =
      store.journal().Scan(id, range, [&](const EventView& event) -> bool {
        if (event.seq != out.seq + 1) {
          failure = Status::Corruption(
              fmt::format("stream '{}': expected seq {} but found seq {}", id,
                          out.seq + 1, event.seq));
          return false;
        }
        Status applied = behavior.ApplyStored(*out.state, event);
        if (!applied.ok()) {
          failure = applied.WithContext(
              fmt::format("stream '{}' seq {} (type '{}' version {})", id,
                          event.seq, event.type, event.schema_version));
          return false;
        }
        out.seq = event.seq;
        ++out.events_replayed;
        return true;
      });
  if (!failure.ok()) return failure;
  if (!scan.ok()) {
    if (scan.IsStreamDeleted()) {
      out.state.reset();
      out.deleted = true;
      return out;
    }
    return scan.WithContext(fmt::format("stream '{}'", id));
  }
  return out;
}

}  // namespace memoir::internal
