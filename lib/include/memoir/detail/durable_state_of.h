// Internal: the Behavior of a durable-state actor type
// (memoir/durable_state.h), instantiated in the user's program. Each
// revision is one event holding the whole state. Not part of the API;
// names here may change without notice.
#ifndef MEMOIR_DETAIL_DURABLE_STATE_OF_H_
#define MEMOIR_DETAIL_DURABLE_STATE_OF_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "memoir/detail/behavior.h"
#include "memoir/detail/behavior_of.h"
#include "memoir/durable_state.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"

namespace memoir::detail {

template <typename A>
class DurableStateOf final : public Behavior {
 public:
  using State = typename A::State;
  using Reply = typename A::Reply;

  DurableStateOf(A actor, DurableStateOptions options)
      : actor_(std::move(actor)), options_(std::move(options)) {
    // No snapshots: every revision is already the whole state.
    snapshots_.keep = 0;
  }

  std::string_view type_name() const override { return A::kTypeName; }
  const SnapshotPolicy& snapshot_policy() const override { return snapshots_; }
  const RestartPolicy& restart_policy() const override {
    return options_.restarts;
  }
  bool durable_state() const override { return true; }

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
    using Effect = StateEffect<State, Reply>;
    HandleOutcome out;
    std::optional<Effect> effect;
    try {
      effect.emplace(actor_.Handle(std::as_const(state), msg.command));
    } catch (...) {
      return Failed("handle threw " + DescribeCurrentException());
    }
    if (effect->kind() != Effect::Kind::kReject) {
      std::string why =
          SendsProblem(effect->sends(),
                       effect->kind() == Effect::Kind::kPersist, A::kTypeName);
      if (!why.empty()) return Failed(std::move(why));
    }
    switch (effect->kind()) {
      case Effect::Kind::kReject:
        out.kind = HandleOutcome::Kind::kRejected;
        out.error = Status::Rejected(effect->rejection());
        return out;
      case Effect::Kind::kRespond:
        out.kind = HandleOutcome::Kind::kRespond;
        break;
      case Effect::Kind::kPersist: {
        // Encode first: a codec failure leaves the state as it was.
        Result<EventData> revision = Encode(effect->state());
        if (!revision.ok()) {
          out.kind = HandleOutcome::Kind::kFailed;
          out.error = revision.status();
          return out;
        }
        try {
          state = std::move(effect->state());
        } catch (...) {
          return Broken("assigning the new state threw " +
                        DescribeCurrentException());
        }
        out.kind = HandleOutcome::Kind::kPersist;
        out.events.push_back(std::move(revision).value());
        out.sends = std::move(effect->sends());
        break;
      }
      case Effect::Kind::kStop:
        out.kind = HandleOutcome::Kind::kRespond;
        out.stop = true;
        if (options_.on_stop == StopMode::kWipe && head > 0) {
          // The runtime resets the state to InitialState(id) (it knows the
          // id) when it takes this outcome.
          out.kind = HandleOutcome::Kind::kPersist;
          EventData cleared;
          cleared.type = std::string(kClearedStateType);
          out.events.push_back(std::move(cleared));
          out.wipe = true;
        }
        break;
    }
    msg.reply.emplace(std::move(effect->reply()));
    out.then = std::move(effect->then());
    return out;
  }

  Result<std::unique_ptr<Message>> MakeDelivery(
      std::string_view type, uint32_t schema_version, std::string_view payload,
      DeliveryDone done) const override {
    return MakeTypedDelivery<A>(type, schema_version, payload, std::move(done));
  }

  // A stored revision replaces the state; a cleared one resets it.
  Status ApplyStored(StateBox& box, const EventView& event) const override {
    State& state = static_cast<StateOf<State>&>(box).value;
    if (event.type == kClearedStateType) {
      Result<std::unique_ptr<StateBox>> fresh = Initial(event.stream);
      if (!fresh.ok()) return fresh.status();
      try {
        state = std::move(static_cast<StateOf<State>&>(**fresh).value);
      } catch (...) {
        return Status::Failed("assigning the initial state threw " +
                              DescribeCurrentException());
      }
      return Status::OK();
    }
    try {
      state = State(A::StateCodec::Decode(event.type, event.schema_version,
                                          event.payload));
    } catch (...) {
      return Status::Failed("cannot decode state type '" +
                            std::string(event.type) + "' version " +
                            std::to_string(event.schema_version) + ": " +
                            DescribeCurrentException());
    }
    return Status::OK();
  }

  Result<SnapshotData> EncodeState(const StateBox& box) const override {
    return StateOps<A>::EncodeState(box);
  }

  Result<std::unique_ptr<StateBox>> DecodeState(
      const Snapshot& snapshot) const override {
    return StateOps<A>::DecodeState(snapshot);
  }

 private:
  static Result<EventData> Encode(const State& state) {
    SnapshotData data;
    try {
      data = A::StateCodec::EncodeState(state);
    } catch (...) {
      return Status::Failed("state encode threw " + DescribeCurrentException());
    }
    if (data.type == kClearedStateType) {
      return Status::Failed("the state codec used the reserved type name '" +
                            std::string(kClearedStateType) +
                            "'; give the state another name");
    }
    EventData e;
    e.type = std::move(data.type);
    e.schema_version = data.schema_version;
    e.payload = std::move(data.payload);
    e.metadata = std::move(data.metadata);
    return e;
  }
  static HandleOutcome Failed(std::string why) {
    HandleOutcome out;
    out.kind = HandleOutcome::Kind::kFailed;
    out.error = Status::Failed(why);
    return out;
  }
  static HandleOutcome Broken(std::string why) {
    HandleOutcome out;
    out.kind = HandleOutcome::Kind::kBroken;
    out.error = Status::Failed(why);
    return out;
  }

  A actor_;
  DurableStateOptions options_;
  SnapshotPolicy snapshots_;
};

}  // namespace memoir::detail

#endif  // MEMOIR_DETAIL_DURABLE_STATE_OF_H_
