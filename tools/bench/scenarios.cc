// The throughput scenarios (append, replay, read-all): memoir measured
// through its public API, then the baselines doing the same work in the same
// run.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "memoir/store.h"

namespace memoir::bench {

void RemoveAll(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& dir,
                                         Durability durability) {
  StoreOptions store_options;
  store_options.durability = durability;
  Result<std::unique_ptr<Store>> store = Store::Open(dir, store_options);
  if (!store.ok()) return store.status().WithContext("opening memoir store");
  return store;
}

std::vector<EventData> Events(size_t count, size_t payload) {
  return std::vector<EventData>(
      count, EventData{"Bench", std::string(payload, 'x'), 1, {}});
}

namespace {

// Reports `rate` of baseline `name` and memoir's rate relative to it. JSON
// keys use `name` with '_' for '-'.
void Compare(Report& report, const std::string& scenario,
             const std::string& name, const std::string& metric,
             double memoir_rate, double rate, const std::string& suffix) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  key += suffix;
  report.Row(scenario, name, metric, rate, "ev/s", key + "_events_per_s");
  report.Row(scenario, "memoir/" + name, metric,
             rate > 0 ? memoir_rate / rate : 0, "x", "ratio_" + key);
}

// Scans and checks the stream written by RunReplay; returns the seconds.
Result<double> TimedScan(Journal& journal, const std::string& stream,
                         uint64_t events, size_t payload) {
  uint64_t count = 0;
  uint64_t bytes = 0;
  bool in_order = true;
  auto start = std::chrono::steady_clock::now();
  Status s = journal.Scan(stream, {}, [&](const EventView& e) {
    in_order = in_order && e.seq == count + 1;
    ++count;
    bytes += e.payload.size();
    return true;
  });
  double seconds = SecondsSince(start);
  if (!s.ok()) return s.WithContext("memoir Scan");
  if (count != events || bytes != events * payload || !in_order) {
    return Status::Corruption(fmt::format(
        "memoir Scan visited {} events ({} bytes, in order: {}), expected {}",
        count, bytes, in_order, events));
  }
  return seconds;
}

Result<double> TimedScanAll(Journal& journal, uint64_t events, size_t payload) {
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t last_position = 0;
  bool in_order = true;
  auto start = std::chrono::steady_clock::now();
  Status s = journal.ScanAll(0, SIZE_MAX, [&](const EventView& e) {
    in_order = in_order && e.position > last_position;
    last_position = e.position;
    ++count;
    bytes += e.payload.size();
    return true;
  });
  double seconds = SecondsSince(start);
  if (!s.ok()) return s.WithContext("memoir ScanAll");
  if (count != events || bytes != events * payload || !in_order) {
    return Status::Corruption(fmt::format(
        "memoir ScanAll visited {} events ({} bytes, in order: {}), "
        "expected {}",
        count, bytes, in_order, events));
  }
  return seconds;
}

// Reports a baseline scan against memoir's cold and hot rates.
Status CompareScan(Report& report, const std::string& scenario,
                   const std::string& name, const Result<ScanResult>& scan,
                   uint64_t events, double memoir_cold, double memoir_hot) {
  if (!scan.ok()) return scan.status().WithContext(name);
  if (scan->events != events) {
    return Status::Corruption(fmt::format("{} scanned {} events, expected {}",
                                          name, scan->events, events));
  }
  Compare(report, scenario, name, "cold-ish", memoir_cold,
          events / scan->cold_seconds, "_cold");
  Compare(report, scenario, name, "hot", memoir_hot, events / scan->hot_seconds,
          "_hot");
  return Status::OK();
}

// Records the p50 of 100 pwrite+fdatasync pairs. Durable throughput follows
// the device's sync latency, which on some machines (virtual disks) changes
// during a run; probing before and after the append runs shows whether it
// did.
Status FsyncProbe(const Options& options, Report& report, const char* when) {
  Result<std::unique_ptr<Stepper>> file =
      OpenFsyncFile(options.dir + "/fsync-probe", 100);
  if (!file.ok()) return file.status().WithContext("fsync probe");
  std::vector<double> micros;
  for (int i = 0; i < 100; ++i) {
    Result<double> us = (*file)->Step();
    if (!us.ok()) return us.status().WithContext("fsync probe");
    micros.push_back(*us);
  }
  double p50 = Percentile(micros, 0.5);
  report.Field("append", fmt::format("fsync_probe_{}_p50_us", when), p50);
  report.Note(fmt::format("fsync probe {}: p50 {:.1f} us", when, p50));
  return Status::OK();
}

}  // namespace

Status RunAppend(const Options& options, Report& report) {
  sync();  // start from a quiet disk: flush what earlier runs left dirty
  if (Status s = FsyncProbe(options, report, "before"); !s.ok()) return s;
  const std::string dir = options.dir + "/append-memoir";
  Result<std::unique_ptr<Store>> store = OpenStore(dir, options.durability);
  if (!store.ok()) return store.status();
  Journal& journal = (*store)->journal();
  std::vector<std::string> names(options.streams);
  for (size_t i = 0; i < names.size(); ++i) {
    names[i] = fmt::format("stream-{:05}", i);
  }
  const std::vector<EventData> batch =
      Events(options.events_per_append, options.payload);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reserved{0};  // events claimed, with --events
  std::atomic<uint64_t> appended{0};
  std::mutex mu;
  Status first_error;
  auto producer = [&](size_t p) {
    for (uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
      size_t n = batch.size();
      if (options.events > 0) {
        uint64_t from = reserved.fetch_add(n);
        if (from >= options.events) break;
        n = static_cast<size_t>(std::min<uint64_t>(n, options.events - from));
      }
      // Round-robin: producer p writes streams p, p+P, p+2P, ...
      const std::string& stream =
          names[(p + k * options.producers) % names.size()];
      std::vector<EventData> events(batch.begin(), batch.begin() + n);
      Result<AppendResult> r =
          journal.Append(stream, Expected::Any(), std::move(events));
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = r.status().WithContext(stream);
        stop = true;
        break;
      }
      appended += n;
    }
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (size_t p = 0; p < options.producers; ++p) {
    threads.emplace_back(producer, p);
  }
  if (options.events == 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
    stop = true;
  }
  for (std::thread& t : threads) t.join();
  const double seconds = SecondsSince(start);
  if (!first_error.ok()) return first_error.WithContext("memoir Append");

  const StoreStats stats = (*store)->Stats();
  Result<uint64_t> last = journal.LastPosition();
  if (!last.ok()) return last.status();
  if (*last != appended.load()) {
    return Status::Corruption(fmt::format(
        "appended {} events but LastPosition is {}", appended.load(), *last));
  }
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  store->reset();
  RemoveAll(dir);

  const double rate = appended.load() / seconds;
  const double group =
      stats.commits > 0 ? double(stats.write_requests) / stats.commits : 0;
  const size_t events_per_txn =
      std::max<size_t>(1, std::lround(group * options.events_per_append));
  report.Row("append", "memoir",
             std::string(DurabilityName(options.durability)), rate, "ev/s",
             "memoir_events_per_s");
  report.Row("append", "memoir", "avg group", group, "req/txn", "avg_group");
  report.Field("append", "max_group", double(stats.max_group));
  report.Field("append", "commits", double(stats.commits));
  report.Field("append", "events", double(appended.load()));
  report.Field("append", "baseline_events_per_txn", double(events_per_txn));
  report.Note(fmt::format(
      "append: {} events in {:.2f} s over {} commits; baselines: one thread, "
      "{} events per transaction, durability {}",
      appended.load(), seconds, stats.commits, events_per_txn,
      DurabilityName(options.durability)));

  AppendLoad load;
  load.durability = options.durability;
  load.payload = options.payload;
  load.batch = events_per_txn;
  load.streams = options.streams;
  load.seconds = options.seconds;
  load.events = options.events;
  struct Baseline {
    std::string name;
    Result<RunResult> (*run)(const AppendLoad&);
  };
  std::vector<Baseline> baselines = {{"raw-log", RawLogAppend},
                                     {"raw-streams", RawStreamAppend}};
#if MEMOIR_BENCH_ROCKSDB
  baselines.push_back({"rocksdb", RocksAppend});
#endif
#if MEMOIR_BENCH_SQLITE
  baselines.push_back({"sqlite", SqliteAppend});
#endif
  for (const Baseline& b : baselines) {
    load.dir = options.dir + "/append-" + b.name;
    Result<RunResult> r = b.run(load);
    RemoveAll(load.dir);
    if (!r.ok()) return r.status().WithContext(b.name);
    Compare(report, "append", b.name,
            std::string(DurabilityName(options.durability)), rate, r->rate(),
            "");
  }
  return FsyncProbe(options, report, "after");
}

Status RunReplay(const Options& options, Report& report) {
  const uint64_t n = options.replay_events;
  const std::string dir = options.dir + "/replay-memoir";
  const std::string stream = "replay-stream";
  double write_seconds;
  {
    Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kNone);
    if (!store.ok()) return store.status();
    auto start = std::chrono::steady_clock::now();
    for (uint64_t written = 0; written < n;) {
      size_t count = static_cast<size_t>(std::min<uint64_t>(1000, n - written));
      Result<AppendResult> r = (*store)->journal().Append(
          stream, Expected::At(written), Events(count, options.payload));
      if (!r.ok()) return r.status().WithContext("memoir Append");
      written += count;
    }
    if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
    write_seconds = SecondsSince(start);
  }
  Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kNone);
  if (!store.ok()) return store.status();
  Result<double> cold =
      TimedScan((*store)->journal(), stream, n, options.payload);
  if (!cold.ok()) return cold.status();
  Result<double> hot =
      TimedScan((*store)->journal(), stream, n, options.payload);
  if (!hot.ok()) return hot.status();
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  store->reset();
  RemoveAll(dir);

  const double memoir_cold = n / *cold;
  const double memoir_hot = n / *hot;
  report.Field("replay", "events", double(n));
  report.Field("replay", "memoir_write_events_per_s", n / write_seconds);
  report.Row("replay", "memoir", "cold-ish", memoir_cold, "ev/s",
             "memoir_cold_events_per_s");
  report.Row("replay", "memoir", "hot", memoir_hot, "ev/s",
             "memoir_hot_events_per_s");
  std::string base = options.dir + "/replay-";
  Status s = CompareScan(report, "replay", "raw-lmdb",
                         RawStreamScan(base + "raw", n, options.payload), n,
                         memoir_cold, memoir_hot);
  RemoveAll(base + "raw");
  if (!s.ok()) return s;
#if MEMOIR_BENCH_ROCKSDB
  s = CompareScan(report, "replay", "rocksdb",
                  RocksScan(base + "rocksdb", n, options.payload), n,
                  memoir_cold, memoir_hot);
  RemoveAll(base + "rocksdb");
  if (!s.ok()) return s;
#endif
#if MEMOIR_BENCH_SQLITE
  s = CompareScan(report, "replay", "sqlite",
                  SqliteScan(base + "sqlite", n, options.payload), n,
                  memoir_cold, memoir_hot);
  RemoveAll(base + "sqlite");
  if (!s.ok()) return s;
#endif
  return Status::OK();
}

Status RunReadAll(const Options& options, Report& report) {
  const uint64_t n = options.read_all_events;
  const std::string dir = options.dir + "/read-all-memoir";
  const size_t streams = options.read_all_streams;
  {
    Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kNone);
    if (!store.ok()) return store.status();
    // Interleaved: each AppendMulti writes 10 events to each of up to 100
    // distinct streams, moving round-robin over all of them.
    uint64_t written = 0;
    for (size_t next = 0; written < n;) {
      std::vector<StreamAppend> requests;
      for (size_t i = 0; i < std::min<size_t>(100, streams) && written < n;
           ++i, ++next) {
        size_t count = static_cast<size_t>(std::min<uint64_t>(10, n - written));
        requests.push_back({fmt::format("stream-{:05}", next % streams),
                            Expected::Any(), Events(count, options.payload)});
        written += count;
      }
      Result<std::vector<AppendResult>> r =
          (*store)->journal().AppendMulti(std::move(requests));
      if (!r.ok()) return r.status().WithContext("memoir AppendMulti");
    }
    if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  }
  Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kNone);
  if (!store.ok()) return store.status();
  Result<double> cold = TimedScanAll((*store)->journal(), n, options.payload);
  if (!cold.ok()) return cold.status();
  Result<double> hot = TimedScanAll((*store)->journal(), n, options.payload);
  if (!hot.ok()) return hot.status();
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  store->reset();
  RemoveAll(dir);

  report.Field("read-all", "events", double(n));
  report.Field("read-all", "streams", double(streams));
  report.Row("read-all", "memoir", "cold-ish", n / *cold, "ev/s",
             "memoir_cold_events_per_s");
  report.Row("read-all", "memoir", "hot", n / *hot, "ev/s",
             "memoir_hot_events_per_s");
  const std::string raw_dir = options.dir + "/read-all-raw";
  Status s = CompareScan(report, "read-all", "raw-log",
                         RawLogScan(raw_dir, n, options.payload), n, n / *cold,
                         n / *hot);
  RemoveAll(raw_dir);
  return s;
}

}  // namespace memoir::bench
