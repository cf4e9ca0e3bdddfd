#include "storage/env.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <set>
#include <utility>
#include <vector>

#include "storage/bytes.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

// --- Process-wide state -------------------------------------------------
//
// LMDB's locks are per process: opening one environment twice in a process
// and closing either copy silently drops the other's locks. The registry
// refuses the second open. fork() copies the registry and every MDB_env into
// the child, where neither may be used; the fork generation lets each Env
// notice that it now lives in a child.

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
using OpenSet = std::set<std::pair<dev_t, ino_t>>;
// The set lives behind a pointer so that a forked child can replace it
// without touching it (see AfterForkInChild).
OpenSet*& RegistryPointer() {
  static OpenSet* open = new OpenSet();
  return open;
}
OpenSet& Registry() { return *RegistryPointer(); }
// Sets a child abandoned, kept reachable so that they are not leaks. The
// list is never destroyed: a static vector's destructor would run at exit,
// before LeakSanitizer looks, and orphan them.
std::vector<OpenSet*>& Abandoned() {
  static auto* abandoned = new std::vector<OpenSet*>();
  return *abandoned;
}
std::atomic<uint64_t> g_fork_generation{0};

void AfterForkInChild() {
  g_fork_generation.fetch_add(1);
  // The parent's stores are not open in the child: allow the child to open
  // them afresh. The inherited mutex may be held by a parent thread that no
  // longer exists here, so rebuild it in place rather than locking it. That
  // thread may also have been halfway through changing the set, so the
  // child must not walk it (clearing it freed a node twice): it starts a
  // new one.
  new (&RegistryMutex()) std::mutex();
  Abandoned().push_back(RegistryPointer());
  RegistryPointer() = new OpenSet();
}

void InstallForkHandler() {
  static std::once_flag once;
  std::call_once(once,
                 [] { pthread_atfork(nullptr, nullptr, AfterForkInChild); });
}

std::string ProcessName() {
  char buf[256] = {0};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "unknown";
  std::string path(buf, static_cast<size_t>(n));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string NowIso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The write lock: an flock on <dir>/memoir.lock held for the life of a
// writable Env. flock is released by the kernel when the holder dies, so a
// crash never leaves a stale lock. The file names the holder for the error a
// second writer gets.
Status AcquireWriteLock(const std::string& dir, unsigned mode, int* fd_out) {
  std::string path = dir + "/memoir.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    return MdbStatus(err, fmt::format("opening the write lock {}", path));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) holder.assign(buf, static_cast<size_t>(n));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == 0)) {
      holder.pop_back();
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Busy(
                 fmt::format("store {} is held for writing by another "
                             "process ({}); open it read-only, or stop that "
                             "process first",
                             dir, holder.empty() ? "holder unknown" : holder))
          .WithRawError(err);
    }
    return MdbStatus(err, fmt::format("locking {}", path));
  }
  std::string who = fmt::format("pid {} ({}), since {}", getpid(),
                                ProcessName(), NowIso8601());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, who.data(), who.size(), 0) !=
                                   static_cast<ssize_t>(who.size())) {
    // The lock is held; only the holder's description is missing. Not fatal.
  }
  *fd_out = fd;
  return Status::OK();
}

}  // namespace

ReadTxn::ReadTxn(ReadTxn&& other) noexcept
    : env_(other.env_), txn_(other.txn_), gate_(std::move(other.gate_)) {
  other.txn_ = nullptr;
}

ReadTxn::~ReadTxn() {
  if (txn_ != nullptr) env_->ReleaseRead(txn_);
}

Result<std::unique_ptr<Env>> Env::Open(const std::string& dir,
                                       const StoreOptions& options) {
  InstallForkHandler();
  std::unique_ptr<Env> env(new Env());
  Status s = env->OpenImpl(dir, options);
  if (!s.ok()) return s;
  return env;
}

namespace {

// The options Open refuses before touching the disk.
Status CheckOptions(const StoreOptions& options) {
  if (options.no_lock && !options.read_only) {
    return Status::InvalidArgument(
        "StoreOptions::no_lock requires read_only: a writer needs the lock "
        "file to keep readers safe");
  }
  if (options.map_size < (size_t{1} << 20) ||
      options.max_map_size < options.map_size) {
    return Status::InvalidArgument(fmt::format(
        "map_size must be at least 1 MiB and at most max_map_size (got "
        "map_size={}, max_map_size={})",
        options.map_size, options.max_map_size));
  }
  if (options.max_readers == 0) {
    return Status::InvalidArgument("max_readers must be at least 1");
  }
  if (options.idempotency_window > kMaxIdempotencyWindow) {
    return Status::InvalidArgument(fmt::format(
        "idempotency_window must be at most {} events (got {}); an exact "
        "expectation already finds repeats in the whole history",
        kMaxIdempotencyWindow, options.idempotency_window));
  }
  return Status::OK();
}

// The store's directory, created when missing and allowed; `st` describes
// it. A read-only open needs an existing data.mdb.
Status PrepareDirectory(const std::string& dir, const StoreOptions& options,
                        struct stat* st) {
  if (stat(dir.c_str(), st) != 0) {
    if (errno != ENOENT)
      return MdbStatus(errno, fmt::format("reading {}", dir));
    if (options.read_only || !options.create_if_missing) {
      return Status::NotFound(
          fmt::format("no store at {}: the directory does not exist", dir));
    }
    mode_t dir_mode = static_cast<mode_t>(options.file_mode |
                                          ((options.file_mode & 0444) >> 2));
    if (mkdir(dir.c_str(), dir_mode) != 0 && errno != EEXIST) {
      return MdbStatus(errno, fmt::format("creating store directory {}", dir));
    }
    if (stat(dir.c_str(), st) != 0) {
      return MdbStatus(errno, fmt::format("reading {}", dir));
    }
  }
  if (!S_ISDIR(st->st_mode)) {
    return Status::InvalidArgument(fmt::format(
        "{} is not a directory: a store is a directory holding data.mdb", dir));
  }
  if (options.read_only) {
    struct stat data {};
    if (stat((dir + "/data.mdb").c_str(), &data) != 0) {
      return Status::NotFound(
          fmt::format("no store at {}: data.mdb is missing", dir));
    }
  }
  return Status::OK();
}

}  // namespace

Status Env::OpenImpl(const std::string& dir, const StoreOptions& options) {
  options_ = options;
  dir_ = dir;
  fork_generation_ = g_fork_generation.load();
  if (dir.empty()) return Status::InvalidArgument("store path is empty");
  Status s = CheckOptions(options);
  if (!s.ok()) return s;
  struct stat st {};
  s = PrepareDirectory(dir, options, &st);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    if (!Registry().insert({st.st_dev, st.st_ino}).second) {
      return Status::Busy(fmt::format(
          "store {} is already open in this process; share the open Store "
          "instead (LMDB forbids opening one environment twice per process)",
          dir));
    }
  }
  registered_ = true;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (!options.read_only) {
    s = AcquireWriteLock(dir, options.file_mode, &lock_fd_);
    if (!s.ok()) return s;
  }
  s = OpenLmdb();
  if (!s.ok()) return s;
  Result<MDB_dbi> meta = OpenDatabase("meta");
  if (!meta.ok()) return meta.status();
  meta_ = *meta;
  return CheckFormat();
}

Status Env::OpenLmdb() {
  int rc = mdb_env_create(&env_);
  if (rc != 0) return MdbStatus(rc, "creating the LMDB environment");
  mdb_env_set_maxreaders(env_, options_.max_readers);
  mdb_env_set_maxdbs(env_, 16);
  mdb_env_set_mapsize(env_, options_.map_size);

  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (options_.read_only) flags |= MDB_RDONLY;
  if (options_.no_lock) flags |= MDB_NOLOCK;
  if (options_.durability == Durability::kNoMetaSync) flags |= MDB_NOMETASYNC;
  if (options_.durability == Durability::kNone) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, dir_.c_str(), flags,
                    static_cast<mdb_mode_t>(options_.file_mode));
  if (rc != 0) {
    Status s = MdbStatus(rc, fmt::format("opening store {}", dir_));
    mdb_env_close(env_);
    env_ = nullptr;
    return s;
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_.store(info.me_mapsize);

  // Slots of readers that died without closing their transactions would
  // otherwise pin old pages forever.
  if (!options_.no_lock) {
    int dead = 0;
    mdb_reader_check(env_, &dead);
  }
  return Status::OK();
}

Status Env::CheckFormat() {
  static constexpr char kKey[] = "format_version";
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, read_only() ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return MdbStatus(rc, fmt::format("reading format of {}", dir_));
  MDB_val key{sizeof(kKey) - 1, const_cast<char*>(kKey)};
  MDB_val val;
  rc = mdb_get(txn, meta_, &key, &val);
  if (rc == MDB_NOTFOUND) {
    if (read_only()) {
      mdb_txn_abort(txn);
      return Status::Corruption(fmt::format(
          "{} has no memoir format version: not a memoir store", dir_));
    }
    char buf[8];
    PutLittle64(buf, kFormatVersion);
    MDB_val v{sizeof(buf), buf};
    rc = mdb_put(txn, meta_, &key, &v, 0);
    const std::string what =
        fmt::format("writing the format version of {}", dir_);
    if (rc == 0) return MdbStatus(mdb_txn_commit(txn), what);
    mdb_txn_abort(txn);
    return MdbStatus(rc, what);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return MdbStatus(rc, fmt::format("reading format of {}", dir_));
  }
  uint64_t version =
      val.mv_size == 8 ? GetLittle64(static_cast<const char*>(val.mv_data)) : 0;
  if (version == 0) {
    mdb_txn_abort(txn);
    return Status::Corruption(
        fmt::format("{}: format version record is damaged", dir_));
  }
  if (version > kFormatVersion) {
    mdb_txn_abort(txn);
    return Status::InvalidArgument(fmt::format(
        "{} was written in store format {}, newer than the {} this build of "
        "memoir reads; upgrade memoir to open it",
        dir_, version, kFormatVersion));
  }
  if (version < kFormatVersion && !read_only()) {
    // Every format so far only adds to the one before: the writer takes
    // the store over and records the format it keeps from now on.
    char buf[8];
    PutLittle64(buf, kFormatVersion);
    MDB_val v{sizeof(buf), buf};
    rc = mdb_put(txn, meta_, &key, &v, 0);
    const std::string what =
        fmt::format("upgrading {} from store format {} to {}", dir_, version,
                    kFormatVersion);
    if (rc == 0) return MdbStatus(mdb_txn_commit(txn), what);
    mdb_txn_abort(txn);
    return MdbStatus(rc, what);
  }
  mdb_txn_abort(txn);
  return Status::OK();
}

Env::~Env() {
  if (forked()) {
    // Inherited through fork(): mdb_env_close would release the parent's
    // reader slots. Leave the mapping alone; the child's exit cleans it.
    return;
  }
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (MDB_txn* txn : pool_) mdb_txn_abort(txn);
    pool_.clear();
  }
  if (env_ != nullptr) mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (registered_) {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    Registry().erase({dev_, ino_});
  }
}

bool Env::forked() const {
  return fork_generation_ != g_fork_generation.load(std::memory_order_relaxed);
}

Status Env::CheckProcess() const {
  if (forked()) {
    return Status::InvalidArgument(fmt::format(
        "store {} was opened before this process was forked; a forked child "
        "must open the store itself (LMDB environments do not survive fork)",
        dir_));
  }
  return Status::OK();
}

Result<std::optional<MDB_dbi>> Env::OpenDatabaseIfPresent(const char* name) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("opening database {} in {}", name, dir_));
  }
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(txn, name, 0, &dbi);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return std::optional<MDB_dbi>();
  }
  // Committing (also for read-only transactions) keeps the handle open.
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("opening database {} in {}", name, dir_));
  }
  return std::optional<MDB_dbi>(dbi);
}

Result<MDB_dbi> Env::OpenDatabase(const char* name, unsigned flags) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, read_only() ? MDB_RDONLY : 0, &txn);
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("opening database {} in {}", name, dir_));
  }
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(txn, name, flags | (read_only() ? 0 : MDB_CREATE), &dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) {
      return Status::Corruption(fmt::format(
          "{} has no '{}' database: not a memoir store, or one written by an "
          "incomplete version",
          dir_, name));
    }
    return MdbStatus(rc, fmt::format("opening database {} in {}", name, dir_));
  }
  // Committing (also for read-only transactions) keeps the handle open.
  rc = mdb_txn_commit(txn);
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("opening database {} in {}", name, dir_));
  }
  return dbi;
}

Result<ReadTxn> Env::BeginRead() { return BeginRead(ShareGate()); }

std::shared_lock<std::shared_timed_mutex> Env::ShareGate() {
  return std::shared_lock<std::shared_timed_mutex>(gate_);
}

Result<ReadTxn> Env::BeginRead(std::shared_lock<std::shared_timed_mutex> gate) {
  Status s = CheckProcess();
  if (!s.ok()) return s;
  for (int attempt = 0;; ++attempt) {
    if (!gate.owns_lock()) gate = ShareGate();
    MDB_txn* txn = nullptr;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        txn = pool_.back();
        pool_.pop_back();
      }
    }
    int rc;
    if (txn != nullptr) {
      rc = mdb_txn_renew(txn);
      if (rc != 0) mdb_txn_abort(txn);
    } else {
      rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    }
    if (rc == 0) return ReadTxn(this, txn, std::move(gate));
    if (rc == MDB_MAP_RESIZED && attempt < 3) {
      // Another process grew the map: adopt its size, then retry.
      gate.unlock();
      std::unique_lock<std::shared_timed_mutex> excl(gate_);
      {
        std::lock_guard<std::mutex> lock(pool_mu_);
        for (MDB_txn* t : pool_) mdb_txn_abort(t);
        pool_.clear();
      }
      mdb_env_set_mapsize(env_, 0);
      MDB_envinfo info;
      mdb_env_info(env_, &info);
      map_size_.store(info.me_mapsize);
      continue;
    }
    return MdbStatus(rc, fmt::format("starting a read of {}", dir_));
  }
}

void Env::ReleaseRead(MDB_txn* txn) {
  mdb_txn_reset(txn);
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < 32) {
    pool_.push_back(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

int Env::BeginWrite(MDB_txn** txn) {
  return mdb_txn_begin(env_, nullptr, 0, txn);
}

Status Env::GrowMap(std::chrono::milliseconds wait) {
  size_t current = map_size_.load();
  if (current >= options_.max_map_size) {
    return Status::StorageFull(fmt::format(
        "store {} is full: the map reached StoreOptions::max_map_size ({} "
        "bytes); raise max_map_size and reopen, or delete old events",
        dir_, options_.max_map_size));
  }
  size_t target =
      current > options_.max_map_size / 2 ? options_.max_map_size : current * 2;
  std::unique_lock<std::shared_timed_mutex> excl(gate_, std::defer_lock);
  if (!excl.try_lock_for(wait)) {
    return Status::Busy(fmt::format(
        "store {} needs a larger map, but read transactions of this process "
        "stayed open for {} ms; finish long reads and retry",
        dir_, wait.count()));
  }
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (MDB_txn* t : pool_) mdb_txn_abort(t);
    pool_.clear();
  }
  int rc = mdb_env_set_mapsize(env_, target);
  if (rc != 0) return MdbStatus(rc, fmt::format("growing the map of {}", dir_));
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_.store(info.me_mapsize);
  return Status::OK();
}

}  // namespace memoir::internal
