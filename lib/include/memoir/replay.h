// Replay for debugging: rebuild an actor's state at any seq, step through
// its history, find the event that broke an invariant, check snapshots
// against the events, and re-run recorded commands through today's code.
//
//   memoir::Replayer<bank::Account> replay(*store, account, options);
//   auto at = replay.StateAt("account-00042", 1200);
//   auto bad = replay.Bisect("account-00042",
//                            [](const auto& s) { return s.balance >= 0; });
//
// A Replayer never activates an actor and never writes: it works on a
// store opened read-only (StoreOptions::read_only), also while the owning
// process keeps writing, and on a copy. It uses the same codecs and
// upcasters as the runtime (pass the same ActorTypeOptions).
//
// The methods that can run long take an optional ReplayProgress, called
// after every event they apply: for a progress display, or to prove to a
// watchdog that the replay is alive. The `memoir` CLI's replay commands
// (memoir/plugin.h) are built on this class.
//
// Thread safety: a Replayer is immutable after construction; its methods
// may be called from several threads at once.
#ifndef MEMOIR_REPLAY_H_
#define MEMOIR_REPLAY_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior_of.h"
#include "memoir/detail/replay.h"  // also defines ReplayProgress
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// The searches run in the library (memoir/detail/replay.h); this template
// only converts between A's types and the library's untyped states.
template <ActorType A>
class Replayer {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  // `store` must outlive the Replayer; `options` as given to the runtime.
  explicit Replayer(Store& store, A actor = A{},
                    ActorTypeOptions<A> options = {})
      : store_(store), target_(std::move(actor), std::move(options)) {}

  struct StateAtSeq {
    State state;
    uint64_t seq = 0;           // the last event applied (<= the asked seq)
    uint64_t snapshot_seq = 0;  // where the rebuild started (0: seq 1)
    uint64_t events_replayed = 0;
    std::vector<SnapshotSkip> skipped;  // unusable snapshots passed over
  };

  // The state of `stream` after event `seq` (kMaxSeq: the head), from the
  // newest usable snapshot at or below it, or from the first event when
  // `from_start`. A stream never written gives the initial state at seq 0.
  // Errors: kInvalidArgument for an invalid stream name; kFailed /
  // kCorruption naming the seq of an event that cannot be read or applied
  // (or kFailed when InitialState throws); kStreamDeleted for a tombstoned
  // stream; kIOError; kNotFound when the events it needs were deleted
  // (Journal::DeleteTo) and no snapshot stands in for them: the message
  // names the deleted seqs and the earliest state that can be rebuilt.
  Result<StateAtSeq> StateAt(std::string_view stream, uint64_t seq = kMaxSeq,
                             bool from_start = false,
                             const ReplayProgress& progress = nullptr) const {
    Result<detail::Rebuilt> r = detail::ReplayStateAt(
        store_, target_, stream, seq, from_start, progress);
    if (!r.ok()) return r.status();
    return StateAtSeq{Take(*r->state), r->seq, r->snapshot_seq,
                      r->events_replayed, std::move(r->skipped)};
  }

  // Calls `visit` for each event of `stream` with seq in [from_seq, to_seq],
  // with the event and the state right after it; `visit` returning false
  // stops (an exception it throws propagates). The state before from_seq
  // comes from the newest snapshot below it (or the beginning when
  // `from_start`). Errors: kNotFound when events the steps need were
  // deleted (Journal::DeleteTo), also any step from seq 1 on a stream
  // with deleted events; kCorruption when a seq is missing from the range;
  // else those of StateAt.
  using StepVisitor =
      std::function<bool(const RecordedEvent& event, const State& after)>;
  Status Steps(std::string_view stream, uint64_t from_seq, uint64_t to_seq,
               const StepVisitor& visit, bool from_start = false,
               const ReplayProgress& progress = nullptr) const {
    return detail::ReplaySteps(
        store_, target_, stream, from_seq, to_seq,
        [&](const RecordedEvent& e, const detail::StateBox& after) {
          return visit(e, Value(after));
        },
        from_start, progress);
  }

  // Where an invariant first fails.
  struct Bisection {
    bool found = false;  // false: the predicate holds at the head
    uint64_t seq = 0;    // the event after which it fails
    std::optional<RecordedEvent> event;
    std::optional<State> before, after;
    uint64_t probes = 0;  // states rebuilt
    uint64_t events_replayed = 0;
  };

  // Finds the first seq after which `holds` fails (a `holds` that throws
  // counts as failing), given that it holds on the initial state.
  // Errors: kInvalidArgument when it fails on the initial state already;
  // on a stream whose first events were deleted (Journal::DeleteTo) the
  // search starts at the earliest state that can be rebuilt, the oldest
  // snapshot at or after the deleted mark: kNotFound when there is none,
  // or when `holds` already fails there (where it broke was deleted);
  // kFailed when a state cannot be copied; else those of StateAt.
  //
  // Cost: bisection over [0, head] rebuilds about log2(head) states, each
  // from the newest snapshot at or below the probe plus the events after
  // it, so with a snapshot every K events a probe replays at most K events
  // and the whole search O(K log head), not O(head log head). The answer is
  // exact when the invariant, once broken, stays broken (the usual case);
  // otherwise it is a seq where it goes from holding to failing, and
  // `exhaustive` folds every event once (O(head)) to find the very first.
  // When the stream's snapshots cannot make the search cheaper than that
  // fold (a short stream, or one whose snapshots sit near its head), the
  // fold is what runs, so a search never replays more events than the
  // stream holds.
  Result<Bisection> Bisect(std::string_view stream,
                           const std::function<bool(const State&)>& holds,
                           bool exhaustive = false,
                           const ReplayProgress& progress = nullptr) const {
    Result<detail::BisectionBoxes> r = detail::ReplayBisect(
        store_, target_, stream,
        [&](const detail::StateBox& s) { return holds(Value(s)); }, exhaustive,
        progress);
    if (!r.ok()) return r.status();
    Bisection out;
    out.found = r->found;
    out.seq = r->seq;
    out.event = std::move(r->event);
    if (r->before) out.before = Take(*r->before);
    if (r->after) out.after = Take(*r->after);
    out.probes = r->probes;
    out.events_replayed = r->events_replayed;
    return out;
  }

  struct SnapshotMismatch {
    uint64_t seq = 0;
    std::string detail;
    State stored;    // the snapshot's state
    State replayed;  // the state its events lead to
  };
  struct SnapshotVerification {
    size_t checked = 0;   // snapshots compared with their replay
    size_t unusable = 0;  // failing their checksum or decode: not compared
    // Not compared because the events before them were deleted
    // (Journal::DeleteTo) and no older snapshot after the deleted mark
    // remains to replay from.
    size_t unverifiable = 0;
    std::optional<SnapshotMismatch> first_mismatch;
  };

  // For every stored snapshot of `stream`, oldest first: rebuilds the state
  // at its seq from the previous snapshot (or the beginning) and compares
  // it with the snapshot, by `equal` (one that throws reports a mismatch)
  // or else by the encoded bytes. Stops at the first divergence. Catches a
  // non-deterministic or changed Apply and snapshots damaged before their
  // checksum was taken. A damaged or undecodable snapshot is counted, not
  // an error. Errors: kIOError / kCorruption reading the snapshot list or
  // a snapshot; those of StateAt for a replay that fails (other than the
  // kNotFound of deleted events, counted as unverifiable).
  Result<SnapshotVerification> VerifySnapshots(
      std::string_view stream,
      const std::function<bool(const State&, const State&)>& equal = nullptr,
      const ReplayProgress& progress = nullptr) const {
    detail::BoxEquality same;
    if (equal) {
      same = [&](const detail::StateBox& a, const detail::StateBox& b) {
        return equal(Value(a), Value(b));
      };
    }
    Result<detail::VerificationBoxes> r =
        detail::ReplayVerifySnapshots(store_, target_, stream, same, progress);
    if (!r.ok()) return r.status();
    SnapshotVerification out{r->checked, r->unusable, r->unverifiable, {}};
    if (r->mismatch) {
      out.first_mismatch = SnapshotMismatch{
          r->seq, std::move(r->detail), Take(*r->stored), Take(*r->replayed)};
    }
    return out;
  }

  struct Divergence {
    uint64_t seq = 0;
    std::string detail;  // what today's Handle did instead
  };
  struct RehandleResult {
    uint64_t commands = 0;  // recorded commands re-run
    std::optional<Divergence> first;
  };

  // For a command-sourced actor (Event = Command): folds the stream from
  // the beginning and, before applying each recorded command, runs it
  // through today's Handle on the state at that point. Reports the first
  // seq where Handle would not persist exactly that command (a rejection,
  // an exception, other events): a fix checked against real history.
  // Errors: kNotFound on a stream whose first commands were deleted
  // (Journal::DeleteTo); kFailed / kCorruption naming the seq of a command
  // that cannot be read, decoded or applied; else those of StateAt.
  Result<RehandleResult> Rehandle(std::string_view stream,
                                  const ReplayProgress& progress = nullptr)
      const requires std::same_as<Event, typename A::Command> {
    Result<detail::RehandleCounts> r =
        detail::ReplayRehandle(store_, target_, stream, progress);
    if (!r.ok()) return r.status();
    RehandleResult out{r->commands, {}};
    if (r->diverged) out.first = Divergence{r->seq, std::move(r->detail)};
    return out;
  }

 private:
  static const State& Value(const detail::StateBox& box) {
    return detail::BehaviorOf<A>::Value(box);
  }
  // The library hands over states it owns: move them out, do not copy.
  static State Take(detail::StateBox& box) {
    return std::move(static_cast<detail::StateOf<State>&>(box).value);
  }

  Store& store_;
  detail::ReplayTargetOf<A> target_;
};

}  // namespace memoir

#endif  // MEMOIR_REPLAY_H_
