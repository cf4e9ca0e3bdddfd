// Projection: a read model kept inside the store, exactly in step with the
// journal. It follows the global log like a Subscription and applies each
// matching event to its tables; each batch's changes and the projection's
// checkpoint commit in one transaction, so after any crash the tables hold
// exactly the events up to the checkpoint: none twice, none missing.
//
//   memoir::ProjectionOptions options;
//   options.name = "balances";
//   options.tables = {"by_account"};
//   options.filter.types = {"Deposited"};
//   auto projection = memoir::Projection::Start(
//       *store, options, [](memoir::ReadModel& model, const memoir::EventView&
//       e) {
//         auto old = model.Get("by_account", e.stream);
//         if (!old.ok()) return old.status();
//         int64_t cents = (*old ? std::stoll(**old) : 0) + Amount(e);
//         return model.Put("by_account", e.stream, std::to_string(cents));
//       });
//
// Any process reads the tables, the owner's or a read-only one, through
// InStoreProjections (memoir/projection_store.h), which shows the active
// version in one read transaction.
//
// Writer. An async projection (the default) runs on its own thread in the
// process that owns the store: it reads a batch after its checkpoint, applies
// it against a snapshot of its tables plus the batch's own writes (a Get sees
// an earlier Put of the same batch), and submits the writes with the new
// checkpoint as one operation of the group commit. The writer thread only
// copies bytes, so a slow projection lags (see Stats) but never slows appends,
// and a failing one never fails them.
//
// Versions. Bump `version` when apply changes: the new version is built
// from the origin in its own rows while the old one stays readable, and
// becomes the active one, in the same transaction as its first batch that
// reaches the head, so readers switch from a complete old model to a
// complete new one. The old version's rows are then removed in steps.
// Starting an older version than the store's active one is refused.
//
// Inline. With mode kInline, the projection catches up as above, then
// attaches itself to the store's write transactions: each commit that
// appends events applies them (in a nested transaction, with the new
// checkpoint) before it commits, so appends, rows and checkpoint are one
// transaction, and WaitFor is rarely needed. It costs every commit the
// time apply takes, on the writer thread: keep apply cheap (counters,
// indexes), and never call the store from it (the writer would wait for
// itself). If apply fails or throws there, only the nested transaction is
// dropped: the events commit, the projection detaches and handles them on
// its own thread with `on_failure` as in async mode, then attaches again.
// (A full map is the exception: it fails the whole commit, which the store
// grows the map for and retries.) With OnFailure::kParkStream it stays on
// its own thread while any stream is parked.
//
// Failures. An apply that returns an error or throws fails its batch: the
// batch's writes are dropped and the events are applied again one at a
// time, with `on_failure`'s retries and backoff, then stop or skip, as a
// Subscription's handler (see memoir/subscription.h).
//
// Thread safety: apply runs on the projection's thread (or, attached
// inline, on the store's writer thread), one event at a time. The methods
// may be called from any thread but apply's.
#ifndef MEMOIR_PROJECTION_H_
#define MEMOIR_PROJECTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/checkpoint_store.h"
#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/projection_store.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"
#include "memoir/subscription.h"

namespace memoir {

// A projection's tables while it applies one batch.
class MEMOIR_EXPORT ReadModel {
 public:
  virtual ~ReadModel() = default;
  // The value of `key` in `table`, counting this batch's writes; nullopt
  // when absent. Errors: kInvalidArgument for a table the projection did
  // not declare; those of every read.
  virtual Result<std::optional<std::string>> Get(std::string_view table,
                                                 std::string_view key) = 0;
  // Sets or deletes `key` in `table` when the batch commits. Errors:
  // kInvalidArgument for a table the projection did not declare.
  virtual Status Put(std::string_view table, std::string_view key,
                     std::string_view value) = 0;
  virtual Status Delete(std::string_view table, std::string_view key) = 0;
};

struct ProjectionOptions {
  // Names the projection; required (ValidateStreamName's rules).
  std::string name;
  uint32_t version = 1;             // >= 1; see "Versions" above
  std::vector<std::string> tables;  // the tables apply may write
  EventFilter filter;
  size_t max_batch = 1000;  // log positions examined per batch (>= 1)
  std::chrono::milliseconds safety_poll{100};
  // While live, the projection commits at most this often, so that one
  // commit carries the events of many appends: its random writes to its
  // tables then cost durable appends little (memoir-bench --scenario
  // projection). The tables trail the journal by up to this much more.
  // 0: commit every batch at once. Catching up never waits.
  std::chrono::milliseconds commit_interval{10};
  FailurePolicy on_failure;
  // kAsync: apply runs on the projection's thread and its writes commit
  // as their own group-commit operations (see "Writer" above).
  // kInline: once caught up, apply runs on the writer thread, inside each
  // transaction that appends events, so the tables change in the same
  // commit as the journal: an append's caller reads its own events in the
  // model as soon as the append returns. See "Inline" above.
  enum class Mode { kAsync, kInline };
  Mode mode = Mode::kAsync;
  // kInline: the most events one commit may bring; a commit with more
  // detaches the projection, which catches up on its own thread and
  // attaches again.
  size_t inline_max_events = 10'000;
};

struct ProjectionStats {
  SubscriptionStats::State state = SubscriptionStats::State::kCatchingUp;
  uint32_t version = 0;
  bool active = false;  // readers see this version
  bool paused = false;
  uint64_t checkpoint = 0;  // the tables hold every event up to here
  uint64_t head = 0;        // the newest position seen committed
  uint64_t lag_events = 0;  // head - checkpoint
  double lag_seconds = 0;   // as SubscriptionStats::lag_seconds
  uint64_t applied = 0;     // events applied (with repeats after failures)
  uint64_t commits = 0;     // batches committed
  uint64_t retries = 0;
  uint64_t skipped = 0;
  uint64_t parked = 0;
  uint64_t gone = 0;  // as SubscriptionStats::gone
  Status cause;       // why it stopped (kStopped after a failure)
  // kInline: whether the writer applies it now, how often it detached
  // itself (a failing apply, a commit over inline_max_events), and why it
  // last did.
  bool attached = false;
  uint64_t detaches = 0;
  Status detached_because;
};

class MEMOIR_EXPORT Projection {
 public:
  using Apply = std::function<Status(ReadModel& model, const EventView& e)>;

  // Starts the projection on its own thread, resuming at its checkpoint.
  // `store` must outlive it. Errors: kInvalidArgument for a bad name or
  // table name, version 0, no tables, max_batch 0, a bad partition, a null
  // apply, a read-only store, a version older than the store's active one
  // or one already replaced, kInline with inline_max_events 0; kBusy when
  // this process already runs it;
  // the errors of reading its record.
  static Result<std::unique_ptr<Projection>> Start(Store& store,
                                                   ProjectionOptions options,
                                                   Apply apply);

  // Stops (as Stop) if still running.
  virtual ~Projection() = default;

  // Lets apply finish its batch, commits what was applied and stops.
  // Idempotent.
  virtual Status Stop() = 0;

  // Stops applying events until Resume; the tables stay as they are.
  virtual Status Pause() = 0;
  virtual Status Resume() = 0;

  // Empties this version's tables and sets its checkpoint to 0, in one
  // transaction, then rebuilds from the origin (the version stays active
  // if it was: readers see it rebuild; to rebuild out of their sight, bump
  // the version instead).
  virtual Status Reset() = 0;

  // Moves the checkpoint by hand, keeping the tables (to skip events, or to
  // apply some again), then goes on from there.
  virtual Status SetCheckpoint(uint64_t position) = 0;

  // Waits until the tables hold every event up to `position`, for
  // read-your-writes: append, then WaitFor the append's last_position.
  // Errors: kTimeout; the cause when the projection stopped on a failure;
  // kClosed when stopped or paused.
  virtual Status WaitFor(uint64_t position,
                         std::chrono::milliseconds timeout) = 0;

  // Mode kInline: waits until the writer applies the events (the projection
  // caught up and attached), so that from then on an append's events are in
  // the tables when the append returns, until something detaches it (see
  // Stats().detached_because). Errors: kTimeout, carrying why it is not
  // attached; the cause when the projection stopped on a failure; kClosed
  // when stopped or paused (also during a Reset, SetCheckpoint or Resume
  // on another thread); kInvalidArgument in mode kAsync.
  virtual Status WaitAttached(std::chrono::milliseconds timeout) = 0;

  virtual ProjectionStats Stats() const = 0;

  // As Subscription::RetryParked: each parked event the projection now
  // applies is committed and unparked in one transaction.
  virtual Status RetryParked() = 0;
  // The events this projection has parked, in position order.
  virtual Result<std::vector<ParkedEvent>> Parked() = 0;
};

}  // namespace memoir

#endif  // MEMOIR_PROJECTION_H_
