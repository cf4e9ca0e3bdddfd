// crash_child STORE FIRST_BATCH: the writer the crash test kills.
//
// 64 threads append atomic batches (1 to 3 streams of 1 to 3 events each,
// one AppendMulti) to 200 streams until the process is killed. Every event's
// payload is "<batch>:<index>:<total>", so the parent can tell a whole
// batch from a partial one. Prints "READY", then "A <batch>" once a batch
// is acknowledged (one write() per line).
//
// crash_child --actors STORE GENERATION: the actor form. An ActorSystem runs
// the 64 ledger actors of reliability/crash_actor.h (snapshots every 32
// events); 16 client threads Ask commands numbered as that header says,
// each keeping 16 in flight, until the process is killed. Prints "READY",
// then "A <id>" from the reply callback of each acknowledged command, and
// "F <id> <status>" for any other answer.
//
// crash_child --durable STORE: 16 durable-state tallies
// (reliability/durable_tally.h), each driven by one client thread with one
// Ask at a time. Prints "READY", then "A <tally * 1e9 + count>" from the
// reply callback of each acknowledged command.
//
// crash_child --chain STORE FIRST: the chains of reliability/chain_actor.h,
// each link passing every command on to the next with a durable send, and
// the route from each chain's last link to its end actor, which starts a
// durable timer per command; one client thread per chain Asks the first
// link with numbers from FIRST up, 8 in flight. Prints "READY", then
// "A <chain * kChainLane + n>" once the first link committed command n.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <semaphore>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/store.h"
#include "reliability/chain_actor.h"
#include "reliability/crash_actor.h"
#include "reliability/durable_tally.h"

namespace {

void Say(const std::string& line) {
  std::string out = line + "\n";
  ssize_t n = ::write(1, out.data(), out.size());
  (void)n;
}

}  // namespace

// The store and actor system of an actor form (4 threads; kNone, as below).
struct Running {
  std::unique_ptr<memoir::Store> store;
  std::unique_ptr<memoir::ActorSystem> system;

  // False, having said why on stderr, when it cannot start.
  template <typename Register>
  bool Start(const char* path, const Register& register_types) {
    memoir::StoreOptions o;
    o.durability = memoir::Durability::kNone;
    auto opened = memoir::Store::Open(path, o);
    if (!opened.ok()) return Fail(opened.status());
    store = std::move(opened).value();
    memoir::ActorSystemOptions so;
    so.threads = 4;
    auto created = memoir::ActorSystem::Create(*store, so);
    if (!created.ok()) return Fail(created.status());
    system = std::move(created).value();
    memoir::Status s = register_types(*system);
    return s.ok() || Fail(s);
  }
  static bool Fail(const memoir::Status& s) {
    fmt::print(stderr, "crash_child: {}\n", s.ToString());
    return false;
  }
};

// The actor form; returns only on a setup error.
int RunActors(const char* path, uint64_t generation) {
  namespace crash = memoir::crash;
  Running running;
  if (!running.Start(path, [](memoir::ActorSystem& system) {
        return system.Register<crash::Ledger>(crash::Ledger{},
                                              crash::LedgerOptions());
      })) {
    return 3;
  }
  memoir::ActorSystem& actors = *running.system;
  Say("READY");
  std::vector<std::thread> clients;
  for (uint64_t c = 0; c < crash::kClients; ++c) {
    clients.emplace_back([&actors, generation, c] {
      std::counting_semaphore<16> window(16);
      for (uint64_t counter = 1;; ++counter) {
        window.acquire();
        uint64_t id = crash::CommandId(generation, c, counter);
        actors.Ref<crash::Ledger>(crash::ActorName(crash::ActorOf(id)))
            .Ask(id, [&window, id](memoir::Result<crash::LedgerState> r) {
              // Reported from the reply itself: the parent learns of an
              // acknowledgement as soon as a caller could have.
              Say(r.ok() ? fmt::format("A {}", id)
                         : fmt::format("F {} {}", id, r.status().ToString()));
              window.release();
            });
      }
    });
  }
  for (auto& t : clients) t.join();
  return 0;
}

// The durable-state form; returns only on a setup error.
int RunDurable(const char* path) {
  namespace crash = memoir::crash;
  Running running;
  if (!running.Start(path, [](memoir::ActorSystem& system) {
        return system.Register(crash::TallyActor{});
      })) {
    return 3;
  }
  memoir::ActorSystem& actors = *running.system;
  Say("READY");
  std::vector<std::thread> clients;
  for (uint64_t t = 0; t < crash::kTallies; ++t) {
    clients.emplace_back([&actors, t] {
      auto tally = actors.Ref<crash::TallyActor>(crash::TallyName(t));
      for (uint64_t n = 1;; ++n) {
        std::binary_semaphore answered(0);
        tally.Ask(n, [&answered, t](memoir::Result<crash::Tally> r) {
          if (r.ok())
            Say(fmt::format("A {}", t * crash::kTallyLane + r->count));
          answered.release();
        });
        answered.acquire();
      }
    });
  }
  for (auto& c : clients) c.join();
  return 0;
}

int RunChain(const char* path, uint64_t first) {
  namespace crash = memoir::crash;
  Running running;
  if (!running.Start(path, [](memoir::ActorSystem& system) {
        memoir::Status s = system.Register(crash::ChainLink{});
        return s.ok() ? system.Register(crash::ChainEnd{}) : s;
      })) {
    return 3;
  }
  memoir::ActorSystem& actors = *running.system;
  auto route = actors.StartRoute(crash::EndRoute());
  if (!route.ok()) {
    fmt::print(stderr, "crash_child: {}\n", route.status().ToString());
    return 3;
  }
  Say("READY");
  std::vector<std::thread> clients;
  for (uint32_t chain = 0; chain < crash::kChains; ++chain) {
    clients.emplace_back([&actors, chain, first] {
      auto link = actors.Ref<crash::ChainLink>(crash::LinkName(chain, 0));
      std::counting_semaphore<8> window(8);
      for (uint64_t n = first;; ++n) {
        window.acquire();
        link.Ask(crash::Hop{n, chain, 0},
                 [&window, chain, n](memoir::Result<uint64_t> r) {
                   if (r.ok()) {
                     Say(fmt::format("A {}", chain * crash::kChainLane + n));
                   } else {
                     Say(fmt::format("F {} {}", chain * crash::kChainLane + n,
                                     r.status().ToString()));
                   }
                   window.release();
                 });
      }
    });
  }
  for (auto& c : clients) c.join();
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--actors") == 0) {
    return RunActors(argv[2], std::stoull(argv[3]));
  }
  if (argc == 3 && std::strcmp(argv[1], "--durable") == 0) {
    return RunDurable(argv[2]);
  }
  if (argc == 4 && std::strcmp(argv[1], "--chain") == 0) {
    return RunChain(argv[2], std::stoull(argv[3]));
  }
  if (argc != 3) {
    fmt::print(stderr,
               "usage: crash_child STORE FIRST_BATCH\n"
               "       crash_child --actors STORE GENERATION\n"
               "       crash_child --durable STORE\n"
               "       crash_child --chain STORE FIRST\n");
    return 2;
  }
  memoir::StoreOptions o;
  // A process crash loses nothing acknowledged in any durability mode (the
  // page cache survives the process); kNone keeps the cycles fast.
  o.durability = memoir::Durability::kNone;
  auto store = memoir::Store::Open(argv[1], o);
  if (!store.ok()) {
    fmt::print(stderr, "crash_child: {}\n", store.status().ToString());
    return 3;
  }
  std::atomic<uint64_t> next_batch{std::stoull(argv[2])};
  memoir::Journal& journal = (*store)->journal();
  Say("READY");
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(next_batch.load() + static_cast<uint64_t>(t));
      for (;;) {
        uint64_t batch = next_batch.fetch_add(1);
        size_t streams = 1 + rng() % 3;
        std::set<int> picked;
        while (picked.size() < streams)
          picked.insert(static_cast<int>(rng() % 200));
        std::vector<size_t> counts;
        size_t total = 0;
        for (size_t i = 0; i < streams; ++i) {
          counts.push_back(1 + rng() % 3);
          total += counts.back();
        }
        std::vector<memoir::StreamAppend> request;
        size_t index = 0, k = 0;
        for (int s : picked) {
          memoir::StreamAppend a;
          a.stream = fmt::format("s-{:03}", s);
          for (size_t e = 0; e < counts[k]; ++e) {
            a.events.push_back({"Crash",
                                fmt::format("{}:{}:{}", batch, index++, total),
                                1,
                                {}});
          }
          ++k;
          request.push_back(std::move(a));
        }
        auto r = journal.AppendMulti(std::move(request));
        if (r.ok()) Say(fmt::format("A {}", batch));
      }
    });
  }
  for (auto& t : threads) t.join();
}
