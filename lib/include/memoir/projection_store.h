// Where projections keep their read models: named tables of key -> value
// inside the store, with a checkpoint per projection version, written
// through the store's group commit. A Projection (memoir/projection.h)
// writes them; any process reads them through its own read transaction.
//
//   auto tables = memoir::InStoreProjections(*store).value();
//   auto view = tables->Read("balances").value();   // the active version
//   auto cents = view->Get("by_account", "account-7").value();
//
// Layout. A projection `name` has one or more versions. Each version has
// its own rows (table, key) -> value and its own checkpoint: "every event
// up to this position is in the rows". One version is active: the one
// Read shows. Activating a version retires the others; Sweep then removes
// their rows in bounded steps.
//
// Atomicity. Commit writes a batch of rows and the version's new
// checkpoint in one transaction, and only if the stored checkpoint is still
// the one the caller expected, so a model and its checkpoint never
// disagree, and a second runner of the same version cannot apply an event
// twice.
//
// Limits. A row's key, with the projection and table names and 6 bytes
// of framing, must fit in 511 bytes (LMDB's key limit); values may be up
// to the journal's event size limit. Reset deletes a version's rows in one
// transaction, so it suits models up to a few million rows.
//
// Thread safety: every method may be called from any thread. A snapshot
// is for one thread at a time and holds a read transaction: keep it short,
// as a long one keeps the pages it sees from being reused.
#ifndef MEMOIR_PROJECTION_STORE_H_
#define MEMOIR_PROJECTION_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// One change to a table: a put, or a delete when `value` is nullopt.
struct ProjectionWrite {
  std::string table;
  std::string key;
  std::optional<std::string> value;
};

struct ProjectionVersion {
  std::string name;
  uint32_t version = 0;
  uint64_t checkpoint = 0;  // every event up to here is in the rows
  int64_t saved_ns = 0;     // when the checkpoint was written (store clock)
  bool active = false;      // the version Read shows
  bool retired = false;     // replaced by a newer active version
};

// One version of a projection as of one read transaction: its rows and
// its checkpoint agree.
class MEMOIR_EXPORT ProjectionSnapshot {
 public:
  virtual ~ProjectionSnapshot() = default;
  virtual const ProjectionVersion& version() const = 0;
  // The value of `key` in `table`; nullopt when absent.
  virtual Result<std::optional<std::string>> Get(std::string_view table,
                                                 std::string_view key) = 0;
  // Visits the rows of `table` from key `from` on, in key order (bytewise),
  // until `visit` returns false.
  using RowVisitor =
      std::function<bool(std::string_view key, std::string_view value)>;
  virtual Status Scan(std::string_view table, std::string_view from,
                      const RowVisitor& visit) = 0;
};

class ReadModel;  // memoir/projection.h

// A projection applied inside the store's own write transactions: each
// commit that appends events also applies them to the projection's rows
// and moves its checkpoint, in a nested transaction, so that the read
// model is exactly as fresh as the journal. Projection::Start sets this up
// for ProjectionOptions::mode kInline; few users call AttachInline
// themselves.
struct InlineProjection {
  std::string name;
  uint32_t version = 1;
  std::vector<std::string> tables;  // the tables apply may write
  // Which events apply sees (null: all); the others only pass the
  // checkpoint.
  std::function<bool(const EventView& e)> matches;
  std::function<Status(ReadModel& model, const EventView& e)> apply;
  // The most events one commit may bring it; beyond, it detaches (a
  // catch-up is work for another thread, not for the writer).
  uint64_t max_events = 10'000;
  // Called on the writer thread after each commit that moved the
  // checkpoint: the new checkpoint and how many events apply received.
  std::function<void(uint64_t checkpoint, uint64_t applied)> committed;
  // Called on the writer thread, once, after the transaction in which the
  // projection detached itself: `why` (apply failed or threw, too many
  // events, a write over the limits, the record moved by someone else)
  // and the checkpoint its rows hold. The events of that transaction were
  // committed (or not) as if it had not been attached.
  std::function<void(const Status& why, uint64_t checkpoint)> detached;
};

// An inline projection while attached.
class MEMOIR_EXPORT InlineAttachment {
 public:
  // Detaches.
  virtual ~InlineAttachment() = default;
  // Detaches, waiting for a commit that is applying it to end, and returns
  // the checkpoint its rows held when it was last attached (if it had
  // detached itself, someone else may have moved them on since). No
  // callback runs after it returns. Idempotent. Must not be called from
  // apply or a callback.
  virtual uint64_t Detach() = 0;
};

class MEMOIR_EXPORT ProjectionStore {
 public:
  virtual ~ProjectionStore() = default;

  // Every version of every projection, by name then version.
  virtual Result<std::vector<ProjectionVersion>> List() = 0;

  // The active version of `name`. Errors: kNotFound when `name` has no
  // active version yet (none registered, or its first version is still
  // catching up: the message says which); kCorruption for a damaged record.
  virtual Result<std::unique_ptr<ProjectionSnapshot>> Read(
      std::string_view name) = 0;
  // A given version, active or not. Errors: kNotFound when it has no
  // record.
  virtual Result<std::unique_ptr<ProjectionSnapshot>> ReadVersion(
      std::string_view name, uint32_t version) = 0;

  // In one transaction: applies `writes` in order and sets the version's
  // checkpoint to `checkpoint`, creating the version when it has no record
  // and `expected` is 0. With `activate`, the version becomes the active
  // one and every other version of `name` is retired. The events at
  // `unpark` are removed from the version's parked events (kept under
  // ProjectionParkingName) in the same transaction. Errors: kConflict
  // when the stored checkpoint is not `expected` (nothing written);
  // kInvalidArgument for a bad name, a zero version, a key over the limit,
  // a retired version, a read-only store; those of every write.
  virtual Status Commit(std::string_view name, uint32_t version,
                        uint64_t expected, uint64_t checkpoint,
                        std::span<const ProjectionWrite> writes, bool activate,
                        std::span<const uint64_t> unpark = {}) = 0;

  // In one transaction: deletes every row of the version and sets its
  // checkpoint to 0 (it stays active if it was). Errors: kNotFound when it
  // has no record; those of Commit.
  virtual Status Reset(std::string_view name, uint32_t version) = 0;

  // Sets the version's checkpoint by hand, keeping its rows (to skip
  // events, or to go back and apply some again). Errors: as Reset.
  virtual Status SetCheckpoint(std::string_view name, uint32_t version,
                               uint64_t position) = 0;

  // Removes up to `limit` rows of the retired versions of `name`, and the
  // record of a retired version once its rows are gone. Returns how many
  // rows and records it removed: 0 when nothing is left.
  virtual Result<size_t> Sweep(std::string_view name, size_t limit) = 0;

  // Whether AttachInline can work: the store's own tables, open for
  // writing.
  virtual bool SupportsInline() const { return false; }
  // Attaches `projection`, whose rows hold every event up to `checkpoint`
  // (its record must say so), to every later write transaction. A commit
  // applies the events from the checkpoint to its own last one; when the
  // log is already ahead of `checkpoint`, AttachInline makes a commit to
  // apply them before it returns. If apply fails or throws, the projection
  // detaches itself: the events still commit, without it (see
  // InlineProjection::detached). One failure is not contained: a full map
  // fails the whole commit, which the store then grows and retries, so
  // appends fail only if growing fails. Errors: kInvalidArgument when
  // SupportsInline is false or the projection is malformed (no apply, no
  // tables, max_events 0); kBusy when this version is attached already;
  // those of that commit.
  virtual Result<std::unique_ptr<InlineAttachment>> AttachInline(
      InlineProjection projection, uint64_t checkpoint) {
    (void)projection;
    (void)checkpoint;
    return Status::InvalidArgument(
        "this projection store cannot run inline projections");
  }
};

// The consumer name under which a projection version's parked events are
// kept with the store's checkpoints: "NAME@vVERSION" (`memoir parked STORE
// balances@v1`). Each version parks its own: a new version rebuilds from
// the origin and must not retry what an old one parked. Sweeping a retired
// version removes them.
MEMOIR_EXPORT std::string ProjectionParkingName(std::string_view name,
                                                uint32_t version);

// The projection tables kept in `store` (its `projections` and
// `projection_rows` databases). The result refers to `store` and must not
// outlive it. In a read-only store the reads work and the writes fail with
// kInvalidArgument. Errors: kInvalidArgument for a Store that Store::Open
// did not make.
MEMOIR_EXPORT Result<std::unique_ptr<ProjectionStore>> InStoreProjections(
    Store& store);

}  // namespace memoir

#endif  // MEMOIR_PROJECTION_STORE_H_
