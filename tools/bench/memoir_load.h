// memoir-bench: the append load memoir runs (producer threads over many
// streams) and the per-round ratio series, shared by the scenarios of
// scenarios.cc and postgres.cc.
#ifndef MEMOIR_TOOLS_BENCH_MEMOIR_LOAD_H_
#define MEMOIR_TOOLS_BENCH_MEMOIR_LOAD_H_

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"

namespace memoir::bench {

// One baseline's figures over the rounds.
struct Series {
  std::string name;
  std::vector<double> rates;   // the baseline's events/s, per round
  std::vector<double> ratios;  // memoir's rate over the baseline's, per round
  void Add(double memoir_rate, double rate) {
    rates.push_back(rate);
    ratios.push_back(rate > 0 ? memoir_rate / rate : 0);
  }
};

inline std::string JsonKey(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Reports the median rate of a baseline and the median of memoir's
// per-round ratios to it (with their spread as JSON fields).
inline void ReportSeries(Report& report, const std::string& scenario,
                         const Series& series, const std::string& metric,
                         const std::string& suffix) {
  const std::string key = JsonKey(series.name) + suffix;
  report.Row(scenario, series.name, metric, Median(series.rates), "ev/s",
             key + "_events_per_s");
  report.Row(scenario, "memoir/" + series.name, metric, Median(series.ratios),
             "x", "ratio_" + key);
  auto [lo, hi] =
      std::minmax_element(series.ratios.begin(), series.ratios.end());
  report.Field(scenario, "ratio_" + key + "_min", *lo);
  report.Field(scenario, "ratio_" + key + "_max", *hi);
}

// memoir's side of the append scenario: `producers` threads, each appending
// with the blocking Append to its share of the streams, round-robin.
class MemoirLoad {
 public:
  struct Slice {
    uint64_t events = 0;
    double seconds = 0;
    uint64_t commits = 0;
    uint64_t requests = 0;
  };

  // `with_ids`: every event gets a new id (Uuid::Generate), made by the
  // producer as a caller making its appends idempotent would.
  MemoirLoad(Store* store, const Options& options, bool with_ids = false)
      : store_(store),
        options_(options),
        with_ids_(with_ids),
        batch_(Events(options.events_per_append, options.payload)),
        next_(options.producers, 0) {
    names_.resize(options.streams);
    for (size_t i = 0; i < names_.size(); ++i) {
      names_[i] = fmt::format("stream-{:05}", i);
    }
  }

  // Runs the producers for `seconds`, or until `events` events when that
  // is not 0.
  Result<Slice> Run(double seconds, uint64_t events) {
    Journal& journal = store_->journal();
    const StoreStats before = store_->Stats();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reserved{0};  // events claimed, with `events`
    std::atomic<uint64_t> appended{0};
    std::mutex mu;
    Status first_error;
    auto producer = [&](size_t p) {
      while (!stop.load(std::memory_order_relaxed)) {
        size_t n = batch_.size();
        if (events > 0) {
          uint64_t from = reserved.fetch_add(n);
          if (from >= events) break;
          n = static_cast<size_t>(std::min<uint64_t>(n, events - from));
        }
        // Round-robin: producer p writes streams p, p+P, p+2P, ...
        const std::string& stream =
            names_[(p + next_[p]++ * options_.producers) % names_.size()];
        std::vector<EventData> slice(batch_.begin(), batch_.begin() + n);
        if (with_ids_) {
          for (EventData& e : slice) e.id = Uuid::Generate();
        }
        Result<AppendResult> r =
            journal.Append(stream, Expected::Any(), std::move(slice));
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
    for (size_t p = 0; p < options_.producers; ++p) {
      threads.emplace_back(producer, p);
    }
    if (events == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      stop = true;
    }
    for (std::thread& t : threads) t.join();
    Slice slice;
    slice.seconds = SecondsSince(start);
    if (!first_error.ok()) return first_error.WithContext("memoir Append");
    const StoreStats after = store_->Stats();
    slice.events = appended.load();
    slice.commits = after.commits - before.commits;
    slice.requests = after.write_requests - before.write_requests;
    return slice;
  }

 private:
  Store* store_;
  const Options& options_;
  const bool with_ids_;
  std::vector<std::string> names_;
  const std::vector<EventData> batch_;
  std::vector<uint64_t> next_;  // per producer: appends made so far
};

}  // namespace memoir::bench

#endif  // MEMOIR_TOOLS_BENCH_MEMOIR_LOAD_H_
