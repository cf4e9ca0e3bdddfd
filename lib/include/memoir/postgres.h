// A memoir store kept in a PostgreSQL database (15 or later) instead of an
// LMDB directory: the same Journal and SnapshotStore contract, for services
// that outgrow one machine or must share one history between hosts.
//
//   auto store = memoir::Store::Open(
//       "postgresql://app@db.internal/bank", {});   // or OpenPostgres(...)
//
// Store::Open takes a connection string starting with postgresql:// or
// postgres:// (libpq's URI form; its parameters, such as host=/run/pg for a
// unix socket, are libpq's). memoir keeps its tables in one SQL schema of
// that database ("memoir" unless PostgresOptions::schema says otherwise),
// creates them on first use, and records the schema's format version: a
// schema written by a newer memoir is refused.
//
// What differs from an LMDB store (README.md, "PostgreSQL"):
// - Several processes, on several hosts, may write the same store at once.
//   Each stream's seqs stay gap-free and global positions stay dense and in
//   commit order across all of them.
// - An acknowledgement means what the server's synchronous_commit and
//   synchronous_standby_names say: with the defaults, the commit record is
//   flushed on the primary. Durability::kSync keeps the server's setting;
//   kNoMetaSync and kNone turn synchronous_commit off for memoir's writes
//   (a crash of the server, not of the application, may lose the newest
//   acknowledged commits). Store::Sync flushes them.
// - A lost connection: a write whose commit answer never came fails with
//   kUnknownOutcome. It may have committed. A retry with the same exact
//   expectation (Expected::At) is safe: it either commits once or
//   conflicts; a retry with Expected::Any or Exists may append twice,
//   unless the events carry ids (then a retry of a committed append is
//   recognised and returns the original result). Writes that were not sent
//   fail with kIOError, and the store reconnects for the next write: it
//   stays usable, unlike an LMDB store after an I/O error.
// - One event's or snapshot's payload is at most kMaxPostgresPayloadBytes,
//   and one request's payloads and metadata kMaxPostgresRequestBytes. The
//   database must use the UTF8 encoding.
// - Consumer checkpoints, projections, durable messages and the whole-store
//   tools (inspect, verify, copy, repair) are LMDB-only for now: on a
//   PostgreSQL store they fail with kInvalidArgument saying so.
#ifndef MEMOIR_POSTGRES_H_
#define MEMOIR_POSTGRES_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "memoir/export.h"
#include "memoir/options.h"
#include "memoir/result.h"
#include "memoir/store.h"

namespace memoir {

// Largest payload of one event or snapshot in a PostgreSQL store. One group
// commit sends its payloads as one array value, which PostgreSQL caps at
// 1 GB; a single larger value is refused with kInvalidArgument before
// anything is sent.
inline constexpr size_t kMaxPostgresPayloadBytes = size_t{256} << 20;
// Largest request (one Append, AppendMulti or AppendWithSnapshot): its
// payloads and metadata together, for the same reason.
inline constexpr size_t kMaxPostgresRequestBytes = size_t{512} << 20;

struct PostgresOptions {
  // The SQL schema holding memoir's tables: 1 to 48 bytes of a-z, 0-9 and
  // '_', not starting with a digit or "pg_". Several stores can share a
  // database under different schemas.
  std::string schema = "memoir";
  // PostgreSQL's statement_timeout for memoir's statements (0: the
  // server's setting). A statement cancelled by it writes nothing and fails
  // with kTimeout. It does not bound the wait of a commit for a
  // synchronous standby (PostgreSQL's rule).
  std::chrono::milliseconds statement_timeout{0};
  // After a lost connection the writer reconnects before the next write,
  // waiting between attempts from 10 ms, doubling up to this.
  std::chrono::milliseconds max_reconnect_backoff{1000};
  // Reads use pooled connections; at most this many stay open when idle.
  size_t max_idle_read_connections = 4;
};

// Opens (creating on first use) the store kept in `options.schema` of the
// database `conninfo` names. StoreOptions that concern LMDB (map sizes,
// readers, file modes, index flushing, no_lock) are ignored; read_only,
// durability, clock, the queue limits, generate_event_ids and
// create_if_missing apply.
// Errors: kIOError when the server cannot be reached (the message is
// libpq's); kNotFound when the schema does not exist and read_only or
// !create_if_missing; kInvalidArgument for a bad schema name, a schema
// written by a newer memoir, or a server older than 15; kCorruption when
// the schema exists but is not a memoir store.
MEMOIR_EXPORT Result<std::unique_ptr<Store>> OpenPostgres(
    const std::string& conninfo, const StoreOptions& options = {},
    const PostgresOptions& pg = {});

// Whether `path` is a PostgreSQL connection URI (postgresql:// or
// postgres://), which Store::Open hands to OpenPostgres.
MEMOIR_EXPORT bool IsPostgresUri(std::string_view path);

// What `memoir info` shows of a PostgreSQL store.
struct PostgresStoreInfo {
  std::string store;  // Store::path(): the server (password masked)
  std::string schema;
  std::string server_version;  // the server's, e.g. "15.20"
  uint32_t format_version = 0;
  uint64_t streams = 0;          // streams ever created, including deleted
  uint64_t deleted_streams = 0;  // of which tombstoned
  uint64_t events = 0;           // events currently stored
  uint64_t snapshots = 0;
  uint64_t last_position = 0;
  uint64_t bytes = 0;  // the schema's tables with their indexes and TOAST
  // What an acknowledgement waits for, as the server is set up for
  // memoir's writer (postgres.h, README "PostgreSQL").
  std::string synchronous_commit;
  std::string synchronous_standby_names;
};

// Describes `store`, in one read. Errors: kInvalidArgument when `store` is
// not a PostgreSQL store; those of every read.
MEMOIR_EXPORT Result<PostgresStoreInfo> InspectPostgres(Store& store);

// Drops the schema `schema` with everything memoir kept in it. For tests
// and for operators retiring a store; no Store may have it open.
// Errors: as OpenPostgres's; kNotFound when there is no such schema; kBusy
// when a session still holds its tables after a minute.
MEMOIR_EXPORT Status DropPostgresStore(const std::string& conninfo,
                                       const std::string& schema);

}  // namespace memoir

#endif  // MEMOIR_POSTGRES_H_
