// Translation of LMDB and errno codes into Status: the one place that knows
// which raw code means what for callers.
#ifndef MEMOIR_STORAGE_LMDB_ERROR_H_
#define MEMOIR_STORAGE_LMDB_ERROR_H_

#include <string_view>

#include "memoir/status.h"

namespace memoir::internal {

// `what` says what was being done ("committing to /srv/store"); the result
// keeps `rc` as raw_error() and LMDB's own text in its message, plus what to
// do about it.
Status MdbStatus(int rc, std::string_view what);

// LMDB keeps each table's keys in increasing order and its cursors walk
// them so. A damaged file whose branch pages repeat or point back at each
// other breaks that: a walk revisits pages, possibly without end, or LMDB's
// cursor stack overflows (MDB_CURSOR_FULL). Walks that could print or count
// the same record twice check each key against the last one, and say so
// with this error: `table` names the table, `detail` the keys met.
Status KeysOutOfOrder(std::string_view table, std::string_view detail);

// True for codes after which the environment must not be written again
// until it is reopened (a failed sync may have dropped dirty pages, and
// MDB_PANIC marks the environment unusable).
bool IsFatalMdbError(int rc);

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_LMDB_ERROR_H_
