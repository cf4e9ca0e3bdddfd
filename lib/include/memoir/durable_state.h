// Durable-state actors: an actor type that persists its whole state, not
// the events that led to it.
//
//   struct Cart {
//     static constexpr std::string_view kTypeName = "cart";
//     using State = CartState;
//     using Command = CartCommand;
//     using Reply = int64_t;                      // items in the cart
//     using StateCodec = memoir::PodCodec<CartState, "Cart">;
//
//     memoir::StateEffect<State, Reply> Handle(const State& s,
//                                              const Command& c) const {
//       if (c.checkout) return memoir::StateEffect<State, Reply>::Stop(0);
//       State next = s;
//       next.items += c.add;
//       return memoir::StateEffect<State, Reply>::Persist(next, next.items);
//     }
//   };
//   system->Register(Cart{}, {.on_stop = memoir::StopMode::kWipe});
//
// Some actors only need their latest state (a session, a cart, a
// configuration): PersistentGenServer's model and Akka's
// DurableStateBehavior. Handle returns the whole new state instead of
// events; there is no Apply and no event type.
//
// How it is stored. Each Persist is a new *revision*: the state, encoded by
// StateCodec, is appended to the actor's stream as one event whose type,
// schema version, payload and metadata are the codec's (so subscriptions,
// projections and the CLI's read commands see every change), and the
// runtime deletes the revisions before it in bulk (Journal::DeleteTo, off
// the actor's thread, once 16 have gathered). The revision number is the
// event's seq, so it only grows, also across a wiping stop. History is not
// kept: the stream holds the newest revision and the older ones gathered since
// the last deletion (about 16). A subscription's or projection's
// checkpoint kept in the store holds back those it has not passed
// (Journal::DeleteTo's rule); a later deletion takes them once it has. Such
// consumers see every change; a consumer that keeps its checkpoint elsewhere
// sees the newest revision but may miss ones deleted before it read them.
//
// Optimistic concurrency. Every write expects the revision the actor's
// state was read at (Expected::At). A write by anyone else meanwhile (a
// second process, a tool, an import) makes the actor's next write fail
// with kConflict carrying the actual revision (Status::actual_seq); nothing
// is written, the reply carries that error, and the actor reloads the
// newer state before its next command.
//
// Everything else is the runtime's (memoir/actor_system.h): replies after
// the commit, recovery (it reads only the newest revision, whatever older
// ones remain), restarts and quarantine (a revision the codec cannot read,
// or a newest revision deleted from outside, by Journal::DeleteTo,
// quarantines the actor, naming it), passivation, CommittedState (its
// `seq` is the revision), Destroy. An exception in Handle or in the codec
// writes nothing and answers kFailed.
//
// Not available for durable-state types: snapshots (the state is already
// stored whole), upcasters (StateCodec::Decode receives the stored type
// and schema version and converts old ones), and memoir::Replayer, which
// folds a history that is not kept.
#ifndef MEMOIR_DURABLE_STATE_H_
#define MEMOIR_DURABLE_STATE_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/snapshot_store.h"

namespace memoir {

// What a durable-state actor's Handle decided about one command.
template <typename State, typename Reply>
class StateEffect {
 public:
  enum class Kind { kPersist, kRespond, kReject, kStop };

  // Store `state` as the actor's next revision, then release `reply`.
  static StateEffect Persist(State state, Reply reply) {
    StateEffect e(Kind::kPersist);
    e.state_.emplace(std::move(state));
    e.reply_.emplace(std::move(reply));
    return e;
  }
  // Answer without writing; the reply still waits for every earlier
  // command's commit.
  static StateEffect Respond(Reply reply) {
    StateEffect e(Kind::kRespond);
    e.reply_.emplace(std::move(reply));
    return e;
  }
  // Refuse the command: nothing is written, the caller gets kRejected.
  static StateEffect Reject(std::string reason) {
    StateEffect e(Kind::kReject);
    e.rejection_.emplace(std::move(reason));
    return e;
  }
  // A normal stop: the actor's work for this id is done. What happens to
  // its state is the type's DurableStateOptions::on_stop: kKeep leaves the
  // newest revision as it is; kWipe stores a "cleared" revision, so the
  // next command starts from InitialState (or State{}). Either way the
  // actor leaves memory once its mailbox is empty and every reply is
  // released; a later command recovers it.
  static StateEffect Stop(Reply reply) {
    StateEffect e(Kind::kStop);
    e.reply_.emplace(std::move(reply));
    return e;
  }

  // As Effect::Then: runs after the commit and the reply; not durable.
  StateEffect&& Then(std::function<void(ActorSystem&)> action) && {
    then_ = std::move(action);
    return std::move(*this);
  }

  // As Effect::Send: `command` goes to actor `id` of type Target durably,
  // written with this Persist's revision (a Send from any other effect
  // fails the command) and taken once by the receiver.
  template <typename Target>
  StateEffect&& Send(std::string id,
                     const typename Target::Command& command) && {
    sends_.push_back(detail::Outgoing<Target>(std::move(id), command));
    return std::move(*this);
  }
  // As Effect::Send with ReplyIfRefused: a refusal comes back through
  // Self::OnRefused.
  template <typename Target, typename Self>
  StateEffect&& Send(std::string id, const typename Target::Command& command,
                     ReplyIfRefused<Self>) && {
    static_assert(detail::kTakesRefusals<Self>,
                  "ReplyIfRefused<Self>: Self needs "
                  "static Command OnRefused(const memoir::Refusal&)");
    sends_.push_back(
        detail::Outgoing<Target>(std::move(id), command, Self::kTypeName));
    return std::move(*this);
  }

  Kind kind() const { return kind_; }
  const std::string& rejection() const { return *rejection_; }
  State& state() { return *state_; }
  Reply& reply() { return *reply_; }
  std::function<void(ActorSystem&)>& then() { return then_; }
  std::vector<OutgoingMessage>& sends() { return sends_; }

 private:
  explicit StateEffect(Kind kind) : kind_(kind) {}
  Kind kind_;
  std::optional<State> state_;
  std::optional<Reply> reply_;
  std::optional<std::string> rejection_;
  std::function<void(ActorSystem&)> then_;
  std::vector<OutgoingMessage> sends_;
};

// What a normal stop (StateEffect::Stop) does to the stored state.
enum class StopMode {
  kKeep,  // the newest revision stays; the id resumes from it
  kWipe,  // a cleared revision is stored; the id starts afresh
};

// Per durable-state type configuration, given to ActorSystem::Register.
struct DurableStateOptions {
  RestartPolicy restarts;
  StopMode on_stop = StopMode::kKeep;
};

// The event type of a cleared revision (StopMode::kWipe). A StateCodec
// must not use it as a state type name.
inline constexpr std::string_view kClearedStateType = "memoir.state-cleared";

// The requirements on a durable-state actor type, checked at compile time.
template <typename A>
concept DurableStateType = std::copy_constructible<typename A::State> &&
    std::move_constructible<typename A::Command> &&
    std::move_constructible<typename A::Reply> &&
    requires(const A& a, const typename A::State& s,
             const typename A::Command& c, std::string_view sv, uint32_t v) {
  { A::kTypeName } -> std::convertible_to<std::string_view>;
  {
    a.Handle(s, c)
    } -> std::same_as<StateEffect<typename A::State, typename A::Reply>>;
  { A::StateCodec::EncodeState(s) } -> std::same_as<SnapshotData>;
  {
    A::StateCodec::Decode(sv, v, sv)
    } -> std::convertible_to<typename A::State>;
};

// Any type an ActorSystem runs: event-sourced or durable-state.
template <typename A>
concept AnyActorType = ActorType<A> || DurableStateType<A>;

}  // namespace memoir

#endif  // MEMOIR_DURABLE_STATE_H_
