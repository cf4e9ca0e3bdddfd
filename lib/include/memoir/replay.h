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

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior.h"
#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// Called after each event a replay applies, with the number of events
// applied so far by that call. Must be cheap; an exception it throws is
// ignored.
using ReplayProgress = std::function<void(uint64_t events_applied)>;

namespace detail {

struct Rebuilt {
  std::unique_ptr<StateBox> state;
  uint64_t seq = 0;           // last event applied
  uint64_t snapshot_seq = 0;  // snapshot started from (0: the beginning)
  uint64_t events_replayed = 0;
  std::vector<SnapshotSkip> skipped;
};

// What Journal::DeleteTo left of a stream: events 1..deleted_to are gone,
// so a state can be rebuilt only from a snapshot at or after that mark;
// `earliest` is the oldest such snapshot that passes its checksum (0: none
// remains).
struct DeletedPrefix {
  uint64_t deleted_to = 0;  // 0: no event of the stream was deleted
  uint64_t earliest = 0;
};

// The deleted prefix of `stream`; deleted_to is 0 for a stream never
// written or tombstoned. Errors: those of reading the stream and its
// snapshot list (kIOError, kCorruption, ...).
MEMOIR_EXPORT Result<DeletedPrefix> FindDeletedPrefix(Store& store,
                                                      std::string_view stream);

// The kNotFound a replay returns when deleted events, not damage, stop it:
// "events 1..D of stream 'S' were deleted (delete-to), so <consequence>;
// the earliest state that can be rebuilt is the one after seq E (...)" or
// "...; no snapshot at or after seq D exists, ...".
MEMOIR_EXPORT Status DeletedEvents(std::string_view stream,
                                   const DeletedPrefix& prefix,
                                   std::string_view consequence);

// The state of `stream` after event `to_seq`, from the newest usable
// snapshot at or below min(to_seq, max_snapshot_seq) (none when
// !use_snapshots), then the events after it. kStreamDeleted for a
// tombstoned stream; kNotFound (DeletedEvents) when the events it needs
// were deleted by Journal::DeleteTo and no snapshot stands in for them;
// the errors of recovery otherwise (kCorruption only for real damage).
MEMOIR_EXPORT Result<Rebuilt> Rebuild(Store& store, const Behavior& behavior,
                                      std::string_view stream, uint64_t to_seq,
                                      bool use_snapshots,
                                      uint64_t max_snapshot_seq);

// Counts the events one Replayer call applies and reports them.
class ReplayTally {
 public:
  explicit ReplayTally(const ReplayProgress& progress) : progress_(progress) {}
  void Tick() const {
    ++applied_;
    if (!progress_) return;
    try {
      progress_(applied_);
    } catch (...) {
      // A display must not change what a replay finds.
    }
  }
  bool active() const { return static_cast<bool>(progress_); }

 private:
  const ReplayProgress& progress_;
  mutable uint64_t applied_ = 0;
};

// Forwards to `inner` and ticks `tally` for each stored event applied, so
// that a Rebuild (recovery's loop, compiled in the library) reports
// progress without a hook of its own.
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

}  // namespace detail

template <ActorType A>
class Replayer {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  explicit Replayer(Store& store, A actor = A{},
                    ActorTypeOptions<A> options = {})
      : store_(store), behavior_(std::move(actor), std::move(options)) {}

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
  // Errors: kFailed / kCorruption naming the seq of an event that cannot
  // be read or applied; kStreamDeleted; kIOError; kNotFound when the
  // events it needs were deleted (Journal::DeleteTo) and no snapshot
  // stands in for them: the message names the deleted seqs and the
  // earliest state that can be rebuilt.
  Result<StateAtSeq> StateAt(std::string_view stream, uint64_t seq = kMaxSeq,
                             bool from_start = false,
                             const ReplayProgress& progress = nullptr) const {
    detail::ReplayTally tally(progress);
    return Rebuild(stream, seq, !from_start, kMaxSeq, tally);
  }

  // Calls `visit` for each event of `stream` with seq in [from_seq, to_seq],
  // with the event and the state right after it; `visit` returning false
  // stops. The state before from_seq comes from the newest snapshot below
  // it (or the beginning when `from_start`). kNotFound when events the
  // steps need were deleted (Journal::DeleteTo); else as StateAt.
  using StepVisitor =
      std::function<bool(const RecordedEvent& event, const State& after)>;
  Status Steps(std::string_view stream, uint64_t from_seq, uint64_t to_seq,
               const StepVisitor& visit, bool from_start = false,
               const ReplayProgress& progress = nullptr) const {
    if (from_seq == 0) from_seq = 1;
    detail::ReplayTally tally(progress);
    if (from_seq == 1) {  // the initial state, then events from seq 1
      Result<detail::DeletedPrefix> cut =
          detail::FindDeletedPrefix(store_, stream);
      if (!cut.ok()) return cut.status();
      if (cut->deleted_to > 0) {
        return detail::DeletedEvents(stream, *cut,
                                     "the steps from seq 1 cannot be replayed");
      }
    }
    Result<StateAtSeq> start =
        Rebuild(stream, from_seq - 1, !from_start, kMaxSeq, tally);
    if (!start.ok()) return start.status();
    State state = std::move(start->state);
    return Fold(stream, start->seq + 1, to_seq, state, tally,
                [&](const RecordedEvent& e, const State& after) {
                  return e.seq < from_seq || visit(e, after);
                });
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

  // Finds the first seq after which `holds` fails, given that it holds on
  // the initial state (kInvalidArgument otherwise). On a stream whose first
  // events were deleted (Journal::DeleteTo) the search starts at the
  // earliest state that can be rebuilt, the oldest snapshot at or after
  // the deleted mark: kNotFound when there is none, or when `holds`
  // already fails there (where it broke was deleted).
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
    Bisection out;
    detail::ReplayTally tally(progress);
    Result<StateAtSeq> initial = Rebuild(stream, 0, false, 0, tally);
    if (!initial.ok()) return initial.status();
    if (!Holds(holds, initial->state)) {
      return Status::InvalidArgument(
          "the invariant fails on the initial state already");
    }
    Result<detail::DeletedPrefix> cut =
        detail::FindDeletedPrefix(store_, stream);
    if (!cut.ok()) return cut.status();
    if (cut->deleted_to > 0) {
      if (cut->earliest == 0) {
        return detail::DeletedEvents(stream, *cut,
                                     "there is no state to bisect");
      }
      initial = Rebuild(stream, cut->earliest, true, kMaxSeq, tally);
      if (!initial.ok()) return initial.status();
      if (!Holds(holds, initial->state)) {
        return Status::NotFound(
            "the invariant already fails at seq " +
            std::to_string(initial->seq) + ", the earliest state of '" +
            std::string(stream) + "' that can be rebuilt: events 1.." +
            std::to_string(cut->deleted_to) +
            " were deleted (delete-to), so the event that broke it cannot "
            "be found");
      }
    }
    if (exhaustive) return BisectLinear(stream, holds, *initial, tally);
    Result<bool> fold_is_cheaper = FoldIsCheaper(stream);
    if (!fold_is_cheaper.ok()) return fold_is_cheaper.status();
    if (*fold_is_cheaper) return BisectLinear(stream, holds, *initial, tally);
    Result<StateAtSeq> head = Rebuild(stream, kMaxSeq, true, kMaxSeq, tally);
    if (!head.ok()) return head.status();
    out.probes = 2;
    out.events_replayed = head->events_replayed;
    if (Holds(holds, head->state)) return out;
    uint64_t lo = initial->seq, hi = head->seq;  // holds at lo, fails at hi
    while (hi - lo > 1) {
      uint64_t mid = lo + (hi - lo) / 2;
      Result<StateAtSeq> probe = Rebuild(stream, mid, true, kMaxSeq, tally);
      if (!probe.ok()) return probe.status();
      ++out.probes;
      out.events_replayed += probe->events_replayed;
      (Holds(holds, probe->state) ? lo : hi) = mid;
    }
    return Found(stream, hi, out, tally);
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
  // it with the snapshot, by `equal` or else by the encoded bytes. Stops at
  // the first divergence. Catches a non-deterministic or changed Apply and
  // snapshots damaged before their checksum was taken.
  Result<SnapshotVerification> VerifySnapshots(
      std::string_view stream,
      const std::function<bool(const State&, const State&)>& equal = nullptr,
      const ReplayProgress& progress = nullptr) const {
    SnapshotVerification out;
    detail::ReplayTally tally(progress);
    Result<std::vector<SnapshotInfo>> list = store_.snapshots().List(stream);
    if (!list.ok()) return list.status();
    for (const SnapshotInfo& info : *list) {
      if (!info.checksum_ok) {
        ++out.unusable;
        continue;
      }
      SnapshotCriteria only;
      only.min_seq = only.max_seq = info.seq;
      Result<LoadResult> loaded = store_.snapshots().LoadLatest(stream, only);
      if (!loaded.ok()) return loaded.status();
      if (!loaded->snapshot) {
        ++out.unusable;
        continue;
      }
      auto stored = behavior_.DecodeState(*loaded->snapshot);
      if (!stored.ok()) {
        ++out.unusable;
        continue;
      }
      Result<StateAtSeq> replayed =
          Rebuild(stream, info.seq, true, info.seq - 1, tally);
      if (!replayed.ok() && replayed.status().IsNotFound()) {
        ++out.unverifiable;  // DeletedEvents: nothing to replay it from
        continue;
      }
      if (!replayed.ok()) return replayed.status();
      ++out.checked;
      const State& snap = Value(**stored);
      std::string why = Differ(snap, replayed->state, equal);
      if (!why.empty()) {
        out.first_mismatch = SnapshotMismatch{
            info.seq,
            why + (replayed->snapshot_seq
                       ? " (replayed from the snapshot at seq " +
                             std::to_string(replayed->snapshot_seq) + ")"
                       : " (replayed from the first event)"),
            snap, std::move(replayed->state)};
        return out;
      }
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
  // kNotFound on a stream whose first commands were deleted
  // (Journal::DeleteTo).
  Result<RehandleResult> Rehandle(std::string_view stream,
                                  const ReplayProgress& progress = nullptr)
      const requires std::same_as<Event, typename A::Command> {
    RehandleResult out;
    detail::ReplayTally tally(progress);
    Result<detail::DeletedPrefix> cut =
        detail::FindDeletedPrefix(store_, stream);
    if (!cut.ok()) return cut.status();
    if (cut->deleted_to > 0) {
      return detail::DeletedEvents(
          stream, *cut,
          "its recorded commands cannot be re-run from the first");
    }
    Result<StateAtSeq> start = Rebuild(stream, 0, false, 0, tally);
    if (!start.ok()) return start.status();
    State state = std::move(start->state);
    Status s = FoldEach(stream, 1, kMaxSeq, state, tally,
                        [&](const RecordedEvent& e, const Event& command,
                            const State& before) -> bool {
                          ++out.commands;
                          std::string why = Rerun(before, command);
                          if (why.empty()) return true;
                          out.first = Divergence{e.seq, why};
                          return false;
                        });
    if (!s.ok()) return s;
    return out;
  }

 private:
  Result<StateAtSeq> Rebuild(std::string_view stream, uint64_t to_seq,
                             bool use_snapshots, uint64_t max_snapshot_seq,
                             const detail::ReplayTally& tally) const {
    detail::CountingBehavior counting(behavior_, tally);
    const detail::Behavior& behavior =
        tally.active() ? static_cast<const detail::Behavior&>(counting)
                       : behavior_;
    Result<detail::Rebuilt> r = detail::Rebuild(
        store_, behavior, stream, to_seq, use_snapshots, max_snapshot_seq);
    if (!r.ok()) return r.status();
    return StateAtSeq{Value(*r->state), r->seq, r->snapshot_seq,
                      r->events_replayed, std::move(r->skipped)};
  }

  static const State& Value(const detail::StateBox& box) {
    return detail::BehaviorOf<A>::Value(box);
  }

  static bool Holds(const std::function<bool(const State&)>& holds,
                    const State& s) {
    try {
      return holds(s);
    } catch (...) {
      return false;  // an invariant that throws does not hold
    }
  }

  // Folds events [from_seq, to_seq] into `state`; `each` sees the event,
  // its decoded value and the state before it is applied.
  template <typename Each>
  Status FoldEach(std::string_view stream, uint64_t from_seq, uint64_t to_seq,
                  State& state, const detail::ReplayTally& tally,
                  const Each& each) const {
    ReadOptions range;
    range.from_seq = from_seq;
    range.to_seq = to_seq;
    Status failure;
    uint64_t expect = from_seq;
    Status scan = store_.journal().Scan(
        stream, range, [&](const EventView& view) -> bool {
          if (view.seq != expect) {
            failure = Status::Corruption(
                "stream '" + std::string(stream) + "': expected seq " +
                std::to_string(expect) + " but found " +
                std::to_string(view.seq) +
                " (were earlier events deleted? replay from a snapshot)");
            return false;
          }
          ++expect;
          Result<Event> decoded = behavior_.DecodeStored(view);
          if (!decoded.ok()) {
            failure = decoded.status().WithContext(
                "stream '" + std::string(stream) + "' seq " +
                std::to_string(view.seq));
            return false;
          }
          RecordedEvent event = RecordedEvent::From(view);
          if (!each(event, *decoded, std::as_const(state))) return false;
          Status applied = behavior_.ApplyTyped(state, *decoded);
          if (!applied.ok()) {
            failure = applied.WithContext("stream '" + std::string(stream) +
                                          "' seq " + std::to_string(view.seq));
            return false;
          }
          tally.Tick();
          return true;
        });
    if (!failure.ok()) return failure;
    if (scan.IsNotFound()) return Status::OK();  // never written: no events
    return scan;
  }

  template <typename Visit>
  Status Fold(std::string_view stream, uint64_t from_seq, uint64_t to_seq,
              State& state, const detail::ReplayTally& tally,
              const Visit& visit) const {
    std::optional<RecordedEvent> pending;
    bool stopped = false;
    // FoldEach hands out the state before each event; the visitor wants it
    // after, so each event is reported when the next one arrives.
    Status s = FoldEach(
        stream, from_seq, to_seq, state, tally,
        [&](const RecordedEvent& e, const Event&, const State& before) -> bool {
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

  // Whether one fold over the stream costs less than the worst case of a
  // bisection: about log2(head) + 3 rebuilds (the head, the probes, the
  // state before the break), each at most the widest gap between usable
  // snapshots (counting the start and the head).
  // A stream whose first events were deleted cannot be folded from its
  // start: only snapshots can rebuild it.
  Result<bool> FoldIsCheaper(std::string_view stream) const {
    Result<StreamInfo> info = store_.journal().GetStream(stream);
    if (!info.ok()) {
      return info.status().IsNotFound() ? Result<bool>(true) : info.status();
    }
    if (info->deleted || info->deleted_to > 0) return false;
    const uint64_t head = info->head;
    if (head == 0) return true;
    Result<std::vector<SnapshotInfo>> list = store_.snapshots().List(stream);
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

  // Folds from `start` (the initial state, or the earliest state of a
  // stream whose first events were deleted) to the head.
  Result<Bisection> BisectLinear(std::string_view stream,
                                 const std::function<bool(const State&)>& holds,
                                 const StateAtSeq& start,
                                 const detail::ReplayTally& tally) const {
    Bisection out;
    out.probes = 1;
    State state = start.state;
    uint64_t failed_at = 0;
    Status s = Fold(stream, start.seq + 1, kMaxSeq, state, tally,
                    [&](const RecordedEvent& e, const State& after) {
                      ++out.events_replayed;
                      if (Holds(holds, after)) return true;
                      failed_at = e.seq;
                      return false;
                    });
    if (!s.ok()) return s;
    if (failed_at == 0) return out;
    return Found(stream, failed_at, out, tally);
  }

  Result<Bisection> Found(std::string_view stream, uint64_t seq, Bisection out,
                          const detail::ReplayTally& tally) const {
    Result<StateAtSeq> before = Rebuild(stream, seq - 1, true, kMaxSeq, tally);
    if (!before.ok()) return before.status();
    State after = before->state;
    Status s =
        FoldEach(stream, seq, seq, after, tally,
                 [&](const RecordedEvent& e, const Event&, const State&) {
                   out.event = e;
                   return true;
                 });
    if (!s.ok()) return s;
    out.found = true;
    out.seq = seq;
    out.before = std::move(before->state);
    out.after = std::move(after);
    return out;
  }

  std::string Differ(
      const State& stored, const State& replayed,
      const std::function<bool(const State&, const State&)>& equal) const {
    if (equal) {
      try {
        return equal(stored, replayed)
                   ? ""
                   : "the snapshot differs from the replayed state";
      } catch (...) {
        return "the equality threw " + detail::DescribeCurrentException();
      }
    }
    auto a = behavior_.EncodeState(detail::StateOf<State>(stored));
    auto b = behavior_.EncodeState(detail::StateOf<State>(replayed));
    if (!a.ok()) return std::string(a.status().message());
    if (!b.ok()) return std::string(b.status().message());
    if (a->payload == b->payload) return "";
    return "encoded snapshot (" + std::to_string(a->payload.size()) +
           " bytes) differs from the encoded replayed state (" +
           std::to_string(b->payload.size()) + " bytes)";
  }

  std::string Rerun(const State& before, const Event& command) const {
    try {
      auto effect = behavior_.actor().Handle(before, command);
      if (effect.rejected()) return "rejected: " + effect.rejection();
      auto& events = effect.events();
      if (events.size() != 1) {
        return "persists " + std::to_string(events.size()) +
               " events instead of the recorded command";
      }
      // Both through today's codec, so an upcast record compares equal.
      EventData now = A::EventCodec::Encode(events[0]);
      EventData then = A::EventCodec::Encode(command);
      if (now.type != then.type || now.payload != then.payload) {
        return "persists a different event (type '" + now.type + "', " +
               std::to_string(now.payload.size()) +
               " bytes) than the recorded command (type '" + then.type + "', " +
               std::to_string(then.payload.size()) + " bytes)";
      }
      return "";
    } catch (...) {
      return "handle threw " + detail::DescribeCurrentException();
    }
  }

  Store& store_;
  detail::BehaviorOf<A> behavior_;
};

}  // namespace memoir

#endif  // MEMOIR_REPLAY_H_
