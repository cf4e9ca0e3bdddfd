// memoir-bench: shared declarations of the benchmark tool.
//
// main.cc parses the flags and drives the scenarios (scenarios.cc). Each
// scenario measures memoir through its public API and, in the same run, the
// same work done directly on the storage engines: raw LMDB (raw_lmdb.cc) and,
// when they were found at build time, RocksDB and SQLite (peers.cc).
//
// The machine may be shared and its disk's sync latency may change during a
// run, so no figure comes from one long measurement per engine: the run is
// cut into rounds, each round measures memoir and then every baseline for a
// short slice back to back, and a ratio is the median of the per-round
// ratios (engines compared within a round saw the same conditions).
#ifndef MEMOIR_TOOLS_BENCH_BENCH_H_
#define MEMOIR_TOOLS_BENCH_BENCH_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "memoir/journal.h"
#include "memoir/options.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir::bench {

struct Options {
  std::string scenario = "all";
  std::string dir;  // a fresh temporary directory for the run's stores
  bool quick = false;
  // append
  size_t producers = 64;
  size_t streams = 10000;
  size_t events_per_append = 1;
  size_t payload = 128;
  Durability durability = Durability::kSync;
  double seconds = 5;
  uint64_t events = 0;  // total events for `append`; 0: run for `seconds`
  // replay and read-all
  uint64_t replay_events = 1000000;
  uint64_t read_all_events = 1000000;
  size_t read_all_streams = 1000;
  // latency
  size_t latency_count = 2000;
  // bisect: events per stream and the snapshot interval
  uint64_t bisect_events = 1000000;
  uint64_t bisect_every = 1000;
  // Rounds of memoir-then-baselines per scenario (append, replay, read-all).
  size_t rounds = 5;
  // --backend postgres: the append and replay scenarios on a PostgreSQL
  // store of the server `postgres` names, against raw libpq (postgres.cc).
  std::string backend = "lmdb";
  std::string postgres;
};

std::string_view DurabilityName(Durability d);

// One row of the human table plus the matching JSON fields.
class Report {
 public:
  // Prints a table row now and remembers `key` = `value` for the JSON line
  // under `scenario`.
  void Row(const std::string& scenario, const std::string& subject,
           const std::string& metric, double value, const std::string& unit,
           const std::string& key);
  // A JSON field that gets no row of its own.
  void Field(const std::string& scenario, const std::string& key, double value);
  void Note(const std::string& text);  // a free-form line in the table
  void Header() const;
  // The single JSON line, `{"memoir_bench": ...}`.
  std::string Json(const Options& options, bool ok,
                   const std::string& error) const;

 private:
  struct Section {
    std::string scenario;
    std::vector<std::pair<std::string, double>> fields;
  };
  Section& SectionFor(const std::string& scenario);
  std::vector<Section> sections_;
};

// --- Small helpers ------------------------------------------------------

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

inline void PutBig64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// The q-quantile (0..1) of `samples` by nearest rank; sorts `samples`.
double Percentile(std::vector<double>& samples, double q);
// The median of `samples` (the mean of the middle two for an even count).
double Median(std::vector<double> samples);

// How a baseline is loaded: the same work the memoir `append` run does.
struct AppendLoad {
  std::string dir;  // created by the baseline; must not exist yet
  Durability durability = Durability::kSync;
  size_t payload = 128;
  size_t streams = 1;  // events are spread round-robin over these
  // For the baselines that run the producers' threads themselves (the
  // "-producers" peers): as many threads as memoir's append run, each
  // writing this many events per durable write to its own share of the
  // streams, exactly as memoir's producers do.
  size_t producers = 1;
  size_t events_per_append = 1;
};

// When a baseline's Run stops: after `seconds`, or after `events` events
// when that is not 0.
class Budget {
 public:
  Budget(double seconds, uint64_t events)
      : seconds_(seconds),
        events_(events),
        start_(std::chrono::steady_clock::now()) {}
  bool Done(uint64_t written) const {
    return events_ > 0 ? written >= events_ : SecondsSince(start_) >= seconds_;
  }
  // The size of the next transaction.
  size_t Next(size_t batch, uint64_t written) const {
    if (events_ == 0) return batch;
    return static_cast<size_t>(std::min<uint64_t>(batch, events_ - written));
  }
  double Elapsed() const { return SecondsSince(start_); }

 private:
  double seconds_;
  uint64_t events_;
  std::chrono::steady_clock::time_point start_;
};

struct RunResult {
  uint64_t events = 0;
  uint64_t transactions = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

// Time of a full scan right after reopening ("cold-ish": the OS page cache
// is still warm, the process's own caches are not) and of a second one.
struct ScanResult {
  uint64_t events = 0;  // visited per scan, checked by the caller
  double cold_seconds = 0;
  double hot_seconds = 0;
};

// A baseline store for the append scenario, open across the rounds.
class Appender {
 public:
  virtual ~Appender() = default;
  // Appends for `seconds`, or for `events` events when that is not 0: in
  // transactions of `batch` events from one thread, or, for a baseline that
  // runs the load's producer threads, as those threads' own writes (the
  // engine forms its groups itself and `batch` is ignored).
  virtual Result<RunResult> Run(size_t batch, double seconds,
                                uint64_t events) = 0;
};

// Creates a T and opens it with `load` (T::Open returns a Status).
template <typename T>
Result<std::unique_ptr<Appender>> OpenAppender(const AppendLoad& load) {
  auto appender = std::make_unique<T>();
  Status s = appender->Open(load);
  if (!s.ok()) return s;
  return std::unique_ptr<Appender>(std::move(appender));
}

// Raw LMDB (raw_lmdb.cc).
// One append-only log keyed by a global position (MDB_APPEND).
Result<std::unique_ptr<Appender>> OpenRawLogAppender(const AppendLoad& load);
// Keys (stream, seq) plus a global-order index.
Result<std::unique_ptr<Appender>> OpenRawStreamAppender(const AppendLoad& load);
// Writes `events` values of `payload` bytes keyed (stream 1, seq).
Status RawStreamWrite(const std::string& dir, uint64_t events, size_t payload);
// Opens what RawStreamWrite wrote and walks it twice with a cursor.
Result<ScanResult> RawStreamScan(const std::string& dir, uint64_t events,
                                 size_t payload);
// Walks the `log` table of the closed memoir store in `store_dir` twice
// with a bare LMDB cursor: memoir's own records, pages and tree, read
// without decoding. With `check`, hashes every record with XXH3 as it goes:
// the least a reader that verifies its records does (memoir checks an XXH3
// of every record it reads).
Result<ScanResult> MemoirLogWalk(const std::string& store_dir, uint64_t events,
                                 size_t payload, bool check);
// The latency floors, timed one operation at a time so that a scenario can
// interleave them with memoir's own operations.
class Stepper {
 public:
  virtual ~Stepper() = default;
  // Does one operation; returns how long it took, in microseconds.
  virtual Result<double> Step() = 0;
};
// A durable single-event LMDB transaction per step; `dir` must not exist.
Result<std::unique_ptr<Stepper>> OpenRawCommitter(const std::string& dir,
                                                  size_t payload);
// pwrite(4096 bytes) + fdatasync per step, cycling over `pages` preallocated
// pages of a new file at `path` (so no write changes the file's size). The
// file is removed when the stepper is destroyed.
Result<std::unique_ptr<Stepper>> OpenFsyncFile(const std::string& path,
                                               size_t pages);

// Peers (peers.cc); each exists only when the library was found.
#if MEMOIR_BENCH_ROCKSDB
Result<std::unique_ptr<Appender>> OpenRocksAppender(const AppendLoad& load);
// The load's producer threads writing to RocksDB themselves.
Result<std::unique_ptr<Appender>> OpenRocksProducersAppender(
    const AppendLoad& load);
// Writes `events` values keyed (stream 1, seq) and flushes them to tables.
Status RocksWrite(const std::string& dir, uint64_t events, size_t payload);
Result<ScanResult> RocksScan(const std::string& dir, uint64_t events,
                             size_t payload);
#endif
#if MEMOIR_BENCH_SQLITE
Result<std::unique_ptr<Appender>> OpenSqliteAppender(const AppendLoad& load);
Status SqliteWrite(const std::string& dir, uint64_t events, size_t payload);
Result<ScanResult> SqliteScan(const std::string& dir, uint64_t events,
                              size_t payload);
#endif

// Helpers shared by the scenarios (scenarios.cc).
void RemoveAll(const std::string& path);  // ignores errors
Result<std::unique_ptr<Store>> OpenStore(const std::string& dir,
                                         Durability durability);
// `count` events of type "Bench" with `payload` bytes each.
std::vector<EventData> Events(size_t count, size_t payload);

// Scenarios (scenarios.cc, latency.cc). Each returns the first error it met.
Status RunAppend(const Options& options, Report& report);
Status RunReplay(const Options& options, Report& report);
Status RunReadAll(const Options& options, Report& report);
Status RunProjection(const Options& options, Report& report);
Status RunIds(const Options& options, Report& report);
Status RunLatency(const Options& options, Report& report);
Status RunActors(const Options& options, Report& report);  // actors.cc
Status RunBisect(const Options& options, Report& report);  // bisect.cc
#if MEMOIR_BENCH_POSTGRES
Status RunPostgres(const Options& options, Report& report);  // postgres.cc
#endif

}  // namespace memoir::bench

#endif  // MEMOIR_TOOLS_BENCH_BENCH_H_
