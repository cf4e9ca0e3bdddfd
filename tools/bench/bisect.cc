// The bisect scenario: what finding the event that broke an invariant costs
// (memoir/replay.h, Replayer::Bisect) on a long stream with snapshots,
// against the full fold a debugger without snapshots would do.
//
// Each stream holds `bisect_events` deposits of 1 with a snapshot every
// `bisect_every` events, and one huge withdrawal planted at a chosen seq
// (first, a third of the way, last, or none) that drives the balance
// negative for good. Bisection rebuilds ~log2(n) states, each from the
// snapshot at or below the probe plus at most `bisect_every` - 1 events;
// the full fold is the exhaustive search, which applies every event up to
// the break (all of them when there is none).
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench.h"
#include "memoir/replay.h"

namespace memoir::bench {

namespace {

struct Ledger {
  static constexpr std::string_view kTypeName = "ledger";
  using State = int64_t;
  using Command = int64_t;
  using Event = int64_t;
  using Reply = int64_t;
  using EventCodec = PodCodec<int64_t, "Delta">;
  using StateCodec = PodCodec<int64_t, "Balance">;
  Effect<Event, Reply> Handle(const State& s, const Command& c) const {
    return Effect<Event, Reply>::Persist(c, s + c);
  }
  void Apply(State& s, const Event& e) const { s += e; }
};

constexpr int64_t kOverdraft = -(int64_t{1} << 50);

// Writes `stream`: n events, a snapshot every `every`, the overdraft at
// `planted` (0: none).
Status WriteStream(Store& store, const std::string& stream, uint64_t n,
                   uint64_t every, uint64_t planted) {
  std::vector<EventData> batch;
  int64_t balance = 0;
  uint64_t head = 0;
  for (uint64_t seq = 1; seq <= n; ++seq) {
    const int64_t delta = seq == planted ? kOverdraft : 1;
    balance += delta;
    batch.push_back(Ledger::EventCodec::Encode(delta));
    const bool snapshot = every > 0 && seq % every == 0;
    if (snapshot || batch.size() == 1000 || seq == n) {
      const size_t count = batch.size();
      Result<AppendResult> r =
          store.journal().Append(stream, Expected::At(head), std::move(batch));
      if (!r.ok()) return r.status().WithContext("writing " + stream);
      head += count;
      batch.clear();
    }
    if (snapshot) {
      Status s = store.snapshots().Save(
          stream, seq, Ledger::StateCodec::EncodeState(balance));
      if (!s.ok()) return s.WithContext("snapshot of " + stream);
    }
  }
  return Status::OK();
}

struct Search {
  bool found = false;
  uint64_t seq = 0;
  uint64_t probes = 0;
  uint64_t events_applied = 0;
  double seconds = 0;
};

Result<Search> Run(const Replayer<Ledger>& replay, const std::string& stream,
                   bool exhaustive) {
  auto start = std::chrono::steady_clock::now();
  auto r = replay.Bisect(
      stream, [](const int64_t& balance) { return balance >= 0; }, exhaustive);
  const double seconds = SecondsSince(start);
  if (!r.ok()) return r.status().WithContext("bisect " + stream);
  return Search{r->found, r->seq, r->probes, r->events_replayed, seconds};
}

}  // namespace

Status RunBisect(const Options& options, Report& report) {
  const uint64_t n = options.bisect_events;
  const uint64_t every = options.bisect_every;
  Result<std::unique_ptr<Store>> opened =
      OpenStore(options.dir + "/bisect", Durability::kNone);
  if (!opened.ok()) return opened.status();
  Store& store = **opened;
  struct Case {
    std::string name;
    uint64_t planted;
  };
  const std::vector<Case> cases = {
      {"first", 1}, {"third", n / 3 + 7}, {"last", n}, {"none", 0}};
  auto start = std::chrono::steady_clock::now();
  for (const Case& c : cases) {
    Status s = WriteStream(store, "bisect-" + c.name, n, every, c.planted);
    if (!s.ok()) return s;
  }
  report.Note(fmt::format(
      "bisect: {} streams of {} events, a snapshot every {}, written in "
      "{:.1f} s; invariant balance >= 0, broken at the seq in the name",
      cases.size(), n, every, SecondsSince(start)));
  Replayer<Ledger> replay(store);
  for (const Case& c : cases) {
    const std::string stream = "bisect-" + c.name;
    // Warm the page cache once so that neither search pays for the first
    // read of the stream.
    if (auto warm = replay.StateAt(stream, kMaxSeq, /*from_start=*/true);
        !warm.ok()) {
      return warm.status().WithContext("warming " + stream);
    }
    Result<Search> fast = Run(replay, stream, false);
    if (!fast.ok()) return fast.status();
    Result<Search> full = Run(replay, stream, true);
    if (!full.ok()) return full.status();
    const bool want = c.planted != 0;
    if (fast->found != want || full->found != want ||
        (want && (fast->seq != c.planted || full->seq != c.planted))) {
      return Status::Corruption(fmt::format(
          "{}: planted at {}, bisect found {} at {}, full fold {} at {}",
          stream, c.planted, fast->found, fast->seq, full->found, full->seq));
    }
    const std::string key = "bisect_" + c.name;
    report.Row("bisect", c.name + " bisect", "applied",
               static_cast<double>(fast->events_applied), "events",
               key + "_events");
    report.Row("bisect", c.name + " bisect", "time", fast->seconds * 1e3, "ms",
               key + "_ms");
    report.Field("bisect", key + "_probes", static_cast<double>(fast->probes));
    report.Row("bisect", c.name + " full fold", "applied",
               static_cast<double>(full->events_applied), "events",
               key + "_full_events");
    report.Row("bisect", c.name + " full fold", "time", full->seconds * 1e3,
               "ms", key + "_full_ms");
    report.Note(fmt::format(
        "{}: {} probes; bisect applied {:.4f}x the events of the full fold "
        "in {:.4f}x its time",
        c.name, fast->probes,
        full->events_applied
            ? static_cast<double>(fast->events_applied) / full->events_applied
            : 0.0,
        full->seconds > 0 ? fast->seconds / full->seconds : 0.0));
  }
  return store.Close();
}

}  // namespace memoir::bench
