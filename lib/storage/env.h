// Env: one open LMDB environment (a store directory) and the rules around it.
//
// Owns the MDB_env, the process-wide registry entry that refuses a second
// open of the same directory in one process, the advisory write lock that
// refuses a second writing process, the fork guard, the pool of read
// transactions and the map growth that must wait for those transactions.
//
// Thread safety: BeginRead may be called from any thread. BeginWrite,
// GrowMap and the setup transaction belong to one thread at a time (the
// writer thread once the store is open).
#ifndef MEMOIR_STORAGE_ENV_H_
#define MEMOIR_STORAGE_ENV_H_

#include <lmdb.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "memoir/options.h"
#include "memoir/result.h"
#include "memoir/status.h"

namespace memoir::internal {

// The on-disk format this library writes. Stores with a higher number are
// refused; version 1 is the first released layout (see journal/layout.h).
// Version 2 adds the type index, which every writer must keep: a writer
// opening a version 1 store upgrades it, so that an older memoir (which
// would append events without type entries) refuses it from then on.
// Version 3 adds outbox records whose sender wants refusals back (a flag
// in the record; memoir/message_store.h), which a version 2 reader would
// call damaged. Readers take all three.
inline constexpr uint32_t kFormatVersion = 3;

class Env;

// A read transaction: a consistent snapshot of the store. Movable; returns
// its LMDB transaction to the pool when destroyed.
class ReadTxn {
 public:
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&&) = delete;
  ~ReadTxn();
  MDB_txn* get() const { return txn_; }

 private:
  friend class Env;
  ReadTxn(Env* env, MDB_txn* txn, std::shared_lock<std::shared_timed_mutex> g)
      : env_(env), txn_(txn), gate_(std::move(g)) {}
  Env* env_;
  MDB_txn* txn_;
  std::shared_lock<std::shared_timed_mutex> gate_;
};

class Env {
 public:
  // Opens (creating when allowed) the store at `dir`. Errors: kBusy when the
  // store is already open in this process or another process holds it for
  // writing; kInvalidArgument for bad options or a store of a newer format;
  // kNotFound when it does not exist and may not be created; kIOError or
  // kCorruption from LMDB.
  static Result<std::unique_ptr<Env>> Open(const std::string& dir,
                                           const StoreOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  MDB_env* raw() const { return env_; }
  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }
  bool read_only() const { return options_.read_only; }

  // Opens (in a writable store: creates) the named database `name`.
  // Must be called before the store is shared between threads.
  Result<MDB_dbi> OpenDatabase(const char* name, unsigned flags = 0);
  // In a read-only store: the named database if it exists by now (a
  // database added by a newer writer). May be called at any time, but not
  // concurrently with itself.
  Result<std::optional<MDB_dbi>> OpenDatabaseIfPresent(const char* name);
  // The `meta` database, holding small named values of every layer.
  MDB_dbi meta() const { return meta_; }

  // OK unless the calling process is a child forked after the store was
  // opened; such a child must not touch the parent's environment.
  Status CheckProcess() const;

  // Starts a read transaction (renewing a pooled one when possible).
  Result<ReadTxn> BeginRead();
  // The same with the gate already shared by the caller (ShareGate), for a
  // caller that takes a lock of its own between the two: the gate always
  // comes first, so a thread already holding a read transaction (a
  // projection snapshot, say) takes the locks in the same order.
  std::shared_lock<std::shared_timed_mutex> ShareGate();
  Result<ReadTxn> BeginRead(std::shared_lock<std::shared_timed_mutex> gate);

  // Writer-thread only. Starts a write transaction.
  int BeginWrite(MDB_txn** txn);
  // Writer-thread only, with no write transaction open. Doubles the map (not
  // beyond options().max_map_size) after waiting up to `wait` for this
  // process's read transactions to finish. kStorageFull when at the limit,
  // kBusy when readers kept their transactions open.
  Status GrowMap(std::chrono::milliseconds wait);
  size_t map_size() const { return map_size_.load(); }

  // True when this Env was inherited through fork(): its destructor then
  // leaves LMDB alone (closing would clear the parent's reader slots).
  bool forked() const;

 private:
  friend class ReadTxn;
  Env() = default;
  Status OpenImpl(const std::string& dir, const StoreOptions& options);
  // mdb_env_create and mdb_env_open with options_, in dir_.
  Status OpenLmdb();
  Status CheckFormat();
  void ReleaseRead(MDB_txn* txn);

  StoreOptions options_;
  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi meta_ = 0;
  int lock_fd_ = -1;
  bool registered_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t fork_generation_ = 0;
  std::atomic<size_t> map_size_{0};

  // Readers hold the gate shared while their transaction is live; map
  // growth takes it exclusively (LMDB requires no live transactions in the
  // process while the map is resized).
  std::shared_timed_mutex gate_;
  std::mutex pool_mu_;
  std::vector<MDB_txn*> pool_;  // reset read transactions, ready to renew
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_ENV_H_
