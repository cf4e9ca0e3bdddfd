// Internal: the templates, instantiated in the user's program, that
// implement the runtime's type-erased seam (memoir/detail/behavior.h) for
// one actor type: its messages and its Behavior. Not part of the API; names
// here may change without notice.
#ifndef MEMOIR_DETAIL_BEHAVIOR_OF_H_
#define MEMOIR_DETAIL_BEHAVIOR_OF_H_

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior.h"
#include "memoir/journal.h"
#include "memoir/message_store.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"

namespace memoir::detail {

template <typename A>
class TypedMessage final : public Message {
 public:
  using Reply = typename A::Reply;
  TypedMessage(typename A::Command c, std::shared_ptr<ReplySink<Reply>> sink)
      : command(std::move(c)), sink_(std::move(sink)) {}
  void Finish(const Status& status) override {
    if (!sink_) return;
    if (status.ok() && reply) {
      sink_->Deliver(std::move(*reply), position);
    } else {
      sink_->Deliver(status.ok() ? Status::Failed("internal: no reply stored")
                                 : status);
    }
  }
  bool wants_reply() const override { return sink_ != nullptr; }

  typename A::Command command;
  std::optional<Reply> reply;

 private:
  std::shared_ptr<ReplySink<Reply>> sink_;
};

// The state handling every actor type shares, event-sourced or durable
// (durable_state_of.h): the initial state, copies, and the state codec.
template <typename A>
struct StateOps {
  using State = typename A::State;

  static const State& Value(const StateBox& box) {
    return static_cast<const StateOf<State>&>(box).value;
  }

  static Result<std::unique_ptr<StateBox>> Initial(const A& actor,
                                                   std::string_view id) {
    try {
      if constexpr (requires { actor.InitialState(id); }) {
        return std::unique_ptr<StateBox>(
            std::make_unique<StateOf<State>>(actor.InitialState(id)));
      } else {
        (void)actor;
        (void)id;
        return std::unique_ptr<StateBox>(
            std::make_unique<StateOf<State>>(State{}));
      }
    } catch (...) {
      return Status::Failed("InitialState threw " + DescribeCurrentException());
    }
  }

  static std::shared_ptr<const StateBox> Copy(const StateBox& s) {
    try {
      return std::make_shared<const StateOf<State>>(Value(s));
    } catch (...) {
      return nullptr;
    }
  }

  static Result<SnapshotData> EncodeState(const StateBox& box) {
    try {
      return A::StateCodec::EncodeState(Value(box));
    } catch (...) {
      return Status::Failed("state encode threw " + DescribeCurrentException());
    }
  }

  static Result<std::unique_ptr<StateBox>> DecodeState(
      const Snapshot& snapshot) {
    try {
      return std::unique_ptr<StateBox>(
          std::make_unique<StateOf<State>>(A::StateCodec::Decode(
              snapshot.info.type, snapshot.info.schema_version,
              snapshot.payload)));
    } catch (...) {
      return Status::Failed("cannot decode state type '" + snapshot.info.type +
                            "' version " +
                            std::to_string(snapshot.info.schema_version) +
                            ": " + DescribeCurrentException());
    }
  }
};

// Behavior::MakeDelivery for actor type A (event-sourced or durable-state):
// its CommandCodec decodes the command; a refusal sent back goes through
// A::OnRefused.
template <typename A>
Result<std::unique_ptr<Message>> MakeTypedDelivery(
    std::string_view type, uint32_t schema_version, std::string_view payload,
    Behavior::DeliveryDone done) {
  constexpr bool kCodec = requires { typename A::CommandCodec; };
  constexpr bool kRefusals = kTakesRefusals<A>;
  if constexpr (kCodec || kRefusals) {
    std::optional<typename A::Command> command;
    if (type == kRefusalType) {
      // A message of this type refused by its receiver, sent back.
      if constexpr (kRefusals) {
        Result<Refusal> refusal = DecodeRefusal(payload);
        if (!refusal.ok()) return refusal.status();
        try {
          command.emplace(A::OnRefused(*refusal));
        } catch (...) {
          return Status::Failed("OnRefused threw " +
                                DescribeCurrentException());
        }
      } else {
        return Status::InvalidArgument(
            "actor type '" + std::string(A::kTypeName) +
            "' got a refused message back but has no OnRefused");
      }
    } else if constexpr (kCodec) {
      try {
        command.emplace(A::CommandCodec::Decode(type, schema_version, payload));
      } catch (...) {
        return Status::Failed(
            "cannot decode command type '" + std::string(type) + "' version " +
            std::to_string(schema_version) + ": " + DescribeCurrentException());
      }
    } else {
      return Status::InvalidArgument(
          "actor type '" + std::string(A::kTypeName) +
          "' has no CommandCodec to decode command type '" + std::string(type) +
          "'");
    }
    // The sink answers from inside the message's Finish, so the message
    // is alive when it reads the flag.
    auto self = std::make_shared<const Message*>(nullptr);
    auto sink = std::make_shared<ReplySink<typename A::Reply>>(
        [done = std::move(done), self](Result<typename A::Reply> r) {
          done(r.ok() ? Status::OK() : r.status(),
               *self != nullptr && (*self)->taken_already);
        });
    auto message =
        std::make_unique<TypedMessage<A>>(std::move(*command), std::move(sink));
    *self = message.get();
    return std::unique_ptr<Message>(std::move(message));
  } else {
    (void)type;
    (void)schema_version;
    (void)payload;
    (void)done;
    return Status::InvalidArgument(
        "actor type '" + std::string(A::kTypeName) +
        "' cannot receive durable messages: it has no CommandCodec");
  }
}

template <typename A>
class BehaviorOf final : public Behavior {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  BehaviorOf(A actor, ActorTypeOptions<A> options)
      : actor_(std::move(actor)), options_(std::move(options)) {}

  std::string_view type_name() const override { return A::kTypeName; }
  const SnapshotPolicy& snapshot_policy() const override {
    return options_.snapshots;
  }
  const RestartPolicy& restart_policy() const override {
    return options_.restarts;
  }

  Result<std::unique_ptr<StateBox>> Initial(
      std::string_view id) const override {
    return StateOps<A>::Initial(actor_, id);
  }

  std::shared_ptr<const StateBox> Copy(const StateBox& s) const override {
    return StateOps<A>::Copy(s);
  }

  HandleOutcome Handle(StateBox& box, Message& message,
                       uint64_t head) const override {
    auto& msg = static_cast<TypedMessage<A>&>(message);
    State& state = static_cast<StateOf<State>&>(box).value;
    HandleOutcome out;
    std::optional<Effect<Event, typename A::Reply>> effect;
    try {
      effect.emplace(actor_.Handle(std::as_const(state), msg.command));
    } catch (...) {
      return Failed(HandleOutcome::Kind::kFailed,
                    "handle threw " + DescribeCurrentException());
    }
    if (effect->rejected()) {
      out.kind = HandleOutcome::Kind::kRejected;
      out.error = Status::Rejected(effect->rejection());
      return out;
    }
    if (std::string why = SendsProblem(effect->sends(),
                                       !effect->events().empty(), A::kTypeName);
        !why.empty()) {
      return Failed(HandleOutcome::Kind::kFailed, std::move(why));
    }
    if (!effect->timers().empty() && effect->events().empty()) {
      return Failed(HandleOutcome::Kind::kFailed,
                    "Effect::StartTimer or CancelTimer without events: a "
                    "timer is started or cancelled with the events of its "
                    "command (use Persist)");
    }
    if (effect->timers().size() > kMaxMessagesPerCommit) {
      return Failed(HandleOutcome::Kind::kFailed,
                    "Effect: " + std::to_string(effect->timers().size()) +
                        " timer changes from one command; at most " +
                        std::to_string(kMaxMessagesPerCommit));
    }
    for (const TimerChange& t : effect->timers()) {
      Status valid = ValidateStreamName(t.key);
      if (!valid.ok()) {
        return Failed(HandleOutcome::Kind::kFailed,
                      "Effect: a timer key is not valid: " +
                          std::string(valid.message()));
      }
      if (t.key.front() == '$') {
        return Failed(HandleOutcome::Kind::kFailed,
                      "Effect: timer key '" + t.key +
                          "': keys starting with '$' are memoir's own "
                          "(refusals sent back use them)");
      }
      if (t.cancel) continue;
      if (t.receiver_type != A::kTypeName) {
        return Failed(HandleOutcome::Kind::kFailed,
                      "Effect::StartTimer<" + t.receiver_type +
                          "> from actor type '" + std::string(A::kTypeName) +
                          "': a timer fires at the actor that starts it, so "
                          "its type parameter must be the actor's own type");
      }
      if (t.command.type.empty() || t.command.type.size() > kMaxTypeNameBytes ||
          t.command.payload.size() > kMaxPayloadBytes ||
          t.command.metadata.size() > kMaxMetadataBytes) {
        return Failed(HandleOutcome::Kind::kFailed,
                      "Effect::StartTimer: the CommandCodec gave a command "
                      "type of " +
                          std::to_string(t.command.type.size()) +
                          " bytes (1 to 255) or a payload or metadata over "
                          "the journal's limits");
      }
    }
    // Encode before applying: a codec failure then leaves the state as it
    // was, and the events written are exactly the ones applied.
    std::vector<Event>& events = effect->events();
    try {
      out.events.reserve(events.size());
      for (const Event& e : events) {
        out.events.push_back(A::EventCodec::Encode(e));
      }
    } catch (...) {
      return Failed(HandleOutcome::Kind::kFailed,
                    "event encode threw " + DescribeCurrentException());
    }
    uint64_t seq = head;
    for (const Event& e : events) {
      try {
        actor_.Apply(state, e);
      } catch (...) {
        return Failed(HandleOutcome::Kind::kBroken,
                      "apply threw " + DescribeCurrentException());
      }
      ++seq;
      try {
        if (options_.snapshot_when && options_.snapshot_when(state, e, seq)) {
          out.snapshot_requested = true;
        }
      } catch (...) {
        // The state is fine, but the command cannot be called a success
        // with part of the caller's code having thrown.
        return Failed(HandleOutcome::Kind::kBroken,
                      "snapshot_when threw " + DescribeCurrentException());
      }
    }
    msg.reply.emplace(std::move(effect->reply()));
    out.kind = out.events.empty() ? HandleOutcome::Kind::kRespond
                                  : HandleOutcome::Kind::kPersist;
    out.then = std::move(effect->then());
    out.sends = std::move(effect->sends());
    out.timers = std::move(effect->timers());
    return out;
  }

  Result<std::unique_ptr<Message>> MakeDelivery(
      std::string_view type, uint32_t schema_version, std::string_view payload,
      DeliveryDone done) const override {
    return MakeTypedDelivery<A>(type, schema_version, payload, std::move(done));
  }

  Status ApplyStored(StateBox& box, const EventView& event) const override {
    State& state = static_cast<StateOf<State>&>(box).value;
    Result<Event> decoded = DecodeStored(event);
    if (!decoded.ok()) return decoded.status();
    return ApplyTyped(state, *decoded);
  }

  // Upcasts and decodes one stored event.
  Result<Event> DecodeStored(const EventView& event) const {
    std::string type(event.type);
    uint32_t version = event.schema_version;
    std::string upcast;
    std::string_view payload = event.payload;
    try {
      // Each step must raise the version or change the type; the bound
      // stops a cycle of renames.
      for (size_t steps = 0; steps <= options_.upcasters.size(); ++steps) {
        const Upcaster* u = FindUpcaster(type, version);
        if (u == nullptr) break;
        upcast = u->convert(payload);
        payload = upcast;
        version = u->to_version;
        if (!u->to_type.empty()) type = u->to_type;
      }
    } catch (...) {
      return Status::Failed("upcaster threw " + DescribeCurrentException());
    }
    try {
      return Event(A::EventCodec::Decode(type, version, payload));
    } catch (...) {
      return Status::Failed("cannot decode event type '" + type + "' version " +
                            std::to_string(version) + ": " +
                            DescribeCurrentException());
    }
  }

  Status ApplyTyped(State& state, const Event& event) const {
    try {
      actor_.Apply(state, event);
    } catch (...) {
      return Status::Failed("apply threw " + DescribeCurrentException());
    }
    return Status::OK();
  }

  const A& actor() const { return actor_; }

  Result<SnapshotData> EncodeState(const StateBox& box) const override {
    return StateOps<A>::EncodeState(box);
  }

  Result<std::unique_ptr<StateBox>> DecodeState(
      const Snapshot& snapshot) const override {
    return StateOps<A>::DecodeState(snapshot);
  }

  static const State& Value(const StateBox& box) {
    return StateOps<A>::Value(box);
  }

 private:
  static HandleOutcome Failed(HandleOutcome::Kind kind, std::string why) {
    HandleOutcome out;
    out.kind = kind;
    out.error = Status::Failed(why);
    return out;
  }
  const Upcaster* FindUpcaster(std::string_view type, uint32_t version) const {
    for (const Upcaster& u : options_.upcasters) {
      if (u.type == type && u.from_version == version &&
          (u.to_version > version || !u.to_type.empty())) {
        return &u;
      }
    }
    return nullptr;
  }

  A actor_;
  ActorTypeOptions<A> options_;
};

}  // namespace memoir::detail

#endif  // MEMOIR_DETAIL_BEHAVIOR_OF_H_
