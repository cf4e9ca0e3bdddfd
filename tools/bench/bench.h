// memoir-bench: shared declarations of the benchmark tool.
//
// main.cc parses the flags and drives the scenarios (scenarios.cc). Each
// scenario measures memoir through its public API and, in the same run, the
// same work done directly on the storage engines: raw LMDB (raw_lmdb.cc) and,
// when they were found at build time, RocksDB and SQLite (peers.cc).
#ifndef MEMOIR_TOOLS_BENCH_BENCH_H_
#define MEMOIR_TOOLS_BENCH_BENCH_H_

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

// How a baseline is loaded: the same work the memoir `append` run did.
struct AppendLoad {
  std::string dir;  // created by the baseline; must not exist yet
  Durability durability = Durability::kSync;
  size_t payload = 128;
  size_t batch = 1;     // events per transaction
  size_t streams = 1;   // events are spread round-robin over these
  double seconds = 1;   // run time when events == 0
  uint64_t events = 0;  // total events, or 0
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

// Raw LMDB (raw_lmdb.cc).
Result<RunResult> RawLogAppend(const AppendLoad& load);
Result<RunResult> RawStreamAppend(const AppendLoad& load);
// Writes `events` values of `payload` bytes keyed (stream 1, seq), reopens
// and walks them with a cursor.
Result<ScanResult> RawStreamScan(const std::string& dir, uint64_t events,
                                 size_t payload);
// As RawStreamScan over the append-only log keyed by position.
Result<ScanResult> RawLogScan(const std::string& dir, uint64_t events,
                              size_t payload);
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
Result<RunResult> RocksAppend(const AppendLoad& load);
Result<ScanResult> RocksScan(const std::string& dir, uint64_t events,
                             size_t payload);
#endif
#if MEMOIR_BENCH_SQLITE
Result<RunResult> SqliteAppend(const AppendLoad& load);
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
Status RunLatency(const Options& options, Report& report);
Status RunActors(const Options& options, Report& report);  // actors.cc

}  // namespace memoir::bench

#endif  // MEMOIR_TOOLS_BENCH_BENCH_H_
