// CopyStore (memoir/inspect.h): a consistent copy through mdb_env_copyfd2.
#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "memoir/inspect.h"
#include "src/store_internal.h"
#include "storage/env.h"
#include "storage/lmdb_error.h"

namespace memoir {
namespace {

Status Errno(int err, std::string_view what) {
  return internal::MdbStatus(err, what);
}

// Makes `dest` an empty-of-stores directory, creating it when missing.
Status PrepareDest(const std::string& dest, unsigned file_mode) {
  struct stat st {};
  if (stat(dest.c_str(), &st) != 0) {
    if (errno != ENOENT) return Errno(errno, fmt::format("reading {}", dest));
    mode_t mode = static_cast<mode_t>(file_mode | ((file_mode & 0444) >> 2));
    if (mkdir(dest.c_str(), mode) != 0) {
      return Errno(errno, fmt::format("creating directory {}", dest));
    }
    return Status::OK();
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(fmt::format(
        "{} exists and is not a directory; name a new or empty directory",
        dest));
  }
  if (stat((dest + "/data.mdb").c_str(), &st) == 0) {
    return Status::InvalidArgument(fmt::format(
        "{} already holds a store (data.mdb); copy to a new directory", dest));
  }
  return Status::OK();
}

}  // namespace

Status CopyStore(Store& store, const std::string& dest,
                 const CopyOptions& options) {
  Result<internal::StoreParts> parts = internal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  internal::Env& env = *parts->env;
  Status s = PrepareDest(dest, env.options().file_mode);
  if (!s.ok()) return s;
  // A read transaction of our own keeps this process from resizing the map
  // while LMDB copies (Env::GrowMap waits for it).
  Result<internal::ReadTxn> guard = env.BeginRead();
  if (!guard.ok()) return guard.status();

  const std::string partial = dest + "/data.mdb.partial";
  const std::string final_path = dest + "/data.mdb";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  static_cast<mode_t>(env.options().file_mode));
  if (fd < 0) return Errno(errno, fmt::format("creating {}", partial));
  int rc = mdb_env_copyfd2(env.raw(), fd, options.compact ? MDB_CP_COMPACT : 0);
  if (rc == 0 && fsync(fd) != 0) rc = errno;
  if (::close(fd) != 0 && rc == 0) rc = errno;
  if (rc == 0 && rename(partial.c_str(), final_path.c_str()) != 0) rc = errno;
  if (rc != 0) {
    unlink(partial.c_str());
    return internal::MdbStatus(
        rc, fmt::format("copying {} to {}", store.path(), dest));
  }
  // The rename is durable once the directory is synced.
  int dir = ::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    rc = fsync(dir) != 0 ? errno : 0;
    ::close(dir);
    if (rc != 0) return Errno(rc, fmt::format("syncing directory {}", dest));
  }
  return Status::OK();
}

}  // namespace memoir
