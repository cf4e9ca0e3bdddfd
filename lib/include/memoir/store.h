// Store: one memoir store, a directory holding one LMDB environment with the
// journal (and the snapshots) of many actors.
//
//   auto store = memoir::Store::Open("/srv/bank", {});
//   if (!store.ok()) { /* store.status().ToString() says what and why */ }
//   memoir::Journal& journal = (*store)->journal();
//
// A process opens a store once and shares the Store between threads (LMDB
// forbids a second open in one process; the second Open fails with kBusy).
// One process at a time may open a store for writing; others get kBusy
// naming the holder, and may open it read-only meanwhile.
//
// Thread safety: every method may be called from any thread. Destroying the
// Store while other threads still use it is undefined.
#ifndef MEMOIR_STORE_H_
#define MEMOIR_STORE_H_

#include <memory>
#include <string>

#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/options.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"

namespace memoir {
namespace internal {
class StoreInternal;
struct StoreParts;
}  // namespace internal

struct StoreStats {
  uint64_t commits = 0;         // write transactions committed
  uint64_t write_requests = 0;  // requests they carried
  uint64_t max_group = 0;       // most requests in one commit
  uint64_t map_growths = 0;
  size_t map_size = 0;
};

class MEMOIR_EXPORT Store {
 public:
  // Opens or creates the store in directory `path`. See StoreOptions.
  // Errors: kBusy (open in this process, or held for writing elsewhere),
  // kNotFound (missing and read_only or !create_if_missing),
  // kInvalidArgument (bad options; a store of a newer format),
  // kCorruption (not a memoir store), kIOError.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options = {});

  // Closes the store (see Close); errors at that point are lost.
  virtual ~Store() = default;

  // The store's journal (see journal.h), owned by the Store.
  virtual Journal& journal() = 0;

  // The store's snapshots (see snapshot_store.h). Owned by the Store and
  // valid while it lives; writes to it fail with kInvalidArgument in a
  // read-only store.
  virtual SnapshotStore& snapshots() = 0;

  // Forces every committed write to disk, whatever the durability mode.
  // Errors: kInvalidArgument in a read-only store or a forked child;
  // kClosed after Close; kIOError when the sync fails, after which every
  // write fails until the store is reopened.
  virtual Status Sync() = 0;

  // Stops accepting writes, commits everything already queued (completing
  // its callbacks), writes the deferred index and closes. Later writes fail
  // with kClosed. Returns the kIOError that stopped writes earlier, if any
  // (again on every later call); OK in a read-only store.
  virtual Status Close() = 0;

  virtual const std::string& path() const = 0;
  virtual StoreStats Stats() const = 0;

 private:
  friend class internal::StoreInternal;
  // The implementation's insides, for the whole-store tools (inspect.h);
  // nullptr in a Store that Store::Open did not make.
  virtual internal::StoreParts* internal_parts() noexcept { return nullptr; }
};

}  // namespace memoir

#endif  // MEMOIR_STORE_H_
