// Internal: the type-erased seam between typed actor code (templates,
// instantiated in the user's program) and the runtime (compiled once in the
// library). Not part of the API; names here may change without notice.
#ifndef MEMOIR_DETAIL_BEHAVIOR_H_
#define MEMOIR_DETAIL_BEHAVIOR_H_

#include <atomic>
#include <cstdlib>
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/journal.h"
#include "memoir/message_store.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/uuid.h"

namespace memoir::detail {

// An actor's state behind a virtual destructor.
struct MEMOIR_EXPORT StateBox {
  virtual ~StateBox() = default;
};
template <typename S>
struct StateOf final : StateBox {
  explicit StateOf(S v) : value(std::move(v)) {}
  S value;
};

// A published state and the seq of the last event applied to it.
struct CommittedBox {
  std::shared_ptr<const StateBox> state;
  uint64_t seq = 0;
};

// "<type>: <what()>" of the exception in flight, for error messages.
inline std::string DescribeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    std::string type = typeid(e).name();
#if __has_include(<cxxabi.h>)
    int status = 0;
    char* readable =
        abi::__cxa_demangle(type.c_str(), nullptr, nullptr, &status);
    if (status == 0 && readable != nullptr) type = readable;
    std::free(readable);
#endif
    return type + ": " + e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

// A command in a mailbox together with where its answer goes.
class MEMOIR_EXPORT Message {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Message() = default;
  // Delivers the reply stored by Behavior::Handle (status OK) or `status`.
  // Called at most once.
  virtual void Finish(const Status& status) = 0;
  // False for Tell: nobody waits, so failures are logged instead.
  virtual bool wants_reply() const = 0;
  Clock::time_point deadline = Clock::time_point::max();
  // A request of the runtime's own (Destroy), not a command: tested on
  // every message, so a flag rather than a dynamic_cast.
  bool control = false;
  // The sender blocks on the answer (a future-returning Ask from a thread
  // of its own): the runtime may run the actor's turn on that thread.
  bool caller_waits = false;
  // Set by the runtime before a successful Finish: a global position at or
  // after the last event of the state the answer reflects (0: the actor has
  // no events), for ActorRef::AskWithPosition.
  uint64_t position = 0;
  // With ActorSystemOptions::link_events: the event whose Then action sent
  // this command and the conversation it belongs to (none from outside).
  Uuid causation_id{};
  Uuid correlation_id{};
  // A durable message from the outbox: the handling commits its take.
  std::optional<TakenMessage> taken;
  // A durable timer firing: the handling commits its take.
  std::optional<FiredTimer> fired;
  // Set before Finish when the actor had taken `taken` already, or `fired`
  // is no longer pending (dropped).
  bool taken_already = false;
};

// What handling one command produced.
struct HandleOutcome {
  enum class Kind {
    kPersist,   // `events` applied in memory; commit them, then reply
    kRespond,   // reply without events
    kRejected,  // handler refused; `error` is kRejected
    kFailed,    // handle or encode threw; state untouched; `error` says why
    kBroken,    // apply threw: the in-memory state is damaged
  };
  Kind kind = Kind::kRespond;
  Status error;
  std::vector<EventData> events;
  bool snapshot_requested = false;
  // A durable-state actor's normal stop: leave memory once idle.
  bool stop = false;
  // ... and its state becomes the initial one (StopMode::kWipe).
  bool wipe = false;
  std::function<void(ActorSystem&)> then;
  // Durable sends (Effect::Send), to commit with `events`.
  std::vector<OutgoingMessage> sends;
  // Durable timers started and cancelled, in order, to commit with them.
  std::vector<TimerChange> timers;
};

// Why the durable sends of one command cannot be committed, or "" when
// they can: checked as the command is handled, so that a bad message fails
// its own command and not the batch it would share with others.
inline std::string SendsProblem(const std::vector<OutgoingMessage>& sends,
                                bool has_events, std::string_view self_type) {
  if (sends.empty()) return "";
  if (!has_events) {
    return "Effect::Send without events: a durable message is written with "
           "the events of the command that sends it (use Persist)";
  }
  if (sends.size() > kMaxMessagesPerCommit) {
    return "Effect::Send: " + std::to_string(sends.size()) +
           " messages from one command; at most " +
           std::to_string(kMaxMessagesPerCommit);
  }
  for (const OutgoingMessage& m : sends) {
    Status valid = ValidateStreamName(m.receiver);
    if (!valid.ok()) {
      return "Effect::Send to an invalid actor id: " +
             std::string(valid.message());
    }
    if (m.command.type.empty() || m.command.type.size() > kMaxTypeNameBytes ||
        m.command.payload.size() > kMaxPayloadBytes ||
        m.command.metadata.size() > kMaxMetadataBytes) {
      return "Effect::Send: the CommandCodec gave a command type of " +
             std::to_string(m.command.type.size()) +
             " bytes (1 to 255) or a payload or metadata over the journal's "
             "limits";
    }
    if (m.command.type == kRefusalType) {
      return "Effect::Send: the command type '" + m.command.type +
             "' is memoir's own (refusals sent back)";
    }
    if (!m.reply_type.empty() && m.reply_type != self_type) {
      return "Effect::Send with ReplyIfRefused<" + m.reply_type +
             "> from actor type '" + std::string(self_type) +
             "': a refusal comes back to the actor that sends, so its type "
             "parameter must be the actor's own type";
    }
  }
  return "";
}

// One registered actor type, seen by the runtime.
class MEMOIR_EXPORT Behavior {
 public:
  virtual ~Behavior() = default;
  virtual std::string_view type_name() const = 0;
  virtual const SnapshotPolicy& snapshot_policy() const = 0;
  virtual const RestartPolicy& restart_policy() const = 0;
  // A durable-state type (memoir/durable_state.h): each event is a whole
  // state, recovery needs only the newest, older ones are deleted.
  virtual bool durable_state() const { return false; }
  // The state before the first event. Never throws.
  virtual Result<std::unique_ptr<StateBox>> Initial(
      std::string_view id) const = 0;
  // An immutable copy to publish; null if copying threw. Never throws.
  virtual std::shared_ptr<const StateBox> Copy(const StateBox& s) const = 0;
  // Runs Handle, encodes the events, applies them to `state`. Never throws.
  virtual HandleOutcome Handle(StateBox& state, Message& message,
                               uint64_t head) const = 0;
  // Upcasts, decodes and applies one stored event. Never throws.
  virtual Status ApplyStored(StateBox& state, const EventView& event) const = 0;
  virtual Result<SnapshotData> EncodeState(const StateBox& state) const = 0;
  virtual Result<std::unique_ptr<StateBox>> DecodeState(
      const Snapshot& snapshot) const = 0;
  // The command of durable message `m` as a message for this type, whose
  // Finish calls `done` with the outcome (OK, or why it was not handled)
  // and whether the actor had taken it already. Never throws. Errors:
  // kInvalidArgument when the type cannot receive durable messages (no
  // CommandCodec), kFailed when the command cannot be decoded.
  // (The runtime then sets the message's `taken` or `fired`.)
  using DeliveryDone = std::function<void(const Status&, bool taken_already)>;
  virtual Result<std::unique_ptr<Message>> MakeDelivery(
      std::string_view type, uint32_t schema_version, std::string_view payload,
      DeliveryDone done) const {
    (void)type;
    (void)schema_version;
    (void)payload;
    (void)done;
    return Status::InvalidArgument(
        "actor type '" + std::string(type_name()) +
        "' cannot receive durable messages: only event-sourced types with a "
        "CommandCodec can");
  }
};

// Where a reply goes: a future, a callback, or nowhere (Tell). Shared with
// the deadline timer, so whoever comes first answers.
template <typename R>
class MEMOIR_EXPORT ReplySink {
 public:
  using Callback = std::function<void(Result<R>)>;
  using PositionCallback = std::function<void(Result<R>, uint64_t position)>;
  explicit ReplySink(Callback cb = nullptr) : callback_(std::move(cb)) {}
  explicit ReplySink(PositionCallback cb) : with_position_(std::move(cb)) {}
  std::future<Result<R>> future() { return promise_.get_future(); }
  void Deliver(Result<R> result, uint64_t position = 0) {
    if (done_.exchange(true)) return;
    if (with_position_) {
      with_position_(std::move(result), position);  // may throw: callers catch
    } else if (callback_) {
      callback_(std::move(result));  // may throw: callers catch
    } else {
      promise_.set_value(std::move(result));
    }
  }

 private:
  std::atomic<bool> done_{false};
  std::promise<Result<R>> promise_;
  Callback callback_;
  PositionCallback with_position_;
};

}  // namespace memoir::detail

#endif  // MEMOIR_DETAIL_BEHAVIOR_H_
