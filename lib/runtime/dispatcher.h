// Dispatcher: hands the durable messages waiting in the outbox to their
// receivers (Effect::Send, memoir/message_store.h).
//
// Per (sender, receiver) pair, one message is in the receiver's hands at a
// time, and the next follows only once the first is taken: its take
// committed with the receiver's events, or its refusal. That keeps each
// pair's order, which the inbox enforces: a message taken behind a later
// one of its sender would be refused. A message that could not be handled
// (a quarantined or failing receiver, a type not registered yet, a full
// mailbox) stays first in its pair and is tried again after a backoff, or
// at once on Wake (Register, Release). One refused with kInvalidArgument or
// kStreamDeleted (a destroyed receiver, an id running as another type, a
// command it cannot decode) waits for a Wake only, not retried in a loop.
//
// Thread safety: every method may be called from any thread. No lock is
// held while `deliver` runs.
#ifndef MEMOIR_RUNTIME_DISPATCHER_H_
#define MEMOIR_RUNTIME_DISPATCHER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "memoir/message_store.h"
#include "memoir/status.h"

namespace memoir::internal {

struct DispatchCounters {
  uint64_t added = 0;          // messages given by Add (each once)
  uint64_t delivered = 0;      // taken by their receivers (refusals included)
  uint64_t duplicates = 0;     // found taken already
  uint64_t retries = 0;        // deliveries tried again after a failure
  uint64_t waiting = 0;        // known and not taken yet
  uint64_t stuck = 0;          // first in a pair, refused for good until a Wake
  uint64_t dropped = 0;        // forgotten after MessageStore::Drop
  int64_t oldest_sent_ns = 0;  // of the oldest first-in-pair (0: none)
};

class Dispatcher {
 public:
  using Done = std::function<void(const Status&, bool taken_already)>;
  // Hands `message` to its receiver; `done` must then run exactly once,
  // with OK once the take committed, kRejected when the receiver refused
  // it (taken too), `taken_already` when the receiver had taken it before,
  // or why it was not handled (then it is tried again).
  using Deliver = std::function<void(const StoredMessage& message, Done done)>;
  // Runs `task` on the runtime, now or after `delay`.
  using Later = std::function<void(std::chrono::milliseconds delay,
                                   std::function<void()>)>;

  Dispatcher(Deliver deliver, Later later)
      : deliver_(std::move(deliver)), later_(std::move(later)) {}

  // Messages to deliver (from the outbox or from a commit); ones already
  // known are ignored. Delivers what can go.
  void Add(std::vector<StoredMessage> messages);
  // Tries again at once every pair waiting after a failure.
  void Wake();
  // Forgets the message at `key` (dropped from the outbox): the next of its
  // pair goes next. If it is in its receiver's hands, that delivery's
  // outcome no longer counts.
  void Forget(MessageKey key);
  // Delivers nothing more; outcomes still arriving are recorded.
  void Stop();
  DispatchCounters Counters() const;

 private:
  struct Pair {
    std::map<MessageKey, StoredMessage> queue;  // outbox order
    bool in_flight = false;
    bool waiting = false;  // the first failed; tried again later
    // ... and cannot succeed as things are (the receiver was destroyed, is
    // of another type, cannot decode it): tried again only on Wake.
    bool stuck = false;
    std::chrono::milliseconds backoff{0};
  };
  void Pump();
  void Finished(const std::string& pair, MessageKey key, const Status& s,
                bool taken_already);
  void Retry(const std::string& pair);
  // Queues a Pump unless one is queued. REQUIRES: mu_ held.
  void PumpLaterLocked();

  const Deliver deliver_;
  const Later later_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Pair> pairs_;  // sender \0 receiver
  std::set<std::string> ready_;  // a first message to hand over now
  bool pump_queued_ = false;
  bool stopped_ = false;
  DispatchCounters counters_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_DISPATCHER_H_
