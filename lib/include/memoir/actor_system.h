// ActorSystem: runs persistent actors on a small thread pool over a Store.
//
//   auto system = memoir::ActorSystem::Create(*store).value();
//   system->Register<Counter>();
//   auto counter = system->Ref<Counter>("counter-1");
//   memoir::Result<int64_t> total = counter.Ask(5).get();
//
// An actor is addressed by its id, which is also the name of its stream in
// the journal; an ActorRef is just (system, id), so it stays valid across
// passivation, restarts and process restarts. The first message activates
// the actor: it loads the newest usable snapshot, replays the later events,
// then handles its mailbox one message at a time. Messages sent from one
// thread to one actor are handled in the order they were sent.
//
// For each command: Handle runs on the current state, its events are
// encoded and applied in memory, then appended through the store's group
// commit; the reply is released only after the commit (at the store's
// durability), and replies of one actor are released in order. The actor
// may handle its next commands while earlier events are being committed.
//
// Failures (the promises 1, 3 and 5 of lib/doc/design.md): an exception in
// Handle or in a codec writes nothing for that command and answers it with
// kFailed; an exception in Apply does the same. Either way the in-memory state
// is then thrown away and rebuilt from the journal, after a backoff, and the
// failure counts against the type's RestartPolicy. Past the policy the
// actor is quarantined: every call fails fast with kQuarantined naming the
// stream, the seq and the cause, until Release(). An event that cannot be
// decoded or applied during recovery quarantines the actor at once. A
// failed commit answers every reply not yet released with the commit's
// error and rebuilds the state from the journal (not counted as a restart:
// the store, not the actor, failed). Other actors are never affected.
//
// Thread safety: every method of ActorSystem and ActorRef may be called
// from any thread, including from inside Then actions and Ask callbacks.
#ifndef MEMOIR_ACTOR_SYSTEM_H_
#define MEMOIR_ACTOR_SYSTEM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "memoir/actor.h"
#include "memoir/actor_system_options.h"
#include "memoir/detail/behavior_of.h"
#include "memoir/detail/durable_state_of.h"
#include "memoir/durable_state.h"
#include "memoir/export.h"
#include "memoir/result.h"
#include "memoir/route.h"
#include "memoir/status.h"

namespace memoir {

class Store;

// An actor's last committed state (see ActorRef::CommittedState) and the
// seq it is at: `state` is the state after applying the actor's events 1..
// `seq`, all of them committed (0: no event yet, the initial state). The
// state is immutable and shared; later commands never change it.
template <typename State>
struct Committed {
  std::shared_ptr<const State> state;
  uint64_t seq = 0;
};

// An answer and where the journal was when it was given
// (ActorRef::AskWithPosition).
template <typename Reply>
struct Positioned {
  Reply reply;
  // A global position at or after the last event of the state the reply
  // reflects (the command's own events, when it had some): once a
  // subscription or projection has seen it, it has seen the command.
  uint64_t position = 0;
};

template <AnyActorType A>
class ActorRef;

class MEMOIR_EXPORT ActorSystem {
 public:
  // Creates a system over `store`, which must outlive it; the caller owns
  // the system. Errors: kInvalidArgument when max_messages_per_turn is 0 or
  // threads is over 1024. Over a read-only store every command that
  // persists fails with the store's kInvalidArgument.
  static Result<std::unique_ptr<ActorSystem>> Create(
      Store& store, ActorSystemOptions options = {});

  // Shuts down (see Shutdown) with a 30 s drain limit.
  virtual ~ActorSystem() = default;

  // Registers actor type A (by A::kTypeName) with an instance of A whose
  // const Handle/Apply serve every actor of the type. Errors:
  // kInvalidArgument when the name is taken or is not a valid stream name
  // (ValidateStreamName), or the RestartPolicy is inconsistent
  // (max_restarts < 0, backoff_factor < 1 or not finite, backoff_initial
  // negative or above backoff_max, window not within 1 ms to a year).
  template <ActorType A>
  Status Register(A actor = A{}, ActorTypeOptions<A> options = {}) {
    return RegisterBehavior(std::make_unique<detail::BehaviorOf<A>>(
        std::move(actor), std::move(options)));
  }

  // Registers durable-state type A (memoir/durable_state.h); errors as
  // above.
  template <DurableStateType A>
  Status Register(A actor = A{}, DurableStateOptions options = {}) {
    return RegisterBehavior(std::make_unique<detail::DurableStateOf<A>>(
        std::move(actor), std::move(options)));
  }

  // Starts routing events to actors of type Target (memoir/route.h), on a
  // thread of the route's own. The route stops when the returned object is
  // destroyed or the system shuts down, whichever comes first (the object
  // may outlive the system). Errors: kInvalidArgument for an empty or
  // malformed name, a name already routed by this system, max_batch 0 or
  // over kMaxMessagesPerCommit, a null route function, an on_failure
  // other than kStop, or a store that keeps no durable messages; kClosed
  // after Shutdown; the errors of reading or recording the route's
  // progress.
  template <ActorType Target>
  Result<std::unique_ptr<Route>> StartRoute(RouteOptions<Target> options) {
    detail::RouteSpec spec;
    spec.name = std::move(options.name);
    spec.filter = std::move(options.filter);
    spec.start = options.start;
    spec.max_batch = options.max_batch;
    spec.on_failure = options.on_failure;
    if (options.route) {
      spec.route = [route = std::move(options.route)](
                       const EventView& e) -> std::optional<OutgoingMessage> {
        std::optional<Routed<Target>> r = route(e);
        if (!r) return std::nullopt;
        OutgoingMessage m;
        m.receiver_type = std::string(Target::kTypeName);
        m.receiver = std::move(r->id);
        m.command = Target::CommandCodec::Encode(r->command);
        return m;
      };
    }
    return StartRouteErased(std::move(spec));
  }

  // A reference to actor `id` of type A. Cheap; does not activate it.
  template <AnyActorType A>
  ActorRef<A> Ref(std::string id) {
    return ActorRef<A>(this, std::move(id));
  }

  // Stops taking messages (later sends fail with kClosed), lets every actor
  // handle what is already in its mailbox and waits for every commit, up
  // to `timeout`. If that is not enough, the messages still queued are
  // answered with kClosed, the appends already submitted are still waited
  // for (the writer finishes them), and kTimeout is returned. Idempotent:
  // later calls return OK. kInvalidArgument when called on one of the
  // system's own threads (from a Then action, an Ask callback or a
  // deadline).
  virtual Status Shutdown(
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) = 0;

  virtual RuntimeStats Stats() const = 0;
  virtual Store& store() = 0;

  // Gives up on the durable message waiting at `key` (as 'memoir outbox'
  // lists it), for one no retry will deliver: MessageStore::Drop moves it
  // to the dead letters (stream "$dead-letters"), and the next message of
  // the same sender and receiver goes next. If the receiver is handling
  // it at that very moment, either its take commits first (then this
  // fails with kNotFound) or the drop does (then the receiver's batch
  // fails, and its commands with it). Errors: those of
  // MessageStore::Drop (kNotFound when nothing waits there: taken, or
  // never sent), kInvalidArgument when the store keeps no messages.
  virtual Status DropMessage(MessageKey key, std::string_view reason) = 0;

 protected:
  template <AnyActorType A>
  friend class ActorRef;
  using Deadline = std::chrono::steady_clock::time_point;

  virtual Status RegisterBehavior(std::unique_ptr<detail::Behavior> b) = 0;
  // Queues `message` for actor `id` of type `type`, first waiting for room
  // when the message is an Ask (see ActorRef::Ask). Returns OK once queued,
  // else why not (unknown type, closed, quarantined, bad id, mailbox full);
  // a message that wants a reply is also finished with that status.
  virtual Status Send(std::string_view type, std::string_view id,
                      std::unique_ptr<detail::Message> message) = 0;
  // Runs `fn` once at `when` on a runtime thread (or at shutdown).
  virtual void At(Deadline when, std::function<void()> fn) = 0;
  virtual Result<detail::CommittedBox> CommittedState(std::string_view type,
                                                      std::string_view id) = 0;
  virtual Status Release(std::string_view id) = 0;
  virtual std::future<Status> Destroy(std::string_view type,
                                      std::string_view id) = 0;
  virtual ActorInfo Info(std::string_view id) = 0;
  virtual Result<std::unique_ptr<Route>> StartRouteErased(
      detail::RouteSpec spec) = 0;
};

// A handle on one actor: the system and the actor's id. Copyable; valid as
// long as the system lives.
template <AnyActorType A>
class ActorRef {
 public:
  using Command = typename A::Command;
  using Reply = typename A::Reply;
  using State = typename A::State;
  using Timeout = std::chrono::milliseconds;

  ActorRef(ActorSystem* system, std::string id)
      : system_(system), id_(std::move(id)) {}

  const std::string& id() const { return id_; }

  // Sends without waiting for an answer. Returns OK once the command is
  // queued, or why it was not: kBusy when the actor's mailbox is full
  // (ActorSystemOptions::mailbox_capacity; Tell never waits for room),
  // kClosed after Shutdown, kQuarantined, kInvalidArgument for an
  // unregistered type, a bad id or an actor running as another type.
  // Failures after queueing (the handler rejects or fails, the commit
  // fails) go to the logger.
  Status Tell(Command command) const {
    return system_->Send(
        A::kTypeName, id_,
        std::make_unique<detail::TypedMessage<A>>(std::move(command), nullptr));
  }

  // Sends and returns the future answer: the reply once the command's
  // events are committed; kRejected with the handler's reason; kFailed if
  // Handle/Apply threw; the commit's error; kQuarantined; kClosed. With a
  // `timeout` > 0 the future holds kTimeout once it passes: if the actor
  // had not taken the command yet it never will, otherwise the outcome is
  // unknown (the command may still commit). kInvalidArgument as for Tell.
  //
  // When the actor's mailbox is full (ActorSystemOptions::mailbox_capacity)
  // Ask blocks the calling thread until there is room, at most until its
  // timeout (without one, until room appears or Shutdown); if the timeout
  // passes first the answer is kTimeout saying the command was not queued.
  // On one of the system's own threads (a Then action, an Ask callback) it
  // does not wait, since the actor may need that thread to make room: the
  // answer is kBusy at once.
  std::future<Result<Reply>> Ask(Command command, Timeout timeout = {}) const {
    auto sink = std::make_shared<detail::ReplySink<Reply>>();
    auto future = sink->future();
    Send(std::move(command), std::move(sink), timeout, true);
    return future;
  }

  // As Ask, with the commit position of the answer: pass it to
  // Projection::WaitFor (or Subscription::WaitFor) to read a model that
  // includes the command ("read your writes"). For a command without
  // events, a position at or after the actor's last event.
  std::future<Result<Positioned<Reply>>> AskWithPosition(
      Command command, Timeout timeout = {}) const {
    auto promise = std::make_shared<std::promise<Result<Positioned<Reply>>>>();
    auto future = promise->get_future();
    using Sink = detail::ReplySink<Reply>;
    Send(std::move(command),
         std::make_shared<Sink>(typename Sink::PositionCallback(
             [promise](Result<Reply> r, uint64_t position) {
               if (r.ok()) {
                 promise->set_value(
                     Positioned<Reply>{std::move(r).value(), position});
               } else {
                 promise->set_value(r.status());
               }
             })),
         timeout, true);
    return future;
  }

  // As Ask (including the wait for room), but `done` is called with the
  // answer on a runtime thread, or on the calling thread when the command
  // could not be queued. It must not block.
  void Ask(Command command, std::function<void(Result<Reply>)> done,
           Timeout timeout = {}) const {
    Send(std::move(command),
         std::make_shared<detail::ReplySink<Reply>>(std::move(done)), timeout,
         false);
  }

  // The actor's last committed state and the seq it is at, without
  // entering its mailbox (see Committed). The state may lag the newest
  // commit by the commits whose completion the actor has not processed yet;
  // `seq` always names the events `state` reflects. If the actor is not in
  // memory, its state is rebuilt from the store on the calling thread
  // (without activating the actor). Errors: as for recovery (kFailed
  // naming the seq for an event that cannot be applied), kQuarantined,
  // kStreamDeleted after Destroy.
  Result<Committed<State>> CommittedState() const {
    auto box = system_->CommittedState(A::kTypeName, id_);
    if (!box.ok()) return box.status();
    std::shared_ptr<const detail::StateBox> owner = std::move(box->state);
    const State* value =
        &static_cast<const detail::StateOf<State>&>(*owner).value;
    return Committed<State>{
        std::shared_ptr<const State>(std::move(owner), value), box->seq};
  }

  // Lifts a quarantine (for instance after a fixed version is deployed);
  // the next message recovers the actor afresh. Errors: kNotFound when it
  // is not quarantined (also when it was never activated).
  Status Release() const { return system_->Release(id_); }

  // After every queued command, deletes the actor's stream and snapshots.
  // Later messages fail with kStreamDeleted. OK also when the stream never
  // existed or was already deleted, and on a quarantined actor; a full
  // mailbox does not refuse it. Errors: kInvalidArgument and kClosed as for
  // Tell; those of Journal::DeleteStream (journal.h).
  std::future<Status> Destroy() const {
    return system_->Destroy(A::kTypeName, id_);
  }

  ActorInfo Info() const { return system_->Info(id_); }

 private:
  void Send(Command command, std::shared_ptr<detail::ReplySink<Reply>> sink,
            Timeout timeout, bool caller_waits) const {
    auto message =
        std::make_unique<detail::TypedMessage<A>>(std::move(command), sink);
    message->caller_waits = caller_waits;
    const bool timed = timeout.count() > 0;
    if (timed) message->deadline = std::chrono::steady_clock::now() + timeout;
    const auto deadline = message->deadline;
    // A refusal (including a full mailbox until the deadline) has already
    // been delivered to `sink` when Send returns.
    static_cast<void>(system_->Send(A::kTypeName, id_, std::move(message)));
    // Armed after queueing, so that a timeout while waiting for room is
    // answered by Send's more precise error; the sink answers once.
    if (timed) {
      system_->At(deadline, [sink, id = id_] {
        try {
          sink->Deliver(Status::Timeout(
              "no answer from actor '" + id +
              "' before the deadline; the command may still commit"));
        } catch (...) {
          // A throwing callback must not take the timer thread down.
        }
      });
    }
  }

  ActorSystem* system_;
  std::string id_;
};

}  // namespace memoir

#endif  // MEMOIR_ACTOR_SYSTEM_H_
