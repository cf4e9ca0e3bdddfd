// StoreInternal: the parts of an open Store that whole-store tools
// (inspect.cc, verify.cc, copy.cc) need and the public API does not show.
// A friend of Store (leveldb's WriteBatchInternal pattern).
#ifndef MEMOIR_STORE_STORE_INTERNAL_H_
#define MEMOIR_STORE_STORE_INTERNAL_H_

#include "memoir/result.h"
#include "memoir/store.h"

namespace memoir::internal {

class Env;
class JournalImpl;
class SnapshotStoreImpl;
class CheckpointsImpl;
class ProjectionsImpl;
class MessagesImpl;

struct StoreParts {
  Env* env = nullptr;
  JournalImpl* journal = nullptr;
  SnapshotStoreImpl* snapshots = nullptr;
  CheckpointsImpl* checkpoints = nullptr;
  ProjectionsImpl* projections = nullptr;
  MessagesImpl* messages = nullptr;
};

class StoreInternal {
 public:
  // The parts of `store`, owned by it. kInvalidArgument when `store` was not
  // made by Store::Open (a test double or a wrapper, say), or in a child
  // forked after the store was opened.
  //
  // Asks the Store through its virtual hook rather than dynamic_cast: a
  // replay plugin with its own static copy of libmemoir has its own typeinfo
  // for StoreImpl, so a cast from the host's Store would fail there.
  static Result<StoreParts> PartsOf(Store& store);
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORE_STORE_INTERNAL_H_
