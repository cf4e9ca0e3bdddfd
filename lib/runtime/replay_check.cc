// Replayer::VerifySnapshots and Replayer::Rehandle: the stored history
// checked against today's code, snapshot by snapshot or command by command.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/replay_internal.h"

namespace memoir::detail {
namespace {

// "" when `stored` and `replayed` are the same state, by `equal` or else by
// their encoded bytes; otherwise why not.
std::string Differ(const Behavior& behavior, const StateBox& stored,
                   const StateBox& replayed, const BoxEquality& equal) {
  if (equal) {
    try {
      return equal(stored, replayed)
                 ? ""
                 : "the snapshot differs from the replayed state";
    } catch (...) {
      return "the equality threw " + DescribeCurrentException();
    }
  }
  Result<SnapshotData> a = behavior.EncodeState(stored);
  Result<SnapshotData> b = behavior.EncodeState(replayed);
  if (!a.ok()) return std::string(a.status().message());
  if (!b.ok()) return std::string(b.status().message());
  if (a->payload == b->payload) return "";
  return fmt::format(
      "encoded snapshot ({} bytes) differs from the encoded replayed state "
      "({} bytes)",
      a->payload.size(), b->payload.size());
}

// The decoded snapshot at exactly `seq`; null when it cannot be loaded or
// decoded (a damaged snapshot, counted as unusable, not an error). Errors:
// those of loading it.
Result<std::unique_ptr<StateBox>> LoadSnapshot(Store& store,
                                               const Behavior& behavior,
                                               std::string_view stream,
                                               uint64_t seq) {
  SnapshotCriteria only;
  only.min_seq = only.max_seq = seq;
  Result<LoadResult> loaded = store.snapshots().LoadLatest(stream, only);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->snapshot) return std::unique_ptr<StateBox>();
  Result<std::unique_ptr<StateBox>> decoded =
      behavior.DecodeState(*loaded->snapshot);
  if (!decoded.ok()) return std::unique_ptr<StateBox>();
  return decoded;
}

}  // namespace

Result<VerificationBoxes> ReplayVerifySnapshots(
    Store& store, const ReplayTarget& target, std::string_view stream,
    const BoxEquality& equal, const ReplayProgress& progress) {
  VerificationBoxes out;
  ReplayTally tally(progress);
  const Behavior& behavior = target.behavior();
  Result<std::vector<SnapshotInfo>> list = store.snapshots().List(stream);
  if (!list.ok()) return list.status();
  for (const SnapshotInfo& info : *list) {
    if (!info.checksum_ok) {
      ++out.unusable;
      continue;
    }
    Result<std::unique_ptr<StateBox>> stored =
        LoadSnapshot(store, behavior, stream, info.seq);
    if (!stored.ok()) return stored.status();
    if (*stored == nullptr) {
      ++out.unusable;
      continue;
    }
    Result<Rebuilt> replayed =
        Rebuild(store, behavior, stream, info.seq, true, info.seq - 1, tally);
    if (!replayed.ok() && replayed.status().IsNotFound()) {
      ++out.unverifiable;  // DeletedEvents: nothing to replay it from
      continue;
    }
    if (!replayed.ok()) return replayed.status();
    ++out.checked;
    std::string why = Differ(behavior, **stored, *replayed->state, equal);
    if (why.empty()) continue;
    out.mismatch = true;
    out.seq = info.seq;
    out.detail = why + (replayed->snapshot_seq
                            ? fmt::format(" (replayed from the snapshot at "
                                          "seq {})",
                                          replayed->snapshot_seq)
                            : std::string(" (replayed from the first event)"));
    out.stored = std::move(*stored);
    out.replayed = std::move(replayed->state);
    return out;
  }
  return out;
}

Result<RehandleCounts> ReplayRehandle(Store& store, const ReplayTarget& target,
                                      std::string_view stream,
                                      const ReplayProgress& progress) {
  RehandleCounts out;
  ReplayTally tally(progress);
  Result<DeletedPrefix> cut = FindDeletedPrefix(store, stream);
  if (!cut.ok()) return cut.status();
  if (cut->deleted_to > 0) {
    return DeletedEvents(
        stream, *cut, "its recorded commands cannot be re-run from the first");
  }
  Result<Rebuilt> start =
      Rebuild(store, target.behavior(), stream, 0, false, 0, tally);
  if (!start.ok()) return start.status();
  Status s = FoldEach(store, target, stream, 1, kMaxSeq, *start->state, tally,
                      [&](const RecordedEvent& e, const EventSlot& command,
                          const StateBox& before) {
                        ++out.commands;
                        std::string why = target.Rerun(before, command);
                        if (why.empty()) return true;
                        out.diverged = true;
                        out.seq = e.seq;
                        out.detail = std::move(why);
                        return false;
                      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace memoir::detail
