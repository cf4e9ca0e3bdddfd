// Readers beside a busy actor system: 64 actors persist several events per
// command while 8 threads read the journal per stream and in commit order,
// and every read must show whole commands, gap-free seqs and nothing that
// goes away later. tests/journal/concurrency_test.cc checks the same at the
// journal level; this one goes through the runtime (turns that batch many
// commands into one append, snapshots saved behind them, committed-state
// reads).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

// A command asks for `count` events (1 to 5); count 0 is a query.
struct BurstCommand {
  uint64_t id = 0;  // client thread << 32 | that thread's counter
  uint32_t count = 0;
  uint32_t pad = 0;
};
struct BurstEvent {
  uint64_t command = 0;
  uint32_t index = 0;  // 0 .. count-1
  uint32_t count = 0;
};
struct BurstState {
  uint64_t events = 0;
  uint64_t commands = 0;  // commands whose last event is applied
};

struct Burst {
  static constexpr std::string_view kTypeName = "burst";
  using State = BurstState;
  using Command = BurstCommand;
  using Event = BurstEvent;
  using Reply = uint64_t;  // events after the command
  using EventCodec = PodCodec<BurstEvent, "BurstEvent">;
  using StateCodec = PodCodec<BurstState, "BurstState">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& s, const Command& c) const {
    if (c.count == 0) return Fx::Respond(s.events);
    std::vector<Event> events;
    for (uint32_t i = 0; i < c.count; ++i) events.push_back({c.id, i, c.count});
    return Fx::Persist(std::move(events), s.events + c.count);
  }
  void Apply(State& s, const Event& e) const {
    ++s.events;
    if (e.index + 1 == e.count) ++s.commands;
  }
};

constexpr int kActors = 64;
constexpr int kClients = 4;
constexpr int kReaders = 8;
constexpr int kRounds = 100;        // per client
constexpr int kActorsPerRound = 8;  // each gets 3 Tells and an Ask
constexpr int kFullScanEvery = 8;   // reader iterations per read-all from 1

std::string ActorId(int i) { return "burst-" + std::to_string(i); }

// The problems readers find, with the first few described.
class Problems {
 public:
  void Add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (++count_ <= 10) first_.push_back(what);
  }
  uint64_t count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::string Describe() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const std::string& s : first_) out += s + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  uint64_t count_ = 0;
  std::vector<std::string> first_;
};

// Follows one stream's events in seq order and checks that they form whole
// commands: each command's events are consecutive, indexed 0..count-1.
class CommandWalk {
 public:
  // Returns an empty string, or what is wrong with `e`.
  std::string Add(const EventView& e) {
    if (e.seq != seq_ + 1) {
      return "seq " + std::to_string(e.seq) + " after " + std::to_string(seq_);
    }
    seq_ = e.seq;
    BurstEvent b;
    try {
      b = Burst::EventCodec::Decode(e.type, e.schema_version, e.payload);
    } catch (const std::exception& x) {
      return std::string("undecodable event: ") + x.what();
    }
    if (whole()) {
      if (b.index != 0 || b.count == 0) return "a command starts mid-way";
      command_ = b.command;
      count_ = b.count;
      next_ = 0;
    } else if (b.command != command_ || b.count != count_ || b.index != next_) {
      return "command " + std::to_string(command_) + " interrupted at event " +
             std::to_string(next_) + " of " + std::to_string(count_);
    }
    ++next_;
    if (whole()) ++commands_;
    return {};
  }
  bool whole() const { return next_ == count_; }
  uint64_t seq() const { return seq_; }
  uint64_t commands() const { return commands_; }
  uint64_t command() const { return command_; }

 private:
  uint64_t seq_ = 0;
  uint64_t commands_ = 0;
  uint64_t command_ = 0;
  uint32_t count_ = 0;
  uint32_t next_ = 0;
};

struct ReaderFigures {
  std::atomic<uint64_t> stream_scans{0}, all_scans{0}, full_scans{0};
  std::atomic<uint64_t> events_seen{0}, state_reads{0};
};

// One reader thread: alternates a per-stream read (after a committed-state
// read) with a read-all in commit order from where it stopped, and now and
// then reads everything from position 1 again.
class Reader {
 public:
  Reader(Store& store, ActorSystem& system,
         std::array<std::atomic<uint64_t>, kActors>& heads, Problems& problems,
         ReaderFigures& figures, int index)
      : journal_(store.journal()),
        system_(system),
        heads_(heads),
        problems_(problems),
        figures_(figures),
        next_actor_(index * kActors / kReaders) {}

  void Run(const std::atomic<bool>& stop) {
    for (uint64_t i = 0; !stop.load(); ++i) {
      ReadOneStream(next_actor_++ % kActors);
      ReadAllFrom(i % kFullScanEvery == kFullScanEvery - 1);
    }
  }

 private:
  void ReadOneStream(int actor) {
    const std::string id = ActorId(actor);
    // Both taken before the read: it must show at least as much.
    uint64_t known = heads_[actor].load();
    auto state = system_.Ref<Burst>(id).CommittedState();
    if (!state.ok()) {
      return problems_.Add(id +
                           ": committed state: " + state.status().ToString());
    }
    figures_.state_reads.fetch_add(1);
    const BurstState committed = *state->state;
    if (state->seq != committed.events) {
      problems_.Add(id + ": the committed state holds " +
                    std::to_string(committed.events) + " events but says seq " +
                    std::to_string(state->seq));
    }
    CommandWalk walk;
    uint64_t commands_at_committed = committed.events == 0 ? 0 : UINT64_MAX;
    Status s = journal_.Scan(id, {}, [&](const EventView& e) {
      std::string why = walk.Add(e);
      if (!why.empty()) {
        problems_.Add(id + " (stream read): " + why);
        return false;
      }
      if (e.seq == committed.events && walk.whole()) {
        commands_at_committed = walk.commands();
      }
      return true;
    });
    if (!s.ok() && !s.IsNotFound()) {
      return problems_.Add(id + ": scan: " + s.ToString());
    }
    figures_.stream_scans.fetch_add(1);
    figures_.events_seen.fetch_add(walk.seq());
    if (!walk.whole()) {
      problems_.Add(id + ": the read ends inside command " +
                    std::to_string(walk.command()));
    }
    if (walk.seq() < known) {
      problems_.Add(id + ": head " + std::to_string(walk.seq()) +
                    " after another reader saw " + std::to_string(known));
    }
    if (walk.seq() < committed.events) {
      problems_.Add(id + ": the committed state holds " +
                    std::to_string(committed.events) +
                    " events, a later read only " + std::to_string(walk.seq()));
    } else if (commands_at_committed != committed.commands) {
      problems_.Add(id + ": the committed state (" +
                    std::to_string(committed.events) + " events, " +
                    std::to_string(committed.commands) +
                    " commands) is not a whole-command prefix of the stream");
    }
    uint64_t seen = walk.seq(), prev = heads_[actor].load();
    while (prev < seen && !heads_[actor].compare_exchange_weak(prev, seen)) {
    }
  }

  // Reads in commit order: from the last position seen (incremental) or
  // from position 1 (full), checking positions, per-stream seqs and whole
  // commands in each read.
  void ReadAllFrom(bool full) {
    std::map<std::string, CommandWalk> fresh;
    std::map<std::string, CommandWalk>& walks = full ? fresh : walks_;
    uint64_t last = full ? 0 : position_;
    const uint64_t before = last;
    Status s = journal_.ScanAll(last + 1, SIZE_MAX, [&](const EventView& e) {
      if (e.position != last + 1) {
        problems_.Add("read-all: position " + std::to_string(e.position) +
                      " after " + std::to_string(last));
        return false;
      }
      last = e.position;
      std::string why = walks[std::string(e.stream)].Add(e);
      if (!why.empty()) {
        problems_.Add(std::string(e.stream) + " (read-all): " + why);
        return false;
      }
      return true;
    });
    if (!s.ok()) return problems_.Add("read-all: " + s.ToString());
    for (auto& [stream, walk] : walks) {
      if (!walk.whole()) {
        problems_.Add(stream + ": a read-all ends inside command " +
                      std::to_string(walk.command()));
      }
    }
    figures_.events_seen.fetch_add(last - before);
    if (full) {
      figures_.full_scans.fetch_add(1);
      if (last < position_) {
        problems_.Add("read-all from 1 ends at " + std::to_string(last) +
                      ", an earlier read reached " + std::to_string(position_));
      }
    } else {
      figures_.all_scans.fetch_add(1);
      position_ = last;
    }
  }

  Journal& journal_;
  ActorSystem& system_;
  std::array<std::atomic<uint64_t>, kActors>& heads_;
  Problems& problems_;
  ReaderFigures& figures_;
  int next_actor_;
  uint64_t position_ = 0;  // last position of the incremental read-all
  std::map<std::string, CommandWalk> walks_;
};

// What one client thread sent: per actor, its command ids in order and
// their event counts.
struct Sent {
  std::array<std::vector<uint64_t>, kActors> ids;
  std::array<uint64_t, kActors> events{};
  uint64_t asks = 0, acked = 0, failed = 0;
};

// Sends rounds of 3 Tells and an Ask to each of 8 random actors, then
// waits for the Asks: each answer must already be in the journal.
void RunClient(ActorSystem& system, int client, Sent& sent,
               Problems& problems) {
  std::mt19937_64 rng(0x5eed + client);
  uint64_t counter = 0;
  auto next = [&](int actor) {
    uint32_t count = 1 + static_cast<uint32_t>(rng() % 5);
    BurstCommand c{(static_cast<uint64_t>(client) << 32) | ++counter, count, 0};
    sent.ids[actor].push_back(c.id);
    sent.events[actor] += count;
    return c;
  };
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::pair<int, std::future<Result<uint64_t>>>> asks;
    for (int k = 0; k < kActorsPerRound; ++k) {
      int actor = static_cast<int>(rng() % kActors);
      auto ref = system.Ref<Burst>(ActorId(actor));
      for (int t = 0; t < 3; ++t) REQUIRE(ref.Tell(next(actor)).ok());
      asks.emplace_back(actor, ref.Ask(next(actor)));
      ++sent.asks;
    }
    for (auto& [actor, f] : asks) {
      if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ++sent.failed;
        continue;
      }
      Result<uint64_t> events = f.get();
      if (!events.ok()) {
        ++sent.failed;
        continue;
      }
      ++sent.acked;
      Result<uint64_t> head = system.store().journal().Head(ActorId(actor));
      if (!head.ok() || *head < *events) {
        problems.Add(ActorId(actor) + ": answered at " +
                     std::to_string(*events) +
                     " events, the journal then holds fewer");
      }
    }
  }
}

TEST_CASE(
    "8 readers never see a partial command, a gap or an event that goes "
    "away while 64 actors append batches of commands") {
  test::TempDir dir;
  StoreOptions so = test::FastStore();
  so.index_flush_events = 509;  // index flushes happen during the reads
  auto store = test::OpenTestStore(dir.path(), so);
  ActorSystemOptions ao;
  ao.threads = 4;
  auto system = test::StartSystem(*store, ao);
  ActorTypeOptions<Burst> types;
  types.snapshots.every_events = 64;  // snapshot saves share the writer
  REQUIRE(system->Register<Burst>(Burst{}, types).ok());

  std::array<std::atomic<uint64_t>, kActors> heads{};
  Problems problems;
  ReaderFigures figures;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      Reader(*store, *system, heads, problems, figures, r).Run(stop);
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<Sent> sent(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] { RunClient(*system, c, sent[c], problems); });
  }
  for (auto& t : clients) t.join();
  stop.store(true);
  for (auto& t : readers) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  uint64_t commands = 0, asks = 0, acked = 0, failed = 0;
  for (const Sent& s : sent) {
    asks += s.asks;
    acked += s.acked;
    failed += s.failed;
    for (const auto& ids : s.ids) commands += ids.size();
  }
  CHECK(failed == 0);
  CHECK(acked == asks);
  // Afterwards every command sent is in its actor's stream, once, whole,
  // and those of one client in the order sent.
  uint64_t events = 0, order_errors = 0;
  for (int a = 0; a < kActors; ++a) {
    const std::string id = ActorId(a);
    uint64_t expected_events = 0;
    for (const Sent& s : sent) expected_events += s.events[a];
    // A query is answered after every earlier command's commit.
    CHECK(test::Await(system->Ref<Burst>(id).Ask(BurstCommand{})) ==
          expected_events);
    CommandWalk walk;
    std::array<size_t, kClients> next{};
    Status s = store->journal().Scan(id, {}, [&](const EventView& e) {
      std::string why = walk.Add(e);
      if (!why.empty()) problems.Add(id + " (final read): " + why);
      if (walk.whole()) {
        size_t client = walk.command() >> 32;
        if (client >= kClients || next[client] >= sent[client].ids[a].size() ||
            sent[client].ids[a][next[client]] != walk.command()) {
          ++order_errors;
        } else {
          ++next[client];
        }
      }
      return true;
    });
    if (!s.ok() && !s.IsNotFound()) problems.Add(id + ": " + s.ToString());
    for (int c = 0; c < kClients; ++c) {
      if (next[c] != sent[c].ids[a].size()) ++order_errors;
    }
    CHECK(walk.seq() == expected_events);
    events += walk.seq();
  }
  CHECK(order_errors == 0);
  RuntimeStats stats = system->Stats();
  std::printf(
      "runtime concurrency: %llu commands (%llu asks answered) from %d "
      "clients to %d actors: %llu events in %llu appends, %llu snapshots, "
      "%.2f s, each answer checked against the journal; %d readers made %llu "
      "stream reads (each after a committed-state read), %llu read-alls from "
      "their last position and %llu from position 1, seeing %llu events; "
      "%llu problems\n",
      (unsigned long long)commands, (unsigned long long)acked, kClients,
      kActors, (unsigned long long)events, (unsigned long long)stats.appends,
      (unsigned long long)stats.snapshots, seconds, kReaders,
      (unsigned long long)figures.stream_scans.load(),
      (unsigned long long)figures.all_scans.load(),
      (unsigned long long)figures.full_scans.load(),
      (unsigned long long)figures.events_seen.load(),
      (unsigned long long)problems.count());
  CHECK_MESSAGE(problems.count() == 0, problems.Describe());
  CHECK(stats.events == events);
  // Turns batched commands: fewer appends than commands.
  CHECK(stats.appends < commands);
  CHECK(stats.snapshots > 0);
  // The readers really ran beside the writers.
  CHECK(figures.stream_scans.load() >= kReaders);
  CHECK(figures.full_scans.load() > 0);
  CHECK(figures.events_seen.load() > 0);
}

}  // namespace
}  // namespace memoir
