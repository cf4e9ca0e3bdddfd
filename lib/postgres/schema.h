// The SQL of a PostgreSQL store: its tables, the function that applies one
// group commit, and the format version they make up.
#ifndef MEMOIR_POSTGRES_SCHEMA_H_
#define MEMOIR_POSTGRES_SCHEMA_H_

#include <string>
#include <string_view>

#include "memoir/status.h"

namespace memoir::internal::pg {

// The format of the tables and functions below. A store records the
// version that created it; a newer one is refused.
inline constexpr int kFormatVersion = 1;

// OK for a usable schema name (postgres.h, PostgresOptions::schema).
Status ValidateSchemaName(std::string_view schema);

// The statements that create a store in `schema` (which must not exist),
// for one transaction. `now_ns` is the creation time.
std::string CreateSql(std::string_view schema, int64_t now_ns);

// The channel a store's commits are announced on (LISTEN/NOTIFY).
std::string NotifyChannel(std::string_view schema);

// Status codes of append(), per request.
enum AppendStatus : int {
  kAppended = 0,
  kConflict = 1,
  kDeleted = 2,
  kRepeat = 3,         // the events are stored already: the original result
  kPartialRepeat = 4,  // some of the request's ids are stored: conflict
  kGroupFailed = 5,    // another request of its AppendMulti failed
  kNoStream = 6,       // a snapshot of a stream that does not exist
  kAboveHead = 7,      // a snapshot above the stream's head
};

}  // namespace memoir::internal::pg

#endif  // MEMOIR_POSTGRES_SCHEMA_H_
