// The throughput scenarios (append, replay, read-all): memoir measured
// through its public API and the baselines doing the same work, in rounds
// (bench.h): every round measures each engine once, back to back, and the
// reported ratios are medians of the per-round ratios.
#include <fmt/format.h>
#include <sched.h>
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
#include "memoir/projection.h"
#include "memoir/store.h"
#include "memoir/subscription.h"
#include "memoir_load.h"

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

// The p50, in microseconds, of `samples` pwrite+fdatasync pairs. Durable
// throughput follows the device's sync latency, which on some machines
// (virtual disks) changes during a run.
Result<double> ProbeFsync(const Options& options, int samples) {
  Result<std::unique_ptr<Stepper>> file =
      OpenFsyncFile(options.dir + "/fsync-probe", 100);
  if (!file.ok()) return file.status().WithContext("fsync probe");
  std::vector<double> micros;
  for (int i = 0; i < samples; ++i) {
    Result<double> us = (*file)->Step();
    if (!us.ok()) return us.status().WithContext("fsync probe");
    micros.push_back(*us);
  }
  return Percentile(micros, 0.5);
}

// Records and prints a 100-sample probe before or after the append rounds.
Status FsyncProbe(const Options& options, Report& report, const char* when) {
  Result<double> p50 = ProbeFsync(options, 100);
  if (!p50.ok()) return p50.status();
  report.Field("append", fmt::format("fsync_probe_{}_p50_us", when), *p50);
  report.Note(fmt::format("fsync probe {}: p50 {:.1f} us", when, *p50));
  return Status::OK();
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

// What a scan of the whole log saw, checked against what was written.
struct LogTally {
  uint64_t count = 0, bytes = 0, last_position = 0;
  bool in_order = true;
  void Add(const EventView& e) {
    in_order = in_order && e.position > last_position;
    last_position = e.position;
    ++count;
    bytes += e.payload.size();
  }
  Status Check(const char* who, uint64_t events, size_t payload) const {
    if (count == events && bytes == events * payload && in_order) {
      return Status::OK();
    }
    return Status::Corruption(
        fmt::format("{} saw {} events ({} bytes, in order: {}), expected {}",
                    who, count, bytes, in_order, events));
  }
};

Result<double> TimedScanAll(Journal& journal, uint64_t events, size_t payload) {
  LogTally tally;
  auto start = std::chrono::steady_clock::now();
  Status s = journal.ScanAll(0, SIZE_MAX, [&](const EventView& e) {
    tally.Add(e);
    return true;
  });
  double seconds = SecondsSince(start);
  if (!s.ok()) return s.WithContext("memoir ScanAll");
  if (Status c = tally.Check("memoir ScanAll", events, payload); !c.ok()) {
    return c;
  }
  return seconds;
}

// A subscription's catch-up over the whole log: from Start (origin, no
// filter, a handler that only counts) until it has handled every event.
Result<double> TimedCatchUp(Store& store, uint64_t events, size_t payload,
                            bool zero_copy) {
  LogTally tally;
  SubscriptionOptions options;
  options.name = "bench-catch-up";
  options.zero_copy = zero_copy;
  auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Subscription>> sub =
      Subscription::Start(store, options, [&](const Batch& batch) {
        for (const EventView& e : batch.events) tally.Add(e);
        return Status::OK();
      });
  if (!sub.ok()) return sub.status().WithContext("Subscription::Start");
  Status waited = (*sub)->WaitFor(events, std::chrono::minutes(10));
  double seconds = SecondsSince(start);
  Status stopped = (*sub)->Stop();
  if (!waited.ok()) return waited.WithContext("subscription catch-up");
  if (!stopped.ok()) return stopped.WithContext("subscription Stop");
  if (Status c = tally.Check("the subscription", events, payload); !c.ok()) {
    return c;
  }
  return seconds;
}

// Checks a baseline scan and adds its rates to the cold and hot series.
Status AddScan(Series* cold, Series* hot, const Result<ScanResult>& scan,
               uint64_t events, double memoir_cold, double memoir_hot) {
  if (!scan.ok()) return scan.status().WithContext(cold->name);
  if (scan->events != events) {
    return Status::Corruption(fmt::format("{} scanned {} events, expected {}",
                                          cold->name, scan->events, events));
  }
  cold->Add(memoir_cold, events / scan->cold_seconds);
  hot->Add(memoir_hot, events / scan->hot_seconds);
  return Status::OK();
}

// memoir's cold-ish (right after reopening) and hot rates for `scan`, which
// visits and checks every event once.
template <typename Scan>
Result<std::pair<double, double>> ReopenAndScan(const std::string& dir,
                                                uint64_t events, Scan scan) {
  Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kNone);
  if (!store.ok()) return store.status();
  Result<double> cold = scan(**store);
  if (!cold.ok()) return cold.status();
  Result<double> hot = scan(**store);
  if (!hot.ok()) return hot.status();
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  return std::make_pair(events / *cold, events / *hot);
}

}  // namespace

Status RunAppend(const Options& options, Report& report) {
  sync();  // start from a quiet disk: flush what earlier runs left dirty
  if (Status s = FsyncProbe(options, report, "before"); !s.ok()) return s;
  const std::string dir = options.dir + "/append-memoir";
  Result<std::unique_ptr<Store>> store = OpenStore(dir, options.durability);
  if (!store.ok()) return store.status();
  MemoirLoad memoir(store->get(), options);

  AppendLoad load;
  load.durability = options.durability;
  load.payload = options.payload;
  load.streams = options.streams;
  load.producers = options.producers;
  load.events_per_append = options.events_per_append;
  struct Baseline {
    std::string name;
    Result<std::unique_ptr<Appender>> (*open)(const AppendLoad&);
  };
  std::vector<Baseline> kinds = {{"raw-log", OpenRawLogAppender},
                                 {"raw-streams", OpenRawStreamAppender}};
#if MEMOIR_BENCH_ROCKSDB
  kinds.push_back({"rocksdb", OpenRocksAppender});
  kinds.push_back({"rocksdb-producers", OpenRocksProducersAppender});
#endif
#if MEMOIR_BENCH_SQLITE
  kinds.push_back({"sqlite", OpenSqliteAppender});
#endif
  std::vector<std::unique_ptr<Appender>> baselines;
  std::vector<Series> series;
  for (const Baseline& b : kinds) {
    load.dir = options.dir + "/append-" + b.name;
    Result<std::unique_ptr<Appender>> opened = b.open(load);
    if (!opened.ok()) return opened.status().WithContext(b.name);
    baselines.push_back(std::move(opened).value());
    series.push_back(Series{b.name, {}, {}});
  }

  // Each round: memoir for one slice, then every baseline for a slice in
  // transactions of the group size memoir formed in that round.
  const size_t rounds = std::max<size_t>(1, options.rounds);
  const double slice_seconds = options.seconds / rounds;
  const uint64_t slice_events =
      options.events > 0 ? std::max<uint64_t>(1, options.events / rounds) : 0;
  std::vector<double> memoir_rates, batches, probes;
  uint64_t total_events = 0, total_commits = 0, total_requests = 0;
  for (size_t r = 0; r < rounds; ++r) {
    Result<double> probe = ProbeFsync(options, 20);
    if (!probe.ok()) return probe.status();
    probes.push_back(*probe);
    Result<MemoirLoad::Slice> slice = memoir.Run(slice_seconds, slice_events);
    if (!slice.ok()) return slice.status();
    const double rate = slice->events / slice->seconds;
    const double group =
        slice->commits > 0 ? double(slice->requests) / slice->commits : 0;
    const size_t batch =
        std::max<size_t>(1, std::lround(group * options.events_per_append));
    memoir_rates.push_back(rate);
    batches.push_back(double(batch));
    total_events += slice->events;
    total_commits += slice->commits;
    total_requests += slice->requests;
    std::string line = fmt::format(
        "round {}/{}: fsync p50 {:.0f} us; memoir {:.0f} ev/s in groups of "
        "{:.1f}",
        r + 1, rounds, *probe, rate, group);
    for (size_t b = 0; b < baselines.size(); ++b) {
      Result<RunResult> run =
          baselines[b]->Run(batch, slice_seconds, slice_events);
      if (!run.ok()) return run.status().WithContext(series[b].name);
      series[b].Add(rate, run->rate());
      line += fmt::format("; {} {:.0f}", series[b].name, run->rate());
    }
    report.Note(line);
  }
  baselines.clear();
  for (const Baseline& b : kinds) RemoveAll(options.dir + "/append-" + b.name);

  const StoreStats stats = (*store)->Stats();
  Result<uint64_t> last = (*store)->journal().LastPosition();
  if (!last.ok()) return last.status();
  if (*last != total_events) {
    return Status::Corruption(fmt::format(
        "appended {} events but LastPosition is {}", total_events, *last));
  }
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  store->reset();
  RemoveAll(dir);

  const double group =
      total_commits > 0 ? double(total_requests) / total_commits : 0;
  const std::string metric(DurabilityName(options.durability));
  report.Row("append", "memoir", metric, Median(memoir_rates), "ev/s",
             "memoir_events_per_s");
  report.Row("append", "memoir", "avg group", group, "req/txn", "avg_group");
  report.Field("append", "rounds", double(rounds));
  report.Field("append", "max_group", double(stats.max_group));
  report.Field("append", "commits", double(total_commits));
  report.Field("append", "events", double(total_events));
  report.Field("append", "baseline_events_per_txn", Median(batches));
  report.Field("append", "fsync_probe_rounds_min_p50_us",
               *std::min_element(probes.begin(), probes.end()));
  report.Field("append", "fsync_probe_rounds_max_p50_us",
               *std::max_element(probes.begin(), probes.end()));
  report.Note(fmt::format(
      "append: median of {} rounds of {:.2f} s; baselines: one thread, {:.0f} "
      "events per transaction (memoir's group in the same round), "
      "durability {}",
      rounds, slice_seconds, Median(batches), metric));
  for (const Series& s : series) ReportSeries(report, "append", s, metric, "");
  return FsyncProbe(options, report, "after");
}

// The cost of a projection on durable appends: the append load of
// RunAppend on a store without a projection, on one with an async
// projection and on one with an inline projection, each counting events
// per stream (a Get and a Put per event), in turn, in rounds. The ratios
// are with / without in the same round.
Status RunProjection(const Options& options, Report& report) {
  sync();
  const std::string plain_dir = options.dir + "/projection-none";
  Result<std::unique_ptr<Store>> plain =
      OpenStore(plain_dir, options.durability);
  if (!plain.ok()) return plain.status();
  MemoirLoad without(plain->get(), options);
  struct Counted {
    ProjectionOptions::Mode mode;
    std::string label;  // "async", "inline"
    std::string dir;
    std::unique_ptr<Store> store;
    std::unique_ptr<Projection> projection;
    std::unique_ptr<MemoirLoad> load;
    Series series;
    std::vector<double> rates, lags;
  };
  std::vector<Counted> counted;
  counted.push_back({ProjectionOptions::Mode::kAsync,
                     "async",
                     "",
                     nullptr,
                     nullptr,
                     nullptr,
                     Series{"no-projection-async", {}, {}},
                     {},
                     {}});
  counted.push_back({ProjectionOptions::Mode::kInline,
                     "inline",
                     "",
                     nullptr,
                     nullptr,
                     nullptr,
                     Series{"no-projection-inline", {}, {}},
                     {},
                     {}});
  for (Counted& c : counted) {
    c.dir = options.dir + "/projection-" + c.label;
    Result<std::unique_ptr<Store>> store = OpenStore(c.dir, options.durability);
    if (!store.ok()) return store.status();
    c.store = std::move(store).value();
    ProjectionOptions po;
    po.name = "counts";
    po.tables = {"per_stream"};
    po.mode = c.mode;
    Result<std::unique_ptr<Projection>> projection = Projection::Start(
        *c.store, po, [](ReadModel& model, const EventView& e) -> Status {
          auto old = model.Get("per_stream", e.stream);
          if (!old.ok()) return old.status();
          const uint64_t n = (*old ? std::stoull(**old) : 0) + 1;
          return model.Put("per_stream", e.stream, std::to_string(n));
        });
    if (!projection.ok()) return projection.status();
    c.projection = std::move(projection).value();
    c.load = std::make_unique<MemoirLoad>(c.store.get(), options);
  }
  const size_t rounds = std::max<size_t>(1, options.rounds);
  const double slice_seconds = options.seconds / rounds;
  const uint64_t slice_events =
      options.events > 0 ? std::max<uint64_t>(1, options.events / rounds) : 0;
  for (size_t r = 0; r < rounds; ++r) {
    Result<MemoirLoad::Slice> base = without.Run(slice_seconds, slice_events);
    if (!base.ok()) return base.status();
    const double base_rate = base->events / base->seconds;
    std::string line = fmt::format("round {}/{}: without {:.0f} ev/s", r + 1,
                                   rounds, base_rate);
    for (Counted& c : counted) {
      Result<MemoirLoad::Slice> slice =
          c.load->Run(slice_seconds, slice_events);
      if (!slice.ok()) return slice.status();
      const double rate = slice->events / slice->seconds;
      c.rates.push_back(rate);
      c.series.Add(rate, base_rate);
      const ProjectionStats stats = c.projection->Stats();
      c.lags.push_back(double(stats.lag_events));
      line += fmt::format(
          "; with an {} projection {:.0f} ev/s ({} events behind at the end, "
          "{} detaches)",
          c.label, rate, stats.lag_events, stats.detaches);
    }
    report.Note(line);
  }
  for (Counted& c : counted) {
    // The projection must have counted every event exactly once.
    Result<uint64_t> last = c.store->journal().LastPosition();
    if (!last.ok()) return last.status();
    Status caught = c.projection->WaitFor(*last, std::chrono::minutes(5));
    if (!caught.ok()) return caught.WithContext("projection catching up");
    Result<std::unique_ptr<ProjectionStore>> tables =
        InStoreProjections(*c.store);
    if (!tables.ok()) return tables.status();
    Result<std::unique_ptr<ProjectionSnapshot>> view =
        (*tables)->Read("counts");
    if (!view.ok()) return view.status();
    uint64_t counted_events = 0;
    Status scanned = (*view)->Scan(
        "per_stream", "", [&](std::string_view, std::string_view v) {
          counted_events += std::stoull(std::string(v));
          return true;
        });
    view->reset();
    if (!scanned.ok()) return scanned;
    if (counted_events != *last) {
      return Status::Corruption(
          fmt::format("the {} projection counted {} events of {}", c.label,
                      counted_events, *last));
    }
    if (Status s = c.projection->Stop(); !s.ok()) return s;
    c.projection.reset();
    c.load.reset();
    if (Status s = c.store->Close(); !s.ok()) return s.WithContext("Close");
    c.store.reset();
    RemoveAll(c.dir);
  }
  if (Status s = (*plain)->Close(); !s.ok()) return s.WithContext("Close");
  plain->reset();
  RemoveAll(plain_dir);
  const std::string metric(DurabilityName(options.durability));
  for (const Counted& c : counted) {
    report.Row("projection", "memoir+" + c.label, metric, Median(c.rates),
               "ev/s", c.label + "_events_per_s");
    report.Field("projection", c.label + "_lag_events_max",
                 *std::max_element(c.lags.begin(), c.lags.end()));
  }
  report.Note(fmt::format(
      "projection: median of {} rounds of {:.2f} s each way; {} producers, "
      "{} streams; the projection does a Get and a Put per event; ratios "
      "are memoir with the projection over memoir without, in the same "
      "round",
      rounds, slice_seconds, options.producers, options.streams));
  for (const Counted& c : counted) {
    ReportSeries(report, "projection", c.series, metric, "");
  }
  return Status::OK();
}

// The cost of event ids: durable appends (the append load, Expected::Any,
// so each append with ids also searches the stream's idempotency window)
// and replay of one stream, on a store whose events carry ids against one
// whose events do not, in turn, in rounds. Ratios are with / without in
// the same round.
Status RunIds(const Options& options, Report& report) {
  sync();
  const std::string dirs[2] = {options.dir + "/ids-without",
                               options.dir + "/ids-with"};
  std::unique_ptr<Store> stores[2];
  std::unique_ptr<MemoirLoad> loads[2];
  for (int w = 0; w < 2; ++w) {
    Result<std::unique_ptr<Store>> store =
        OpenStore(dirs[w], options.durability);
    if (!store.ok()) return store.status();
    stores[w] = std::move(store).value();
    loads[w] = std::make_unique<MemoirLoad>(stores[w].get(), options, w == 1);
  }
  const size_t rounds = std::max<size_t>(1, options.rounds);
  const double slice_seconds = options.seconds / rounds;
  const uint64_t slice_events =
      options.events > 0 ? std::max<uint64_t>(1, options.events / rounds) : 0;
  Series append{"without-ids", {}, {}};
  std::vector<double> with_rates;
  for (size_t r = 0; r < rounds; ++r) {
    double rates[2];
    // Which goes first alternates from round to round.
    for (int i = 0; i < 2; ++i) {
      const int w = static_cast<int>((i + r) % 2);
      Result<MemoirLoad::Slice> slice =
          loads[w]->Run(slice_seconds, slice_events);
      if (!slice.ok()) return slice.status();
      rates[w] = slice->events / slice->seconds;
    }
    with_rates.push_back(rates[1]);
    append.Add(rates[1], rates[0]);
    report.Note(fmt::format(
        "round {}/{}: appends without ids {:.0f} ev/s, with ids {:.0f} ev/s",
        r + 1, rounds, rates[0], rates[1]));
  }
  for (int w = 0; w < 2; ++w) {
    loads[w].reset();
    if (Status s = stores[w]->Close(); !s.ok()) return s.WithContext("Close");
    stores[w].reset();
    RemoveAll(dirs[w]);
  }

  // Replay: one stream of replay_events events, with and without ids.
  const uint64_t n = options.replay_events;
  const std::string stream = "replay-stream";
  for (int w = 0; w < 2; ++w) {
    Result<std::unique_ptr<Store>> store =
        OpenStore(dirs[w], Durability::kNone);
    if (!store.ok()) return store.status();
    for (uint64_t written = 0; written < n;) {
      size_t count = static_cast<size_t>(std::min<uint64_t>(1000, n - written));
      std::vector<EventData> events = Events(count, options.payload);
      if (w == 1) {
        for (EventData& e : events) e.id = Uuid::Generate();
      }
      Result<AppendResult> r = (*store)->journal().Append(
          stream, Expected::At(written), std::move(events));
      if (!r.ok()) return r.status().WithContext("memoir Append");
      written += count;
    }
    if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  }
  Series cold{"without-ids", {}, {}}, hot{"without-ids", {}, {}};
  std::vector<double> with_cold, with_hot;
  for (size_t r = 0; r < rounds; ++r) {
    std::pair<double, double> rates[2];
    for (int i = 0; i < 2; ++i) {
      const int w = static_cast<int>((i + r) % 2);
      Result<std::pair<double, double>> scan =
          ReopenAndScan(dirs[w], n, [&](Store& store) {
            return TimedScan(store.journal(), stream, n, options.payload);
          });
      if (!scan.ok()) return scan.status();
      rates[w] = *scan;
    }
    with_cold.push_back(rates[1].first);
    with_hot.push_back(rates[1].second);
    cold.Add(rates[1].first, rates[0].first);
    hot.Add(rates[1].second, rates[0].second);
  }
  for (int w = 0; w < 2; ++w) RemoveAll(dirs[w]);

  const std::string metric(DurabilityName(options.durability));
  report.Row("ids", "memoir+ids", metric, Median(with_rates), "ev/s",
             "append_with_ids_events_per_s");
  ReportSeries(report, "ids", append, metric, "_append");
  report.Row("ids", "memoir+ids", "replay cold", Median(with_cold), "ev/s",
             "replay_with_ids_cold_events_per_s");
  ReportSeries(report, "ids", cold, "replay cold", "_replay_cold");
  report.Row("ids", "memoir+ids", "replay hot", Median(with_hot), "ev/s",
             "replay_with_ids_hot_events_per_s");
  ReportSeries(report, "ids", hot, "replay hot", "_replay_hot");
  report.Note(fmt::format(
      "ids: appends: median of {} rounds of {:.2f} s each way, {} producers, "
      "{} streams, {} events per append, Expected::Any; replay: {} events "
      "of {} bytes in one stream; ratios are with ids over without, in the "
      "same round",
      rounds, slice_seconds, options.producers, options.streams,
      options.events_per_append, n, options.payload));
  return Status::OK();
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
  const std::string base = options.dir + "/replay-";
  struct Baseline {
    std::string name;
    Status (*write)(const std::string&, uint64_t, size_t);
    Result<ScanResult> (*scan)(const std::string&, uint64_t, size_t);
  };
  std::vector<Baseline> kinds = {{"raw-lmdb", RawStreamWrite, RawStreamScan}};
#if MEMOIR_BENCH_ROCKSDB
  kinds.push_back({"rocksdb", RocksWrite, RocksScan});
#endif
#if MEMOIR_BENCH_SQLITE
  kinds.push_back({"sqlite", SqliteWrite, SqliteScan});
#endif
  std::vector<Series> cold, hot;
  for (const Baseline& b : kinds) {
    Status s = b.write(base + b.name, n, options.payload);
    if (!s.ok()) return s.WithContext(b.name);
    cold.push_back(Series{b.name, {}, {}});
    hot.push_back(Series{b.name, {}, {}});
  }
  // Each round reopens every store and scans it twice: cold-ish (the OS
  // page cache is warm, the process's own caches are not), then hot.
  const size_t rounds = std::max<size_t>(1, options.rounds);
  std::vector<double> memoir_cold, memoir_hot;
  // The order of the engines turns by one each round, so that none is
  // always measured first (or right after another).
  std::vector<Result<ScanResult>> scans(kinds.size(), Status::Busy("not run"));
  for (size_t r = 0; r < rounds; ++r) {
    Result<std::pair<double, double>> memoir = Status::Busy("not run");
    for (size_t i = 0; i <= kinds.size(); ++i) {
      const size_t e = (i + r) % (kinds.size() + 1);
      if (e == kinds.size()) {
        memoir = ReopenAndScan(dir, n, [&](Store& store) {
          return TimedScan(store.journal(), stream, n, options.payload);
        });
        if (!memoir.ok()) return memoir.status();
      } else {
        scans[e] = kinds[e].scan(base + kinds[e].name, n, options.payload);
      }
    }
    memoir_cold.push_back(memoir->first);
    memoir_hot.push_back(memoir->second);
    for (size_t b = 0; b < kinds.size(); ++b) {
      Status s = AddScan(&cold[b], &hot[b], scans[b], n, memoir->first,
                         memoir->second);
      if (!s.ok()) return s;
    }
  }
  RemoveAll(dir);
  for (const Baseline& b : kinds) RemoveAll(base + b.name);

  report.Field("replay", "events", double(n));
  report.Field("replay", "rounds", double(rounds));
  report.Field("replay", "memoir_write_events_per_s", n / write_seconds);
  report.Row("replay", "memoir", "cold-ish", Median(memoir_cold), "ev/s",
             "memoir_cold_events_per_s");
  report.Row("replay", "memoir", "hot", Median(memoir_hot), "ev/s",
             "memoir_hot_events_per_s");
  for (size_t b = 0; b < kinds.size(); ++b) {
    ReportSeries(report, "replay", cold[b], "cold-ish", "_cold");
    ReportSeries(report, "replay", hot[b], "hot", "_hot");
  }
  return Status::OK();
}

// Pins this process's threads, present and future, to the CPU it runs on
// until destroyed. On a shared VM the CPUs can differ by a third in speed,
// and a new thread (a subscription's) may land on the other one than the
// thread it is compared with; on one CPU every reader runs where the others
// did. `cpu` is -1 when pinning failed (the run goes on unpinned).
class PinToOneCpu {
 public:
  PinToOneCpu() {
    if (sched_getaffinity(0, sizeof old_, &old_) != 0) return;
    const int here = sched_getcpu();
    if (here < 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(here, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) cpu_ = here;
  }
  ~PinToOneCpu() {
    if (cpu_ >= 0) sched_setaffinity(0, sizeof old_, &old_);
  }
  PinToOneCpu(const PinToOneCpu&) = delete;
  PinToOneCpu& operator=(const PinToOneCpu&) = delete;
  int cpu() const { return cpu_; }

 private:
  cpu_set_t old_{};
  int cpu_ = -1;
};

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
  const size_t rounds = std::max<size_t>(1, options.rounds);
  const PinToOneCpu pinned;
  // ScanAll, then a subscription catching up, against a bare LMDB cursor
  // over the same log table ("raw-log": memoir's own records and pages)
  // and against that walk hashing every record ("raw-log-checked").
  Series cold{"raw-log", {}, {}}, hot{"raw-log", {}, {}};
  Series sub_cold{"raw-log", {}, {}}, sub_hot{"raw-log", {}, {}};
  Series checked_cold{"raw-log-checked", {}, {}},
      checked_hot{"raw-log-checked", {}, {}};
  Series sub_checked_cold{"raw-log-checked", {}, {}},
      sub_checked_hot{"raw-log-checked", {}, {}};
  std::vector<double> memoir_cold, memoir_hot, sub_rate_cold, sub_rate_hot,
      sub_vs_scan, zc_vs_scan;
  // The same catch-up with SubscriptionOptions::zero_copy.
  Series zc_checked_cold{"raw-log-checked", {}, {}},
      zc_checked_hot{"raw-log-checked", {}, {}};
  for (size_t r = 0; r < rounds; ++r) {
    // Which goes first alternates between rounds.
    Result<ScanResult> raw = Status::Busy("not run");
    Result<ScanResult> checked = Status::Busy("not run");
    if (r % 2 == 1) {
      raw = MemoirLogWalk(dir, n, options.payload, /*check=*/false);
      checked = MemoirLogWalk(dir, n, options.payload, /*check=*/true);
    }
    Result<std::pair<double, double>> memoir =
        ReopenAndScan(dir, n, [&](Store& store) {
          return TimedScanAll(store.journal(), n, options.payload);
        });
    if (!memoir.ok()) return memoir.status();
    Result<std::pair<double, double>> sub =
        ReopenAndScan(dir, n, [&](Store& store) {
          return TimedCatchUp(store, n, options.payload, /*zero_copy=*/false);
        });
    if (!sub.ok()) return sub.status();
    Result<std::pair<double, double>> zc =
        ReopenAndScan(dir, n, [&](Store& store) {
          return TimedCatchUp(store, n, options.payload, /*zero_copy=*/true);
        });
    if (!zc.ok()) return zc.status();
    if (r % 2 == 0) {
      raw = MemoirLogWalk(dir, n, options.payload, /*check=*/false);
      checked = MemoirLogWalk(dir, n, options.payload, /*check=*/true);
    }
    memoir_cold.push_back(memoir->first);
    memoir_hot.push_back(memoir->second);
    sub_rate_cold.push_back(sub->first);
    sub_rate_hot.push_back(sub->second);
    sub_vs_scan.push_back(sub->second / memoir->second);
    zc_vs_scan.push_back(zc->second / memoir->second);
    Status s = AddScan(&cold, &hot, raw, n, memoir->first, memoir->second);
    if (!s.ok()) return s;
    s = AddScan(&sub_cold, &sub_hot, raw, n, sub->first, sub->second);
    if (!s.ok()) return s;
    s = AddScan(&checked_cold, &checked_hot, checked, n, memoir->first,
                memoir->second);
    if (!s.ok()) return s;
    s = AddScan(&sub_checked_cold, &sub_checked_hot, checked, n, sub->first,
                sub->second);
    if (!s.ok()) return s;
    s = AddScan(&zc_checked_cold, &zc_checked_hot, checked, n, zc->first,
                zc->second);
    if (!s.ok()) return s;
  }
  RemoveAll(dir);

  report.Field("read-all", "events", double(n));
  report.Field("read-all", "streams", double(streams));
  report.Field("read-all", "rounds", double(rounds));
  report.Field("read-all", "pinned_cpu", double(pinned.cpu()));
  report.Row("read-all", "memoir", "cold-ish", Median(memoir_cold), "ev/s",
             "memoir_cold_events_per_s");
  report.Row("read-all", "memoir", "hot", Median(memoir_hot), "ev/s",
             "memoir_hot_events_per_s");
  ReportSeries(report, "read-all", cold, "cold-ish", "_cold");
  ReportSeries(report, "read-all", hot, "hot", "_hot");
  report.Row("read-all", "subscription", "cold-ish", Median(sub_rate_cold),
             "ev/s", "subscription_cold_events_per_s");
  report.Row("read-all", "subscription", "hot", Median(sub_rate_hot), "ev/s",
             "subscription_hot_events_per_s");
  report.Row("read-all", "subscription/ScanAll", "hot", Median(sub_vs_scan),
             "x", "ratio_subscription_scan_all_hot");
  report.Row("read-all", "subscription/raw-log", "hot", Median(sub_hot.ratios),
             "x", "ratio_subscription_raw_log_hot");
  report.Row("read-all", "subscription/raw-log", "cold-ish",
             Median(sub_cold.ratios), "x", "ratio_subscription_raw_log_cold");
  ReportSeries(report, "read-all", checked_cold, "cold-ish", "_cold");
  ReportSeries(report, "read-all", checked_hot, "hot", "_hot");
  report.Row("read-all", "subscription/raw-log-checked", "hot",
             Median(sub_checked_hot.ratios), "x",
             "ratio_subscription_raw_log_checked_hot");
  report.Row("read-all", "subscription/raw-log-checked", "cold-ish",
             Median(sub_checked_cold.ratios), "x",
             "ratio_subscription_raw_log_checked_cold");
  report.Row("read-all", "zero-copy subscription/ScanAll", "hot",
             Median(zc_vs_scan), "x", "ratio_zero_copy_scan_all_hot");
  report.Row("read-all", "zero-copy sub/raw-log-checked", "hot",
             Median(zc_checked_hot.ratios), "x",
             "ratio_zero_copy_raw_log_checked_hot");
  report.Row("read-all", "zero-copy sub/raw-log-checked", "cold-ish",
             Median(zc_checked_cold.ratios), "x",
             "ratio_zero_copy_raw_log_checked_cold");
  return Status::OK();
}

}  // namespace memoir::bench
