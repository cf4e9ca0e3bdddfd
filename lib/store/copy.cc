// CopyStore (memoir/inspect.h): a consistent copy through mdb_env_copyfd2.
#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>

#include "memoir/inspect.h"
#include "storage/env.h"
#include "storage/lmdb_error.h"
#include "store/store_internal.h"

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

// A compacting copy writes each page the walk of the source's trees meets.
// In a damaged file whose branch pages repeat or loop that walk need not
// end, and the copy would fill the disk. So LMDB writes into a pipe, and
// this relay moves to `out` at most what the source can hold: its pages in
// use plus two meta pages (a compacted copy is never larger). The copy
// reads a snapshot no newer than the source's newest commit, whose last
// page only grows, so the bound is read again before it is declared
// exceeded (a writer may commit while the copy runs). Past it, the relay
// closes the pipe, LMDB's next write fails (EPIPE; LMDB's copy thread
// blocks SIGPIPE) and the walk stops.
class BoundedRelay {
 public:
  BoundedRelay(int out, MDB_env* source) : out_(out), source_(source) {}

  // Moves bytes from `in` (the pipe's read end, which it closes) to out_.
  void Run(int in) {
    char buf[1 << 16];
    uint64_t bound = Bound();
    for (;;) {
      ssize_t got = ::read(in, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        error_ = errno;
        break;
      }
      if (got == 0) break;  // LMDB is done and the write end is closed
      moved_ += static_cast<uint64_t>(got);
      if (moved_ > bound) bound = Bound();
      if (moved_ > bound) {
        exceeded_ = bound;
        break;
      }
      if (!WriteAll(buf, static_cast<size_t>(got))) break;
    }
    ::close(in);
  }
  // The bound the copy outgrew, or 0.
  uint64_t exceeded() const { return exceeded_; }
  int error() const { return error_; }

 private:
  // The bytes of the source's pages in use, plus two meta pages; 0 when
  // LMDB cannot say (then every byte is over it: the copy stops).
  uint64_t Bound() const {
    MDB_envinfo info{};
    MDB_stat stat{};
    if (mdb_env_info(source_, &info) != 0 || mdb_env_stat(source_, &stat) != 0)
      return 0;
    return (static_cast<uint64_t>(info.me_last_pgno) + 1 + 2) * stat.ms_psize;
  }
  bool WriteAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t put = ::write(out_, p, n);
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) {
        error_ = errno;
        return false;
      }
      p += put;
      n -= static_cast<size_t>(put);
    }
    return true;
  }

  int out_;
  MDB_env* source_;
  uint64_t moved_ = 0;
  uint64_t exceeded_ = 0;
  int error_ = 0;
};

// mdb_env_copyfd2 with MDB_CP_COMPACT, into `fd`, through a BoundedRelay.
// Returns an LMDB or errno code; sets *outgrown to the bound when the copy
// outgrew the source (and leaves it 0 otherwise).
int CopyCompacted(MDB_env* env, int fd, uint64_t* outgrown) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
  BoundedRelay relay(fd, env);
  std::thread mover([&relay, in = pipe_fds[0]] { relay.Run(in); });
  int rc = mdb_env_copyfd2(env, pipe_fds[1], MDB_CP_COMPACT);
  ::close(pipe_fds[1]);
  mover.join();
  *outgrown = relay.exceeded();
  if (relay.error() != 0) return relay.error();
  return rc;
}

}  // namespace

Status CopyStore(Store& store, const std::string& dest,
                 const CopyOptions& options) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
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
  uint64_t outgrown = 0;
  int rc = options.compact ? CopyCompacted(env.raw(), fd, &outgrown)
                           : mdb_env_copyfd2(env.raw(), fd, 0);
  if (outgrown != 0) {
    ::close(fd);
    unlink(partial.c_str());
    return Status::Corruption(fmt::format(
        "the compacted copy of {} grew past the {} bytes the store uses, so "
        "its B-tree pages repeat or loop and the file is damaged; nothing was "
        "copied to {}. Check it with 'memoir verify'; a copy without "
        "compaction copies the pages as they are",
        store.path(), outgrown, dest));
  }
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
