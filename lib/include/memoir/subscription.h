// Subscription: a named consumer of the journal's global log. It catches up
// from where it left off (or from the origin, the head or a position), then
// follows new commits as they become visible, with no seam between the
// two, and hands matching events to a handler in batches, in commit order.
//
//   memoir::SubscriptionOptions options;
//   options.name = "balances";
//   options.filter.stream_prefixes = {"account-"};
//   options.checkpoints = checkpoints.get();  // memoir::InStoreCheckpoints
//   auto sub = memoir::Subscription::Start(
//       *store, options, [&](const memoir::Batch& batch) {
//         for (const memoir::EventView& e : batch.events) Apply(e);
//         return memoir::Status::OK();
//       });
//
// Progress. A batch carries `scanned_to`: every position up to it was
// examined, matching or not, so a sparse filter and deleted events still
// advance it. The subscription saves it to `checkpoints` every
// `checkpoint_every_events` events or `checkpoint_every`, when it catches
// up, and on Stop, and starts after the saved position next time. Delivery
// is at least once: after a crash the events since the last save come
// again. For exactly once into your own database, leave `checkpoints` null,
// store `batch.scanned_to` in the same transaction as the batch's effects,
// and pass it back as StartAt::After when you start.
//
// Flow. The subscription is pull-based: it reads the next batch only after
// the handler returned, in a short read transaction, so a slow handler
// costs one batch of memory and never blocks the writer (its lag shows in
// Stats). A commit wakes it at once, in the owning process and in a
// read-only one (Journal::WaitForCommit). It also re-reads the log every
// `safety_poll` whatever it heard.
//
// Failures. A handler fails by returning a non-OK Status or by throwing.
// A failed batch of several events is delivered again one event at a
// time, so that the failure is pinned to one event; that event is retried
// `on_failure.retries` times with exponential backoff, and then, by
// `on_failure.then`, the subscription stops (Stats().cause names the
// subscription, the position, the stream, the seq and the error) or skips
// the event (counted in Stats().skipped). Events before the failing one
// may be delivered twice. A journal error (a damaged record, a closed
// store) stops the subscription with that error.
//
// Thread safety: the handler runs on the subscription's own thread, one
// batch at a time. Stop, WaitFor and Stats may be called from any thread
// but the handler's.
#ifndef MEMOIR_SUBSCRIPTION_H_
#define MEMOIR_SUBSCRIPTION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/checkpoint_store.h"
#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// Which events a subscription delivers. Each non-empty list must match
// (any of its entries); empty lists match everything.
struct MEMOIR_EXPORT EventFilter {
  std::vector<std::string> tags;             // carries one of these tags
  std::vector<std::string> types;            // has one of these types
  std::vector<std::string> stream_prefixes;  // stream starts with one
  // k-of-N consumers: only streams with StreamPartition(stream, partitions)
  // == partition. Every event of a stream goes to the same partition.
  uint32_t partitions = 1;
  uint32_t partition = 0;

  bool Matches(const EventView& event) const;
};

// `lag_events` behind an event committed at `examined_ns` (system clock,
// EventView::timestamp_ns): how many seconds ago that was, 0 when caught
// up (lag_events == 0) or unknown (examined_ns == 0).
MEMOIR_EXPORT double LagSeconds(uint64_t lag_events, int64_t examined_ns);

// The partition (0 .. partitions-1) of `stream`: a hash of its name, the
// same in every process and every version of memoir.
MEMOIR_EXPORT uint32_t StreamPartition(std::string_view stream,
                                       uint32_t partitions);

// Where a subscription starts when no checkpoint is stored.
class StartAt {
 public:
  static StartAt Origin() { return StartAt(Kind::kAfter, 0); }
  // After the newest event committed when the subscription starts.
  static StartAt Head() { return StartAt(Kind::kHead, 0); }
  // After global position `position`.
  static StartAt After(uint64_t position) {
    return StartAt(Kind::kAfter, position);
  }

  bool head() const { return kind_ == Kind::kHead; }
  uint64_t position() const { return position_; }

 private:
  enum class Kind { kAfter, kHead };
  StartAt(Kind kind, uint64_t position) : kind_(kind), position_(position) {}
  Kind kind_;
  uint64_t position_;
};

// One slice of the log, in commit order. The views are valid only during
// the handler's call.
struct Batch {
  std::span<const EventView> events;  // the matching events; never empty
  uint64_t scanned_to = 0;            // every position up to here was examined
  bool live = false;                  // the slice reached what was committed
  // A parked event delivered again by RetryParked (one per batch); its
  // position is below scanned_to.
  bool parked_retry = false;
};

enum class OnFailure {
  kStop,  // stop the subscription; Stats().cause says where and why
  kSkip,  // skip the event and go on (counted)
  // Set the event aside in the checkpoint store and go on; RetryParked
  // delivers it again after a fix.
  kParkEvent,
  // As kParkEvent, and park every later event of its stream too, until
  // RetryParked has delivered them all in order (per-stream order holds).
  kParkStream,
};

struct FailurePolicy {
  int retries = 3;  // attempts after the first failure of one event
  std::chrono::milliseconds backoff_initial{100};  // doubled per retry
  std::chrono::milliseconds backoff_max{30'000};
  OnFailure then = OnFailure::kStop;
};

struct SubscriptionOptions {
  // Names the checkpoint; required (ValidateStreamName's rules).
  std::string name;
  EventFilter filter;
  StartAt start = StartAt::Origin();  // when no checkpoint is stored
  // Where progress is kept; null: the caller keeps it (see above). Must
  // outlive the subscription.
  CheckpointStore* checkpoints = nullptr;
  size_t max_batch = 1000;  // log positions examined per batch (>= 1)
  size_t checkpoint_every_events = 1000;
  std::chrono::milliseconds checkpoint_every{500};
  std::chrono::milliseconds safety_poll{100};
  FailurePolicy on_failure;
  // Handler threads (1 to 64). With more than one, each slice's events are
  // split by stream (StreamPartition(stream, workers)): the handler runs on
  // several threads at once, each stream's events stay in order on one of
  // them, and the checkpoint passes a slice only when every worker has
  // finished its share. A batch then holds one worker's share, and its
  // scanned_to is the position of its last event, not the subscription's
  // progress: keep exactly-once bookkeeping to workers == 1.
  size_t workers = 1;
  // Opt-in, for a handler that never blocks: with one worker, a batch's
  // events are views into the store's read snapshot, which stays open
  // while the handler runs, so nothing is copied (catch-up runs about a
  // tenth faster). While it is open, pages freed by later writes are not
  // reused, and the map cannot grow: a writer that needs a larger map
  // waits for it, and after 2 s its commits fail with kBusy. So the
  // handler must not wait for anything (a commit, a lock, the network).
  // By default each batch is copied out of the read first. Retries,
  // parked events and workers > 1 always copy.
  bool zero_copy = false;
};

struct SubscriptionStats {
  enum class State { kCatchingUp, kLive, kRetrying, kStopped };
  State state = State::kCatchingUp;
  uint64_t scanned_to = 0;  // every position up to here was handled
  uint64_t checkpoint = 0;  // the position last saved (or loaded)
  uint64_t head = 0;        // the newest position seen committed
  uint64_t lag_events = 0;  // head - scanned_to
  // While behind: how long ago the last event examined was committed (the
  // age of what the consumer has seen); 0 when caught up or before it has
  // examined an event. See LagSeconds.
  double lag_seconds = 0;
  uint64_t delivered = 0;  // events handed to the handler (with repeats)
  uint64_t batches = 0;
  uint64_t retries = 0;
  uint64_t skipped = 0;
  uint64_t parked = 0;  // events parked now
  // Positions passed since Start whose events had been deleted
  // (Journal::DeleteTo, DeleteStream): history this consumer never saw,
  // so a model rebuilt over it lacks those events (`memoir streams STORE`
  // shows which streams have deleted events, and up to which seq).
  uint64_t gone = 0;
  Status cause;  // why it stopped (kStopped after a failure)
};

class MEMOIR_EXPORT Subscription {
 public:
  using Handler = std::function<Status(const Batch& batch)>;

  // Starts a subscription on its own thread. `store` (and
  // options.checkpoints) must outlive it. Errors: kInvalidArgument for an
  // empty or malformed name, max_batch 0, partition >= partitions, or a
  // null handler; the errors of loading the checkpoint or reading the head.
  static Result<std::unique_ptr<Subscription>> Start(
      Store& store, SubscriptionOptions options, Handler handler);

  // Stops (as Stop) if still running.
  virtual ~Subscription() = default;

  // Lets the handler finish its batch, stops, and saves the checkpoint.
  // Returns the error of that save, if any. Idempotent.
  virtual Status Stop() = 0;

  // Waits until every event up to `position` was handled (scanned_to >=
  // position), for read-your-writes: append, then WaitFor the append's
  // last_position. Errors: kTimeout when `timeout` passes first; the cause
  // when the subscription stopped on a failure; kClosed after Stop.
  virtual Status WaitFor(uint64_t position,
                         std::chrono::milliseconds timeout) = 0;

  virtual SubscriptionStats Stats() const = 0;

  // Delivers the parked events again, one at a time in position order, on
  // the subscription's thread between batches; each one the handler takes
  // is unparked. A stream whose event fails again keeps it and its later
  // events parked. Errors: kFailed saying how many failed again and the
  // first error; kClosed after Stop or a failure; those of the checkpoint
  // store.
  virtual Status RetryParked() = 0;
};

}  // namespace memoir

#endif  // MEMOIR_SUBSCRIPTION_H_
