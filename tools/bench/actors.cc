// The actor scenario: commands through Ask against the journal's own append
// rate on the same store settings, and recovery time of a long-lived actor.
#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench.h"
#include "memoir/actor_system.h"

namespace memoir::bench {

namespace {

// An actor that persists each command's payload and counts them.
struct Recorder {
  static constexpr std::string_view kTypeName = "recorder";
  using State = uint64_t;
  using Command = std::string;  // payload; empty = a read
  using Event = std::string;
  using Reply = uint64_t;
  using EventCodec = BytesCodec<"Recorded">;
  using StateCodec = PodCodec<uint64_t, "Count">;
  Effect<Event, Reply> Handle(const State& n, const Command& c) const {
    if (c.empty()) return Effect<Event, Reply>::Respond(n);
    return Effect<Event, Reply>::Persist(c, n + 1);
  }
  void Apply(State& n, const Event&) const { ++n; }
};

// The same commands kept as durable state: each command's payload is the
// whole new state, one revision, and the runtime deletes the older ones.
struct StateRecorder {
  static constexpr std::string_view kTypeName = "state-recorder";
  using State = std::string;    // the last payload
  using Command = std::string;  // payload; empty = a read
  using Reply = uint64_t;       // the state's size
  using StateCodec = BytesCodec<"Last">;
  StateEffect<State, Reply> Handle(const State& s, const Command& c) const {
    if (c.empty()) return StateEffect<State, Reply>::Respond(s.size());
    return StateEffect<State, Reply>::Persist(c, c.size());
  }
};

std::string ActorName(size_t i) { return fmt::format("actor-{:06}", i); }

// A command that an actor records, then passes on to actor `next` with a
// durable send while hops are left.
struct Hop {
  uint64_t id = 0;  // the client's command, to pair the two commits
  uint32_t hops_left = 0;
  uint32_t next = 0;
};

struct Forwarder {
  static constexpr std::string_view kTypeName = "forwarder";
  using State = uint64_t;
  using Command = Hop;
  using Event = Hop;
  using Reply = uint64_t;
  using EventCodec = PodCodec<Hop, "Hopped">;
  using CommandCodec = PodCodec<Hop, "Hop">;
  using StateCodec = PodCodec<uint64_t, "Count">;
  uint32_t actors = 1;
  Effect<Event, Reply> Handle(const State& n, const Command& c) const {
    auto fx = Effect<Event, Reply>::Persist(c, n + 1);
    if (c.hops_left == 0) return fx;
    return std::move(fx).Send<Forwarder>(
        ActorName(c.next), Hop{c.id, c.hops_left - 1, (c.next + 1) % actors});
  }
  void Apply(State& n, const Event&) const { ++n; }
};

// `clients` threads, each doing one operation at a time on random actors
// or streams for `seconds`; returns operations per second.
template <typename Op>
Result<double> Drive(size_t clients, double seconds, size_t targets,
                     const Op& op) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  Status first;
  std::mutex mu;
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(c + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        Status s = op(rng() % targets);
        if (!s.ok()) {
          std::lock_guard lock(mu);
          if (!failed.exchange(true)) first = s;
          return;
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (SecondsSince(start) < seconds && !failed.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  double elapsed = SecondsSince(start);
  if (failed.load()) return first;
  return static_cast<double>(done.load()) / elapsed;
}

Status Throughput(const Options& options, Report& report) {
  const size_t actors = options.quick ? 1000 : 10000;
  const size_t clients = options.producers;
  const std::string payload(options.payload, 'a');
  double seconds = options.seconds;

  // The floor: the same writes as plain blocking journal appends.
  const std::string jdir = options.dir + "/actors-journal";
  Result<double> journal_rate = Status::OK();
  {
    auto store = OpenStore(jdir, options.durability);
    if (!store.ok()) return store.status();
    Journal& journal = (*store)->journal();
    journal_rate = Drive(clients, seconds, actors, [&](size_t i) -> Status {
      EventData e{"Recorded", payload, 1, {}};
      return journal.Append(ActorName(i), Expected::Any(), {std::move(e)})
          .status();
    });
  }
  RemoveAll(jdir);
  if (!journal_rate.ok()) return journal_rate.status();

  const std::string adir = options.dir + "/actors-ask";
  auto store = OpenStore(adir, options.durability);
  if (!store.ok()) return store.status();
  auto system = ActorSystem::Create(**store);
  if (!system.ok()) return system.status();
  if (Status s = (*system)->Register<Recorder>(); !s.ok()) return s;
  ActorSystem& sys = **system;
  Result<double> ask_rate =
      Drive(clients, seconds, actors, [&](size_t i) -> Status {
        return sys.Ref<Recorder>(ActorName(i)).Ask(payload).get().status();
      });
  RuntimeStats stats = sys.Stats();
  StoreStats store_stats = (*store)->Stats();
  Status down = sys.Shutdown();
  system->reset();
  store->reset();
  RemoveAll(adir);
  if (!ask_rate.ok()) return ask_rate.status();
  if (!down.ok()) return down;

  // The same commands to durable-state actors (memoir/durable_state.h).
  const std::string sdir = options.dir + "/actors-state";
  Result<double> state_rate = Status::OK();
  {
    auto sstore = OpenStore(sdir, options.durability);
    if (!sstore.ok()) return sstore.status();
    auto ssystem = ActorSystem::Create(**sstore);
    if (!ssystem.ok()) return ssystem.status();
    if (Status s = (*ssystem)->Register(StateRecorder{}); !s.ok()) return s;
    ActorSystem& ssys = **ssystem;
    state_rate = Drive(clients, seconds, actors, [&](size_t i) -> Status {
      return ssys.Ref<StateRecorder>(ActorName(i)).Ask(payload).get().status();
    });
    Status sdown = ssys.Shutdown();
    if (state_rate.ok() && !sdown.ok()) state_rate = sdown;
  }
  RemoveAll(sdir);
  if (!state_rate.ok()) return state_rate.status();

  // Durable sends: each Ask to actor i commits an event with a message to
  // actor i + 1, which takes it with an event of its own. Messages per
  // second from the first Ask until the outbox is drained; latency from
  // the sender's commit to the receiver's (the two events' commit
  // timestamps, paired by the command's id).
  const std::string ddir = options.dir + "/actors-send";
  Result<double> send_rate = Status::OK();
  std::vector<double> latency_us, light_us;
  uint64_t messages = 0;
  {
    auto dstore = OpenStore(ddir, options.durability);
    if (!dstore.ok()) return dstore.status();
    auto dsystem = ActorSystem::Create(**dstore);
    if (!dsystem.ok()) return dsystem.status();
    Forwarder forwarder;
    forwarder.actors = static_cast<uint32_t>(actors);
    if (Status s = (*dsystem)->Register(forwarder); !s.ok()) return s;
    ActorSystem& dsys = **dsystem;
    std::atomic<uint64_t> next_id{1};
    auto ask = [&](size_t i) {
      Hop hop{next_id.fetch_add(1), 1, static_cast<uint32_t>((i + 1) % actors)};
      return dsys.Ref<Forwarder>(ActorName(i)).Ask(hop).get().status();
    };
    // Drained: every message sent was taken (a generous limit).
    auto drain = [&] {
      const auto since = std::chrono::steady_clock::now();
      while (dsys.Stats().messages_waiting > 0 && SecondsSince(since) < 600) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    };
    auto start = std::chrono::steady_clock::now();
    Result<double> asks = Drive(clients, seconds, actors, ask);
    if (!asks.ok()) return asks.status();
    drain();
    const double elapsed = SecondsSince(start);
    const uint64_t loaded_ids = next_id.load();
    // Then one client, one command at a time: the latency without queues.
    Result<double> light = Drive(1, std::max(0.5, seconds / 4), actors, ask);
    if (!light.ok()) return light.status();
    drain();
    RuntimeStats ds = dsys.Stats();
    if (ds.messages_waiting > 0 || ds.messages_delivered != ds.messages_sent) {
      return Status::Failed(fmt::format(
          "durable sends: {} sent, {} delivered, {} waiting after {:.0f} s",
          ds.messages_sent, ds.messages_delivered, ds.messages_waiting,
          elapsed));
    }
    messages = loaded_ids - 1;
    send_rate = static_cast<double>(messages) / elapsed;
    if (Status s = dsys.Shutdown(); !s.ok()) return s;
    std::unordered_map<uint64_t, int64_t> sent_at;
    Status scan =
        (*dstore)->journal().ScanAll(1, SIZE_MAX, [&](const EventView& e) {
          Hop h;
          if (e.payload.size() != sizeof h) return true;
          std::memcpy(&h, e.payload.data(), sizeof h);
          if (h.hops_left == 1) {
            sent_at[h.id] = e.timestamp_ns;
          } else if (auto it = sent_at.find(h.id); it != sent_at.end()) {
            (h.id < loaded_ids ? latency_us : light_us)
                .push_back(static_cast<double>(e.timestamp_ns - it->second) /
                           1e3);
          }
          return true;
        });
    if (!scan.ok()) return scan;
    if (latency_us.size() + light_us.size() != ds.messages_delivered) {
      return Status::Failed(fmt::format(
          "durable sends: paired {} of {} messages' commits",
          latency_us.size() + light_us.size(), ds.messages_delivered));
    }
  }
  RemoveAll(ddir);

  report.Note(fmt::format(
      "actors: {} actors, {} client threads, {}-byte "
      "commands, durability {}",
      actors, clients, options.payload, DurabilityName(options.durability)));
  report.Row("actors", "memoir ask", "rate", *ask_rate, "cmd/s",
             "ask_cmd_per_s");
  report.Row("actors", "journal append", "rate", *journal_rate, "ev/s",
             "journal_ev_per_s");
  report.Row("actors", "ask/journal", "ratio", *ask_rate / *journal_rate, "x",
             "ask_vs_journal");
  report.Row("actors", "memoir ask, durable state", "rate", *state_rate,
             "cmd/s", "state_ask_cmd_per_s");
  report.Row("actors", "durable state/events", "ratio", *state_rate / *ask_rate,
             "x", "state_vs_events");
  report.Row("actors", "durable send", "rate", *send_rate, "msg/s",
             "send_msg_per_s");
  report.Row("actors", "durable send/ask", "ratio", *send_rate / *ask_rate, "x",
             "send_vs_ask");
  report.Row("actors", "send commit->commit", "p50",
             Percentile(latency_us, 0.5), "us", "send_latency_p50_us");
  report.Row("actors", "send commit->commit", "p99",
             Percentile(latency_us, 0.99), "us", "send_latency_p99_us");
  report.Row("actors", "send, 1 client", "p50", Percentile(light_us, 0.5), "us",
             "send_light_latency_p50_us");
  report.Row("actors", "send, 1 client", "p99", Percentile(light_us, 0.99),
             "us", "send_light_latency_p99_us");
  const double group = store_stats.commits
                           ? static_cast<double>(store_stats.write_requests) /
                                 static_cast<double>(store_stats.commits)
                           : 0;
  report.Row("actors", "ask group", "avg", group, "appends/commit",
             "ask_group");
  report.Field("actors", "events_per_append",
               stats.appends ? static_cast<double>(stats.events) /
                                   static_cast<double>(stats.appends)
                             : 0);
  return Status::OK();
}

// Appends `count` events to the recorder "long-lived" through the actor
// (so that the snapshot policy runs), without fsync: setup only.
Status Feed(const std::string& dir, const ActorTypeOptions<Recorder>& type,
            uint64_t count, uint64_t expect_total, size_t payload_bytes) {
  auto store = OpenStore(dir, Durability::kNone);
  if (!store.ok()) return store.status();
  auto system = ActorSystem::Create(**store);
  if (!system.ok()) return system.status();
  if (Status s = (*system)->Register<Recorder>({}, type); !s.ok()) return s;
  auto ref = (*system)->Ref<Recorder>("long-lived");
  const std::string payload(payload_bytes, 'r');
  for (uint64_t i = 1; i < count; ++i) {
    if (Status s = ref.Tell(payload); !s.ok()) return s;
  }
  auto last = ref.Ask(payload).get();
  if (!last.ok()) return last.status();
  if (*last != expect_total) {
    return Status::Failed(
        fmt::format("recorder counted {} of {} events", *last, expect_total));
  }
  return (*system)->Shutdown();
}

// Activates the actor `rounds` times, each in a fresh system, and returns
// the recovery times in ms.
Result<std::vector<double>> Activate(const std::string& dir,
                                     Durability durability,
                                     const ActorTypeOptions<Recorder>& type,
                                     int rounds, uint64_t expect_total) {
  auto store = OpenStore(dir, durability);
  if (!store.ok()) return store.status();
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    auto system = ActorSystem::Create(**store);
    if (!system.ok()) return system.status();
    if (Status s = (*system)->Register<Recorder>({}, type); !s.ok()) return s;
    auto n = (*system)->Ref<Recorder>("long-lived").Ask(std::string()).get();
    if (!n.ok()) return n.status();
    if (*n != expect_total) {
      return Status::Failed(
          fmt::format("recovered count {} != {}", *n, expect_total));
    }
    ms.push_back((*system)->Stats().recovery_max_ms);
  }
  return ms;
}

Status Recovery(const Options& options, Report& report) {
  const uint64_t events = options.quick ? 20000 : 100000;
  const uint64_t every = 1000;
  const int rounds = options.quick ? 10 : 50;
  const std::string dir = options.dir + "/actors-recovery";
  ActorTypeOptions<Recorder> type;
  type.snapshots.every_events = every;
  type.snapshots.keep = 2;
  report.Note(
      fmt::format("recovery: one actor with {} events, a snapshot "
                  "every {}, {} activations each",
                  events, every, rounds));
  // At a snapshot (nothing to replay), then with the longest tail the
  // policy allows (every - 1 events after the newest snapshot).
  struct Case {
    uint64_t add, total;
    const char* subject;
    const char* key;
  } cases[] = {
      {events, events, "recovery", "recovery"},
      {every - 1, events + every - 1, "recovery+999", "recovery_tail"}};
  for (const Case& c : cases) {
    if (Status s = Feed(dir, type, c.add, c.total, options.payload); !s.ok()) {
      return s;
    }
    auto ms = Activate(dir, options.durability, type, rounds, c.total);
    if (!ms.ok()) return ms.status();
    report.Row("actors", c.subject, "p50", Percentile(*ms, 0.5), "ms",
               std::string(c.key) + "_p50_ms");
    report.Row("actors", c.subject, "p99", Percentile(*ms, 0.99), "ms",
               std::string(c.key) + "_p99_ms");
  }
  RemoveAll(dir);
  return Status::OK();
}

}  // namespace

Status RunActors(const Options& options, Report& report) {
  if (Status s = Throughput(options, report); !s.ok()) return s;
  return Recovery(options, report);
}

}  // namespace memoir::bench
