// memoir-demo: a bank of persistent actors, crashed on purpose.
//
//   memoir-demo [STORE] [--seed N] [--accounts N] [--clients N] [--quick]
//               [--plant-overdraft]
//
// Runs the bank's workload in a child process, SIGKILLs it at a random
// moment, reopens the store, recovers every actor, lets interrupted
// transfers finish, checks that nothing acknowledged was lost and that no
// money was created or destroyed, then shows a poisoned account being
// quarantined while the others carry on. Exit status 0 only if every check
// passed. --plant-overdraft then leaves a bug in the history for the replay
// commands to find (README.md, "Debugging with replay").
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bank.h"
#include "demo.h"
#include "memoir/message_store.h"
#include "memoir/replay.h"
#include "memoir/store.h"

namespace demo {
namespace {

using Clock = std::chrono::steady_clock;

struct Checks {
  int passed = 0, failed = 0;
  void Check(bool ok, const std::string& what) {
    (ok ? passed : failed) += 1;
    std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  }
};

// Prints the usage (to stdout for --help, to stderr after an error) and
// returns the exit status: 0 for --help, 2 for a usage error.
int Usage(const char* error) {
  FILE* out = error ? stderr : stdout;
  if (error) std::fprintf(stderr, "memoir-demo: %s\n", error);
  std::fprintf(
      out,
      "usage: memoir-demo [STORE] [--seed N] [--accounts N] "
      "[--clients N] [--quick] [--plant-overdraft]\n"
      "  STORE defaults to ./demo-store; a store the demo made there is\n"
      "    replaced each run; any other non-empty directory is "
      "refused.\n"
      "  --quick: 300 accounts, killed after 0.3-0.7 s (for tests)\n"
      "  --plant-overdraft: after the checks, append a withdrawal "
      "straight to the\n"
      "    journal that drives one account negative, as an older "
      "release without\n"
      "    the funds check might have written it, then deposit a "
      "little more through\n"
      "    the actors; 'memoir bisect ... --invariant "
      "balance-never-negative' finds it\n");
  return error ? 2 : 0;
}

// Parses the command line; returns false after printing usage.
bool Parse(int argc, char** argv, Config& c, int& status) {
  bool store_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](long long lo, long long hi) -> long long {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      long long v = std::stoll(argv[++i]);
      if (v < lo || v > hi) {
        throw std::invalid_argument(
            fmt::format("{} must be between {} and {}", a, lo, hi));
      }
      return v;
    };
    try {
      if (a == "--help" || a == "-h") {
        status = Usage(nullptr);
        return false;
      } else if (a == "--seed") {
        c.seed = static_cast<uint64_t>(number(0, 1LL << 62));
      } else if (a == "--accounts") {
        c.accounts = static_cast<int>(number(2, 1'000'000));
      } else if (a == "--quick") {
        // A short run for the test suite: fewer accounts, an earlier kill.
        c.accounts = 300;
        c.kill_min_ms = 300;
        c.kill_max_ms = 700;
      } else if (a == "--plant-overdraft") {
        c.plant_overdraft = true;
      } else if (a == "--clients") {
        c.clients = static_cast<int>(number(1, 256));
      } else if (!a.empty() && a[0] != '-' && !store_set) {
        c.store = a;
        store_set = true;
      } else {
        status = Usage(fmt::format("unknown argument '{}'", a).c_str());
        return false;
      }
    } catch (const std::exception& e) {
      status = Usage(e.what());
      return false;
    }
  }
  if (c.seed == 0) {
    c.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count() &
                                   0xffffffff);
  }
  return true;
}

// The file that marks a directory as a store memoir-demo made, and so may
// replace. A memoir store by itself (data.mdb) is not enough: it may be
// anyone's.
constexpr char kDemoMarker[] = "memoir-demo.marker";

// Makes `path` ready for a new demo store: a missing or empty directory is
// used, a previous demo store (the marker and a store's own files, nothing
// else) is removed; anything else is refused, so the demo never deletes
// what it did not make. Then writes the marker, before the store exists.
bool PrepareStore(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) {
      std::fprintf(stderr,
                   "memoir-demo: %s exists and is not a directory; pass a "
                   "new or empty directory for the demo store\n",
                   path.c_str());
      return false;
    }
    bool marked = false, has_store = false;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (name == kDemoMarker) {
        marked = true;
      } else if (name == "data.mdb" || name == "lock.mdb" ||
                 name == "memoir.lock" || name == "memoir.notify") {
        has_store = true;
      } else {
        std::fprintf(stderr,
                     "memoir-demo: %s holds '%s', so it is not a demo store; "
                     "it is left as it is. Pass a new or empty directory\n",
                     path.c_str(), name.c_str());
        return false;
      }
    }
    if (ec) {
      std::fprintf(stderr, "memoir-demo: cannot list %s: %s\n", path.c_str(),
                   ec.message().c_str());
      return false;
    }
    if (has_store && !marked) {
      std::fprintf(stderr,
                   "memoir-demo: %s holds a memoir store that memoir-demo "
                   "did not make (it has no %s); the demo replaces only its "
                   "own stores, so it is left as it is. Pass a new or empty "
                   "directory (or remove this one yourself)\n",
                   path.c_str(), kDemoMarker);
      return false;
    }
    if (marked) {
      fs::remove_all(path, ec);
      if (ec) {
        std::fprintf(stderr, "memoir-demo: cannot remove %s: %s\n",
                     path.c_str(), ec.message().c_str());
        return false;
      }
    }
  }
  fs::create_directories(path, ec);
  std::FILE* marker =
      ec ? nullptr : std::fopen((fs::path(path) / kDemoMarker).c_str(), "w");
  bool written =
      marker != nullptr && std::fputs(
                               "This directory holds a store made by "
                               "memoir-demo; the next run replaces it.\n",
                               marker) >= 0;
  if (marker != nullptr) written = std::fclose(marker) == 0 && written;
  if (!written) {
    std::fprintf(stderr, "memoir-demo: cannot create %s/%s: %s\n", path.c_str(),
                 kDemoMarker, ec ? ec.message().c_str() : std::strerror(errno));
    return false;
  }
  return true;
}

// Forks the workload, kills it at a random moment, returns its acks.
bool RunAndKill(const Config& config, Acks& acks, int& killed_after_ms) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    ::close(fds[0]);
    ::_exit(RunWorkload(config, fds[1]));
  }
  ::close(fds[1]);
  std::promise<void> ready;
  std::thread reader([&] {
    FILE* in = ::fdopen(fds[0], "r");
    char line[256];
    bool told = false;
    while (std::fgets(line, sizeof line, in)) {
      std::string l(line);
      if (!l.empty() && l.back() == '\n') l.pop_back();
      if (l == "READY") {
        ready.set_value();
        told = true;
      } else if (l.size() > 2 && l[0] == 'D') {
        acks.deposits.insert(std::stoull(l.substr(2)));
      } else if (l.size() > 2 && l[0] == 'W') {
        acks.withdrawals.insert(std::stoull(l.substr(2)));
      } else if (l.size() > 2 && l[0] == 'T') {
        acks.transfers.insert(l.substr(2));
      }
    }
    if (!told) ready.set_value();
    std::fclose(in);
  });
  bool started = ready.get_future().wait_for(std::chrono::seconds(60)) ==
                 std::future_status::ready;
  std::mt19937_64 rng(config.seed);
  killed_after_ms = std::uniform_int_distribution<int>(config.kill_min_ms,
                                                       config.kill_max_ms)(rng);
  // A second process follows the store read-only while the workload runs.
  int stop[2] = {-1, -1};
  pid_t follower = -1;
  if (started && ::pipe(stop) == 0) {
    std::fflush(stdout);
    follower = ::fork();
    if (follower == 0) {
      ::close(stop[1]);
      ::_exit(RunFollower(config.store, stop[0]));
    }
    ::close(stop[0]);
  }
  if (started) {
    // The random moment of the crash: this wait is the demo, not a
    // synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(killed_after_ms));
  }
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  reader.join();
  if (stop[1] >= 0) ::close(stop[1]);
  if (follower > 0) ::waitpid(follower, nullptr, 0);
  return started && WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
}

// Where the bank's replay plugin is built: beside this program.
std::string PluginPath() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "memoir-bank-plugin.so";
  fs::path plugin = exe.parent_path() / "memoir-bank-plugin.so";
  fs::path relative = fs::relative(plugin, fs::current_path(ec), ec);
  if (!ec && !relative.empty() && *relative.begin() != "..") {
    return relative.string();
  }
  return plugin.string();
}

// The bug for the replay walkthrough: a Withdrawn event appended with no
// funds check, as an older release might have, then a few deposits through
// the actors (so that snapshots are taken after the break) that leave the
// balance negative. Returns false on an error, after printing it.
bool PlantOverdraft(const Config& config, memoir::Store& store,
                    const memoir::ActorSystemOptions& options) {
  const std::string account = bank::AccountId(config.accounts > 42 ? 42 : 1);
  std::printf(
      "\n6. --plant-overdraft: a withdrawal appended straight to the "
      "journal, without the funds check, as an older release might have "
      "written it\n");
  auto at = memoir::Replayer<bank::Account>(store).StateAt(account);
  if (!at.ok()) {
    std::fprintf(stderr, "memoir-demo: %s\n", at.status().ToString().c_str());
    return false;
  }
  const int64_t balance = at->state.balance;
  bank::WithdrawnT bad;
  bad.op = (uint64_t{1} << 40) + 1;  // beyond any op id of the workload
  bad.amount = balance + 100000;     // leaves -1000.00
  auto appended = store.journal().Append(
      account, memoir::Expected::At(at->seq),
      {bank::AccountEventCodec::Encode(bank::Account::Event(bad))});
  if (!appended.ok()) {
    std::fprintf(stderr, "memoir-demo: %s\n",
                 appended.status().ToString().c_str());
    return false;
  }
  // Later, correct commands: the account keeps working, and snapshots
  // taken after the bad event carry the negative balance.
  auto system = memoir::ActorSystem::Create(store, options).value();
  if (!bank::RegisterBank(*system).ok()) return false;
  memoir::Result<int64_t> last = int64_t{0};
  for (uint64_t i = 0; i < 12; ++i) {
    last = system->Ref<bank::Account>(account)
               .Ask(bank::Deposit{bad.op + 1 + i, 1000})
               .get();
    if (!last.ok()) break;
  }
  if (!system->Shutdown().ok() || !last.ok()) {
    std::fprintf(stderr, "memoir-demo: deposits after the overdraft: %s\n",
                 last.status().ToString().c_str());
    return false;
  }
  auto head = store.journal().Head(account);
  std::printf(
      "   %s seq %llu: withdrew %.2f from a balance of %.2f, leaving %.2f; "
      "then 12 deposits through the actors: balance %.2f at seq %llu\n",
      account.c_str(), static_cast<unsigned long long>(appended->first_seq),
      bad.amount / 100.0, balance / 100.0, (balance - bad.amount) / 100.0,
      *last / 100.0, static_cast<unsigned long long>(head.ok() ? *head : 0));
  std::printf(
      "   find it: memoir bisect %s %s --plugin %s --invariant "
      "balance-never-negative\n",
      config.store.c_str(), account.c_str(), PluginPath().c_str());
  return true;
}

// The balances projection: as the SIGKILL left it (exactly the events up
// to its checkpoint), then caught up here (every balance).
void CheckReadModel(memoir::Store& store, const JournalFacts& all,
                    int64_t total, Checks& checks) {
  auto killed = ReadBalances(store);
  auto upto = killed.ok() ? ReadJournal(store, killed->checkpoint)
                          : memoir::Result<JournalFacts>(killed.status());
  int64_t sum = 0;
  if (upto.ok()) {
    for (const auto& [account, cents] : upto->balances) sum += cents;
  }
  checks.Check(
      upto.ok() && killed->balances == upto->balances && killed->total == sum,
      killed.ok() ? fmt::format("the read model survived the SIGKILL exactly: "
                                "its {} balances equal a fold of the journal "
                                "up to its checkpoint {}",
                                killed->balances.size(), killed->checkpoint)
                  : killed.status().ToString());
  auto projection =
      memoir::Projection::Start(store, BalancesProjection(), ApplyBalance);
  memoir::Status caught = projection.status();
  if (projection.ok()) {
    auto head = store.journal().LastPosition();
    caught = head.ok() ? (*projection)->WaitFor(*head, std::chrono::minutes(1))
                       : head.status();
  }
  auto live =
      caught.ok() ? ReadBalances(store) : memoir::Result<ReadModelView>(caught);
  checks.Check(
      live.ok() && live->balances == all.balances && live->total == total,
      live.ok() ? fmt::format("caught up from there, it equals every "
                              "recovered balance and the total {:.2f}",
                              live->total / 100.0)
                : live.status().ToString());
  if (projection.ok()) (void)(*projection)->Stop();
}

// Each transfer's legs against its last event: completed with one debit
// and one credit, failed with neither, refunded with a debit and its
// refund; anything else is half-applied. Returns how many are.
size_t CheckTransfers(const JournalFacts& f, Checks& checks) {
  auto count = [](const std::map<std::string, int>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  size_t half = 0, completed = 0, failed = 0, refunded = 0;
  for (const auto& [t, last] : f.transfer_stage) {
    const int debits = count(f.debits, t), credits = count(f.credits, t),
              refunds = count(f.credits, bank::RefundId(t));
    if (last == "TransferCompleted") {
      ++completed;
      half += (debits == 1 && credits == 1 && refunds == 0) ? 0 : 1;
    } else if (last == "TransferFailed") {
      ++failed;
      half += (debits == 0 && credits == 0 && refunds == 0) ? 0 : 1;
    } else if (last == "TransferRefunded") {
      ++refunded;
      half += (debits == 1 && credits == 0 && refunds == 1) ? 0 : 1;
    } else {
      ++half;  // still Started or Debited once every message was taken
    }
  }
  checks.Check(half == 0,
               fmt::format("no transfer half-applied: {} completed, {} "
                           "refused or timed out, {} refunded, {} "
                           "half-applied",
                           completed, failed, refunded, half));
  return half;
}

// Waits (bounded) until `system` has no message waiting and no timer
// pending.
bool Settle(memoir::ActorSystem& system) {
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    memoir::RuntimeStats now = system.Stats();
    if (now.messages_waiting == 0 && now.timers_pending == 0) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

int Run(const Config& config) {
  std::printf(
      "memoir demo: a bank of %d account actors, %d client threads, "
      "seed %llu\n",
      config.accounts, config.clients,
      static_cast<unsigned long long>(config.seed));
  if (!PrepareStore(config.store)) return 2;

  Acks acks;
  int killed_after_ms = 0;
  std::printf("\n1. workload in a child process, durable commits\n");
  if (!RunAndKill(config, acks, killed_after_ms)) {
    std::fprintf(stderr,
                 "memoir-demo: the workload child did not start or "
                 "did not die by SIGKILL\n");
    return 1;
  }
  std::printf(
      "   SIGKILL after %d ms; the child had acknowledged %zu "
      "commands: %zu deposits, %zu withdrawals, %zu transfers\n",
      killed_after_ms, acks.total(), acks.deposits.size(),
      acks.withdrawals.size(), acks.transfers.size());

  std::printf(
      "\n2. reopen, recover every actor, deliver what "
      "was in flight\n");
  auto store = memoir::Store::Open(config.store);
  if (!store.ok()) {
    std::fprintf(stderr, "memoir-demo: %s\n",
                 store.status().ToString().c_str());
    return 3;
  }
  memoir::ActorSystemOptions options;
  options.max_concurrent_recoveries = 2;
  // Nothing scans the transfers: the legs of the interrupted ones wait in
  // the outbox and their deadlines in the timers table, and the system
  // delivers them as it starts, recovering only the actors they reach.
  auto t0 = Clock::now();
  auto system = memoir::ActorSystem::Create(**store, options).value();
  if (!bank::RegisterBank(*system).ok()) return 1;
  const memoir::RuntimeStats at_start = system->Stats();
  // Once every message is taken and every deadline cancelled or fired,
  // each transfer has reached a final stage (checked below).
  (void)Settle(*system);
  const double settled_ms = Ms(Clock::now() - t0);
  const memoir::RuntimeStats after_settle = system->Stats();
  auto transfers = StreamsWithPrefix(**store, "transfer-").value();
  // Listed only now: an interrupted transfer may credit an account that
  // had no events before the crash.
  auto accounts = StreamsWithPrefix(**store, "account-").value();
  std::map<std::string, int64_t> balances;
  std::vector<std::pair<std::string, std::future<memoir::Result<int64_t>>>>
      asks;
  for (const std::string& a : accounts) {
    asks.emplace_back(a, system->Ref<bank::Account>(a).Ask(bank::GetBalance{}));
  }
  size_t recovery_errors = 0;
  for (auto& [a, f] : asks) {
    auto r = f.get();
    if (r.ok()) {
      balances[a] = *r;
    } else {
      ++recovery_errors;
      std::printf("   %s: %s\n", a.c_str(), r.status().ToString().c_str());
    }
  }
  double recover_ms = Ms(Clock::now() - t0);
  memoir::RuntimeStats stats = system->Stats();
  std::printf(
      "   %llu transfers were interrupted: %llu of their messages waited in "
      "the outbox and their deadlines in the timers table; all delivered "
      "in %.0f ms without scanning the %zu transfers (%llu actors "
      "recovered on the way)\n",
      static_cast<unsigned long long>(at_start.timers_pending),
      static_cast<unsigned long long>(at_start.messages_waiting), settled_ms,
      transfers.size(),
      static_cast<unsigned long long>(after_settle.recoveries));
  std::printf(
      "   %zu accounts and the interrupted transfers recovered in %.0f ms "
      "(per actor p50 %.2f ms, p99 %.2f ms; %llu snapshot skips)\n",
      accounts.size(), recover_ms, stats.recovery_p50_ms, stats.recovery_p99_ms,
      static_cast<unsigned long long>(stats.snapshot_skips));
  if (!system->Shutdown().ok()) return 1;

  std::printf("\n3. checks against the journal (read without the actors)\n");
  auto facts_or = ReadJournal(**store);
  if (!facts_or.ok()) {
    std::fprintf(stderr, "memoir-demo: %s\n",
                 facts_or.status().ToString().c_str());
    return 1;
  }
  const JournalFacts& f = *facts_or;
  Checks checks;
  size_t lost = 0, dup = 0;
  for (uint64_t op : acks.deposits) lost += f.deposit_ops.count(op) ? 0 : 1;
  for (uint64_t op : acks.withdrawals) {
    lost += f.withdrawal_ops.count(op) ? 0 : 1;
  }
  for (auto& [op, n] : f.deposit_ops) dup += n > 1;
  for (auto& [op, n] : f.withdrawal_ops) dup += n > 1;
  checks.Check(lost == 0,
               fmt::format("every acknowledged deposit and withdrawal is in "
                           "the journal ({} lost)",
                           lost));
  checks.Check(dup == 0,
               fmt::format("no operation applied twice ({} twice)", dup));
  size_t missing_transfers = 0;
  for (const std::string& t : acks.transfers) {
    missing_transfers += f.transfer_stage.count(t) ? 0 : 1;
  }
  checks.Check(missing_transfers == 0,
               fmt::format("every acknowledged transfer is in the journal "
                           "({} lost)",
                           missing_transfers));
  const size_t half = CheckTransfers(f, checks);
  int64_t total = 0;
  size_t differ = 0;
  for (auto& [a, b] : balances) {
    total += b;
    auto it = f.balances.find(a);
    differ += (it == f.balances.end() ? 0 : it->second) == b ? 0 : 1;
  }
  size_t unlisted = 0;
  for (auto& [a, b] : f.balances) unlisted += balances.count(a) ? 0 : 1;
  checks.Check(unlisted == 0,
               fmt::format("every account in the journal is listed and was "
                           "recovered ({} of {} missing)",
                           unlisted, f.balances.size()));
  checks.Check(recovery_errors == 0 && differ == 0,
               fmt::format("each recovered balance (snapshot + replay) equals "
                           "a full fold of its events ({} differ, {} errors)",
                           differ, recovery_errors));
  checks.Check(
      total == f.deposited - f.withdrawn,
      fmt::format("money is conserved: balances sum to {:.2f} = "
                  "deposits {:.2f} - withdrawals {:.2f}",
                  total / 100.0, f.deposited / 100.0, f.withdrawn / 100.0));

  {
    auto messages = memoir::InStoreMessages(**store).value();
    auto waiting = messages->Waiting({}, 10);
    auto timers = messages->Timers("", "", 10);
    checks.Check(
        waiting.ok() && waiting->empty() && half == 0,
        fmt::format("every durable message was taken: the outbox "
                    "is empty ({} delivered during recovery, {} "
                    "duplicates dropped)",
                    stats.messages_delivered, stats.messages_duplicates));
    checks.Check(timers.ok() && timers->empty(),
                 fmt::format("no transfer deadline or refused debit is left "
                             "pending ({} fired during recovery)",
                             stats.timers_fired));
  }
  CheckReadModel(**store, f, total, checks);

  std::printf(
      "\n4. a poisoned account: its handler throws on every "
      "command\n");
  std::string poisoned = bank::AccountId(7);
  auto poison_system = memoir::ActorSystem::Create(**store, options).value();
  // Transfers here give up after 300 ms.
  if (!bank::RegisterBank(*poison_system, poisoned,
                          std::chrono::milliseconds(300))
           .ok()) {
    return 1;
  }
  // A transfer out of the poisoned account: its debit waits in the outbox
  // while the account is quarantined, and its deadline fails it.
  const std::string stuck = bank::TransferId(9'999'999);
  auto started = poison_system->Ref<bank::Transfer>(stuck)
                     .Ask(bank::StartTransfer{poisoned, bank::AccountId(8), 1})
                     .get();
  if (!started.ok()) {
    std::fprintf(stderr, "memoir-demo: %s\n",
                 started.status().ToString().c_str());
    return 1;
  }
  memoir::Status last;
  for (int i = 0; i < 6; ++i) {
    auto r = poison_system->Ref<bank::Account>(poisoned)
                 .Ask(bank::Deposit{0, 100})
                 .get();
    last = r.status();
  }
  size_t others_ok = 0;
  std::vector<std::future<memoir::Result<int64_t>>> others;
  for (int i = 0; i < 1000; ++i) {
    std::string a = bank::AccountId(100 + i % 500);
    others.push_back(
        poison_system->Ref<bank::Account>(a).Ask(bank::GetBalance{}));
  }
  for (auto& o : others) others_ok += o.get().ok();
  // Bounded: the deadline fires 300 ms after the start.
  std::string timed_out;
  for (auto until = Clock::now() + std::chrono::seconds(60);
       Clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(5))) {
    auto st = poison_system->Ref<bank::Transfer>(stuck).CommittedState();
    if (st.ok() && st->state->stage == bank::Stage::Failed) {
      timed_out = st->state->reason;
      break;
    }
  }
  memoir::RuntimeStats ps = poison_system->Stats();
  std::printf("   %s\n", last.ToString().c_str());
  checks.Check(last.IsQuarantined() && ps.quarantined == 1,
               fmt::format("{} is quarantined after {} restarts", poisoned,
                           ps.restarts));
  checks.Check(others_ok == others.size(),
               fmt::format("the other accounts carry on: {} of {} commands "
                           "answered",
                           others_ok, others.size()));
  checks.Check(!timed_out.empty(),
               fmt::format("{} out of it failed on its durable deadline "
                           "({}); its debit waits in the outbox",
                           stuck, timed_out.empty() ? "not yet" : timed_out));
  if (!poison_system->Shutdown().ok()) return 1;

  std::printf(
      "\n5. the fix deployed: a new system without the bug takes the "
      "waiting debit\n");
  {
    auto fixed = memoir::ActorSystem::Create(**store, options).value();
    if (!bank::RegisterBank(*fixed).ok()) return 1;
    const bool settled = Settle(*fixed);
    auto st = fixed->Ref<bank::Transfer>(stuck).CommittedState();
    const bank::Stage stage = st.ok() ? st->state->stage : bank::Stage::None;
    if (!fixed->Shutdown().ok()) return 1;
    std::printf("   %s is %s\n", stuck.c_str(), bank::EnumNameStage(stage));
    auto after = ReadJournal(**store);
    checks.Check(
        settled && after.ok() &&
            (stage == bank::Stage::Refunded || stage == bank::Stage::Failed),
        fmt::format("the late debit was taken once and refunded by "
                    "compensation (or refused for lack of funds): {}",
                    bank::EnumNameStage(stage)));
    if (after.ok()) {
      int64_t sum = 0;
      for (const auto& [a, cents] : after->balances) sum += cents;
      (void)CheckTransfers(*after, checks);
      checks.Check(
          sum == after->deposited - after->withdrawn,
          fmt::format("money is still conserved: {:.2f}", sum / 100.0));
    }
  }
  if (config.plant_overdraft && !PlantOverdraft(config, **store, options)) {
    return 1;
  }
  auto position = (*store)->journal().LastPosition();
  size_t snapshots = 0;
  for (const std::string& a : accounts) {
    auto list = (*store)->snapshots().List(a);
    if (list.ok()) snapshots += list->size();
  }
  std::printf(
      "\nsummary: %zu actors, %llu events, %zu snapshots kept, "
      "recovery p50 %.2f ms / p99 %.2f ms, %d of %d checks passed\n",
      accounts.size() + transfers.size(),
      static_cast<unsigned long long>(position.ok() ? *position : 0), snapshots,
      stats.recovery_p50_ms, stats.recovery_p99_ms, checks.passed,
      checks.passed + checks.failed);
  std::printf(
      "store: %s  (inspect it with the CLI: memoir info %s; "
      "memoir events %s %s; from the repository: bash tools/dev.sh "
      "cli info %s)\n",
      config.store.c_str(), config.store.c_str(), config.store.c_str(),
      bank::AccountId(1).c_str(), config.store.c_str());
  return checks.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace demo

int main(int argc, char** argv) {
  demo::Config config;
  int status = 0;
  if (!demo::Parse(argc, argv, config, status)) return status;
  return demo::Run(config);
}
