// Where a consumer of the journal keeps its progress: a named position in
// the global log, meaning "every position up to here was examined".
//
//   auto checkpoints = memoir::InStoreCheckpoints(*store).value();
//   checkpoints->Save("balances", 1200);
//   uint64_t from = checkpoints->Load("balances").value();  // 1200
//
// A Subscription (memoir/subscription.h) loads its checkpoint when it
// starts and saves it as it goes. Implement this interface to keep
// checkpoints elsewhere.
//
// Thread safety: the in-store implementation may be called from any
// thread.
#ifndef MEMOIR_CHECKPOINT_STORE_H_
#define MEMOIR_CHECKPOINT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/export.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// An event a consumer set aside after its handler failed on it
// (OnFailure::kParkEvent, kParkStream in memoir/subscription.h).
struct ParkedEvent {
  uint64_t position = 0;
  std::string stream;
  uint64_t seq = 0;
  std::string type;
  std::string error;  // the handler's last error, or why it waits
  // Parked only because an earlier event of its stream is (kParkStream).
  bool behind = false;
  int64_t parked_ns = 0;  // when (the store's clock)
  // A retry was asked for while the consumer was not running
  // (RequestRetry, `memoir retry-parked`): it retries the event when it
  // next starts.
  bool retry = false;
};

class MEMOIR_EXPORT CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // The position saved under `name`; 0 when none was saved. A name follows
  // the rules of a stream name (ValidateStreamName). Errors:
  // kInvalidArgument for a bad name; kCorruption for a damaged record
  // (naming it); those of every read.
  virtual Result<uint64_t> Load(std::string_view name) = 0;

  // Saves `position` under `name`, replacing what was there; durable at
  // the store's durability when it returns. Errors: kInvalidArgument for a
  // bad name or a read-only store; those of every write (kClosed,
  // kStorageFull, kIOError).
  virtual Status Save(std::string_view name, uint64_t position) = 0;

  // Parking: where a consumer keeps the events it set aside. A store that
  // does not keep them leaves these as they are, and a subscription with
  // a parking policy then refuses to start.
  virtual bool SupportsParking() const { return false; }
  // Records `event` as parked by consumer `name` (again: replaces it).
  virtual Status Park(std::string_view name, const ParkedEvent& event);
  // The events `name` has parked, in position order.
  virtual Result<std::vector<ParkedEvent>> Parked(std::string_view name);
  // Forgets the parked event at `position` (absent: OK).
  virtual Status Unpark(std::string_view name, uint64_t position);
  // As Unpark, and says whether there was a record at `position`: the way
  // out of a damaged record, which makes Parked fail (`memoir drop-parked`).
  virtual Result<bool> DropParked(std::string_view name, uint64_t position);
  // Marks every event `name` has parked for a retry: the consumer retries
  // them (as RetryParked) when it next starts. For a consumer that is not
  // running, since the running one takes RetryParked. Returns how many were
  // marked.
  virtual Result<size_t> RequestRetry(std::string_view name);
};

// One checkpoint kept in a store.
struct SavedCheckpoint {
  std::string name;
  uint64_t position = 0;
  int64_t saved_ns = 0;  // when it was saved (the store's clock)
};

// Every checkpoint kept in `store` itself, by name (`memoir subscriptions`
// shows them). Works in a read-only store. Errors: kCorruption for a
// damaged record (naming it); kInvalidArgument for a Store that
// Store::Open did not make; those of every read.
MEMOIR_EXPORT Result<std::vector<SavedCheckpoint>> ListCheckpoints(
    Store& store);

// The checkpoints kept in `store` itself (its `checkpoints` database),
// written through its group commit, so they survive exactly what its
// events survive, and `copy` carries them. The result refers to `store`
// and must not outlive it. In a read-only store Load works and Save fails.
// Errors: kInvalidArgument for a Store that Store::Open did not make.
MEMOIR_EXPORT Result<std::unique_ptr<CheckpointStore>> InStoreCheckpoints(
    Store& store);

}  // namespace memoir

#endif  // MEMOIR_CHECKPOINT_STORE_H_
