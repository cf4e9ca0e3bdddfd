// Process crash under load: a writer with 64 threads is SIGKILLed at a
// random moment, again and again; after each kill the store is reopened
// and checked. MEMOIR_CRASH_CYCLES sets the number of cycles (100 by
// default; the "long" ctest label runs 2,000).
//
// The actor form does the same to an ActorSystem of 64 actors with
// snapshots; MEMOIR_ACTOR_CRASH_CYCLES sets its cycles (100 by default,
// 2,000 under the "long" label) and MEMOIR_CRASH_SEED its kill delays.
//
// The durable-state form kills 16 durable-state actors (one Ask in flight
// each); MEMOIR_DURABLE_CRASH_CYCLES sets its cycles (30 by default, 1,000
// under the "long" label).
//
// The durable-send form kills chains of three actors passing messages with
// Effect::Send; MEMOIR_CHAIN_CRASH_CYCLES sets its cycles (100 by default,
// 2,000 under the "long" label).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/message_store.h"
#include "memoir/replay.h"
#include "memoir/store.h"
#include "reliability/chain_actor.h"
#include "reliability/crash_actor.h"
#include "reliability/durable_tally.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

struct Child {
  pid_t pid = -1;
  std::set<uint64_t> acked;
  std::vector<std::string> failures;  // "F <id> <status>" lines
  bool ready = false;
};

// Runs crash_child with `args` until it says READY, lets it work for `ms`
// (or, with `acks` above 0, until it has acknowledged that many, within
// a minute), kills it. Collects "A <n>" and "F ..." lines as they arrive.
Child RunAndKill(const std::vector<std::string>& args, int ms,
                 size_t acks = 0) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  // argv is built before fork: the child may only call async-signal-safe
  // functions until it execs (no allocation).
  std::vector<char*> argv{const_cast<char*>("crash_child")};
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  Child child;
  child.pid = ::fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(MEMOIR_CRASH_CHILD, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::promise<void> ready;
  std::mutex acked_mu;
  std::condition_variable acked_cv;
  std::thread reader([&] {
    FILE* in = ::fdopen(fds[0], "r");
    char line[4096];
    bool told = false;
    while (std::fgets(line, sizeof line, in)) {
      if (line[0] == 'R' && !told) {
        told = true;
        ready.set_value();
      } else if (line[0] == 'A') {
        std::lock_guard lock(acked_mu);
        child.acked.insert(std::strtoull(line + 2, nullptr, 10));
        acked_cv.notify_all();
      } else if (line[0] == 'F') {
        child.failures.emplace_back(line);
      }
    }
    if (!told) ready.set_value();
    std::fclose(in);
  });
  child.ready = ready.get_future().wait_for(std::chrono::seconds(30)) ==
                std::future_status::ready;
  // The random moment of the crash (not a synchronisation).
  if (child.ready && acks == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  } else if (child.ready) {
    std::unique_lock lock(acked_mu);
    acked_cv.wait_for(lock, std::chrono::minutes(1),
                      [&] { return child.acked.size() >= acks; });
  }
  ::kill(child.pid, SIGKILL);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  reader.join();
  CHECK_MESSAGE(WIFSIGNALED(status), "crash_child exited by itself");
  return child;
}

Child RunAndKill(const std::string& store, uint64_t first_batch, int ms) {
  return RunAndKill({store, std::to_string(first_batch)}, ms);
}

struct Figures {
  uint64_t cycles = 0, acked = 0, events = 0;
  uint64_t lost = 0, partial = 0, duplicates = 0, gaps = 0;
};

// Checks the events written since `from_position` against the child's
// acknowledgements; `heads` carries each stream's head across cycles.
void CheckCycle(Store& store, uint64_t from_position,
                const std::set<uint64_t>& acked,
                std::map<std::string, uint64_t>& heads, Figures& f) {
  struct Batch {
    uint64_t total = 0;
    std::set<uint64_t> seen;
  };
  std::map<uint64_t, Batch> batches;
  Status s = store.journal().ScanAll(
      from_position, SIZE_MAX, [&](const EventView& e) -> bool {
        ++f.events;
        uint64_t& head = heads[std::string(e.stream)];
        if (e.seq != head + 1) ++f.gaps;
        head = e.seq;
        uint64_t batch = 0, index = 0, total = 0;
        if (std::sscanf(std::string(e.payload).c_str(), "%lu:%lu:%lu", &batch,
                        &index, &total) != 3) {
          ++f.partial;
          return true;
        }
        Batch& b = batches[batch];
        b.total = total;
        if (!b.seen.insert(index).second) ++f.duplicates;
        return true;
      });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  for (auto& [id, b] : batches) {
    if (b.seen.size() != b.total) ++f.partial;
  }
  for (uint64_t id : acked) {
    auto it = batches.find(id);
    if (it == batches.end() || it->second.seen.size() != it->second.total) {
      ++f.lost;
    }
  }
  f.acked += acked.size();
}

TEST_CASE(
    "a writer SIGKILLed under load loses no acknowledged batch and "
    "leaves no partial one, cycle after cycle") {
  int cycles = 100;
  if (const char* env = std::getenv("MEMOIR_CRASH_CYCLES")) {
    cycles = std::atoi(env);
  }
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  std::mt19937_64 rng(std::random_device{}());
  std::map<std::string, uint64_t> heads;
  Figures f;
  for (int c = 0; c < cycles; ++c) {
    uint64_t from = 1;
    if (c > 0) {
      auto store = Store::Open(path);
      REQUIRE(store.ok());
      from = (*store)->journal().LastPosition().value() + 1;
    }
    Child child = RunAndKill(path, (static_cast<uint64_t>(c) + 1) << 32,
                             5 + static_cast<int>(rng() % 60));
    REQUIRE(child.ready);
    auto store = Store::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    CheckCycle(**store, from, child.acked, heads, f);
    ++f.cycles;
    if (f.lost || f.partial || f.duplicates || f.gaps) break;
  }
  std::printf(
      "crash cycles: %llu, acknowledged batches %llu, events checked %llu; "
      "lost %llu, partial %llu, duplicated %llu, gaps %llu\n",
      (unsigned long long)f.cycles, (unsigned long long)f.acked,
      (unsigned long long)f.events, (unsigned long long)f.lost,
      (unsigned long long)f.partial, (unsigned long long)f.duplicates,
      (unsigned long long)f.gaps);
  CHECK(f.cycles == static_cast<uint64_t>(cycles));
  CHECK(f.acked > 0);
  CHECK(f.lost == 0);
  CHECK(f.partial == 0);
  CHECK(f.duplicates == 0);
  CHECK(f.gaps == 0);
}

// --- The actor form ---------------------------------------------------
// crash_child --actors runs 64 ledger actors (reliability/crash_actor.h)
// under 16 Asking client threads; after each kill the parent reads the new
// events, rebuilds a model of each actor from them, and compares it with
// the state a fresh ActorSystem recovers and with replays. Every command id
// tells its actor and its events, and a client's commands to one actor
// follow its counter, so the parent knows which commands must be there.

struct ActorFigures {
  uint64_t cycles = 0, acked = 0, commands = 0, events = 0;
  uint64_t lost = 0, partial = 0, duplicates = 0, skipped = 0, gaps = 0;
  uint64_t mismatches = 0, failures = 0;
  uint64_t snapshots_verified = 0, snapshot_recoveries = 0;
  std::vector<std::string> first_problems;
  void Problem(uint64_t& counter, const std::string& what) {
    ++counter;
    if (first_problems.size() < 10) first_problems.push_back(what);
  }
  bool clean() const {
    return lost + partial + duplicates + skipped + gaps + mismatches +
               failures ==
           0;
  }
};

// What the parent knows of one actor, carried across cycles.
struct ActorModel {
  crash::LedgerState state;  // the fold of every event read so far
  uint64_t head = 0;
  uint64_t open = 0;  // command whose events are being read (0: none)
  uint32_t next_index = 0;
  // This cycle: per client, the last command committed to this actor.
  std::map<uint64_t, uint64_t> lane_last;
};

// The id of the command that client `lane` (generation << 8 | client)
// sends to `actor` after `after` (an id of that lane, or 0).
uint64_t NextInLane(uint64_t lane, int actor, uint64_t after) {
  uint64_t counter = after == 0 ? 0 : crash::Counter(after);
  for (;;) {
    uint64_t id = lane << 32 | ++counter;
    if (crash::ActorOf(id) == actor) return id;
  }
}

// Reads the events committed since `from_position` into the models.
void ReadCycle(Store& store, uint64_t from_position, uint64_t generation,
               std::vector<ActorModel>& models, ActorFigures& f) {
  for (ActorModel& m : models) m.lane_last.clear();
  Status s = store.journal().ScanAll(
      from_position, SIZE_MAX, [&](const EventView& e) -> bool {
        ++f.events;
        crash::LedgerEvent ev;
        try {
          ev = crash::Ledger::EventCodec::Decode(e.type, e.schema_version,
                                                 e.payload);
        } catch (const std::exception& x) {
          f.Problem(f.mismatches, std::string(e.stream) + ": " + x.what());
          return true;
        }
        const uint64_t id = ev.command;
        const int actor = crash::ActorOf(id);
        if (crash::Generation(id) != generation ||
            crash::Client(id) >= crash::kClients ||
            e.stream != crash::ActorName(actor) ||
            ev.index >= crash::EventsOf(id) ||
            crash::EventsFor(id)[ev.index].amount != ev.amount ||
            ev.count != crash::EventsOf(id)) {
          f.Problem(f.mismatches,
                    fmt::format("{} seq {}: event {} of command {} is not one "
                                "the child could have written",
                                e.stream, e.seq, ev.index, id));
          return true;
        }
        ActorModel& m = models[actor];
        if (e.seq != m.head + 1) {
          f.Problem(f.gaps, fmt::format("{}: seq {} after {}", e.stream, e.seq,
                                        m.head));
        }
        m.head = e.seq;
        if (m.open == 0 && ev.index == 0) {
          m.open = id;
          m.next_index = 0;
        }
        if (m.open != id || ev.index != m.next_index) {
          f.Problem(
              f.partial,
              fmt::format("{} seq {}: event {} of command {} while "
                          "command {} expects event {}",
                          e.stream, e.seq, ev.index, id, m.open, m.next_index));
          m.open = 0;
          return true;
        }
        crash::ApplyLedger(m.state, ev);
        if (++m.next_index < ev.count) return true;
        m.open = 0;
        ++f.commands;
        // A client's commands to this actor commit in the order sent, so
        // they must be exactly the next of its lane.
        const uint64_t lane = id >> 32;
        uint64_t& last = m.lane_last[lane];
        uint64_t expected = NextInLane(lane, actor, last);
        if (id < expected) {
          f.Problem(f.duplicates,
                    fmt::format("{}: command {} again", e.stream, id));
        } else if (id > expected) {
          f.Problem(f.skipped,
                    fmt::format("{}: command {} committed without the "
                                "earlier command {} of its client",
                                e.stream, id, expected));
        }
        if (id > last) last = id;
        return true;
      });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  for (int a = 0; a < crash::kActors; ++a) {
    if (models[a].open != 0) {
      f.Problem(f.partial, fmt::format("{}: command {} has {} of its {} events",
                                       crash::ActorName(a), models[a].open,
                                       models[a].next_index,
                                       crash::EventsOf(models[a].open)));
      models[a].open = 0;
    }
  }
}

// Every acknowledged command is in the journal (its lane reached it) and
// in the recovered state.
void CheckAcked(const std::set<uint64_t>& acked,
                const std::vector<ActorModel>& models,
                const std::vector<crash::LedgerState>& recovered,
                ActorFigures& f) {
  for (uint64_t id : acked) {
    const int actor = crash::ActorOf(id);
    auto it = models[actor].lane_last.find(id >> 32);
    if (it == models[actor].lane_last.end() || it->second < id) {
      f.Problem(f.lost, fmt::format("acknowledged command {} of {} is not "
                                    "in the journal",
                                    id, crash::ActorName(actor)));
    } else if (recovered[actor].last[crash::Client(id)] < id) {
      f.Problem(f.lost, fmt::format("acknowledged command {} is not in the "
                                    "recovered state of {}",
                                    id, crash::ActorName(actor)));
    }
  }
  f.acked += acked.size();
}

// Recovers every actor through a fresh ActorSystem and through replays
// (from the newest snapshot and from seq 1), and compares each with the
// model; checks every stored snapshot against the events before it.
std::vector<crash::LedgerState> CheckRecovery(
    Store& store, const std::vector<ActorModel>& models, ActorFigures& f) {
  std::vector<crash::LedgerState> recovered(crash::kActors);
  auto system = ActorSystem::Create(store).value();
  REQUIRE(
      system->Register<crash::Ledger>(crash::Ledger{}, crash::LedgerOptions())
          .ok());
  Replayer<crash::Ledger> replay(store, crash::Ledger{},
                                 crash::LedgerOptions());
  auto differs = [&](const std::string& name, const char* how,
                     const crash::LedgerState& got,
                     const crash::LedgerState& want) {
    if (got == want) return;
    f.Problem(f.mismatches,
              fmt::format("{}: {} gives {} events, {} commands, balance {}; "
                          "the model {} events, {} commands, balance {}",
                          name, how, got.events, got.commands, got.balance,
                          want.events, want.commands, want.balance));
  };
  std::vector<std::future<Result<crash::LedgerState>>> asks;
  for (int a = 0; a < crash::kActors; ++a) {
    asks.push_back(system->Ref<crash::Ledger>(crash::ActorName(a)).Ask(0));
  }
  for (int a = 0; a < crash::kActors; ++a) {
    const std::string name = crash::ActorName(a);
    const crash::LedgerState& want = models[a].state;
    REQUIRE(asks[a].wait_for(std::chrono::seconds(30)) ==
            std::future_status::ready);
    Result<crash::LedgerState> asked = asks[a].get();
    REQUIRE_MESSAGE(asked.ok(), asked.status().ToString());
    recovered[a] = *asked;
    differs(name, "recovery (Ask)", *asked, want);
    auto committed = system->Ref<crash::Ledger>(name).CommittedState();
    REQUIRE_MESSAGE(committed.ok(), committed.status().ToString());
    differs(name, "CommittedState", *committed->state, want);
    auto from_snapshot = replay.StateAt(name);
    auto from_start = replay.StateAt(name, kMaxSeq, /*from_start=*/true);
    REQUIRE_MESSAGE(from_snapshot.ok(), from_snapshot.status().ToString());
    REQUIRE_MESSAGE(from_start.ok(), from_start.status().ToString());
    differs(name, "snapshot + replay", from_snapshot->state, want);
    differs(name, "replay from seq 1", from_start->state, want);
    if (from_snapshot->snapshot_seq > 0) ++f.snapshot_recoveries;
    if (!from_snapshot->skipped.empty()) {
      f.Problem(f.mismatches, fmt::format("{}: {} snapshots skipped", name,
                                          from_snapshot->skipped.size()));
    }
    if (models[a].head == 0) continue;
    auto verified = replay.VerifySnapshots(name);
    REQUIRE_MESSAGE(verified.ok(), verified.status().ToString());
    f.snapshots_verified += verified->checked;
    if (verified->first_mismatch || verified->unusable > 0) {
      f.Problem(f.mismatches, fmt::format("{}: snapshot check: {} unusable; {}",
                                          name, verified->unusable,
                                          verified->first_mismatch
                                              ? verified->first_mismatch->detail
                                              : std::string("no mismatch")));
    }
  }
  REQUIRE(system->Shutdown().ok());
  return recovered;
}

// The ids client `lane` sends to `actor` first, in order.
std::vector<uint64_t> FirstInLane(uint64_t lane, int actor, int n) {
  std::vector<uint64_t> ids;
  for (uint64_t last = 0; static_cast<int>(ids.size()) < n;) {
    ids.push_back(last = NextInLane(lane, actor, last));
  }
  return ids;
}

void Write(Store& store, uint64_t id, uint32_t events) {
  std::vector<EventData> data;
  for (const crash::LedgerEvent& e : crash::EventsFor(id)) {
    if (data.size() == events) break;
    data.push_back(crash::Ledger::EventCodec::Encode(e));
  }
  auto r = store.journal().Append(crash::ActorName(crash::ActorOf(id)),
                                  Expected::Any(), std::move(data));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

TEST_CASE(
    "the actor crash checks catch a lost, a partial, a duplicated and a "
    "skipped command and a state that differs from its events") {
  test::TempDir dir;
  auto store = Store::Open(dir.path());
  REQUIRE(store.ok());
  const uint64_t lane = 1 << 8 | 3;  // generation 1, client 3
  // Actor 0: its client's 1st command, then the 3rd (skipped the 2nd).
  std::vector<uint64_t> a = FirstInLane(lane, 0, 3);
  Write(**store, a[0], 5);
  Write(**store, a[2], 5);
  // Actor 1: the same command twice.
  std::vector<uint64_t> b = FirstInLane(lane, 1, 1);
  Write(**store, b[0], 5);
  Write(**store, b[0], 5);
  // Some actor: a command with one event missing.
  uint64_t cut = FirstInLane(lane, 2, 1)[0];
  for (int actor = 2; crash::EventsOf(cut) < 2; ++actor) {
    cut = FirstInLane(lane, actor, 1)[0];
  }
  Write(**store, cut, crash::EventsOf(cut) - 1);
  // An acknowledged command never written.
  uint64_t lost = FirstInLane(lane, 9, 1)[0];

  std::vector<ActorModel> models(crash::kActors);
  ActorFigures f;
  ReadCycle(**store, 1, 1, models, f);
  std::vector<crash::LedgerState> states;
  for (const ActorModel& m : models) states.push_back(m.state);
  CheckAcked({a[0], b[0], lost}, models, states, f);
  CHECK(f.skipped == 1);
  CHECK(f.duplicates == 1);
  CHECK(f.partial == 1);
  CHECK(f.lost == 1);
  CHECK(f.gaps == 0);
  CHECK(f.mismatches == 0);

  // Recovery and both replays disagree with a model that is off by one.
  models[0].state.balance += 1;
  CheckRecovery(**store, models, f);
  CHECK(f.mismatches == 4);
}

constexpr int kCyclesPerStore = 10;

TEST_CASE(
    "64 actors SIGKILLed under load lose no acknowledged command and "
    "recover to the state of their events") {
  int cycles = 100;
  if (const char* env = std::getenv("MEMOIR_ACTOR_CRASH_CYCLES")) {
    cycles = std::atoi(env);
  }
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("MEMOIR_CRASH_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::printf("actor crash test: %d cycles, seed %llu (MEMOIR_CRASH_SEED)\n",
              cycles, (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  test::TempDir dir;
  std::string path;
  std::vector<ActorModel> models;
  ActorFigures f;
  uint64_t stores = 0;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < cycles; ++c) {
    // A store lives through kCyclesPerStore kills and recoveries; then a
    // new one starts, which keeps the replays from seq 1 affordable (the
    // child writes ~15,000 events per cycle).
    if (c % kCyclesPerStore == 0) {
      if (!path.empty()) std::filesystem::remove_all(path);
      path = dir.Sub("store-" + std::to_string(++stores));
      models.assign(crash::kActors, ActorModel{});
    }
    uint64_t from = 1;
    if (c % kCyclesPerStore > 0) {
      auto store = Store::Open(path);
      REQUIRE(store.ok());
      from = (*store)->journal().LastPosition().value() + 1;
    }
    const uint64_t generation = static_cast<uint64_t>(c) + 1;
    const int ms = 5 + static_cast<int>(rng() % 60);
    Child child =
        RunAndKill({"--actors", path, std::to_string(generation)}, ms);
    REQUIRE(child.ready);
    for (const std::string& line : child.failures) {
      f.Problem(f.failures, "the child got an error answer: " + line);
    }
    auto store = Store::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    ReadCycle(**store, from, generation, models, f);
    std::vector<crash::LedgerState> recovered =
        CheckRecovery(**store, models, f);
    CheckAcked(child.acked, models, recovered, f);
    ++f.cycles;
    if (!f.clean()) {
      std::printf("cycle %d (kill after %d ms) failed\n", c, ms);
      break;
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  uint64_t snapshots = 0;
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    for (int a = 0; a < crash::kActors; ++a) {
      auto list = (*store)->snapshots().List(crash::ActorName(a));
      if (list.ok()) snapshots += list->size();
    }
  }
  std::printf(
      "actor crash cycles: %llu in %.1f s (seed %llu, %llu stores of up to "
      "%d cycles); acknowledged commands "
      "checked %llu, commands in the journal %llu, events %llu; lost %llu, "
      "partial %llu, duplicated %llu, skipped %llu, gaps %llu, mismatches "
      "%llu, error answers %llu; snapshots verified against their events "
      "%llu, recoveries from a snapshot %llu, snapshots in the last store "
      "%llu\n",
      (unsigned long long)f.cycles, seconds, (unsigned long long)seed,
      (unsigned long long)stores, kCyclesPerStore, (unsigned long long)f.acked,
      (unsigned long long)f.commands, (unsigned long long)f.events,
      (unsigned long long)f.lost, (unsigned long long)f.partial,
      (unsigned long long)f.duplicates, (unsigned long long)f.skipped,
      (unsigned long long)f.gaps, (unsigned long long)f.mismatches,
      (unsigned long long)f.failures, (unsigned long long)f.snapshots_verified,
      (unsigned long long)f.snapshot_recoveries, (unsigned long long)snapshots);
  for (const std::string& p : f.first_problems)
    std::printf("  %s\n", p.c_str());
  CHECK(f.cycles == static_cast<uint64_t>(cycles));
  CHECK(f.acked > 0);
  CHECK(f.lost == 0);
  CHECK(f.partial == 0);
  CHECK(f.duplicates == 0);
  CHECK(f.skipped == 0);
  CHECK(f.gaps == 0);
  CHECK(f.mismatches == 0);
  CHECK(f.failures == 0);
  CHECK(f.snapshots_verified > 0);
  CHECK(f.snapshot_recoveries > 0);
}

TEST_CASE(
    "durable-state actors SIGKILLed under load recover their last "
    "acknowledged state at the revision that counts it") {
  int cycles = 30;
  if (const char* env = std::getenv("MEMOIR_DURABLE_CRASH_CYCLES")) {
    cycles = std::atoi(env);
  }
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("MEMOIR_CRASH_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::mt19937_64 rng(seed);
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  std::vector<uint64_t> count(crash::kTallies, 0);  // recovered last cycle
  uint64_t acked = 0, lost = 0, phantom = 0, revision_mismatches = 0;
  uint64_t unacked_kept = 0, stored = 0, heads = 0, failures = 0;
  int done = 0;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < cycles; ++c) {
    const int ms = 5 + static_cast<int>(rng() % 60);
    Child child = RunAndKill({"--durable", path}, ms);
    REQUIRE(child.ready);
    failures += child.failures.size();
    std::vector<uint64_t> floor = count;
    for (uint64_t a : child.acked) {
      uint64_t& f = floor[a / crash::kTallyLane];
      f = std::max(f, a % crash::kTallyLane);
    }
    acked += child.acked.size();
    auto store = Store::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    auto system = ActorSystem::Create(**store);
    REQUIRE(system.ok());
    REQUIRE((*system)->Register(crash::TallyActor{}).ok());
    for (uint64_t t = 0; t < crash::kTallies; ++t) {
      auto tally = (*system)->Ref<crash::TallyActor>(crash::TallyName(t));
      auto state = tally.CommittedState();
      REQUIRE_MESSAGE(state.ok(), state.status().ToString());
      const uint64_t got = state->state->count;
      // Nothing acknowledged is lost; at most the one command in flight
      // at the kill committed without its answer.
      if (got < floor[t]) ++lost;
      if (got > floor[t] + 1) ++phantom;
      if (got == floor[t] + 1) ++unacked_kept;
      if (state->seq != got) ++revision_mismatches;
      count[t] = got;
    }
    REQUIRE((*system)->Shutdown().ok());
    ++done;
    if (lost + phantom + revision_mismatches > 0) {
      std::printf("durable cycle %d (kill after %d ms) failed\n", c, ms);
      break;
    }
  }
  // Then 40 more commands each, without a kill: once Shutdown has drained
  // the deletions, each actor keeps at most the revisions written since its
  // last deletion (fewer than 17).
  uint64_t most_kept = 0;
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    auto system = ActorSystem::Create(**store);
    REQUIRE(system.ok());
    REQUIRE((*system)->Register(crash::TallyActor{}).ok());
    for (uint64_t t = 0; t < crash::kTallies; ++t) {
      auto tally = (*system)->Ref<crash::TallyActor>(crash::TallyName(t));
      for (int i = 0; i < 40; ++i) REQUIRE(tally.Ask(0).get().ok());
    }
    REQUIRE((*system)->Shutdown().ok());
    for (uint64_t t = 0; t < crash::kTallies; ++t) {
      auto info = (*store)->journal().GetStream(crash::TallyName(t));
      REQUIRE(info.ok());
      stored += info->event_count;
      heads += info->head;
      most_kept = std::max(most_kept, info->event_count);
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "durable-state crash cycles: %d in %.1f s (seed %llu); acknowledged "
      "commands %llu, lost %llu, states ahead of what was in flight %llu, "
      "revision mismatches %llu, unacknowledged commands kept %llu, error "
      "answers %llu; revisions written %llu, still stored %llu\n",
      done, seconds, (unsigned long long)seed, (unsigned long long)acked,
      (unsigned long long)lost, (unsigned long long)phantom,
      (unsigned long long)revision_mismatches, (unsigned long long)unacked_kept,
      (unsigned long long)failures, (unsigned long long)heads,
      (unsigned long long)stored);
  CHECK(done == cycles);
  CHECK(acked > 0);
  CHECK(lost == 0);
  CHECK(phantom == 0);
  CHECK(revision_mismatches == 0);
  CHECK(failures == 0);
  // Older revisions are deleted in bulk as the actors go.
  CHECK(most_kept <= 17);
}

// The values of a chain link's events, in seq order, appended to *out
// from seq out->size() + 1.
void ReadLink(Store& store, uint32_t chain, uint32_t link,
              std::vector<uint64_t>* out) {
  ReadOptions from;
  from.from_seq = out->size() + 1;
  Status s = store.journal().Scan(
      crash::LinkName(chain, link), from, [&](const EventView& e) {
        crash::Hop h = crash::ChainLink::EventCodec::Decode(
            e.type, e.schema_version, e.payload);
        out->push_back(h.n);
        return true;
      });
  if (s.IsNotFound()) return;
  REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// The values of a chain link's events, in seq order.
std::vector<uint64_t> LinkValues(Store& store, uint32_t chain, uint32_t link) {
  std::vector<uint64_t> out;
  Status s = store.journal().Scan(
      crash::LinkName(chain, link), ReadOptions{}, [&](const EventView& e) {
        crash::Hop h = crash::ChainLink::EventCodec::Decode(
            e.type, e.schema_version, e.payload);
        out.push_back(h.n);
        return true;
      });
  if (s.IsNotFound()) return out;
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

// A chain's end actor's events, read from event out->events + 1 on: the
// routed numbers and the timers' rings, in seq order.
struct EndValues {
  uint64_t events = 0;
  std::vector<uint64_t> routed;
  std::vector<uint64_t> rang;
};
void ReadEnd(Store& store, uint32_t chain, EndValues* out) {
  ReadOptions from;
  from.from_seq = out->events + 1;
  Status s = store.journal().Scan(
      crash::EndName(chain), from, [&](const EventView& e) {
        crash::EndNote note = crash::ChainEnd::EventCodec::Decode(
            e.type, e.schema_version, e.payload);
        ++out->events;
        (note.kind == crash::EndNote::kRang ? out->rang : out->routed)
            .push_back(note.n);
        return true;
      });
  if (s.IsNotFound()) return;
  REQUIRE_MESSAGE(s.ok(), s.ToString());
}

// Rings that are repeated, or ring a number not routed before them.
uint64_t BadRings(const EndValues& end) {
  std::set<uint64_t> routed(end.routed.begin(), end.routed.end());
  std::set<uint64_t> rang;
  uint64_t bad = 0;
  for (uint64_t n : end.rang) {
    if (!rang.insert(n).second || routed.count(n) == 0) ++bad;
  }
  return bad;
}

TEST_CASE(
    "durable messages through chains of three actors SIGKILLed at random "
    "points are each applied once, in order, and only after their "
    "sender's commit; routed events and durable timers once each") {
  int cycles = 100;
  if (const char* env = std::getenv("MEMOIR_CHAIN_CRASH_CYCLES")) {
    cycles = std::atoi(env);
  }
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("MEMOIR_CRASH_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::mt19937_64 rng(seed);
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  std::vector<std::set<uint64_t>> acked(crash::kChains);
  // Each link's values so far, read a cycle's new events at a time: links
  // only grow, so a prefix checked once stays one.
  std::vector<std::vector<uint64_t>> links(crash::kChains * crash::kLinks);
  // Each end actor's routed numbers (a prefix of its chain's last link)
  // and its rings (each once, after its routed number).
  std::vector<EndValues> ends(crash::kChains);
  uint64_t acks = 0, failures = 0, not_prefix = 0, unacked = 0, bad_rings = 0;
  int done = 0;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < cycles; ++c) {
    // Killed after 1 to 100 acknowledgements: each is a command that the
    // first link committed with a message to the second, which passes it
    // on to the third; deliveries are under way at the kill.
    const size_t kill_after = 1 + rng() % 100;
    const uint64_t first = uint64_t(c + 1) * 1'000'000;
    Child child =
        RunAndKill({"--chain", path, std::to_string(first)}, 0, kill_after);
    REQUIRE(child.ready);
    failures += child.failures.size();
    for (uint64_t a : child.acked) {
      acked[a / crash::kChainLane].insert(a % crash::kChainLane);
    }
    acks += child.acked.size();
    // After every kill: each link holds a prefix of what the link before
    // it committed (in order, nothing without its sender's commit).
    StoreOptions ro;
    ro.read_only = true;
    auto store = Store::Open(path, ro);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    for (uint32_t chain = 0; chain < crash::kChains; ++chain) {
      for (uint32_t link = 0; link < crash::kLinks; ++link) {
        std::vector<uint64_t>& here = links[chain * crash::kLinks + link];
        const size_t checked = here.size();
        ReadLink(**store, chain, link, &here);
        if (link == 0) continue;
        const std::vector<uint64_t>& before =
            links[chain * crash::kLinks + link - 1];
        if (here.size() > before.size() ||
            !std::equal(
                here.begin() + static_cast<std::ptrdiff_t>(checked), here.end(),
                before.begin() + static_cast<std::ptrdiff_t>(checked))) {
          ++not_prefix;
        }
      }
      EndValues& end = ends[chain];
      const size_t checked = end.routed.size();
      ReadEnd(**store, chain, &end);
      const std::vector<uint64_t>& last =
          links[chain * crash::kLinks + crash::kLinks - 1];
      if (end.routed.size() > last.size() ||
          !std::equal(end.routed.begin() + static_cast<std::ptrdiff_t>(checked),
                      end.routed.end(),
                      last.begin() + static_cast<std::ptrdiff_t>(checked))) {
        ++not_prefix;
      }
    }
    for (const EndValues& end : ends) bad_rings += BadRings(end);
    ++done;
    if (not_prefix > 0 || bad_rings > 0) {
      std::printf("chain cycle %d (kill after %zu acks) failed\n", c,
                  kill_after);
      break;
    }
  }
  // Then one more start, without a kill, delivers what still waits.
  uint64_t messages = 0, routed = 0, rings = 0;
  {
    auto store = Store::Open(path);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    auto system = ActorSystem::Create(**store);
    REQUIRE(system.ok());
    REQUIRE((*system)->Register(crash::ChainLink{}).ok());
    REQUIRE((*system)->Register(crash::ChainEnd{}).ok());
    auto route = (*system)->StartRoute(crash::EndRoute());
    REQUIRE_MESSAGE(route.ok(), route.status().ToString());
    auto messages_store = InStoreMessages(**store).value();
    // Nothing waits, no timer is pending, and the route has examined
    // everything committed.
    auto drained = [&] {
      auto w = messages_store->Waiting({}, 1);
      auto t = messages_store->Timers("", "", 1);
      auto head = (*store)->journal().LastPosition();
      return w.ok() && w->empty() && t.ok() && t->empty() && head.ok() &&
             (*route)->Stats().subscription.scanned_to >= *head;
    };
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (!drained() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(drained());
    REQUIRE((*route)->Stop().ok());
    REQUIRE((*system)->Shutdown().ok());
    uint64_t mismatches = 0;
    for (uint32_t chain = 0; chain < crash::kChains; ++chain) {
      std::vector<uint64_t> first = LinkValues(**store, chain, 0);
      std::set<uint64_t> committed(first.begin(), first.end());
      // Numbers only grow: no command was applied twice or out of order.
      CHECK(std::is_sorted(first.begin(), first.end()));
      CHECK(committed.size() == first.size());
      for (uint64_t a : acked[chain]) {
        if (committed.count(a) == 0) ++mismatches;  // acknowledged, lost
      }
      if (committed.size() >= acked[chain].size()) {
        unacked += committed.size() - acked[chain].size();
      }
      messages += first.size() * (crash::kLinks - 1);
      for (uint32_t link = 1; link < crash::kLinks; ++link) {
        // Every message sent was applied by its receiver exactly once.
        if (LinkValues(**store, chain, link) != first) ++mismatches;
      }
      // Every event of the last link was routed once, in order, and every
      // routed command's timer fired once.
      EndValues end;
      ReadEnd(**store, chain, &end);
      if (end.routed != first) ++mismatches;
      std::set<uint64_t> rang(end.rang.begin(), end.rang.end());
      if (end.rang.size() != end.routed.size() ||
          rang != std::set<uint64_t>(end.routed.begin(), end.routed.end())) {
        ++mismatches;
      }
      routed += end.routed.size();
      rings += end.rang.size();
    }
    CHECK(mismatches == 0);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "durable-send crash cycles: %d in %.1f s (seed %llu); acknowledged "
      "commands %llu, committed without an answer %llu, durable messages "
      "delivered %llu, routed %llu, timers fired %llu, links not a prefix "
      "of their sender %llu, bad rings %llu, error answers %llu\n",
      done, seconds, (unsigned long long)seed, (unsigned long long)acks,
      (unsigned long long)unacked, (unsigned long long)messages,
      (unsigned long long)routed, (unsigned long long)rings,
      (unsigned long long)not_prefix, (unsigned long long)bad_rings,
      (unsigned long long)failures);
  CHECK(done == cycles);
  CHECK(acks > 0);
  CHECK(not_prefix == 0);
  CHECK(bad_rings == 0);
  CHECK(failures == 0);
}

}  // namespace
}  // namespace memoir
