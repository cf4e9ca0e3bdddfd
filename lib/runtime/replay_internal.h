// The building blocks of the replay algorithms (memoir/detail/replay.h):
// rebuilding a state with the runtime's recovery, folding events into a
// state, and the answers for a stream whose first events were deleted.
#ifndef MEMOIR_RUNTIME_REPLAY_INTERNAL_H_
#define MEMOIR_RUNTIME_REPLAY_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "memoir/detail/replay.h"

namespace memoir::detail {

// Counts the events one replay call applies and reports them.
class ReplayTally {
 public:
  explicit ReplayTally(const ReplayProgress& progress) : progress_(progress) {}
  void Tick() const;
  bool active() const { return static_cast<bool>(progress_); }

 private:
  const ReplayProgress& progress_;
  mutable uint64_t applied_ = 0;
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
Result<DeletedPrefix> FindDeletedPrefix(Store& store, std::string_view stream);

// The kNotFound a replay returns when deleted events, not damage, stop it:
// "events 1..D of stream 'S' were deleted (delete-to), so <consequence>;
// the earliest state that can be rebuilt is the one after seq E (...)" or
// "...; no snapshot at or after seq D exists, ...".
Status DeletedEvents(std::string_view stream, const DeletedPrefix& prefix,
                     std::string_view consequence);

// The state of `stream` after event `to_seq`, from the newest usable
// snapshot at or below min(to_seq, max_snapshot_seq) (none when
// !use_snapshots), then the events after it, each ticking `tally`.
// kInvalidArgument for an invalid stream name; kStreamDeleted for a
// tombstoned stream; kNotFound (DeletedEvents) when the events it needs
// were deleted by Journal::DeleteTo and no snapshot stands in for them;
// the errors of recovery otherwise (kCorruption only for real damage).
Result<Rebuilt> Rebuild(Store& store, const Behavior& behavior,
                        std::string_view stream, uint64_t to_seq,
                        bool use_snapshots, uint64_t max_snapshot_seq,
                        const ReplayTally& tally);

// Sees each event of a fold with the state before it is applied; false
// stops the fold.
using BeforeEach =
    std::function<bool(const RecordedEvent& event, const EventSlot& decoded,
                       const StateBox& before)>;

// Folds the events [from_seq, to_seq] of `stream` into `state`, ticking
// `tally` for each. A stream never written has no events (OK). Errors:
// kCorruption when a seq is missing (deleted events); the decode or apply
// error of an event, with the stream and seq as context; the journal's.
Status FoldEach(Store& store, const ReplayTarget& target,
                std::string_view stream, uint64_t from_seq, uint64_t to_seq,
                StateBox& state, const ReplayTally& tally,
                const BeforeEach& each);

// FoldEach, with `visit` seeing each event and the state after it.
Status Fold(Store& store, const ReplayTarget& target, std::string_view stream,
            uint64_t from_seq, uint64_t to_seq, StateBox& state,
            const ReplayTally& tally, const BoxVisitor& visit);

}  // namespace memoir::detail

#endif  // MEMOIR_RUNTIME_REPLAY_INTERNAL_H_
