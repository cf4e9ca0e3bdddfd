// SnapshotStore: checked snapshots of actor state, kept beside the journal in
// the same store.
//
// A snapshot is the application's encoding of one stream's state after the
// event with sequence number `seq`. Recovery loads the newest usable
// snapshot and replays the events after it. Every snapshot carries a
// checksum and is verified before use; one that fails is skipped in favour
// of an older one, and the skip is reported (never trusted, never fatal).
//
//   memoir::SnapshotStore& snaps = store->snapshots();
//   Status s = snaps.Save("account-7", 42, {"Account", 1, bytes});
//   Result<LoadResult> r = snaps.LoadLatest("account-7");
//   if (r.ok() && r->snapshot) { /* replay events after r->snapshot->info.seq
//   */ }
//
// Writes (Save, Delete, DeleteMatching, Retain) go through the store's single
// writer thread, in the same group commits as appends. Reads see one
// committed state of the store.
//
// Thread safety: every method may be called from any thread concurrently.
// Completion callbacks run on the writer thread: they must be quick and must
// not block on the store.
//
// Every write may also fail as a journal write does (journal.h: read-only
// store, kClosed, kBusy, kStorageFull, kIOError) and every read as a
// journal read does; every call is kInvalidArgument for a malformed stream
// name. A tombstoned stream has no snapshots: writes to it are
// kStreamDeleted, while LoadLatest and List answer with nothing.
#ifndef MEMOIR_SNAPSHOT_STORE_H_
#define MEMOIR_SNAPSHOT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/result.h"
#include "memoir/status.h"

namespace memoir {

// Largest payload of one snapshot. FlatBuffers buffers must stay below 2 GiB.
inline constexpr size_t kMaxSnapshotPayloadBytes = size_t{1} << 30;

// A snapshot to save. The payload is opaque bytes (usually the caller's own
// FlatBuffer); `type` (1 to kMaxTypeNameBytes bytes) and `schema_version`
// tell readers how to decode it.
struct SnapshotData {
  std::string type;
  uint32_t schema_version = 1;
  std::string payload;
  // Free bytes beside the state (at most kMaxMetadataBytes), stored and
  // returned, never interpreted.
  std::string metadata{};
};

// What is known about a stored snapshot without copying its payload.
struct SnapshotInfo {
  uint64_t seq = 0;          // the stream seq whose state it holds
  int64_t timestamp_ns = 0;  // commit time from the store's Clock
  std::string type;          // empty when the record failed its checks
  uint32_t schema_version = 0;
  size_t size = 0;  // payload bytes (record bytes if corrupt)
  // False when the record fails its length, checksum or verifier checks or
  // does not match its key; LoadLatest skips such snapshots.
  bool checksum_ok = false;
};

// A loaded snapshot that owns its payload.
struct Snapshot {
  SnapshotInfo info;
  std::string payload;
  std::string metadata{};  // SnapshotData::metadata
};

// Which snapshots a load or a deletion considers: seq and commit time both
// within their (inclusive) bounds. The defaults select every snapshot.
struct SnapshotCriteria {
  uint64_t max_seq = kMaxSeq;
  int64_t max_timestamp_ns = std::numeric_limits<int64_t>::max();
  uint64_t min_seq = 0;
  int64_t min_timestamp_ns = std::numeric_limits<int64_t>::min();
};

// A snapshot that LoadLatest passed over because it failed its checks.
struct SnapshotSkip {
  uint64_t seq = 0;
  std::string reason;  // what failed, e.g. "checksum mismatch (...)"
};

// The answer of LoadLatest. `snapshot` is empty when no snapshot within the
// criteria is usable (the caller then replays from the start); `skipped`
// lists, newest first, every snapshot passed over on the way.
struct LoadResult {
  std::optional<Snapshot> snapshot;
  std::vector<SnapshotSkip> skipped;
};

class MEMOIR_EXPORT SnapshotStore {
 public:
  using SaveCallback = std::function<void(Status)>;

  virtual ~SnapshotStore() = default;

  // --- Writing ---------------------------------------------------------

  // Saves `data` as the state of `stream` after its event `seq`, replacing
  // any snapshot already stored at that seq. The commit time is taken from
  // the store's Clock. `done` is called exactly once: on the writer thread
  // after the commit, or on the calling thread when the request is refused
  // before it is queued.
  // Errors: kInvalidArgument for seq 0, a seq above the stream's head (as the
  // writer transaction sees it, including appends queued before this save),
  // or a bad type or size; kNotFound when the stream does not exist;
  // kStreamDeleted when it was tombstoned; those of every write.
  virtual void Save(std::string_view stream, uint64_t seq, SnapshotData data,
                    SaveCallback done) = 0;
  // Blocking form of Save, with its errors.
  Status Save(std::string_view stream, uint64_t seq, SnapshotData data);

  // Appends `events` and saves `snapshot` as the state after the last of
  // them, in one transaction: both are committed or neither is. The
  // snapshot's seq is the returned AppendResult::last_seq. A retry of an
  // append already committed (the same event ids, memoir/journal.h) returns
  // the original result and writes nothing, its snapshot included; with
  // StoreOptions::generate_event_ids, events without ids get them. Blocking.
  // Errors: those of Journal::Append and of Save (the stream need not
  // exist yet).
  virtual Result<AppendResult> AppendWithSnapshot(StreamAppend events,
                                                  SnapshotData snapshot) = 0;

  // Deletes the snapshot of `stream` at `seq`. Blocking. Errors: kNotFound
  // when the stream or that snapshot does not exist; kStreamDeleted for a
  // tombstoned stream; those of every write.
  virtual Status Delete(std::string_view stream, uint64_t seq) = 0;

  // Deletes the snapshots of `stream` matching `criteria` and returns how
  // many were deleted. A snapshot whose record fails its checks has no
  // trustworthy timestamp: it matches on seq alone when the time bounds are
  // the defaults, and is kept otherwise. None matching is OK (0). Blocking.
  // Errors: kNotFound for a missing stream; kStreamDeleted for a tombstoned
  // one; those of every write.
  virtual Result<size_t> DeleteMatching(std::string_view stream,
                                        const SnapshotCriteria& criteria) = 0;

  // Keeps the newest `keep_newest` snapshots of `stream` that pass their
  // checks (and any failing ones newer than the oldest of those), deletes
  // every older one, and returns how many were deleted. keep_newest = 0
  // deletes all. Blocking. Errors: as DeleteMatching.
  virtual Result<size_t> Retain(std::string_view stream,
                                size_t keep_newest) = 0;

  // --- Reading ---------------------------------------------------------

  // Returns the newest snapshot of `stream` within `criteria` that passes
  // its checks (length, checksum, FlatBuffers verifier, stream and seq
  // matching its key), walking from newest to oldest and reporting every
  // snapshot skipped on the way. No usable snapshot is a normal answer (an
  // empty LoadResult::snapshot), not an error.
  // Errors: kNotFound when the stream does not exist; those of every read.
  virtual Result<LoadResult> LoadLatest(
      std::string_view stream, const SnapshotCriteria& criteria = {}) = 0;

  // Lists every snapshot of `stream`, oldest first, with checksum_ok telling
  // whether it passes its checks. Errors: as LoadLatest.
  virtual Result<std::vector<SnapshotInfo>> List(std::string_view stream) = 0;
};

}  // namespace memoir

#endif  // MEMOIR_SNAPSHOT_STORE_H_
