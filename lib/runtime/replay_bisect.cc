// Replayer::Bisect: where an invariant first fails, by bisection over
// states rebuilt from snapshots, or by one fold when the snapshots cannot
// make the search cheaper than that.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/replay_internal.h"

namespace memoir::detail {
namespace {

bool Holds(const BoxPredicate& holds, const StateBox& state) {
  try {
    return holds(state);
  } catch (...) {
    return false;  // an invariant that throws does not hold
  }
}

// Whether one fold over the stream costs less than the worst case of a
// bisection: about log2(head) + 3 rebuilds (the head, the probes, the
// state before the break), each at most the widest gap between usable
// snapshots (counting the start and the head).
// A stream whose first events were deleted cannot be folded from its
// start: only snapshots can rebuild it.
Result<bool> FoldIsCheaper(Store& store, std::string_view stream) {
  Result<StreamInfo> info = store.journal().GetStream(stream);
  if (!info.ok()) {
    return info.status().IsNotFound() ? Result<bool>(true) : info.status();
  }
  if (info->deleted || info->deleted_to > 0) return false;
  const uint64_t head = info->head;
  if (head == 0) return true;
  Result<std::vector<SnapshotInfo>> list = store.snapshots().List(stream);
  if (!list.ok()) return list.status();
  std::vector<uint64_t> seqs{0, head};
  for (const SnapshotInfo& snap : *list) {
    if (snap.checksum_ok && snap.seq < head) seqs.push_back(snap.seq);
  }
  std::sort(seqs.begin(), seqs.end());
  uint64_t widest = 0;
  for (size_t i = 1; i < seqs.size(); ++i) {
    widest = std::max(widest, seqs[i] - seqs[i - 1]);
  }
  const uint64_t rebuilds = std::bit_width(head) + 3;
  return widest >= head / rebuilds;
}

// One search of a stream: the store, the actor type, the invariant and the
// tally shared by every rebuild and fold it runs.
class Search {
 public:
  Search(Store& store, const ReplayTarget& target, std::string_view stream,
         const BoxPredicate& holds, const ReplayTally& tally)
      : store_(store),
        target_(target),
        stream_(stream),
        holds_(holds),
        tally_(tally) {}

  Result<Rebuilt> Rebuild(uint64_t to_seq, bool use_snapshots,
                          uint64_t max_snapshot_seq) const {
    return detail::Rebuild(store_, target_.behavior(), stream_, to_seq,
                           use_snapshots, max_snapshot_seq, tally_);
  }
  bool HoldsOn(const StateBox& state) const { return Holds(holds_, state); }

  // The state the search starts from, where `holds` holds: the initial
  // state, or the earliest state of a stream whose first events were
  // deleted.
  Result<Rebuilt> Start() const;
  // Folds from `start` to the head.
  Result<BisectionBoxes> Linear(Rebuilt start) const;
  // Bisects between `start` and the head.
  Result<BisectionBoxes> Bisect(const Rebuilt& start) const;
  // `out` with the break after event `seq`: the event and the states
  // before and after it.
  Result<BisectionBoxes> Found(uint64_t seq, BisectionBoxes out) const;

 private:
  Store& store_;
  const ReplayTarget& target_;
  const std::string_view stream_;
  const BoxPredicate& holds_;
  const ReplayTally& tally_;
};

Result<Rebuilt> Search::Start() const {
  Result<Rebuilt> initial = Rebuild(0, false, 0);
  if (!initial.ok()) return initial.status();
  if (!HoldsOn(*initial->state)) {
    return Status::InvalidArgument(
        "the invariant fails on the initial state already");
  }
  Result<DeletedPrefix> cut = FindDeletedPrefix(store_, stream_);
  if (!cut.ok()) return cut.status();
  if (cut->deleted_to == 0) return initial;
  if (cut->earliest == 0) {
    return DeletedEvents(stream_, *cut, "there is no state to bisect");
  }
  Result<Rebuilt> earliest = Rebuild(cut->earliest, true, kMaxSeq);
  if (!earliest.ok()) return earliest.status();
  if (!HoldsOn(*earliest->state)) {
    return Status::NotFound(fmt::format(
        "the invariant already fails at seq {}, the earliest state of '{}' "
        "that can be rebuilt: events 1..{} were deleted (delete-to), so the "
        "event that broke it cannot be found",
        earliest->seq, stream_, cut->deleted_to));
  }
  return earliest;
}

Result<BisectionBoxes> Search::Linear(Rebuilt start) const {
  BisectionBoxes out;
  out.probes = 1;
  uint64_t failed_at = 0;
  Status s =
      Fold(store_, target_, stream_, start.seq + 1, kMaxSeq, *start.state,
           tally_, [&](const RecordedEvent& e, const StateBox& after) {
             ++out.events_replayed;
             if (HoldsOn(after)) return true;
             failed_at = e.seq;
             return false;
           });
  if (!s.ok()) return s;
  if (failed_at == 0) return out;
  return Found(failed_at, std::move(out));
}

Result<BisectionBoxes> Search::Bisect(const Rebuilt& start) const {
  BisectionBoxes out;
  Result<Rebuilt> head = Rebuild(kMaxSeq, true, kMaxSeq);
  if (!head.ok()) return head.status();
  out.probes = 2;
  out.events_replayed = head->events_replayed;
  if (HoldsOn(*head->state)) return out;
  uint64_t lo = start.seq, hi = head->seq;  // holds at lo, fails at hi
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    Result<Rebuilt> probe = Rebuild(mid, true, kMaxSeq);
    if (!probe.ok()) return probe.status();
    ++out.probes;
    out.events_replayed += probe->events_replayed;
    (HoldsOn(*probe->state) ? lo : hi) = mid;
  }
  return Found(hi, std::move(out));
}

Result<BisectionBoxes> Search::Found(uint64_t seq, BisectionBoxes out) const {
  Result<Rebuilt> before = Rebuild(seq - 1, true, kMaxSeq);
  if (!before.ok()) return before.status();
  Result<std::unique_ptr<StateBox>> after = target_.Clone(*before->state);
  if (!after.ok()) return after.status();
  Status s =
      FoldEach(store_, target_, stream_, seq, seq, **after, tally_,
               [&](const RecordedEvent& e, const EventSlot&, const StateBox&) {
                 out.event = e;
                 return true;
               });
  if (!s.ok()) return s;
  out.found = true;
  out.seq = seq;
  out.before = std::move(before->state);
  out.after = std::move(*after);
  return out;
}

}  // namespace

Result<BisectionBoxes> ReplayBisect(Store& store, const ReplayTarget& target,
                                    std::string_view stream,
                                    const BoxPredicate& holds, bool exhaustive,
                                    const ReplayProgress& progress) {
  ReplayTally tally(progress);
  Search search(store, target, stream, holds, tally);
  Result<Rebuilt> start = search.Start();
  if (!start.ok()) return start.status();
  if (exhaustive) return search.Linear(std::move(*start));
  Result<bool> fold_is_cheaper = FoldIsCheaper(store, stream);
  if (!fold_is_cheaper.ok()) return fold_is_cheaper.status();
  if (*fold_is_cheaper) return search.Linear(std::move(*start));
  return search.Bisect(*start);
}

}  // namespace memoir::detail
