// Inspection of a whole store: what it holds (InspectStore), whether every
// stored byte and index is intact (VerifyStore), and consistent copies of a
// live store (CopyStore). These serve tools such as the `memoir` CLI and
// operators' scripts; an application does not need them to run.
//
//   auto store = memoir::Store::Open("/srv/bank", {.read_only = true});
//   memoir::Result<memoir::VerifyReport> report = VerifyStore(**store);
//   if (report.ok() && !report->ok()) { /* report->problems says where */ }
//
// Each function reads one consistent, committed state of the store (one
// LMDB read transaction) and never writes to it, so all three work on a
// store opened read-only while another process appends.
//
// Thread safety: the functions may be called from any thread, concurrently
// with every other use of the store.
#ifndef MEMOIR_INSPECT_H_
#define MEMOIR_INSPECT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "memoir/export.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir {

// One slot of LMDB's reader table: a process that has read the store.
struct ReaderSlot {
  int64_t pid = 0;
  uint64_t thread = 0;
  // The transaction the reader holds open, which pins the pages it sees;
  // 0 when the slot is idle (kept for reuse).
  uint64_t txn_id = 0;
};

// What a store holds, from one consistent read.
struct StoreInfo {
  std::string path;
  uint32_t format_version = 0;   // on-disk layout version (journal/layout.h)
  size_t page_size = 0;          // bytes per LMDB page
  size_t map_size = 0;           // address space mapped for the data file
  size_t map_used = 0;           // bytes of pages in use (high-water mark)
  size_t file_size = 0;          // size of data.mdb on disk
  uint64_t streams = 0;          // streams ever created, including deleted
  uint64_t deleted_streams = 0;  // of which tombstoned
  uint64_t events = 0;           // events currently stored
  uint64_t snapshots = 0;        // snapshots currently stored
  // Newest committed global position (0 when nothing was ever appended).
  uint64_t last_position = 0;
  // Events above this position are in the unindexed tail (journal/layout.h).
  uint64_t indexed_to = 0;
  unsigned max_readers = 0;  // reader slots of the environment
  // Slots in use. Empty for a store opened with StoreOptions::no_lock,
  // which has no reader table.
  std::vector<ReaderSlot> readers;
  // Who holds the store for writing ("pid 4711 (bank), since
  // 2024-05-01T12:00:00Z"), or empty when no process does. Read from the
  // kernel's lock table (/proc/locks), so a writer that died is not listed.
  std::string writer;
};

// Describes `store`. Errors: kInvalidArgument when `store` was not made by
// Store::Open (a wrapper or test double) or in a child forked after it was
// opened; kCorruption when the metadata fails its checks; kBusy when LMDB's
// reader table is full; kIOError from LMDB or the file system.
MEMOIR_EXPORT Result<StoreInfo> InspectStore(Store& store);

struct VerifyOptions {
  // Only this stream (its events, indexes and snapshots); empty: the whole
  // store. A single stream's check cannot look for tag index entries that
  // point at its events from other tags, only at those its events carry.
  std::string stream{};
  // Problems beyond this many are counted but not listed.
  size_t max_problems = 1000;
  // Called every few hundred records with the number checked so far, so
  // long runs can show progress (or prove they are alive). May be null.
  std::function<void(uint64_t records_checked)> progress{};
};

// One thing wrong in a store. `stream` and `seq` are set whenever the
// problem can be tied to them; `position` when it concerns a log record.
struct VerifyProblem {
  std::string stream;     // empty when the stream is unknown
  uint64_t seq = 0;       // 0 when not about one event or snapshot
  uint64_t position = 0;  // 0 when not about one log record
  std::string what;       // what is wrong, e.g. "checksum mismatch (...)"
};

struct VerifyReport {
  uint64_t streams = 0;        // stream rows checked
  uint64_t events = 0;         // log records checked
  uint64_t snapshots = 0;      // snapshot records checked
  uint64_t index_entries = 0;  // stream_index entries checked
  uint64_t tag_entries = 0;    // tag_index entries checked
  uint64_t type_entries = 0;   // type entries of the tag_index checked
  // Tag index entries left pointing at an event that was deleted while its
  // record was already damaged (DeleteTo cannot read its tags). Readers
  // skip them; they are reported here, not as problems.
  uint64_t dangling_tag_entries = 0;
  uint64_t checkpoints = 0;             // checkpoint records checked
  uint64_t parked_events = 0;           // parked event records checked
  uint64_t projection_versions = 0;     // projection records checked
  uint64_t projection_rows = 0;         // projection table rows checked
  uint64_t outbox_messages = 0;         // durable messages waiting, checked
  uint64_t inbox_records = 0;           // receivers' inbox records checked
  uint64_t timers = 0;                  // pending durable timers, checked
  std::vector<VerifyProblem> problems;  // at most max_problems, in order found
  uint64_t problem_count = 0;           // all problems, listed or not
  bool ok() const { return problem_count == 0; }
};

// Checks every stored record of `store` (or of one stream): the checksum
// and FlatBuffers verifier of each event and snapshot envelope, that each
// envelope names the stream, seq and position it is stored under, that
// every stream's seqs are gap-free from its deleted-to mark up to its head
// and rise with the global position, that each stream row agrees with its
// events, and that the stream and tag indexes hold exactly the entries the
// indexed events call for. Damage is a problem in the report, not an error:
// the check goes on past it.
// Errors: kNotFound when options.stream does not exist; kInvalidArgument as
// for InspectStore or for a malformed stream name; kIOError from LMDB.
MEMOIR_EXPORT Result<VerifyReport> VerifyStore(
    Store& store, const VerifyOptions& options = {});

struct CopyOptions {
  // Omit free pages and renumber the rest (LMDB's MDB_CP_COMPACT): the copy
  // is as small as its data, at the cost of more CPU while copying.
  bool compact = false;
};

// Writes a consistent copy of `store`, as of one committed state, to the
// directory `dest` (created, owner-only, when missing). The copy holds
// data.mdb only and opens as a store of its own; the unindexed tail, if
// any, is rebuilt from its log when it is opened. Appends to `store` go on
// meanwhile (a long copy pins the pages it reads, so the source file may
// grow). The copy is written to a temporary file, synced and renamed, so
// `dest` never holds a partial data.mdb.
// Errors: kInvalidArgument when `dest` already holds a store or is not a
// directory, or as for InspectStore; kIOError or kStorageFull when writing
// fails.
MEMOIR_EXPORT Status CopyStore(Store& store, const std::string& dest,
                               const CopyOptions& options = {});

struct RepairOptions {
  // Find and report, but write nothing.
  bool dry_run = false;
};

// One damaged event record found by RepairStore.
struct DamagedRecord {
  std::string stream;  // empty when the record cannot say whose it is
  uint64_t seq = 0;    // 0 when unknown
  uint64_t position = 0;
  std::string what;  // the damage, and the repair when there was one
};

struct RepairReport {
  uint64_t records = 0;  // log records checked
  // Restored exactly as written (with dry_run: restorable).
  std::vector<DamagedRecord> repaired;
  // Damaged beyond a one-bit repair: left as they are.
  std::vector<DamagedRecord> unrepaired;
};

// Restores the event records of the store at `path` whose damage is one
// flipped bit, the commonest form of silent media or memory corruption:
// flipping each bit of a damaged record in turn (every bit of a record of
// up to 4 KiB; the first 64 bytes, checksum, header and identity, of
// larger ones up to 1 MiB) finds the one that makes its checksum match and
// the record decode, naming the position it is stored under (and, below
// the last index flush, the stream and seq the index gives it). Such
// records are rewritten as they were, in one transaction, synced; a store
// whose only damage that was is then whole again (a writer opens it, and
// VerifyStore finds nothing). Nothing else is changed: other damage is
// listed, not touched; snapshots are not repaired (recovery skips a
// damaged one). Takes the store's write lock, so no writer may have it
// open.
// Errors: kBusy when a process has the store open for writing; kNotFound
// when there is no store at `path`; kIOError or kStorageFull when the
// repair cannot be written (nothing is changed then).
MEMOIR_EXPORT Result<RepairReport> RepairStore(
    const std::string& path, const RepairOptions& options = {});

}  // namespace memoir

#endif  // MEMOIR_INSPECT_H_
