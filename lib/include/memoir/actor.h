// Defining a persistent actor: its types, its handler, its codecs and its
// policies.
//
// An actor type is a class with five member types and two functions:
//
//   struct Counter {
//     static constexpr std::string_view kTypeName = "counter";
//     using State = int64_t;
//     using Command = int64_t;             // amount to add
//     using Event = int64_t;               // amount added
//     using Reply = int64_t;               // the new total
//     using EventCodec = memoir::PodCodec<int64_t, "Added">;
//     using StateCodec = memoir::PodCodec<int64_t, "Total">;
//
//     memoir::Effect<Event, Reply> Handle(const State& s,
//                                         const Command& c) const {
//       if (c <= 0) return memoir::Effect<Event, Reply>::Reject("not > 0");
//       return memoir::Effect<Event, Reply>::Persist(c, s + c);
//     }
//     void Apply(State& s, const Event& e) const { s += e; }
//   };
//
// Handle decides; Apply changes the state. Handle sees the current state
// and returns an Effect: events to persist and the reply to release once
// they are committed, a reply without events, or a rejection. Apply must
// be deterministic: recovery calls it again for every stored event.
// Either may throw; the runtime catches the exception, writes nothing for
// that command, answers it with kFailed and rebuilds the state from the
// journal (see actor_system.h).
//
// Command sourcing is the special case Event = Command: Handle validates
// the command and returns Effect::Persist(command, reply).
//
// Optional members: `State InitialState(std::string_view id) const` (the
// state before the first event; default State{}).
//
// Codecs turn events and states into bytes and back. An event codec has
//   static EventData Encode(const Event&);
//   static Event Decode(std::string_view type, uint32_t schema_version,
//                       std::string_view payload);
// and a state codec
//   static SnapshotData EncodeState(const State&);
//   static State Decode(std::string_view type, uint32_t schema_version,
//                       std::string_view payload);
// Decode throws (any exception) on bytes it cannot read. PodCodec and
// BytesCodec (memoir/codec.h) cover trivially copyable values and raw
// bytes, and VariantCodec several event types as one std::variant;
// memoir/flatbuffers_codec.h covers FlatBuffers tables.
//
// Thread safety: Handle, Apply and the codecs of one actor type may run on
// several threads at once for different actors; they must not share
// mutable state without synchronisation.
#ifndef MEMOIR_ACTOR_H_
#define MEMOIR_ACTOR_H_

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/codec.h"
#include "memoir/journal.h"
#include "memoir/message_store.h"
#include "memoir/snapshot_store.h"

namespace memoir {

class ActorSystem;

// Asks for a refused durable message back (Effect::Send's third argument).
// Self is the sending actor's type, which needs
//   static Command OnRefused(const memoir::Refusal& refusal);
// to turn the refusal into one of its own commands.
template <typename Self>
struct ReplyIfRefused {};

namespace detail {
// Self can take refusals back (ReplyIfRefused<Self>).
template <typename Self>
inline constexpr bool kTakesRefusals = requires(const Refusal& r) {
  { Self::OnRefused(r) } -> std::convertible_to<typename Self::Command>;
};
// A durable message to actor `id` of type Target; `reply_type` names the
// sender's type when it wants a refusal back.
template <typename Target>
OutgoingMessage Outgoing(std::string id,
                         const typename Target::Command& command,
                         std::string_view reply_type = {}) {
  OutgoingMessage m;
  m.receiver_type = std::string(Target::kTypeName);
  m.receiver = std::move(id);
  m.command = Target::CommandCodec::Encode(command);
  m.reply_type = std::string(reply_type);
  return m;
}
}  // namespace detail

// What Handle decided about one command.
template <typename Event, typename Reply>
class Effect {
 public:
  // Persist `events` (applied in order), then release `reply`.
  static Effect Persist(std::vector<Event> events, Reply reply) {
    Effect e;
    e.events_ = std::move(events);
    e.reply_.emplace(std::move(reply));
    return e;
  }
  static Effect Persist(Event event, Reply reply) {
    std::vector<Event> events;
    events.push_back(std::move(event));
    return Persist(std::move(events), std::move(reply));
  }
  // Answer without writing (a query, or a command already applied). The
  // reply still waits for every earlier command's commit, so it never
  // reveals state that is not durable.
  static Effect Respond(Reply reply) {
    Effect e;
    e.reply_.emplace(std::move(reply));
    return e;
  }
  // Refuse the command: nothing is written and the caller gets kRejected
  // with `reason`. A rejection is an answer, not a failure: the actor keeps
  // its state and no restart is counted.
  static Effect Reject(std::string reason) {
    Effect e;
    e.rejection_.emplace(std::move(reason));
    return e;
  }

  // Runs `action` on one of the system's threads after this command's
  // events are committed and its reply released (not at all if the commit
  // fails). Use it to drive other actors, e.g. the legs of a transfer. An
  // exception it throws is logged and otherwise ignored.
  Effect&& Then(std::function<void(ActorSystem&)> action) && {
    then_ = std::move(action);
    return std::move(*this);
  }

  // Sends `command` to actor `id` of type Target, durably: the message is
  // written with this command's events, in the same transaction, and
  // delivered once they are committed, exactly once even across crashes
  // (the receiver takes it in the transaction of its own events). Needs
  // events (Persist): a Send with none fails the command. One sender's
  // messages to one receiver arrive in the order they were sent. Target
  // needs a CommandCodec (an event codec's shape, for its Command). A
  // rejection by the receiver also takes the message. Throws what the
  // codec throws (the command then fails, writing nothing).
  template <typename Target>
  Effect&& Send(std::string id, const typename Target::Command& command) && {
    sends_.push_back(detail::Outgoing<Target>(std::move(id), command));
    return std::move(*this);
  }
  // As Send, and if the receiver refuses the command (its Handle returns
  // Reject), the refusal comes back to this actor, durably:
  // Self::OnRefused(refusal) turns it into a command of Self, which Handle
  // gets as any other. The receiver's commit that takes the message also
  // writes the refusal (as a timer of this actor, due at once, under
  // RefusalTimerKey), so it arrives once, across crashes, or not at all
  // when the message is handled. It is not ordered with this receiver's
  // other messages to this actor. A refusal OnRefused cannot turn into a
  // command (it throws, or Refusal::Command's codec does) stays pending,
  // logged, and is tried again on Register and Release; so does one for a
  // destroyed sender. The refused command's metadata is not carried.
  template <typename Target, typename Self>
  Effect&& Send(std::string id, const typename Target::Command& command,
                ReplyIfRefused<Self>) && {
    static_assert(detail::kTakesRefusals<Self>,
                  "ReplyIfRefused<Self>: Self needs "
                  "static Command OnRefused(const memoir::Refusal&)");
    sends_.push_back(
        detail::Outgoing<Target>(std::move(id), command, Self::kTypeName));
    return std::move(*this);
  }

  // Starts a durable timer: `command` comes back to this actor after
  // `delay` (counted from the commit, on the store's clock), unless it is
  // cancelled or replaced first. It is written with this command's events
  // (Persist), under `key`: a timer already pending under `key` is
  // replaced. It fires once: the actor takes it in the transaction of the
  // events it causes (a rejection takes it too), so it survives restarts,
  // fires after one if it fell due meanwhile, and wakes a passivated
  // actor. Self is the actor's own type (the command goes through its
  // CommandCodec); a timer always fires at the actor that starts it: to
  // act on another actor when it fires, Send from there. Keys follow
  // ValidateStreamName's rules and do not start with '$' (memoir's own).
  template <typename Self>
  Effect&& StartTimer(std::string key, std::chrono::milliseconds delay,
                      const typename Self::Command& command) && {
    TimerChange t = TimerFor<Self>(std::move(key), command);
    // Up to about 200 years (nanoseconds since 1970 end in 2262).
    constexpr std::chrono::milliseconds kLongest =
        std::chrono::hours(24 * 365 * 200);
    t.after_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::clamp(delay, std::chrono::milliseconds(0), kLongest))
                     .count();
    if (t.after_ns <= 0) t.after_ns = 1;  // at_ns 0 means "after"
    timers_.push_back(std::move(t));
    return std::move(*this);
  }
  // As StartTimer, due at `when` (the store's clock: the system clock
  // unless StoreOptions::clock says otherwise).
  template <typename Self>
  Effect&& StartTimerAt(std::string key,
                        std::chrono::system_clock::time_point when,
                        const typename Self::Command& command) && {
    TimerChange t = TimerFor<Self>(std::move(key), command);
    t.at_ns = std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::nanoseconds>(
               when.time_since_epoch())
               .count());
    timers_.push_back(std::move(t));
    return std::move(*this);
  }
  // Cancels the timer pending under `key`, if any, with this command's
  // events (Persist). A cancelled timer never fires, even if it fell due
  // while this command was handled.
  Effect&& CancelTimer(std::string key) && {
    TimerChange t;
    t.key = std::move(key);
    t.cancel = true;
    timers_.push_back(std::move(t));
    return std::move(*this);
  }

  bool rejected() const { return rejection_.has_value(); }
  const std::string& rejection() const { return *rejection_; }
  std::vector<Event>& events() { return events_; }
  Reply& reply() { return *reply_; }
  std::function<void(ActorSystem&)>& then() { return then_; }
  std::vector<OutgoingMessage>& sends() { return sends_; }
  std::vector<TimerChange>& timers() { return timers_; }

 private:
  Effect() = default;
  template <typename Self>
  static TimerChange TimerFor(std::string key,
                              const typename Self::Command& command) {
    TimerChange t;
    t.key = std::move(key);
    t.receiver_type = std::string(Self::kTypeName);
    t.command = Self::CommandCodec::Encode(command);
    return t;
  }
  std::vector<Event> events_;
  // Reply may be any movable type, std::string included, so the rejection
  // is kept apart from it.
  std::optional<Reply> reply_;
  std::optional<std::string> rejection_;
  std::function<void(ActorSystem&)> then_;
  std::vector<OutgoingMessage> sends_;
  std::vector<TimerChange> timers_;
};

// A reply that carries nothing but "done".
struct Done {
  bool operator==(const Done&) const = default;
};

// Turns the payload of a stored event of `type` at `from_version` into the
// payload of the next version (or of another type), during replay. Chains
// apply until none matches, so an old journal keeps recovering after its
// event types change.
struct Upcaster {
  std::string type;
  uint32_t from_version = 1;
  uint32_t to_version = 2;
  std::string to_type;  // empty: the type name stays
  std::function<std::string(std::string_view payload)> convert;
};

// When to snapshot and what to keep.
struct SnapshotPolicy {
  // Snapshot after at least this many events since the last snapshot
  // (0: never by count).
  uint64_t every_events = 0;
  // Snapshots kept per actor; older ones are deleted after each save.
  size_t keep = 2;
  // Also delete the events up to the oldest kept snapshot. Recovery then
  // depends on those snapshots: keep >= 2 leaves a fallback.
  bool delete_covered_events = false;
};

// How often an actor may fail before it is quarantined.
struct RestartPolicy {
  // More than `max_restarts` failures within `window` quarantine the actor.
  int max_restarts = 3;
  std::chrono::milliseconds window{10'000};
  // Delay before the n-th restart in the window: initial * factor^(n-1),
  // capped at max.
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{1'000};
  double backoff_factor = 2.0;
};

// Per actor type configuration, given to ActorSystem::Register.
template <typename A>
struct ActorTypeOptions {
  SnapshotPolicy snapshots;
  // Also snapshot after an event for which this returns true (state after
  // the event, the event, its seq).
  std::function<bool(const typename A::State&, const typename A::Event&,
                     uint64_t)>
      snapshot_when;
  RestartPolicy restarts;
  std::vector<Upcaster> upcasters;
};

// The requirements on an actor type, checked at compile time.
template <typename A>
concept ActorType = std::copy_constructible<typename A::State> &&
    std::move_constructible<typename A::Command> &&
    std::move_constructible<typename A::Reply> &&
    requires(const A& a, const typename A::State& s, typename A::State& m,
             const typename A::Command& c, const typename A::Event& e,
             std::string_view sv, uint32_t v) {
  { A::kTypeName } -> std::convertible_to<std::string_view>;
  {
    a.Handle(s, c)
    } -> std::same_as<Effect<typename A::Event, typename A::Reply>>;
  a.Apply(m, e);
  { A::EventCodec::Encode(e) } -> std::same_as<EventData>;
  {
    A::EventCodec::Decode(sv, v, sv)
    } -> std::convertible_to<typename A::Event>;
  { A::StateCodec::EncodeState(s) } -> std::same_as<SnapshotData>;
  {
    A::StateCodec::Decode(sv, v, sv)
    } -> std::convertible_to<typename A::State>;
};

}  // namespace memoir

#endif  // MEMOIR_ACTOR_H_
