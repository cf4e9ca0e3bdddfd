// memoir-demo's parts: the workload run in a child process, and the checks
// the parent runs after killing it.
#ifndef MEMOIR_TOOLS_DEMO_DEMO_H_
#define MEMOIR_TOOLS_DEMO_DEMO_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "memoir/projection.h"
#include "memoir/store.h"

namespace demo {

struct Config {
  std::string store = "./demo-store";
  int accounts = 2000;
  int clients = 8;
  int window = 16;  // asks in flight per client
  uint64_t seed = 0;
  int kill_min_ms = 1500;
  int kill_max_ms = 3000;
  // After the checks, append a withdrawal that drives one account negative
  // straight to the journal (the README's replay walkthrough finds it).
  bool plant_overdraft = false;
};

// What the child acknowledged, as reported line by line through a pipe.
struct Acks {
  std::set<uint64_t> deposits, withdrawals;  // op ids
  std::set<std::string> transfers;           // transfer ids
  size_t total() const {
    return deposits.size() + withdrawals.size() + transfers.size();
  }
};

// Runs client threads against the store until killed; writes "READY" once
// the actors are up, then one line per acknowledged command to `ack_fd`:
// "D <op>", "W <op>" or "T <transfer id>". Returns an exit status.
int RunWorkload(const Config& config, int ack_fd);

// Everything the journal says, folded without the actor runtime.
struct JournalFacts {
  std::map<uint64_t, int> deposit_ops, withdrawal_ops;  // op -> times seen
  int64_t deposited = 0, withdrawn = 0;
  std::map<std::string, int64_t> balances;     // account -> folded balance
  std::map<std::string, int> debits, credits;  // transfer -> legs seen
  std::map<std::string, std::string> transfer_stage;  // transfer -> last event
  uint64_t events = 0;
};
// The events up to position `through`.
memoir::Result<JournalFacts> ReadJournal(memoir::Store& store,
                                         uint64_t through = UINT64_MAX);

// The read model (read_model.cc): a projection keeping each account's
// balance, and the bank's total, in the store.
memoir::ProjectionOptions BalancesProjection();
memoir::Status ApplyBalance(memoir::ReadModel& model,
                            const memoir::EventView& e);
struct ReadModelView {
  uint64_t checkpoint = 0;
  std::map<std::string, int64_t> balances;  // account -> cents
  int64_t total = 0;
};
// The active version's rows, read in one transaction.
memoir::Result<ReadModelView> ReadBalances(memoir::Store& store);

// A second process: opens the store read-only, wakes on each commit and
// prints the projection's live total now and then, until `stop_fd` is
// closed. Returns an exit status.
int RunFollower(const std::string& store, int stop_fd);

// Stream names under `prefix`, in order.
memoir::Result<std::vector<std::string>> StreamsWithPrefix(
    memoir::Store& store, const std::string& prefix);

}  // namespace demo

#endif  // MEMOIR_TOOLS_DEMO_DEMO_H_
