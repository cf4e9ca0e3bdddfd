// I/O faults at every step: the scripted workload of fault_child runs with
// one write or sync call failed (EIO or ENOSPC, once or from then on), for
// k = 1, 2, ... until a run no longer reaches the k-th call, for every op
// the write path may use. Each run must end normally in bounded time, give
// the affected callers a specific error, and, once the fault is lifted,
// behave as the contract says (storage full: the same store writes again;
// a failed sync or an I/O error: writes refused until reopen). Then the
// parent reopens the store without faults and checks that every
// acknowledged event and snapshot is there with its bytes, no batch is
// partly there, no failed request was stored, seqs are gap-free from 1,
// `memoir verify` finds nothing, and appends work (fault_check.h).
//
// The default run uses the short workload, durable commits and a stride
// over k. MEMOIR_FAULT_SWEEP=full (ctest label "long") tries every k of
// the long workload in every durability mode. MEMOIR_FAULT_OPS (e.g.
// "pwrite,fdatasync"), MEMOIR_FAULT_DURABILITY (e.g. "sync,none") and
// MEMOIR_FAULT_JOBS (children at once, default 2) narrow or widen a run.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reliability/fault_check.h"
#include "reliability/fault_run.h"
#include "support/temp_dir.h"

namespace memoir::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kOps[] = {"write",     "writev", "pwrite", "pwritev",
                                "fdatasync", "fsync",  "msync",  "any"};
constexpr std::chrono::seconds kChildTimeout{60};
// Fault points per op, errno and mode in the short form (a stride over k).
constexpr uint64_t kShortPoints = 10;

std::vector<std::string> ListFromEnv(const char* name,
                                     std::vector<std::string> fallback) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return fallback;
  std::vector<std::string> out;
  std::stringstream in(env);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

unsigned Jobs() {
  const char* env = std::getenv("MEMOIR_FAULT_JOBS");
  int jobs = env != nullptr ? std::atoi(env) : 2;
  return static_cast<unsigned>(std::clamp(jobs, 1, 16));
}

// Runs children and gathers the figures; Run may be called from several
// threads at once.
class Sweep {
 public:
  explicit Sweep(bool long_form) : long_form_(long_form) {}

  // Runs one fault; returns whether the k-th call was reached, and sets
  // `*failed` if the run failed a check.
  bool Run(const Fault& fault, std::map<std::string, uint64_t>* calls,
           bool* failed = nullptr) {
    const std::string store =
        dir_.Sub("run-" + std::to_string(next_run_.fetch_add(1)));
    ChildRun run = RunFaultChild(MEMOIR_FAULT_CHILD, store, fault, long_form_,
                                 kChildTimeout);
    Report report = ParseReport(run.lines);
    Figures f;
    std::vector<std::string> problems =
        CheckFaultRun(fault, run, report, store, &f);
    std::error_code ec;
    std::filesystem::remove_all(store, ec);
    ++f.runs;
    // A child that did not finish may have died past the k-th call: go on.
    const bool reached = report.injected_op.has_value() || !report.end;
    if (reached) ++f.points;
    if (calls != nullptr) *calls = report.calls;
    std::lock_guard<std::mutex> lock(mu_);
    if (!problems.empty()) {
      ++f.problem_runs;
      if (failed != nullptr) *failed = true;
      if (printed_problem_runs_++ < 12) Print(fault, run, problems);
    }
    figures_ += f;
    return reached;
  }

  Figures figures() {
    std::lock_guard<std::mutex> lock(mu_);
    return figures_;
  }

 private:
  static void Print(const Fault& fault, const ChildRun& run,
                    const std::vector<std::string>& problems) {
    std::printf("FAULT RUN FAILED: %s\n", fault.Name().c_str());
    for (const std::string& p : problems) {
      std::printf("  problem: %s\n", p.c_str());
    }
    for (const std::string& l : run.lines) {
      if (l[0] != 'A' && l[0] != 'S') std::printf("  child: %s\n", l.c_str());
    }
  }

  TempDir dir_;
  const bool long_form_;
  std::atomic<uint64_t> next_run_{0};
  std::mutex mu_;
  Figures figures_;
  int printed_problem_runs_ = 0;
};

// One op, errno, mode and durability: k from `fault.nth` in steps of
// `stride` until a run no longer reaches the k-th call.
struct Series {
  Fault fault;
  uint64_t stride = 1;
  uint64_t baseline_calls = 0;
  std::string line;  // what was tried, for the log
  bool failed = false;
  bool runaway = false;
};

void RunSeries(Sweep& sweep, Series& series) {
  Fault fault = series.fault;
  std::string tried;
  uint64_t points = 0;
  // Far past the baseline's calls, a run that still reaches k is looping.
  const uint64_t limit = 4 * series.baseline_calls + 64;
  for (; fault.nth <= limit; fault.nth += series.stride) {
    if (!sweep.Run(fault, nullptr, &series.failed)) break;
    ++points;
    tried += (tried.empty() ? "" : ",") + std::to_string(fault.nth);
  }
  series.runaway = fault.nth > limit;
  if (series.stride == 1 && points > 1) tried = "1.." + std::to_string(points);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "  %-10s %-9s %-6s %-10s %3llu points, k=",
                fault.durability.c_str(), fault.op.c_str(),
                fault.enospc ? "ENOSPC" : "EIO",
                fault.persistent ? "persistent" : "once",
                static_cast<unsigned long long>(points));
  series.line = buf + (tried.empty() ? std::string("-") : tried);
}

// The series of one durability mode, from a baseline run without faults.
void PlanSeries(Sweep& sweep, const std::string& durability, bool long_form,
                std::vector<Series>* all, std::vector<std::string>* unused) {
  std::map<std::string, uint64_t> baseline;
  Fault none;
  none.durability = durability;
  REQUIRE_FALSE(sweep.Run(none, &baseline));
  REQUIRE(sweep.figures().problem_runs == 0);
  std::printf("baseline (%s workload, %s): calls on store files:",
              long_form ? "long" : "short", durability.c_str());
  uint64_t total = 0;
  for (const auto& [op, n] : baseline) {
    std::printf(" %s %llu", op.c_str(), static_cast<unsigned long long>(n));
    total += n;
  }
  std::printf("\n");
  baseline["any"] = total;
  // The write path must be exercised, or the sweep proves nothing.
  CHECK(baseline["pwrite"] > 0);
  CHECK(baseline["fdatasync"] > 0);
  for (const std::string& op : ListFromEnv(
           "MEMOIR_FAULT_OPS",
           std::vector<std::string>(std::begin(kOps), std::end(kOps)))) {
    // The short form trusts the baseline for ops the write path never
    // calls; the long form runs k = 1 for them too.
    if (!long_form && baseline[op] == 0) {
      unused->push_back(durability + ":" + op);
      continue;
    }
    for (bool enospc : {false, true}) {
      for (bool persistent : {false, true}) {
        Series s;
        s.baseline_calls = baseline[op];
        s.stride =
            long_form
                ? 1
                : std::max<uint64_t>(
                      1, (s.baseline_calls + kShortPoints - 1) / kShortPoints);
        // Each series starts elsewhere in the stride, so together they
        // cover more of the k's.
        s.fault.op = op;
        s.fault.nth = 1 + all->size() % s.stride;
        s.fault.enospc = enospc;
        s.fault.persistent = persistent;
        s.fault.durability = durability;
        all->push_back(s);
      }
    }
  }
}

void PrintFigures(const Figures& f, double secs) {
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf(
      "fault sweep: %llu fault points in %llu runs (%.1f s); errors seen: "
      "%llu I/O error, %llu storage full; the same store wrote again after "
      "storage full %llu times and refused writes until reopen after an I/O "
      "error %llu times; acknowledged events checked %llu, snapshots %llu, "
      "durable messages %llu; lost %llu, damaged %llu, partial %llu, "
      "failed-but-stored %llu, gaps %llu; runs with problems %llu\n",
      u(f.points), u(f.runs), secs, u(f.errors_io), u(f.errors_full),
      u(f.full_then_same_store_ok), u(f.refused_until_reopen),
      u(f.acked_events), u(f.acked_snapshots), u(f.messages), u(f.lost),
      u(f.damaged), u(f.partial), u(f.phantom), u(f.gaps), u(f.problem_runs));
  std::printf(
      "ENOSPC from a sync made the store refuse writes until reopen (a "
      "failed sync is final) %llu times\n"
      "by design: ENOSPC on LMDB's meta page write was final for the open "
      "store (MDB_PANIC; reported as an I/O error saying reopen) in %llu "
      "runs; Close returned OK after ENOSPC in its final commit (the "
      "deferred index; the log is the truth and the next open rebuilds it) "
      "in %llu runs\n",
      u(f.sync_enospc_final), u(f.meta_enospc_panics),
      u(f.close_swallowed_enospc));
}

TEST_CASE(
    "a failed write or sync at any step gives its callers a specific error, "
    "and the store reopened without faults has every acknowledged append") {
  const char* mode = std::getenv("MEMOIR_FAULT_SWEEP");
  const bool long_form = mode != nullptr && std::string(mode) == "full";
  const auto start = Clock::now();
  Sweep sweep(long_form);
  std::vector<Series> all;
  std::vector<std::string> unused;
  const std::vector<std::string> durabilities = ListFromEnv(
      "MEMOIR_FAULT_DURABILITY",
      long_form ? std::vector<std::string>{"sync", "nometasync", "none"}
                : std::vector<std::string>{"sync"});
  for (const std::string& d : durabilities) {
    PlanSeries(sweep, d, long_form, &all, &unused);
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned j = 0; j < Jobs(); ++j) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < all.size();) {
        RunSeries(sweep, all[i]);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  std::printf("fault points tried (%u jobs):\n", Jobs());
  for (const Series& s : all) {
    std::printf("%s%s\n", s.line.c_str(), s.failed ? "  FAILED" : "");
    CHECK_MESSAGE(!s.runaway, s.fault.Name(),
                  ": the k-th call was still reached far past the baseline");
  }
  if (!unused.empty()) {
    std::printf("  not called by the write path (0 calls in the baseline):");
    for (const std::string& op : unused) std::printf(" %s", op.c_str());
    std::printf("\n");
  }
  const Figures f = sweep.figures();
  PrintFigures(f, std::chrono::duration<double>(Clock::now() - start).count());
  CHECK(f.points > 0);
  CHECK(f.acked_events > 0);
  CHECK(f.messages > 0);
  CHECK(f.lost == 0);
  CHECK(f.partial == 0);
  CHECK(f.phantom == 0);
  CHECK(f.problem_runs == 0);
  // Both outcomes of a fault were reached: storage full that the same
  // store survives, and an I/O error that makes it refuse until reopened.
  CHECK(f.errors_full > 0);
  CHECK(f.full_then_same_store_ok > 0);
  CHECK(f.refused_until_reopen > 0);
}

// The checks themselves must be able to fail: a run without faults passes
// them, and the same run with a made-up loss, a stored failure or a vague
// error does not.
TEST_CASE(
    "the fault sweep's checks catch a lost acknowledgement, a failed request "
    "that was stored, a swallowed fault and a vague error") {
  TempDir dir;
  const std::string store = dir.Sub("store");
  Fault none;
  ChildRun run =
      RunFaultChild(MEMOIR_FAULT_CHILD, store, none, false, kChildTimeout);
  const Report report = ParseReport(run.lines);
  REQUIRE(report.end);
  REQUIRE_FALSE(report.acks.empty());
  Figures f;
  REQUIRE(CheckFaultRun(none, run, report, store, &f).empty());

  auto has = [](const std::vector<std::string>& problems, const char* part) {
    for (const std::string& p : problems) {
      if (p.find(part) != std::string::npos) return true;
    }
    return false;
  };
  SUBCASE("an acknowledged append that is not in the store") {
    Report lost = report;
    lost.acks.push_back({lost.acks[0].cid, lost.acks[0].stream, 1000, 1000});
    auto problems = CheckFaultRun(none, run, lost, store, &f);
    CHECK(has(problems, "is missing after reopening"));
  }
  SUBCASE("a failed request whose events are in the store") {
    Report phantom = report;
    phantom.failed_cids.insert(report.acks[0].cid);
    auto problems = CheckFaultRun(none, run, phantom, store, &f);
    CHECK(has(problems, "failed but is stored"));
  }
  Fault fault;
  fault.op = "fdatasync";
  fault.nth = 3;
  Report faulted = report;
  faulted.injected_op = "fdatasync";
  faulted.injected_path = store + "/data.mdb";
  SUBCASE("a failed sync that reached no caller") {
    auto problems = CheckFaultRun(fault, run, faulted, store, &f);
    CHECK(has(problems, "reached no caller"));
  }
  SUBCASE("an I/O error that names neither the cause nor the cure") {
    faulted.errors.push_back(
        {'N', "100001", Status::Code::kIOError, "commit failed", false});
    faulted.probes["same"] = {Status::Code::kOk, "ok"};
    auto problems = CheckFaultRun(fault, run, faulted, store, &f);
    CHECK(has(problems, "does not name the cause"));
    CHECK(has(problems, "does not say to reopen"));
    CHECK(has(problems, "instead of refusing until reopened"));
  }
}

}  // namespace
}  // namespace memoir::test
