// The store's projection tables (memoir/projection_store.h).
//
// Two databases:
// - `projections`: name \0 version (big-endian 32-bit) -> 32 bytes: the
//   checkpoint, the time it was saved, flags (1 active, 2 retired), all
//   little-endian 64-bit, and a checksum of those 24 bytes.
// - `projection_rows`: name \0 version table \0 key -> value. Names and
//   tables hold no NUL (ValidateStreamName), so the prefixes never overlap.
#ifndef MEMOIR_STORE_PROJECTIONS_H_
#define MEMOIR_STORE_PROJECTIONS_H_

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/clock.h"
#include "memoir/projection_store.h"
#include "storage/env.h"
#include "storage/verify_context.h"
#include "storage/writer.h"
#include "store/checkpoints.h"

namespace memoir::internal {

// The consumer name a projection version's parked events are kept under.
std::string ParkingName(std::string_view name, uint32_t version);

// Also the writer's TxnObserver that runs the inline projections
// (projections_inline.cc): in each write transaction, before the commit,
// each attached projection gets the events after its checkpoint in a
// nested transaction; a failure aborts only that child and detaches the
// projection.
class ProjectionsImpl final : public ProjectionStore, public TxnObserver {
 public:
  // Opens the databases, creating them in a writable store; `writer` is
  // null in a read-only one. Call before the writer starts (it registers
  // as the writer's observer, after the journal).
  // `checkpoints` keeps the parked events Commit may unpark.
  static Result<std::unique_ptr<ProjectionsImpl>> Open(
      Env* env, Writer* writer, std::shared_ptr<Clock> clock,
      CheckpointsImpl* checkpoints);

  Result<std::vector<ProjectionVersion>> List() override;
  Result<std::unique_ptr<ProjectionSnapshot>> Read(
      std::string_view name) override;
  Result<std::unique_ptr<ProjectionSnapshot>> ReadVersion(
      std::string_view name, uint32_t version) override;
  Status Commit(std::string_view name, uint32_t version, uint64_t expected,
                uint64_t checkpoint, std::span<const ProjectionWrite> writes,
                bool activate, std::span<const uint64_t> unpark) override;
  Status Reset(std::string_view name, uint32_t version) override;
  Status SetCheckpoint(std::string_view name, uint32_t version,
                       uint64_t position) override;
  Result<size_t> Sweep(std::string_view name, size_t limit) override;
  bool SupportsInline() const override { return writer_ != nullptr; }
  Result<std::unique_ptr<InlineAttachment>> AttachInline(
      InlineProjection projection, uint64_t checkpoint) override;

  // How inline projections read the log inside the writer's transaction;
  // set by the store before the writer starts.
  struct LogAccess {
    // The position of the transaction's last event (0: none).
    std::function<int(MDB_txn* txn, uint64_t* head)> head;
    // The events from `from` to `bound`, in order.
    std::function<Status(MDB_txn* txn, uint64_t from, uint64_t bound,
                         const EventVisitor& visit)>
        scan;
  };
  void SetLog(LogAccess log) { log_ = std::move(log); }

  // TxnObserver (writer thread).
  int BeforeCommit(MDB_txn* txn, bool closing) override;
  void Committed() override;
  void Aborted() override;
  // As CheckpointsImpl::Lowest, over the versions not retired.
  int Lowest(MDB_txn* txn, uint64_t* floor, std::string* holder);
  // As CheckpointsImpl::Refresh.
  void Refresh() { (void)Handles(); }
  // Checks the records (size, checksum, one active version per name) and
  // that every row belongs to a recorded version (inspect.h VerifyStore).
  void Verify(MDB_txn* txn, VerifyContext* ctx);

  struct Dbis {
    MDB_dbi records;
    MDB_dbi rows;
  };

 private:
  ProjectionsImpl(Env* env, Writer* writer, std::shared_ptr<Clock> clock,
                  CheckpointsImpl* checkpoints)
      : env_(env),
        writer_(writer),
        clock_(std::move(clock)),
        checkpoints_(checkpoints) {}
  // The databases; nullopt while a read-only store has none yet.
  Result<std::optional<Dbis>> Handles();
  // Checks that writes are possible and the name and version are valid.
  Status CheckWrite(std::string_view name, uint32_t version,
                    std::string_view what) const;
  // Reset's and SetCheckpoint's op: `change` edits the version's
  // checkpoint inside the transaction (and whatever else it writes); the
  // record is saved with it. kNotFound ("no version V to `what`") when the
  // version has no record.
  Status UpdateCheckpoint(
      std::string_view name, uint32_t version, std::string_view what,
      const std::function<int(MDB_txn*, uint64_t*)>& change);
  // Runs `apply` in the group commit and waits for it.
  Status Run(size_t bytes, std::function<int(MDB_txn*, Status*)> apply);

  // An attached inline projection (projections_inline.cc).
  struct Inline;
  class Attachment;
  // Applies the events up to `head` to `entry` in a child of `txn`. An
  // LMDB code that must doom the transaction (a full map); any other
  // failure detaches the projection.
  int RunInline(MDB_txn* txn, Inline& entry, uint64_t head);
  // Ends the transaction for the projections it applied: commits or
  // drops their new checkpoints and runs their callbacks.
  void EndInline(bool committed);
  uint64_t Detach(const std::shared_ptr<Inline>& entry);

  Env* env_;
  Writer* writer_;
  std::shared_ptr<Clock> clock_;
  CheckpointsImpl* checkpoints_;
  std::mutex mu_;  // guards dbis_ in a read-only store
  std::optional<Dbis> dbis_;
  LogAccess log_;

  // Inline projections. inline_mu_ guards the list and each entry's
  // checkpoint and in-transaction mark; the writer thread alone touches
  // txn_inline_.
  std::mutex inline_mu_;
  std::condition_variable inline_done_;
  std::vector<std::shared_ptr<Inline>> inline_;
  std::atomic<bool> any_inline_{false};
  std::vector<std::shared_ptr<Inline>> txn_inline_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORE_PROJECTIONS_H_
