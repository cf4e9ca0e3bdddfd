// Options for opening a store.
//
// Plain data; copy freely. Defaults suit a production service that must not
// lose acknowledged writes.
#ifndef MEMOIR_OPTIONS_H_
#define MEMOIR_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "memoir/clock.h"

namespace memoir {

// What a commit promises once it is acknowledged. See README.md, "What a
// crash can and cannot lose", for the exact guarantees.
enum class Durability : uint8_t {
  // fsync (fdatasync) data and meta page on every commit. An acknowledged
  // append survives a process crash and a power loss. The default.
  kSync,
  // Data pages are synced on every commit, the meta page is not
  // (MDB_NOMETASYNC). A power loss may undo the last commit(s) but never
  // corrupts the store; a process crash loses nothing acknowledged.
  kNoMetaSync,
  // Nothing is synced on commit (MDB_NOSYNC). A process crash loses nothing
  // acknowledged (the OS keeps the pages); a power loss may lose recent
  // commits and, on some filesystems, corrupt the store. For tests and
  // caches. Combine with periodic_sync to bound the loss window.
  kNone,
};

struct StoreOptions {
  // Initial size of the memory map, in bytes. The file grows only as data is
  // written; the map is address space, so a generous value costs nothing.
  size_t map_size = size_t{1} << 30;  // 1 GiB
  // When a commit finds the map full, the map doubles (never above this
  // limit) and the commit is retried once. Past the limit appends fail with
  // kStorageFull, and the message says to raise this value.
  size_t max_map_size = size_t{1} << 38;  // 256 GiB
  Durability durability = Durability::kSync;
  // With kNone or kNoMetaSync: flush everything to disk this often (0: never).
  std::chrono::milliseconds periodic_sync{0};
  // LMDB reader slots: concurrent read transactions across all processes.
  unsigned max_readers = 126;
  // Open for reading only: no writer thread, no write lock; other processes
  // may write meanwhile.
  bool read_only = false;
  // With read_only: do not use the lock file at all (MDB_NOLOCK), for copies
  // on read-only media. The caller promises that nobody writes meanwhile.
  bool no_lock = false;
  // Creates the store directory when missing (not with read_only).
  bool create_if_missing = true;
  // Permission bits for the directory's files (the directory gets the same
  // bits plus the matching execute bits). Owner-only by default.
  unsigned file_mode = 0600;
  // Time source for event and snapshot timestamps. Null means Clock::System().
  std::shared_ptr<Clock> clock;
  // Group commit: the writer queue holds at most this many bytes of pending
  // requests. A producer that finds it full waits up to enqueue_timeout, then
  // gets kBusy.
  size_t max_queue_bytes = size_t{64} << 20;
  std::chrono::milliseconds enqueue_timeout{5000};
  // At most this many bytes of requests go into one write transaction, which
  // bounds the pages a transaction dirties. A single larger request still
  // commits, alone.
  size_t max_batch_bytes = size_t{32} << 20;
  // The per-stream and tag indexes are written in bulk, once this many events
  // have been committed since the last index flush (or on close, or before a
  // deletion). Larger values make durable appends cheaper; readers in other
  // processes scan at most this many unindexed events per read.
  size_t index_flush_events = 65536;
  // Appends: give every event appended without an id a new one
  // (Uuid::Generate). Costs about 64 bytes per event in the log; makes
  // every event citable as another's causation_id.
  bool generate_event_ids = false;
  // Appends with event ids and Expected::Any or Exists are recognised as
  // repeats when the request's first id is among the stream's newest this
  // many events (an exact expectation is checked against the whole
  // history). The writer holds the ids of that many events per stream it
  // has seen such an append for (32 bytes each, for at most 16,384
  // streams, then it starts again). 0: only exact expectations; at most
  // kMaxIdempotencyWindow.
  size_t idempotency_window = 64;
};

inline constexpr size_t kMaxIdempotencyWindow = size_t{1} << 16;

}  // namespace memoir

#endif  // MEMOIR_OPTIONS_H_
