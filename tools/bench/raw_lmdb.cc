// Baselines done directly with the LMDB C API, the floor memoir's journal is
// built on, and the bare fsync floor below that.
#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench.h"

namespace memoir::bench {
namespace {

constexpr size_t kMapSize = size_t{64} << 30;  // address space only

Status MdbError(int rc, const std::string& what) {
  return Status::IOError(fmt::format("{}: {}", what, mdb_strerror(rc)))
      .WithRawError(rc);
}

// One LMDB environment in its own new directory, closed on destruction.
class RawEnv {
 public:
  RawEnv() = default;
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;
  ~RawEnv() { Close(); }

  Status Open(const std::string& dir, Durability durability, bool create) {
    if (create && mkdir(dir.c_str(), 0700) != 0) {
      return Status::IOError(
          fmt::format("creating {}: {}", dir, std::strerror(errno)));
    }
    int rc = mdb_env_create(&env_);
    if (rc != 0) return MdbError(rc, "mdb_env_create");
    mdb_env_set_maxdbs(env_, 4);
    mdb_env_set_mapsize(env_, kMapSize);
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (durability == Durability::kNoMetaSync) flags |= MDB_NOMETASYNC;
    if (durability == Durability::kNone) flags |= MDB_NOSYNC;
    rc = mdb_env_open(env_, dir.c_str(), flags, 0600);
    if (rc != 0) return MdbError(rc, fmt::format("opening LMDB in {}", dir));
    return Status::OK();
  }

  // Opens (creating) the named database.
  Status Db(const char* name, MDB_dbi* dbi) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return MdbError(rc, "mdb_txn_begin");
    rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return MdbError(rc, fmt::format("opening database {}", name));
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return MdbError(rc, "committing mdb_dbi_open");
    return Status::OK();
  }

  // Flushes everything (for stores written without sync) and closes.
  Status SyncAndClose() {
    int rc = mdb_env_sync(env_, 1);
    Close();
    return rc == 0 ? Status::OK() : MdbError(rc, "mdb_env_sync");
  }

  void Close() {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }

  MDB_env* get() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

MDB_val Val(const void* data, size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}

// Folded into by checked walks, so that the hashing is not optimised away.
volatile uint64_t g_checked_sink = 0;

// Visits every entry (or those whose key starts with `prefix`) once,
// returning the count; `bytes` sums the value sizes. With `check`, also
// hashes each value with XXH3 as a reader that verifies its records must.
Result<uint64_t> Walk(MDB_env* env, MDB_dbi dbi, const std::string& prefix,
                      uint64_t* bytes, bool check) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return MdbError(rc, "mdb_txn_begin (read)");
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return MdbError(rc, "mdb_cursor_open");
  }
  uint64_t count = 0;
  uint64_t hashes = 0;
  MDB_val key = Val(prefix.data(), prefix.size());
  MDB_val value{};
  rc = mdb_cursor_get(cursor, &key, &value,
                      prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    if (!prefix.empty() &&
        (key.mv_size < prefix.size() ||
         std::memcmp(key.mv_data, prefix.data(), prefix.size()) != 0)) {
      break;
    }
    ++count;
    *bytes += value.mv_size;
    if (check) hashes ^= XXH3_64bits(value.mv_data, value.mv_size);
    rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
  }
  g_checked_sink = g_checked_sink ^ hashes;
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbError(rc, "cursor walk");
  return count;
}

// Writes `events` payloads under keys made by `make_key`.
template <typename MakeKey>
Status Write(const std::string& dir, uint64_t events, size_t payload,
             MakeKey make_key) {
  const std::string value(payload, 'v');
  RawEnv env;
  Status s = env.Open(dir, Durability::kNone, /*create=*/true);
  if (!s.ok()) return s;
  MDB_dbi dbi;
  if (s = env.Db("data", &dbi); !s.ok()) return s;
  constexpr uint64_t kPerTxn = 100000;
  for (uint64_t i = 1; i <= events;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env.get(), nullptr, 0, &txn);
    if (rc != 0) return MdbError(rc, "mdb_txn_begin");
    for (uint64_t end = std::min(events + 1, i + kPerTxn); i < end; ++i) {
      std::string k = make_key(i);
      MDB_val key = Val(k.data(), k.size());
      MDB_val val = Val(value.data(), value.size());
      rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND);
      if (rc != 0) {
        mdb_txn_abort(txn);
        return MdbError(rc, "mdb_put");
      }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return MdbError(rc, "mdb_txn_commit");
  }
  return env.SyncAndClose();
}

// Opens what Write wrote (or the database `db` of another environment)
// and times two walks of it; each value must hold at least `payload` bytes,
// exactly that many when `exact`.
Result<ScanResult> Walk2(const std::string& dir, uint64_t events,
                         size_t payload, const std::string& prefix,
                         bool check = false, const char* db = "data",
                         bool exact = true) {
  RawEnv env;
  Status s = env.Open(dir, Durability::kNone, /*create=*/false);
  if (!s.ok()) return s;
  MDB_dbi dbi;
  if (s = env.Db(db, &dbi); !s.ok()) return s;
  ScanResult result;
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t bytes = 0;
    auto start = std::chrono::steady_clock::now();
    Result<uint64_t> count = Walk(env.get(), dbi, prefix, &bytes, check);
    double seconds = SecondsSince(start);
    if (!count.ok()) return count.status();
    if (*count != events || bytes < events * payload ||
        (exact && bytes != events * payload)) {
      return Status::Corruption(fmt::format(
          "raw LMDB walk in {} saw {} events and {} bytes, expected {} and "
          "{}{}",
          dir, *count, bytes, events, exact ? "" : "at least ",
          events * payload));
    }
    result.events = *count;
    (pass == 0 ? result.cold_seconds : result.hot_seconds) = seconds;
  }
  return result;
}

std::string Key64(uint64_t v) {
  std::string key(8, '\0');
  PutBig64(v, key.data());
  return key;
}

}  // namespace

namespace {

class RawLogAppender final : public Appender {
 public:
  Status Open(const AppendLoad& load) {
    value_.assign(load.payload, 'p');
    Status s = env_.Open(load.dir, load.durability, /*create=*/true);
    return s.ok() ? env_.Db("log", &log_) : s;
  }

  Result<RunResult> Run(size_t batch, double seconds,
                        uint64_t events) override {
    char key_bytes[8];
    RunResult result;
    Budget budget(seconds, events);
    while (!budget.Done(result.events)) {
      MDB_txn* txn = nullptr;
      int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn);
      if (rc != 0) return MdbError(rc, "mdb_txn_begin");
      for (size_t i = budget.Next(batch, result.events); i > 0; --i) {
        PutBig64(++last_, key_bytes);
        ++result.events;
        MDB_val key = Val(key_bytes, sizeof key_bytes);
        MDB_val val = Val(value_.data(), value_.size());
        rc = mdb_put(txn, log_, &key, &val, MDB_APPEND);
        if (rc != 0) {
          mdb_txn_abort(txn);
          return MdbError(rc, "mdb_put (log)");
        }
      }
      rc = mdb_txn_commit(txn);
      if (rc != 0) return MdbError(rc, "mdb_txn_commit");
      ++result.transactions;
    }
    result.seconds = budget.Elapsed();
    return result;
  }

 private:
  RawEnv env_;
  MDB_dbi log_ = 0;
  std::string value_;
  uint64_t last_ = 0;
};

class RawStreamAppender final : public Appender {
 public:
  Status Open(const AppendLoad& load) {
    value_.assign(load.payload, 'p');
    seqs_.assign(load.streams, 0);
    Status s = env_.Open(load.dir, load.durability, /*create=*/true);
    if (s.ok()) s = env_.Db("events", &events_);
    if (s.ok()) s = env_.Db("order", &order_);
    return s;
  }

  Result<RunResult> Run(size_t batch, double seconds,
                        uint64_t events) override {
    char stream_key[16];  // stream id ++ seq
    char position_key[8];
    RunResult result;
    Budget budget(seconds, events);
    while (!budget.Done(result.events)) {
      MDB_txn* txn = nullptr;
      int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn);
      if (rc != 0) return MdbError(rc, "mdb_txn_begin");
      for (size_t i = budget.Next(batch, result.events); i > 0 && rc == 0;
           --i) {
        uint64_t stream = next_stream_++ % seqs_.size();
        PutBig64(stream + 1, stream_key);
        PutBig64(++seqs_[stream], stream_key + 8);
        PutBig64(++position_, position_key);
        ++result.events;
        MDB_val key = Val(stream_key, sizeof stream_key);
        MDB_val val = Val(value_.data(), value_.size());
        rc = mdb_put(txn, events_, &key, &val, 0);
        if (rc != 0) break;
        MDB_val pos = Val(position_key, sizeof position_key);
        MDB_val ref = Val(stream_key, sizeof stream_key);
        rc = mdb_put(txn, order_, &pos, &ref, MDB_APPEND);
      }
      if (rc != 0) {
        mdb_txn_abort(txn);
        return MdbError(rc, "mdb_put (per-stream layout)");
      }
      rc = mdb_txn_commit(txn);
      if (rc != 0) return MdbError(rc, "mdb_txn_commit");
      ++result.transactions;
    }
    result.seconds = budget.Elapsed();
    return result;
  }

 private:
  RawEnv env_;
  MDB_dbi events_ = 0;
  MDB_dbi order_ = 0;
  std::string value_;
  std::vector<uint64_t> seqs_;
  uint64_t next_stream_ = 0;
  uint64_t position_ = 0;
};

}  // namespace

Result<std::unique_ptr<Appender>> OpenRawLogAppender(const AppendLoad& load) {
  return OpenAppender<RawLogAppender>(load);
}

Result<std::unique_ptr<Appender>> OpenRawStreamAppender(
    const AppendLoad& load) {
  return OpenAppender<RawStreamAppender>(load);
}

Status RawStreamWrite(const std::string& dir, uint64_t events, size_t payload) {
  const std::string prefix = Key64(1);
  return Write(dir, events, payload,
               [&prefix](uint64_t seq) { return prefix + Key64(seq); });
}

Result<ScanResult> RawStreamScan(const std::string& dir, uint64_t events,
                                 size_t payload) {
  return Walk2(dir, events, payload, Key64(1));
}

Result<ScanResult> MemoirLogWalk(const std::string& store_dir, uint64_t events,
                                 size_t payload, bool check) {
  return Walk2(store_dir, events, payload, "", check, "log", /*exact=*/false);
}

namespace {

// One durable single-event transaction per Step on a raw LMDB log.
class RawCommitter final : public Stepper {
 public:
  Status Open(const std::string& dir, size_t payload) {
    value_.assign(payload, 'p');
    Status s = env_.Open(dir, Durability::kSync, /*create=*/true);
    return s.ok() ? env_.Db("log", &log_) : s;
  }

  Result<double> Step() override {
    auto start = std::chrono::steady_clock::now();
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn);
    if (rc != 0) return MdbError(rc, "mdb_txn_begin");
    char key_bytes[8];
    PutBig64(++last_, key_bytes);
    MDB_val key = Val(key_bytes, sizeof key_bytes);
    MDB_val val = Val(value_.data(), value_.size());
    rc = mdb_put(txn, log_, &key, &val, MDB_APPEND);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return MdbError(rc, "mdb_put");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return MdbError(rc, "mdb_txn_commit");
    return SecondsSince(start) * 1e6;
  }

 private:
  RawEnv env_;
  MDB_dbi log_ = 0;
  std::string value_;
  uint64_t last_ = 0;
};

// One pwrite of 4096 bytes + fdatasync per Step, cycling over a
// preallocated file so that no write changes the file's size.
class FsyncFile final : public Stepper {
 public:
  ~FsyncFile() override {
    if (fd_ >= 0) {
      close(fd_);
      unlink(path_.c_str());
    }
  }

  Status Open(const std::string& path, size_t pages) {
    path_ = path;
    pages_ = std::max<size_t>(pages, 1);
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd_ < 0) return Error("opening");
    for (size_t i = 0; i < pages_; ++i) {
      if (pwrite(fd_, page_.data(), page_.size(), Offset(i)) !=
          ssize_t(page_.size())) {
        return Error("preallocating");
      }
    }
    return fsync(fd_) == 0 ? Status::OK() : Error("fsync");
  }

  Result<double> Step() override {
    auto start = std::chrono::steady_clock::now();
    if (pwrite(fd_, page_.data(), page_.size(), Offset(next_++ % pages_)) !=
        ssize_t(page_.size())) {
      return Error("pwrite");
    }
    if (fdatasync(fd_) != 0) return Error("fdatasync");
    return SecondsSince(start) * 1e6;
  }

 private:
  off_t Offset(size_t page) const { return off_t(page * page_.size()); }
  Status Error(const char* what) const {
    return Status::IOError(
        fmt::format("{} {}: {}", what, path_, std::strerror(errno)));
  }

  std::string path_;
  int fd_ = -1;
  size_t pages_ = 1;
  size_t next_ = 0;
  std::vector<char> page_ = std::vector<char>(4096, 'f');
};

}  // namespace

Result<std::unique_ptr<Stepper>> OpenRawCommitter(const std::string& dir,
                                                  size_t payload) {
  auto committer = std::make_unique<RawCommitter>();
  Status s = committer->Open(dir, payload);
  if (!s.ok()) return s;
  return std::unique_ptr<Stepper>(std::move(committer));
}

Result<std::unique_ptr<Stepper>> OpenFsyncFile(const std::string& path,
                                               size_t pages) {
  auto file = std::make_unique<FsyncFile>();
  Status s = file->Open(path, pages);
  if (!s.ok()) return s;
  return std::unique_ptr<Stepper>(std::move(file));
}

}  // namespace memoir::bench
