// The library side of memoir/replay.h: rebuilding a state for the typed
// Replayer with the same recovery the runtime uses, folding events, and
// the replay calls built on those alone (StateAt, Steps).
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "runtime/recovery.h"
#include "runtime/replay_internal.h"

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

// Forwards to `inner` and ticks `tally` for each stored event applied, so
// that a rebuild (recovery's loop) reports progress without a hook of its
// own.
class CountingBehavior final : public Behavior {
 public:
  CountingBehavior(const Behavior& inner, const ReplayTally& tally)
      : inner_(inner), tally_(tally) {}
  std::string_view type_name() const override { return inner_.type_name(); }
  const SnapshotPolicy& snapshot_policy() const override {
    return inner_.snapshot_policy();
  }
  const RestartPolicy& restart_policy() const override {
    return inner_.restart_policy();
  }
  Result<std::unique_ptr<StateBox>> Initial(
      std::string_view id) const override {
    return inner_.Initial(id);
  }
  std::shared_ptr<const StateBox> Copy(const StateBox& s) const override {
    return inner_.Copy(s);
  }
  HandleOutcome Handle(StateBox& state, Message& message,
                       uint64_t head) const override {
    return inner_.Handle(state, message, head);
  }
  Status ApplyStored(StateBox& state, const EventView& event) const override {
    Status s = inner_.ApplyStored(state, event);
    if (s.ok()) tally_.Tick();
    return s;
  }
  Result<SnapshotData> EncodeState(const StateBox& state) const override {
    return inner_.EncodeState(state);
  }
  Result<std::unique_ptr<StateBox>> DecodeState(
      const Snapshot& snapshot) const override {
    return inner_.DecodeState(snapshot);
  }

 private:
  const Behavior& inner_;
  const ReplayTally& tally_;
};

// Rebuild without the tally.
Result<Rebuilt> RebuildUncounted(Store& store, const Behavior& behavior,
                                 std::string_view stream, uint64_t to_seq,
                                 bool use_snapshots, uint64_t max_snapshot_seq);

}  // namespace

void ReplayTally::Tick() const {
  ++applied_;
  if (!progress_) return;
  try {
    progress_(applied_);
  } catch (...) {
    // A display must not change what a replay finds.
  }
}

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

namespace {

Result<Rebuilt> RebuildUncounted(Store& store, const Behavior& behavior,
                                 std::string_view stream, uint64_t to_seq,
                                 bool use_snapshots,
                                 uint64_t max_snapshot_seq) {
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

}  // namespace

Result<Rebuilt> Rebuild(Store& store, const Behavior& behavior,
                        std::string_view stream, uint64_t to_seq,
                        bool use_snapshots, uint64_t max_snapshot_seq,
                        const ReplayTally& tally) {
  if (!tally.active()) {
    return RebuildUncounted(store, behavior, stream, to_seq, use_snapshots,
                            max_snapshot_seq);
  }
  CountingBehavior counting(behavior, tally);
  return RebuildUncounted(store, counting, stream, to_seq, use_snapshots,
                          max_snapshot_seq);
}

Status FoldEach(Store& store, const ReplayTarget& target,
                std::string_view stream, uint64_t from_seq, uint64_t to_seq,
                StateBox& state, const ReplayTally& tally,
                const BeforeEach& each) {
  ReadOptions range;
  range.from_seq = from_seq;
  range.to_seq = to_seq;
  Status failure;
  uint64_t expect = from_seq;
  std::unique_ptr<EventSlot> slot = target.NewEventSlot();
  Status scan =
      store.journal().Scan(stream, range, [&](const EventView& view) -> bool {
        if (view.seq != expect) {
          failure = Status::Corruption(fmt::format(
              "stream '{}': expected seq {} but found {} (were earlier "
              "events deleted? replay from a snapshot)",
              stream, expect, view.seq));
          return false;
        }
        ++expect;
        Status decoded = target.Decode(view, *slot);
        if (!decoded.ok()) {
          failure = decoded.WithContext(
              fmt::format("stream '{}' seq {}", stream, view.seq));
          return false;
        }
        if (!each(RecordedEvent::From(view), *slot, state)) return false;
        Status applied = target.Apply(state, *slot);
        if (!applied.ok()) {
          failure = applied.WithContext(
              fmt::format("stream '{}' seq {}", stream, view.seq));
          return false;
        }
        tally.Tick();
        return true;
      });
  if (!failure.ok()) return failure;
  if (scan.IsNotFound()) return Status::OK();  // never written: no events
  return scan;
}

Status Fold(Store& store, const ReplayTarget& target, std::string_view stream,
            uint64_t from_seq, uint64_t to_seq, StateBox& state,
            const ReplayTally& tally, const BoxVisitor& visit) {
  std::optional<RecordedEvent> pending;
  bool stopped = false;
  // FoldEach hands out the state before each event; the visitor wants it
  // after, so each event is reported when the next one arrives.
  Status s = FoldEach(
      store, target, stream, from_seq, to_seq, state, tally,
      [&](const RecordedEvent& e, const EventSlot&, const StateBox& before) {
        if (pending && !visit(*pending, before)) {
          stopped = true;
          return false;
        }
        pending = e;
        return true;
      });
  if (!s.ok()) return s;
  if (pending && !stopped) visit(*pending, state);
  return Status::OK();
}

Result<Rebuilt> ReplayStateAt(Store& store, const ReplayTarget& target,
                              std::string_view stream, uint64_t seq,
                              bool from_start, const ReplayProgress& progress) {
  ReplayTally tally(progress);
  return Rebuild(store, target.behavior(), stream, seq, !from_start, kMaxSeq,
                 tally);
}

Status ReplaySteps(Store& store, const ReplayTarget& target,
                   std::string_view stream, uint64_t from_seq, uint64_t to_seq,
                   const BoxVisitor& visit, bool from_start,
                   const ReplayProgress& progress) {
  if (from_seq == 0) from_seq = 1;
  ReplayTally tally(progress);
  if (from_seq == 1) {  // the initial state, then events from seq 1
    Result<DeletedPrefix> cut = FindDeletedPrefix(store, stream);
    if (!cut.ok()) return cut.status();
    if (cut->deleted_to > 0) {
      return DeletedEvents(stream, *cut,
                           "the steps from seq 1 cannot be replayed");
    }
  }
  Result<Rebuilt> start = Rebuild(store, target.behavior(), stream,
                                  from_seq - 1, !from_start, kMaxSeq, tally);
  if (!start.ok()) return start.status();
  return Fold(store, target, stream, start->seq + 1, to_seq, *start->state,
              tally, [&](const RecordedEvent& e, const StateBox& after) {
                return e.seq < from_seq || visit(e, after);
              });
}

}  // namespace memoir::detail
