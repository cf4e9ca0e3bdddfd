// The child side of the demo: clients hammering the bank until SIGKILL.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "bank.h"
#include "demo.h"
#include "memoir/store.h"

namespace demo {

namespace {

void Report(int fd, const std::string& line) {
  // One write per line: lines from different clients never interleave.
  std::string out = line + "\n";
  ssize_t n = ::write(fd, out.data(), out.size());
  (void)n;  // the parent may be gone; nothing useful to do then
}

// Some accounts are much busier than others, as in real banks, so that the
// busy ones reach their snapshot interval within a short run.
int PickAccount(std::mt19937_64& rng, int accounts) {
  double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return static_cast<int>(u * u * u * accounts);
}

void Client(memoir::ActorSystem& system, const Config& config, int client,
            int ack_fd, std::atomic<uint64_t>& next_op) {
  std::mt19937_64 rng(config.seed * 1000 + static_cast<uint64_t>(client));
  std::uniform_int_distribution<int64_t> cents(1, 50'000);
  for (;;) {
    struct Pending {
      std::future<memoir::Result<int64_t>> account;
      std::future<memoir::Result<bank::Stage>> transfer;
      std::string line;
    };
    std::vector<Pending> window;
    for (int i = 0; i < config.window; ++i) {
      uint64_t op = next_op.fetch_add(1);
      int kind = static_cast<int>(rng() % 10);
      std::string account = bank::AccountId(PickAccount(rng, config.accounts));
      auto ref = system.Ref<bank::Account>(account);
      Pending p;
      if (kind < 5) {
        p.account = ref.Ask(bank::Deposit{op, cents(rng)});
        p.line = fmt::format("D {}", op);
      } else if (kind < 7) {
        p.account = ref.Ask(bank::Withdraw{op, cents(rng)});
        p.line = fmt::format("W {}", op);
      } else {
        std::string to = bank::AccountId(PickAccount(rng, config.accounts));
        std::string id = bank::TransferId(op);
        p.transfer = system.Ref<bank::Transfer>(id).Ask(
            bank::StartTransfer{account, to, cents(rng)});
        p.line = fmt::format("T {}", id);
      }
      window.push_back(std::move(p));
    }
    for (Pending& p : window) {
      bool ok =
          p.account.valid() ? p.account.get().ok() : p.transfer.get().ok();
      if (ok) Report(ack_fd, p.line);
    }
  }
}

}  // namespace

int RunWorkload(const Config& config, int ack_fd) {
  auto store = memoir::Store::Open(config.store);  // durable: kSync
  if (!store.ok()) {
    std::fprintf(stderr, "child: %s\n", store.status().ToString().c_str());
    return 3;
  }
  memoir::ActorSystemOptions options;
  auto system = memoir::ActorSystem::Create(**store, options);
  if (!system.ok() || !bank::RegisterBank(**system).ok()) {
    std::fprintf(stderr, "child: cannot start the actor system\n");
    return 3;
  }
  // The read model, kept exactly in step by a projection (read_model.cc).
  auto projection =
      memoir::Projection::Start(**store, BalancesProjection(), ApplyBalance);
  if (!projection.ok()) {
    std::fprintf(stderr, "child: %s\n", projection.status().ToString().c_str());
    return 3;
  }
  Report(ack_fd, "READY");
  std::atomic<uint64_t> next_op{1};
  std::vector<std::thread> clients;
  for (int c = 0; c < config.clients; ++c) {
    clients.emplace_back(
        [&, c] { Client(**system, config, c, ack_fd, next_op); });
  }
  for (std::thread& t : clients) t.join();  // until SIGKILL
  return 0;
}

}  // namespace demo
