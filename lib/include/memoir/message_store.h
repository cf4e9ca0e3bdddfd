// Durable messages between streams: what durable sends between actors are
// built on, so that a command one actor accepts makes another act even if
// the process dies in between.
//
//   auto messages = memoir::InStoreMessages(*store).value();
//   memoir::MessageCommit send;
//   send.append = {"transfer-7", memoir::Expected::At(0), {started}};
//   send.send.push_back({"account", "account-1", debit_command});
//   auto sent = messages->Commit(std::move(send)).value();
//   // ... the receiver, later (its events, its inbox, the outbox entry):
//   memoir::MessageCommit take;
//   take.append = {"account-1", memoir::Expected::At(4), {debited}};
//   take.take.push_back({sent.sent[0].key, sent.sent[0].id});
//   messages->Commit(std::move(take));
//
// A message is written to the store's outbox in the transaction that
// appends the event it is sent with, or not at all. Its delivery id is the
// sending stream, the seq of that event and its place among the messages
// sent with it, so ids from one sender only grow. The receiver takes it in
// the transaction that appends the receiver's own events: the message
// leaves the outbox and the receiver's inbox records its id as the last it
// took from that sender, together with the events or not at all. A message
// is therefore never lost (it waits in the outbox until taken) and never
// taken twice (a second take finds it gone), and the inbox refuses a
// message taken out of order behind a later one of the same sender.
//
// Durable timers (TimerChange, StoredTimer) live beside the messages: a
// stream starts or cancels one with its events, and takes it (FiredTimer)
// with the events it causes when it falls due, so it fires once.
//
// Thread safety: the in-store implementation may be called from any
// thread.
#ifndef MEMOIR_MESSAGE_STORE_H_
#define MEMOIR_MESSAGE_STORE_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// Where a message sits in the outbox: the global position of the event it
// was sent with, and its place among that event's messages. The outbox is
// kept in this order, which is commit order.
struct MessageKey {
  uint64_t position = 0;
  uint32_t n = 0;
  auto operator<=>(const MessageKey&) const = default;
};

// Who sent a message, with which event: unique, and growing per sender.
struct DeliveryId {
  std::string sender;  // the sending stream
  uint64_t seq = 0;    // the sender's event it was written with
  uint32_t n = 0;      // its place among that event's messages, from 0
  bool operator==(const DeliveryId&) const = default;
};

// A message to write with an append.
struct OutgoingMessage {
  std::string receiver_type;  // the receiving actor's type name
  std::string receiver;       // the receiving stream (the actor's id)
  // The command: type, schema_version, payload and metadata are kept; id,
  // causation_id, correlation_id and tags are not.
  EventData command;
  // The event of the append it goes with, by index in append.events; past
  // the end (the default): the last one.
  size_t with_event = std::numeric_limits<size_t>::max();
  // When not empty: the sending stream's actor type, which wants the
  // message back as a Refusal if the receiver refuses it (see
  // TakenMessage::refused).
  std::string reply_type;
};

// A message in the outbox.
struct StoredMessage {
  MessageKey key;
  DeliveryId id;
  std::string receiver_type;
  std::string receiver;
  std::string type;
  uint32_t schema_version = 1;
  std::string payload;
  std::string metadata;
  int64_t sent_ns = 0;     // the store's clock when it was committed
  std::string reply_type;  // as OutgoingMessage::reply_type
};

// A message the appending stream takes: its place and its id, as the
// outbox gave them.
struct TakenMessage {
  MessageKey key;
  DeliveryId id;
  // Set when the stream takes the message by refusing it, with the reason.
  // If its sender asked for refusals back (reply_type), the commit also
  // starts a timer of the sender, due at once, under RefusalTimerKey(id)
  // with the message's id, whose command is the Refusal (kRefusalType):
  // the refusal reaches the sender once, by the timers' rules, or not at
  // all if this commit fails. Otherwise it is ignored.
  bool refused = false;
  std::string reason = {};
};

// The command a sender gets back when a receiver refuses its message.
inline constexpr std::string_view kRefusalType = "memoir.Refused";
struct Refusal {
  std::string receiver_type;  // who refused it
  std::string receiver;
  std::string reason;  // the receiver's rejection
  DeliveryId id;       // the message's: its sender is the one told
  // The refused command as it was sent (Target::CommandCodec's encoding).
  std::string command_type;
  uint32_t command_version = 1;
  std::string command_payload;
  // The refused command, decoded by Target's CommandCodec (it throws what
  // the codec throws).
  template <typename Target>
  typename Target::Command Command() const {
    return Target::CommandCodec::Decode(command_type, command_version,
                                        command_payload);
  }
};
// A Refusal as the payload of a kRefusalType command (version 1), and
// back. DecodeRefusal's error: kCorruption when `payload` is not one.
MEMOIR_EXPORT std::string EncodeRefusal(const Refusal& refusal);
MEMOIR_EXPORT Result<Refusal> DecodeRefusal(std::string_view payload);
// The timer key a refusal comes back under: "$refused-<seq>-<n>" of the
// message's id. Keys starting with '$' are memoir's: TimerChange refuses
// them.
MEMOIR_EXPORT std::string RefusalTimerKey(const DeliveryId& id);

// A message taken out of the outbox by hand (MessageStore::Drop), because
// no retry will deliver it: kept as an event of kDeadLetterStream, of type
// kDeadLetterType, whose payload is EncodeDeadLetter's.
inline constexpr std::string_view kDeadLetterStream = "$dead-letters";
inline constexpr std::string_view kDeadLetterType = "memoir.DeadLetter";
struct DeadLetter {
  StoredMessage message;  // as it waited
  std::string reason;     // why it was dropped (at most 4096 bytes kept)
};
// DecodeDeadLetter's error: kCorruption when `payload` is not one.
MEMOIR_EXPORT std::string EncodeDeadLetter(const DeadLetter& letter);
MEMOIR_EXPORT Result<DeadLetter> DecodeDeadLetter(std::string_view payload);

// A durable timer: a command a stream (an actor) sends itself at a time.
// It is kept under (its stream, its key): starting a timer under a key
// that has one replaces it, and cancelling removes it. Its id is the seq
// of the event it was started with and its place among that event's
// timers, so a replaced timer that fires late is told apart from the new
// one.
struct TimerChange {
  // Names the timer within its stream: ValidateStreamName's rules, and
  // not starting with '$' (memoir's own, as RefusalTimerKey).
  std::string key;
  bool cancel = false;        // remove the timer (nothing else below is read)
  std::string receiver_type;  // the stream's actor type
  EventData command;          // as OutgoingMessage::command
  // When it is due, on the store's clock (Unix ns); when 0, the commit's
  // time plus after_ns.
  int64_t at_ns = 0;
  int64_t after_ns = 0;
  // The event it is started with, as OutgoingMessage::with_event.
  size_t with_event = std::numeric_limits<size_t>::max();
};

// A timer waiting to fire.
struct StoredTimer {
  std::string stream;  // whose it is, and who it fires at
  std::string key;
  DeliveryId id;  // sender == stream
  int64_t due_ns = 0;
  std::string receiver_type;
  std::string type;
  uint32_t schema_version = 1;
  std::string payload;
  std::string metadata;
  int64_t set_ns = 0;  // the store's clock when it was committed
};

// A timer the stream fires: it takes the timer, as a message is taken.
struct FiredTimer {
  std::string key;
  DeliveryId id;
};

// One transaction: append.events (there may be none), every message in
// `send` (they need at least one event to go with), every message in
// `take` taken by append.stream, every timer in `fire` taken by it, and
// then its timer changes in order (they need events too). append.expected
// holds also when there are no events.
struct MessageCommit {
  StreamAppend append;
  std::vector<OutgoingMessage> send;
  std::vector<TakenMessage> take;
  std::vector<FiredTimer> fire;
  std::vector<TimerChange> timers;
};

struct MessageCommitResult {
  AppendResult append;  // all zero when the commit appended no events
  // As stored, in the order of `send`. Empty when the events were stored
  // already (an idempotent retry: their ids repeat an earlier append),
  // which writes nothing: the messages were sent with them then.
  std::vector<StoredMessage> sent;
  // The timers this commit left pending, as stored, and the keys of those
  // it cancelled (that were pending before, or started by it); a key in
  // both was cancelled, then started again. Empty for a repeat.
  std::vector<StoredTimer> timers_started;
  std::vector<std::string> timers_cancelled;
  // The refusals this commit sent back (TakenMessage::refused), as the
  // timers of their senders, in the order of `take`.
  std::vector<StoredTimer> refusals;
};

// The limits of one message.
inline constexpr size_t kMaxMessageTypeBytes = 255;  // receiver_type
inline constexpr size_t kMaxMessagesPerCommit = 10'000;

class MEMOIR_EXPORT MessageStore {
 public:
  using CommitCallback = std::function<void(Result<MessageCommitResult>)>;
  virtual ~MessageStore() = default;

  // Commits `commit` as one transaction, or writes nothing and answers
  // why. `done` runs once, on the writer's thread (or on the caller's when
  // the commit is refused before it is queued); keep it short. Errors,
  // none of which writes anything:
  //  - those of Journal::Append for the append (kConflict, kStreamDeleted,
  //    kInvalidArgument, kStorageFull, kClosed, ...);
  //  - kInvalidArgument: messages to send without events, a with_event
  //    past the events, an empty or oversized receiver or receiver type,
  //    an invalid stream name, more than kMaxMessagesPerCommit messages, a
  //    read-only store;
  //  - kNotFound: a message to take is not waiting in the outbox (taken
  //    already, or never sent), or is there for another receiver or with
  //    another id;
  //  - kConflict: a message to take is not above the last one the
  //    receiver took from its sender (taken out of order);
  //  - kNotFound: a timer to fire is not pending with that id (fired,
  //    cancelled or replaced already);
  //  - kInvalidArgument: timer changes without events, a bad timer key
  //    (one starting with '$' included), an oversized reply_type;
  //  - kCorruption: a damaged outbox or inbox record on the way, named.
  virtual void Commit(MessageCommit commit, CommitCallback done) = 0;
  // Commit, waiting for the outcome.
  Result<MessageCommitResult> Commit(MessageCommit commit);

  // Takes the message waiting at `key` out of the outbox without
  // delivering it, for one that no retry will deliver (its receiver was
  // destroyed, its type is gone, its command cannot be decoded): in one
  // transaction the entry leaves the outbox and becomes an event of
  // kDeadLetterStream (a DeadLetter holding it and `reason`). The
  // receiver's inbox is unchanged, so the next message of the same sender
  // and receiver goes next. Returns the dead letter's append. Errors:
  // kNotFound when nothing waits at `key` (taken meanwhile: then nothing
  // is written); kCorruption for a damaged record; kInvalidArgument when
  // the dead letter (the message with its names, metadata and the reason)
  // would exceed the journal's payload limit, or in a read-only store;
  // those of
  // Journal::Append. While an ActorSystem runs on the store, drop through
  // ActorSystem::DropMessage instead: its dispatcher would otherwise keep
  // offering the message, and its receiver's takes would fail.
  virtual Result<AppendResult> Drop(MessageKey key,
                                    std::string_view reason) = 0;

  // Up to `max` messages waiting in the outbox after `after`, in order.
  // Errors: kCorruption for a damaged record (naming its key), those of
  // every read.
  virtual Result<std::vector<StoredMessage>> Waiting(MessageKey after,
                                                     size_t max) = 0;
  // The last delivery `receiver` took from `sender`: seq 0 when none.
  // Errors: kCorruption for a damaged record, those of every read.
  virtual Result<DeliveryId> LastTaken(std::string_view receiver,
                                       std::string_view sender) = 0;

  // Up to `max` pending timers after (stream, key), in (stream, key)
  // order; ("", "") for the first. Errors as Waiting; with `damaged`, a
  // damaged record is skipped and counted there instead (so that the
  // others still fire).
  virtual Result<std::vector<StoredTimer>> Timers(std::string_view stream,
                                                  std::string_view key,
                                                  size_t max,
                                                  size_t* damaged) = 0;
  Result<std::vector<StoredTimer>> Timers(std::string_view stream,
                                          std::string_view key, size_t max) {
    return Timers(stream, key, max, nullptr);
  }
  // The pending timer `key` of `stream`, if any. Errors as Waiting.
  virtual Result<std::optional<StoredTimer>> FindTimer(
      std::string_view stream, std::string_view key) = 0;
  // Removes every pending timer of `stream` in one transaction, for an
  // actor that is destroyed (its stream deleted), whose timers could never
  // fire; returns their keys. Errors: kInvalidArgument in a read-only
  // store; those of every write.
  virtual Result<std::vector<std::string>> DropTimers(
      std::string_view stream) = 0;
  // The store's clock (StoreOptions::clock), which timers are due on.
  virtual int64_t NowNanos() = 0;
};

// The messages kept in `store` itself (its `outbox` and `inbox` tables).
// Must not outlive the store. Errors: kInvalidArgument when `store` was
// not opened by Store::Open.
MEMOIR_EXPORT Result<std::unique_ptr<MessageStore>> InStoreMessages(
    Store& store);

}  // namespace memoir

#endif  // MEMOIR_MESSAGE_STORE_H_
