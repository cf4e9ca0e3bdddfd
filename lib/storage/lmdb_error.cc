#include "storage/lmdb_error.h"

#include <fmt/format.h>
#include <lmdb.h>

#include <cerrno>

namespace memoir::internal {

Status MdbStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::OK();
  const char* text = mdb_strerror(rc);
  Status s;
  switch (rc) {
    case MDB_NOTFOUND:
      s = Status::NotFound(fmt::format("{}: {}", what, text));
      break;
    case MDB_MAP_FULL:
      s = Status::StorageFull(fmt::format(
          "{}: {}; raise StoreOptions::max_map_size (the map grows up to it)",
          what, text));
      break;
    case ENOSPC:
      s = Status::StorageFull(fmt::format(
          "{}: {}; free disk space, then retry (the store stays usable)", what,
          text));
      break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
      s = Status::Corruption(fmt::format(
          "{}: {}; the file is damaged or not an LMDB store of this version; "
          "check it with 'memoir verify' or restore a copy",
          what, text));
      break;
    case MDB_CURSOR_FULL:
      // No valid tree is deeper than LMDB's cursor stack: pages loop.
      s = Status::Corruption(fmt::format(
          "{}: {}: the file's B-tree pages point back at each other, so the "
          "file is damaged; check a copy with 'memoir verify' and restore a "
          "copy or a backup",
          what, text));
      break;
    case MDB_PANIC:
      s = Status::IOError(fmt::format(
          "{}: {}; LMDB marked this environment failed after a fatal write "
          "error (such as a failed meta-page write); reads and writes fail "
          "until the store is reopened",
          what, text));
      break;
    case MDB_READERS_FULL:
      s =
          Status::Busy(fmt::format("{}: {}; too many concurrent readers, raise "
                                   "StoreOptions::max_readers",
                                   what, text));
      break;
    case MDB_MAP_RESIZED:
      s = Status::Busy(fmt::format(
          "{}: {}; another process grew the map, retry", what, text));
      break;
    case EAGAIN:
    case EBUSY:
      s = Status::Busy(fmt::format("{}: {}", what, text));
      break;
    case ENOENT:
      s = Status::NotFound(fmt::format("{}: {}", what, text));
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      s = Status::IOError(fmt::format(
          "{}: {}; check the permissions of the store directory", what, text));
      break;
    case EINVAL:
      s = Status::InvalidArgument(fmt::format("{}: {}", what, text));
      break;
    default:
      s = Status::IOError(fmt::format("{}: {}", what, text));
      break;
  }
  return s.WithRawError(rc);
}

Status KeysOutOfOrder(std::string_view table, std::string_view detail) {
  return Status::Corruption(fmt::format(
      "the {} table's keys go backwards ({}): its B-tree pages repeat or "
      "loop, so the file is damaged; check a copy with 'memoir verify' and "
      "restore a copy or a backup",
      table, detail));
}

bool IsFatalMdbError(int rc) {
  return rc == MDB_PANIC || rc == EIO || rc == MDB_CORRUPTED ||
         rc == MDB_PAGE_NOTFOUND || rc == MDB_BAD_TXN;
}

}  // namespace memoir::internal
