// The latency scenario: one durable append at a time, against the floors
// under it (a bare pwrite + fdatasync, and a raw LMDB durable commit).
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "memoir/store.h"
#include "memoir/subscription.h"

namespace memoir::bench {

namespace {

using Clock = std::chrono::steady_clock;

// One durable append, and when it committed: the time taken in the
// append's callback, which the writer thread runs right after it has
// published the commit.
struct Committed {
  uint64_t position = 0;
  Clock::time_point at;
};
Result<Committed> AppendTimed(Journal& journal, size_t payload) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<AppendResult>> done;
  Clock::time_point at;
  journal.Append(
      StreamAppend{"latency-subscribed", Expected::Any(), Events(1, payload)},
      [&](Result<AppendResult> r) {
        const Clock::time_point now = Clock::now();
        std::lock_guard<std::mutex> lock(mu);
        at = now;
        done.emplace(std::move(r));
        cv.notify_all();
      });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done.has_value(); });
  if (!done->ok()) return done->status();
  return Committed{(*done)->last_position, at};
}

double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// In-process commit-to-handler latency: a live subscription on the store,
// one durable append at a time; the handler's time is taken when it is
// entered with that event. Microseconds; negative when the handler ran
// before the append's callback.
Result<std::vector<double>> CommitToHandler(Journal& journal, Store& store,
                                            size_t count, size_t payload) {
  std::mutex mu;
  std::map<uint64_t, Clock::time_point> handled;
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
    Result<Committed> c = AppendTimed(journal, payload);
    if (!c.ok()) return c.status();
    Status seen = (*sub)->WaitFor(c->position, std::chrono::minutes(1));
    if (!seen.ok()) return seen;
    if (i < 10) continue;  // warm-up
    std::lock_guard<std::mutex> lock(mu);
    micros.push_back(Micros(handled.at(c->position) - c->at));
  }
  if (Status s = (*sub)->Stop(); !s.ok()) return s;
  return micros;
}

// Cross-process: a forked child opens the store read-only and waits for
// each commit with Journal::WaitForCommit (woken through memoir.notify);
// it stamps when each position became visible to it in a shared mapping.
// The clock is CLOCK_MONOTONIC, the same in both processes.
Result<std::vector<double>> CommitToOtherProcess(Journal& journal,
                                                 const std::string& dir,
                                                 size_t count, size_t payload) {
  Result<uint64_t> last = journal.LastPosition();
  if (!last.ok()) return last.status();
  const uint64_t start = *last;
  const size_t rounds = count + 10;
  struct Shared {
    std::atomic<int> state{0};  // 0 starting, 1 ready, 2 failed
    std::atomic<uint64_t> seen{0};
  };
  // The header, then one time stamp per round.
  const size_t bytes = sizeof(Shared) + rounds * sizeof(std::atomic<int64_t>);
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return Status::IOError("mmap for the reader");
  auto* shared = new (map) Shared();
  auto* at_ns = reinterpret_cast<std::atomic<int64_t>*>(shared + 1);
  for (size_t i = 0; i < rounds; ++i) new (&at_ns[i]) std::atomic<int64_t>(0);
  pid_t pid = fork();
  if (pid < 0) return Status::IOError("fork for the reader");
  if (pid == 0) {
    StoreOptions o;
    o.read_only = true;
    auto store = Store::Open(dir, o);
    if (!store.ok()) {
      shared->state = 2;
      _exit(1);
    }
    Journal& j = (*store)->journal();
    Result<uint64_t> first = j.LastPosition();
    if (!first.ok()) {
      shared->state = 2;
      _exit(1);
    }
    uint64_t seen = *first;
    shared->seen = seen;
    shared->state = 1;
    while (seen < start + rounds) {
      Result<uint64_t> now_at = j.WaitForCommit(seen, std::chrono::seconds(5));
      const int64_t ns = Clock::now().time_since_epoch().count();
      if (!now_at.ok()) _exit(1);
      for (uint64_t p = seen + 1; p <= *now_at && p <= start + rounds; ++p) {
        at_ns[p - start - 1].store(ns);
      }
      seen = std::max(seen, *now_at);
      shared->seen = seen;
    }
    _exit(0);
  }
  auto wait_until = [&](auto done) {
    const Clock::time_point deadline = Clock::now() + std::chrono::minutes(1);
    while (!done() && Clock::now() < deadline) std::this_thread::yield();
    return done();
  };
  std::vector<double> micros;
  Status failure;
  if (!wait_until([&] { return shared->state.load() != 0; }) ||
      shared->state.load() != 1) {
    failure = Status::Failed("the reader process did not start");
  }
  for (size_t i = 0; failure.ok() && i < rounds; ++i) {
    Result<Committed> c = AppendTimed(journal, payload);
    if (!c.ok()) {
      failure = c.status();
      break;
    }
    if (!wait_until([&] { return shared->seen.load() >= c->position; })) {
      failure = Status::Failed("the reader process missed a commit");
      break;
    }
    if (i < 10) continue;  // warm-up
    const Clock::time_point seen_at{
        Clock::duration(at_ns[c->position - start - 1].load())};
    micros.push_back(Micros(seen_at - c->at));
  }
  int status = 0;
  if (!failure.ok()) kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  munmap(map, bytes);
  if (!failure.ok()) return failure;
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
  Result<std::vector<double>> across = CommitToOtherProcess(
      journal, dir, options.latency_count, options.payload);
  if (!across.ok()) return across.status().WithContext("reader process");
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
  const double x50 = Percentile(*across, 0.5);
  report.Row("latency", "commit->other process", "p50", x50, "us",
             "other_process_p50_us");
  report.Row("latency", "commit->other process", "p99",
             Percentile(*across, 0.99), "us", "other_process_p99_us");
  report.Row("latency", "commit->handler/fsync", "p50",
             w50 / Percentile(fsync_micros, 0.5), "x",
             "ratio_subscription_p50_fsync");
  return Status::OK();
}

}  // namespace memoir::bench
