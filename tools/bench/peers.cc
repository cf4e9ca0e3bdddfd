// Baselines on other embedded stores, each compiled only when the build
// found it: RocksDB (MEMOIR_BENCH_ROCKSDB) and SQLite (MEMOIR_BENCH_SQLITE).
//
// Durability mapping: kSync and kNoMetaSync sync every commit (RocksDB
// WriteOptions::sync, SQLite synchronous=FULL); kNone syncs nothing
// (RocksDB sync=false, SQLite synchronous=OFF).
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"

#if MEMOIR_BENCH_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#endif
#if MEMOIR_BENCH_SQLITE
#include <sqlite3.h>
#endif

namespace memoir::bench {
namespace {

[[maybe_unused]] std::string StreamKey(uint64_t stream, uint64_t seq) {
  std::string key(16, '\0');
  PutBig64(stream, key.data());
  PutBig64(seq, key.data() + 8);
  return key;
}

}  // namespace

#if MEMOIR_BENCH_ROCKSDB
namespace {

Status RocksError(const rocksdb::Status& s, const std::string& what) {
  return Status::IOError(fmt::format("RocksDB {}: {}", what, s.ToString()));
}

Result<std::unique_ptr<rocksdb::DB>> OpenRocks(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return RocksError(s, fmt::format("opening {}", dir));
  return std::unique_ptr<rocksdb::DB>(db);
}

// What both RocksDB appenders hold: the database, closed on destruction,
// the write options for the load's durability, and the value written.
class RocksAppenderBase : public Appender {
 public:
  ~RocksAppenderBase() override {
    if (db_) (void)db_->Close();
  }

 protected:
  Status OpenDb(const AppendLoad& load) {
    Result<std::unique_ptr<rocksdb::DB>> db = OpenRocks(load.dir);
    if (!db.ok()) return db.status();
    db_ = std::move(db).value();
    write_options_.sync = load.durability != Durability::kNone;
    value_.assign(load.payload, 'p');
    return Status::OK();
  }

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
  std::string value_;
};

}  // namespace

class RocksAppender final : public RocksAppenderBase {
 public:
  Status Open(const AppendLoad& load) {
    if (Status s = OpenDb(load); !s.ok()) return s;
    seqs_.assign(load.streams, 0);
    return Status::OK();
  }

  Result<RunResult> Run(size_t batch, double seconds,
                        uint64_t events) override {
    RunResult result;
    Budget budget(seconds, events);
    while (!budget.Done(result.events)) {
      rocksdb::WriteBatch wb;
      for (size_t i = budget.Next(batch, result.events); i > 0; --i) {
        uint64_t stream = next_stream_++ % seqs_.size();
        rocksdb::Status s =
            wb.Put(StreamKey(stream + 1, ++seqs_[stream]), value_);
        if (!s.ok()) return RocksError(s, "WriteBatch::Put");
        ++result.events;
      }
      rocksdb::Status s = db_->Write(write_options_, &wb);
      if (!s.ok()) return RocksError(s, "Write");
      ++result.transactions;
    }
    result.seconds = budget.Elapsed();
    return result;
  }

 private:
  std::vector<uint64_t> seqs_;
  uint64_t next_stream_ = 0;
};

Result<std::unique_ptr<Appender>> OpenRocksAppender(const AppendLoad& load) {
  return OpenAppender<RocksAppender>(load);
}

// The same work as memoir's producers, on RocksDB: `producers` threads, each
// writing events_per_append events per synced WriteBatch to streams p, p+P,
// p+2P, ... RocksDB's write thread joins concurrent writers into one WAL
// write and one sync, as memoir's group commit does, so this is what a user
// who picked RocksDB for this load would get.
class RocksProducersAppender final : public RocksAppenderBase {
 public:
  Status Open(const AppendLoad& load) {
    if (Status s = OpenDb(load); !s.ok()) return s;
    streams_ = std::max<size_t>(1, load.streams);
    seqs_ = std::make_unique<std::atomic<uint64_t>[]>(streams_);
    producers_ = std::max<size_t>(1, load.producers);
    per_write_ = std::max<size_t>(1, load.events_per_append);
    next_.assign(producers_, 0);
    return Status::OK();
  }

  Result<RunResult> Run(size_t /*batch*/, double seconds,
                        uint64_t events) override {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reserved{0};
    std::atomic<uint64_t> written{0};
    std::atomic<uint64_t> writes{0};
    std::mutex mu;
    Status first_error;
    auto start = std::chrono::steady_clock::now();
    auto producer = [&](size_t p) {
      while (!stop.load(std::memory_order_relaxed)) {
        size_t n = per_write_;
        if (events > 0) {
          uint64_t from = reserved.fetch_add(n);
          if (from >= events) break;
          n = static_cast<size_t>(std::min<uint64_t>(n, events - from));
        }
        // Streams p, p+P, ... wrap around and meet other producers' (as
        // in memoir's run), so a stream's next seq is taken atomically.
        const size_t stream = (p + next_[p]++ * producers_) % streams_;
        const uint64_t first = seqs_[stream].fetch_add(n) + 1;
        rocksdb::WriteBatch wb;
        rocksdb::Status s;
        for (size_t i = 0; i < n && s.ok(); ++i) {
          s = wb.Put(StreamKey(stream + 1, first + i), value_);
        }
        if (s.ok()) s = db_->Write(write_options_, &wb);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = RocksError(s, "Write");
          stop = true;
          break;
        }
        written += n;
        ++writes;
      }
    };
    std::vector<std::thread> threads;
    for (size_t p = 0; p < producers_; ++p) threads.emplace_back(producer, p);
    if (events == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      stop = true;
    }
    for (std::thread& t : threads) t.join();
    if (!first_error.ok()) return first_error;
    RunResult result;
    result.seconds = SecondsSince(start);
    result.events = written.load();
    result.transactions = writes.load();
    return result;
  }

 private:
  size_t streams_ = 1;
  std::unique_ptr<std::atomic<uint64_t>[]> seqs_;  // per stream: last seq
  size_t producers_ = 1;
  size_t per_write_ = 1;
  std::vector<uint64_t> next_;  // per producer: writes made so far
};

Result<std::unique_ptr<Appender>> OpenRocksProducersAppender(
    const AppendLoad& load) {
  return OpenAppender<RocksProducersAppender>(load);
}

Status RocksWrite(const std::string& dir, uint64_t events, size_t payload) {
  const std::string value(payload, 'v');
  Result<std::unique_ptr<rocksdb::DB>> db = OpenRocks(dir);
  if (!db.ok()) return db.status();
  for (uint64_t seq = 1; seq <= events;) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 1000 && seq <= events; ++i, ++seq) {
      rocksdb::Status s = batch.Put(StreamKey(1, seq), value);
      if (!s.ok()) return RocksError(s, "WriteBatch::Put");
    }
    rocksdb::Status s = (*db)->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return RocksError(s, "Write");
  }
  // Read from table files, not from a memtable rebuilt from the log.
  rocksdb::Status s = (*db)->Flush(rocksdb::FlushOptions());
  if (!s.ok()) return RocksError(s, "Flush");
  if (s = (*db)->Close(); !s.ok()) return RocksError(s, "Close");
  return Status::OK();
}

Result<ScanResult> RocksScan(const std::string& dir, uint64_t events,
                             size_t payload) {
  Result<std::unique_ptr<rocksdb::DB>> db = OpenRocks(dir);
  if (!db.ok()) return db.status();
  const std::string prefix = StreamKey(1, 0).substr(0, 8);
  ScanResult result;
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t count = 0;
    uint64_t bytes = 0;
    auto start = std::chrono::steady_clock::now();
    std::unique_ptr<rocksdb::Iterator> it(
        (*db)->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      ++count;
      bytes += it->value().size();
    }
    double seconds = SecondsSince(start);
    if (!it->status().ok()) return RocksError(it->status(), "iterating");
    if (count != events || bytes != events * payload) {
      return Status::Corruption(fmt::format(
          "RocksDB scan saw {} events, expected {}", count, events));
    }
    result.events = count;
    (pass == 0 ? result.cold_seconds : result.hot_seconds) = seconds;
  }
  rocksdb::Status s = (*db)->Close();
  if (!s.ok()) return RocksError(s, "Close");
  return result;
}
#endif  // MEMOIR_BENCH_ROCKSDB

#if MEMOIR_BENCH_SQLITE
namespace {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Status SqliteError(sqlite3* db, const std::string& what) {
  return Status::IOError(
      fmt::format("SQLite {}: {}", what, db ? sqlite3_errmsg(db) : "?"));
}

Status Exec(sqlite3* db, const std::string& sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, sql);
  }
  return Status::OK();
}

// Opens (creating) the database file in `dir` with the benchmark's table.
Result<SqliteDb> OpenSqlite(const std::string& dir, const char* synchronous,
                            bool create_dir) {
  if (create_dir && mkdir(dir.c_str(), 0700) != 0) {
    return Status::IOError(fmt::format("creating {}", dir));
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open((dir + "/events.db").c_str(), &raw);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) return SqliteError(raw, "open");
  for (std::string sql :
       {std::string("PRAGMA journal_mode=WAL"),
        fmt::format("PRAGMA synchronous={}", synchronous),
        std::string("CREATE TABLE IF NOT EXISTS events(stream INTEGER, "
                    "seq INTEGER, payload BLOB, PRIMARY KEY(stream, seq))")}) {
    Status s = Exec(db.get(), sql);
    if (!s.ok()) return s;
  }
  return Result<SqliteDb>(std::move(db));
}

Result<SqliteStmt> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db, fmt::format("prepare {}", sql));
  }
  return SqliteStmt(stmt);
}

Status Insert(sqlite3* db, sqlite3_stmt* insert, uint64_t stream, uint64_t seq,
              const std::string& value) {
  sqlite3_reset(insert);
  sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(stream));
  sqlite3_bind_int64(insert, 2, static_cast<sqlite3_int64>(seq));
  sqlite3_bind_blob(insert, 3, value.data(), static_cast<int>(value.size()),
                    SQLITE_STATIC);
  if (sqlite3_step(insert) != SQLITE_DONE) return SqliteError(db, "insert");
  return Status::OK();
}

constexpr char kInsert[] =
    "INSERT INTO events(stream, seq, payload) VALUES(?1, ?2, ?3)";

}  // namespace

class SqliteAppender final : public Appender {
 public:
  Status Open(const AppendLoad& load) {
    Result<SqliteDb> db = OpenSqlite(
        load.dir, load.durability == Durability::kNone ? "OFF" : "FULL", true);
    if (!db.ok()) return db.status();
    db_ = std::move(db).value();
    Result<SqliteStmt> insert = Prepare(db_.get(), kInsert);
    if (!insert.ok()) return insert.status();
    insert_ = std::move(insert).value();
    value_.assign(load.payload, 'p');
    seqs_.assign(load.streams, 0);
    return Status::OK();
  }

  Result<RunResult> Run(size_t batch, double seconds,
                        uint64_t events) override {
    RunResult result;
    Budget budget(seconds, events);
    while (!budget.Done(result.events)) {
      Status s = Exec(db_.get(), "BEGIN");
      for (size_t i = budget.Next(batch, result.events); i > 0 && s.ok(); --i) {
        uint64_t stream = next_stream_++ % seqs_.size();
        s = Insert(db_.get(), insert_.get(), stream + 1, ++seqs_[stream],
                   value_);
        ++result.events;
      }
      if (s.ok()) s = Exec(db_.get(), "COMMIT");
      if (!s.ok()) return s;
      ++result.transactions;
    }
    result.seconds = budget.Elapsed();
    return result;
  }

 private:
  // The statement is finalized before the database closes.
  SqliteDb db_;
  SqliteStmt insert_;
  std::string value_;
  std::vector<uint64_t> seqs_;
  uint64_t next_stream_ = 0;
};

Result<std::unique_ptr<Appender>> OpenSqliteAppender(const AppendLoad& load) {
  return OpenAppender<SqliteAppender>(load);
}

Status SqliteWrite(const std::string& dir, uint64_t events, size_t payload) {
  const std::string value(payload, 'v');
  Result<SqliteDb> db = OpenSqlite(dir, "OFF", true);
  if (!db.ok()) return db.status();
  Result<SqliteStmt> insert = Prepare(db->get(), kInsert);
  if (!insert.ok()) return insert.status();
  for (uint64_t seq = 1; seq <= events;) {
    Status s = Exec(db->get(), "BEGIN");
    for (int i = 0; i < 100000 && seq <= events && s.ok(); ++i, ++seq) {
      s = Insert(db->get(), insert->get(), 1, seq, value);
    }
    if (s.ok()) s = Exec(db->get(), "COMMIT");
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Result<ScanResult> SqliteScan(const std::string& dir, uint64_t events,
                              size_t payload) {
  Result<SqliteDb> db = OpenSqlite(dir, "FULL", false);
  if (!db.ok()) return db.status();
  Result<SqliteStmt> select = Prepare(
      db->get(), "SELECT payload FROM events WHERE stream = ?1 ORDER BY seq");
  if (!select.ok()) return select.status();
  ScanResult result;
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t count = 0;
    uint64_t bytes = 0;
    auto start = std::chrono::steady_clock::now();
    sqlite3_reset(select->get());
    sqlite3_bind_int64(select->get(), 1, 1);
    int rc;
    while ((rc = sqlite3_step(select->get())) == SQLITE_ROW) {
      ++count;
      bytes += static_cast<uint64_t>(sqlite3_column_bytes(select->get(), 0));
    }
    double seconds = SecondsSince(start);
    if (rc != SQLITE_DONE) return SqliteError(db->get(), "select");
    if (count != events || bytes != events * payload) {
      return Status::Corruption(fmt::format(
          "SQLite select saw {} events, expected {}", count, events));
    }
    result.events = count;
    (pass == 0 ? result.cold_seconds : result.hot_seconds) = seconds;
  }
  return result;
}
#endif  // MEMOIR_BENCH_SQLITE

}  // namespace memoir::bench
