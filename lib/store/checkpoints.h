// The store's `checkpoints` database: checkpoint name -> one record of
// 24 bytes: the position and the time of the save (little-endian 64-bit
// each) and a checksum of those 16 bytes.
#ifndef MEMOIR_STORE_CHECKPOINTS_H_
#define MEMOIR_STORE_CHECKPOINTS_H_

#include <lmdb.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "memoir/checkpoint_store.h"
#include "memoir/clock.h"
#include "storage/env.h"
#include "storage/verify_context.h"
#include "storage/writer.h"

namespace memoir::internal {

class CheckpointsImpl {
 public:
  // Opens the database, creating it in a writable store; `writer` is null
  // in a read-only one. Call before the writer starts.
  static Result<std::unique_ptr<CheckpointsImpl>> Open(
      Env* env, Writer* writer, std::shared_ptr<Clock> clock);

  Result<uint64_t> Load(std::string_view name);
  Status Save(std::string_view name, uint64_t position);
  Result<std::vector<SavedCheckpoint>> List();

  // The `parked` database: name \0 position (big-endian) -> the event's
  // seq, park time and flags (little-endian 64-bit each), the lengths of
  // its stream and type (32-bit), stream, type, error, and a checksum.
  Status Park(std::string_view name, const ParkedEvent& event);
  Result<std::vector<ParkedEvent>> Parked(std::string_view name);
  Status Unpark(std::string_view name, uint64_t position);
  Result<bool> DropParked(std::string_view name, uint64_t position);
  Result<size_t> RequestRetry(std::string_view name);
  // Writer thread: Unpark inside `txn`. Returns an LMDB code.
  int UnparkIn(MDB_txn* txn, std::string_view name, uint64_t position);
  // Writer thread: forgets every event `name` parked at `from` or above.
  // An LMDB code.
  int UnparkFromIn(MDB_txn* txn, std::string_view name, uint64_t from = 0);
  // The databases' handles, as far as they exist.
  struct Handles {
    std::optional<MDB_dbi> checkpoints, parked;
  };
  // In a read-only store, looks for databases the owner has created since;
  // returns the handles to pass to Verify. Call it before starting the
  // read transaction Verify uses (a handle opened later is not valid in
  // that transaction).
  Handles Refresh();
  // Writer thread: lowers *floor to the lowest checkpoint, naming it in
  // *holder (a damaged one counts as 0: what it examined is unknown).
  // Returns an LMDB code.
  int Lowest(MDB_txn* txn, uint64_t* floor, std::string* holder);
  // Checks every record's size, checksum and name (inspect.h VerifyStore).
  void Verify(MDB_txn* txn, const Handles& handles, VerifyContext* ctx);

 private:
  CheckpointsImpl(Env* env, Writer* writer, std::shared_ptr<Clock> clock)
      : env_(env), writer_(writer), clock_(std::move(clock)) {}
  // The database handle; nullopt while a read-only store has none yet.
  Result<std::optional<MDB_dbi>> Dbi();
  void VerifyParked(MDB_txn* txn, MDB_dbi parked, VerifyContext* ctx);

  Env* env_;
  Writer* writer_;
  std::shared_ptr<Clock> clock_;
  // Guards dbi_ and parked_ in a read-only store, where Dbi() opens them
  // once the owner has created them (a writer sets both in Open).
  std::mutex mu_;
  std::optional<MDB_dbi> dbi_;
  std::optional<MDB_dbi> parked_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORE_CHECKPOINTS_H_
