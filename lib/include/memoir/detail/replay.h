// Internal: the type-erased seam between memoir::Replayer<A> (a template
// instantiated in the user's program) and the replay algorithms (bisection,
// the fold-cost choice, snapshot verification, rehandle), compiled once in
// the library. Not part of the API; names here may change without notice.
//
// The algorithms see states only as StateBox and events as EventSlot, and
// call back into typed code through Behavior (rebuild, encode, decode
// states) and ReplayTarget (decode and apply an event, copy a state, re-run
// a recorded command). Every entry point below counts the events it
// applies and reports them to `progress` (memoir::ReplayProgress).
#ifndef MEMOIR_DETAIL_REPLAY_H_
#define MEMOIR_DETAIL_REPLAY_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior_of.h"
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

// One decoded event of an actor type, reused across a fold.
struct MEMOIR_EXPORT EventSlot {
  virtual ~EventSlot() = default;
};
template <typename E>
struct EventOf final : EventSlot {
  std::optional<E> value;
};

// What replay needs of an actor type beyond the runtime's Behavior. None of
// these throws.
class MEMOIR_EXPORT ReplayTarget {
 public:
  virtual ~ReplayTarget() = default;
  virtual const Behavior& behavior() const = 0;
  // A copy of `state` that can be folded on; kFailed when copying throws.
  virtual Result<std::unique_ptr<StateBox>> Clone(
      const StateBox& state) const = 0;
  virtual std::unique_ptr<EventSlot> NewEventSlot() const = 0;
  // Upcasts and decodes `view` into `slot`: kFailed when an upcaster or
  // the codec throws.
  virtual Status Decode(const EventView& view, EventSlot& slot) const = 0;
  // Applies the event in `slot` (decoded by Decode) to `state`: kFailed
  // when Apply throws.
  virtual Status Apply(StateBox& state, const EventSlot& slot) const = 0;
  // Runs the decoded recorded `command` through today's Handle on
  // `before`: "" when Handle would persist exactly that command, else what
  // it does instead. Only for a type whose events are its commands.
  virtual std::string Rerun(const StateBox& before,
                            const EventSlot& command) const = 0;
};

template <typename A>
class ReplayTargetOf final : public ReplayTarget {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  ReplayTargetOf(A actor, ActorTypeOptions<A> options)
      : behavior_(std::move(actor), std::move(options)) {}

  const Behavior& behavior() const override { return behavior_; }

  Result<std::unique_ptr<StateBox>> Clone(
      const StateBox& state) const override {
    try {
      return std::unique_ptr<StateBox>(
          std::make_unique<StateOf<State>>(BehaviorOf<A>::Value(state)));
    } catch (...) {
      return Status::Failed("copying the state threw " +
                            DescribeCurrentException());
    }
  }

  std::unique_ptr<EventSlot> NewEventSlot() const override {
    return std::make_unique<EventOf<Event>>();
  }

  Status Decode(const EventView& view, EventSlot& slot) const override {
    Result<Event> decoded = behavior_.DecodeStored(view);
    if (!decoded.ok()) return decoded.status();
    try {
      static_cast<EventOf<Event>&>(slot).value.emplace(std::move(*decoded));
    } catch (...) {
      return Status::Failed("moving the event threw " +
                            DescribeCurrentException());
    }
    return Status::OK();
  }

  Status Apply(StateBox& state, const EventSlot& slot) const override {
    return behavior_.ApplyTyped(
        static_cast<StateOf<State>&>(state).value,
        *static_cast<const EventOf<Event>&>(slot).value);
  }

  std::string Rerun(const StateBox& before,
                    const EventSlot& command) const override {
    if constexpr (std::same_as<Event, typename A::Command>) {
      return RerunTyped(BehaviorOf<A>::Value(before),
                        *static_cast<const EventOf<Event>&>(command).value);
    } else {
      (void)before;
      (void)command;
      return "rehandle needs a command-sourced actor type (Event = Command)";
    }
  }

 private:
  std::string RerunTyped(const State& before, const Event& command) const {
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
      return "handle threw " + DescribeCurrentException();
    }
  }

  BehaviorOf<A> behavior_;
};

// A rebuilt state: the untyped Replayer::StateAtSeq.
struct Rebuilt {
  std::unique_ptr<StateBox> state;
  uint64_t seq = 0;           // last event applied
  uint64_t snapshot_seq = 0;  // snapshot started from (0: the beginning)
  uint64_t events_replayed = 0;
  std::vector<SnapshotSkip> skipped;
};

// The untyped Replayer::Bisection.
struct BisectionBoxes {
  bool found = false;
  uint64_t seq = 0;
  std::optional<RecordedEvent> event;
  std::unique_ptr<StateBox> before, after;
  uint64_t probes = 0;
  uint64_t events_replayed = 0;
};

// The untyped Replayer::SnapshotVerification.
struct VerificationBoxes {
  size_t checked = 0;
  size_t unusable = 0;
  size_t unverifiable = 0;
  bool mismatch = false;  // the fields below describe the first one
  uint64_t seq = 0;
  std::string detail;
  std::unique_ptr<StateBox> stored, replayed;
};

// The untyped Replayer::RehandleResult.
struct RehandleCounts {
  uint64_t commands = 0;
  bool diverged = false;  // then `seq` and `detail` say where and how
  uint64_t seq = 0;
  std::string detail;
};

using BoxPredicate = std::function<bool(const StateBox&)>;
using BoxVisitor =
    std::function<bool(const RecordedEvent& event, const StateBox& after)>;
using BoxEquality =
    std::function<bool(const StateBox& stored, const StateBox& replayed)>;

// The algorithms behind the Replayer methods of the same names; their
// documentation in memoir/replay.h gives the Status codes they return.
MEMOIR_EXPORT Result<Rebuilt> ReplayStateAt(Store& store,
                                            const ReplayTarget& target,
                                            std::string_view stream,
                                            uint64_t seq, bool from_start,
                                            const ReplayProgress& progress);
MEMOIR_EXPORT Status ReplaySteps(Store& store, const ReplayTarget& target,
                                 std::string_view stream, uint64_t from_seq,
                                 uint64_t to_seq, const BoxVisitor& visit,
                                 bool from_start,
                                 const ReplayProgress& progress);
MEMOIR_EXPORT Result<BisectionBoxes> ReplayBisect(
    Store& store, const ReplayTarget& target, std::string_view stream,
    const BoxPredicate& holds, bool exhaustive, const ReplayProgress& progress);
MEMOIR_EXPORT Result<VerificationBoxes> ReplayVerifySnapshots(
    Store& store, const ReplayTarget& target, std::string_view stream,
    const BoxEquality& equal, const ReplayProgress& progress);
MEMOIR_EXPORT Result<RehandleCounts> ReplayRehandle(
    Store& store, const ReplayTarget& target, std::string_view stream,
    const ReplayProgress& progress);

}  // namespace detail
}  // namespace memoir

#endif  // MEMOIR_DETAIL_REPLAY_H_
