// The latency scenario: one durable append at a time, against the floors
// under it (a bare pwrite + fdatasync, and a raw LMDB durable commit).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bench.h"
#include "memoir/store.h"
#include "memoir/subscription.h"

namespace memoir::bench {

namespace {

// In-process commit-to-handler latency: a live subscription on the store,
// one durable append at a time. The commit's time is taken in the append's
// callback, which the writer thread runs right after it has published the
// commit; the handler's when it is entered with that event. Microseconds;
// negative when the handler ran before the callback.
Result<std::vector<double>> CommitToHandler(Journal& journal, Store& store,
                                            size_t count, size_t payload) {
  using Clock = std::chrono::steady_clock;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, Clock::time_point> handled, committed;
  SubscriptionOptions options;
  options.name = "bench-latency";
  options.start = StartAt::Head();
  Result<std::unique_ptr<Subscription>> sub =
      Subscription::Start(store, options, [&](const Batch& batch) {
        const Clock::time_point now = Clock::now();
        std::lock_guard<std::mutex> lock(mu);
        for (const EventView& e : batch.events) handled[e.position] = now;
        return Status::OK();
      });
  if (!sub.ok()) return sub.status();
  std::vector<double> micros;
  for (size_t i = 0; i < count + 10; ++i) {
    std::optional<Result<AppendResult>> done;
    journal.Append(
        StreamAppend{"latency-subscribed", Expected::Any(), Events(1, payload)},
        [&](Result<AppendResult> r) {
          const Clock::time_point now = Clock::now();
          std::lock_guard<std::mutex> lock(mu);
          if (r.ok()) committed[r->last_position] = now;
          done.emplace(std::move(r));
          cv.notify_all();
        });
    uint64_t position = 0;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done.has_value(); });
      if (!done->ok()) return done->status();
      position = (*done)->last_position;
    }
    Status seen = (*sub)->WaitFor(position, std::chrono::minutes(1));
    if (!seen.ok()) return seen;
    if (i < 10) continue;  // warm-up
    std::lock_guard<std::mutex> lock(mu);
    micros.push_back(std::chrono::duration<double, std::micro>(
                         handled.at(position) - committed.at(position))
                         .count());
  }
  if (Status s = (*sub)->Stop(); !s.ok()) return s;
  return micros;
}

}  // namespace

// memoir, the fsync floor and the raw LMDB floor take turns, one operation
// each, so that all three see the same disk (whose latency may drift).
Status RunLatency(const Options& options, Report& report) {
  sync();  // start from a quiet disk: flush what earlier runs left dirty
  const std::string dir = options.dir + "/latency-memoir";
  const std::string raw_dir = options.dir + "/latency-raw";
  Result<std::unique_ptr<Store>> store = OpenStore(dir, Durability::kSync);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<Stepper>> fsync_file =
      OpenFsyncFile(options.dir + "/fsync-floor", 256);
  if (!fsync_file.ok()) return fsync_file.status();
  Result<std::unique_ptr<Stepper>> raw_lmdb =
      OpenRawCommitter(raw_dir, options.payload);
  if (!raw_lmdb.ok()) return raw_lmdb.status().WithContext("raw LMDB");
  Journal& journal = (*store)->journal();
  std::vector<double> micros, fsync_micros, raw_micros;
  for (size_t i = 0; i < options.latency_count + 10; ++i) {
    auto start = std::chrono::steady_clock::now();
    Result<AppendResult> r = journal.Append("latency-stream", Expected::Any(),
                                            Events(1, options.payload));
    double us = SecondsSince(start) * 1e6;
    if (!r.ok()) return r.status().WithContext("memoir Append");
    Result<double> fsync_us = (*fsync_file)->Step();
    if (!fsync_us.ok()) return fsync_us.status();
    Result<double> raw_us = (*raw_lmdb)->Step();
    if (!raw_us.ok()) return raw_us.status().WithContext("raw LMDB");
    if (i < 10) continue;  // the first 10 rounds warm up
    micros.push_back(us);
    fsync_micros.push_back(*fsync_us);
    raw_micros.push_back(*raw_us);
  }
  Result<std::vector<double>> woken =
      CommitToHandler(journal, **store, options.latency_count, options.payload);
  if (!woken.ok()) return woken.status().WithContext("subscription");
  if (Status s = (*store)->Close(); !s.ok()) return s.WithContext("Close");
  store->reset();
  fsync_file->reset();
  raw_lmdb->reset();
  RemoveAll(dir);
  RemoveAll(raw_dir);

  const double p50 = Percentile(micros, 0.5);
  const double p99 = Percentile(micros, 0.99);
  report.Row("latency", "memoir", "p50", p50, "us", "memoir_p50_us");
  report.Row("latency", "memoir", "p90", Percentile(micros, 0.9), "us",
             "memoir_p90_us");
  report.Row("latency", "memoir", "p99", p99, "us", "memoir_p99_us");
  report.Row("latency", "memoir", "max", Percentile(micros, 1), "us",
             "memoir_max_us");
  struct Floor {
    std::string name;
    std::vector<double>& samples;
  };
  for (Floor f :
       {Floor{"fsync", fsync_micros}, Floor{"raw-lmdb", raw_micros}}) {
    const double f50 = Percentile(f.samples, 0.5);
    const double f99 = Percentile(f.samples, 0.99);
    std::string key = f.name;
    std::replace(key.begin(), key.end(), '-', '_');
    report.Row("latency", f.name, "p50", f50, "us", key + "_p50_us");
    report.Row("latency", f.name, "p99", f99, "us", key + "_p99_us");
    report.Row("latency", "memoir/" + f.name, "p50", p50 / f50, "x",
               "ratio_p50_" + key);
    report.Row("latency", "memoir/" + f.name, "p99", p99 / f99, "x",
               "ratio_p99_" + key);
  }
  // The read side's wake-up, next to the cost of the commit it follows.
  const double w50 = Percentile(*woken, 0.5);
  report.Row("latency", "commit->handler", "p50", w50, "us",
             "subscription_p50_us");
  report.Row("latency", "commit->handler", "p99", Percentile(*woken, 0.99),
             "us", "subscription_p99_us");
  report.Row("latency", "commit->handler/fsync", "p50",
             w50 / Percentile(fsync_micros, 0.5), "x",
             "ratio_subscription_p50_fsync");
  return Status::OK();
}

}  // namespace memoir::bench
