// The demo's read model: a projection of each account's balance (table
// "by_account", account -> cents as decimal text, so that `memoir rows`
// shows it plainly) and of the bank's total (table "totals", key "bank"),
// plus the read-only follower that prints its live total.
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

#include "bank.h"
#include "demo.h"
#include "memoir/projection_store.h"

namespace demo {
namespace {

// Adds `delta` to the decimal value at `key`.
memoir::Status Add(memoir::ReadModel& model, std::string_view table,
                   std::string_view key, int64_t delta) {
  auto old = model.Get(table, key);
  if (!old.ok()) return old.status();
  const int64_t now = (*old ? std::stoll(**old) : 0) + delta;
  return model.Put(table, key, std::to_string(now));
}

}  // namespace

memoir::ProjectionOptions BalancesProjection() {
  memoir::ProjectionOptions o;
  o.name = "balances";
  o.tables = {"by_account", "totals"};
  o.filter.stream_prefixes = {"account-"};
  return o;
}

memoir::Status ApplyBalance(memoir::ReadModel& model,
                            const memoir::EventView& e) {
  auto event =
      bank::AccountEventCodec::Decode(e.type, e.schema_version, e.payload);
  const int64_t delta = bank::BalanceDelta(event);
  memoir::Status s = Add(model, "by_account", e.stream, delta);
  if (!s.ok()) return s;
  return Add(model, "totals", "bank", delta);
}

memoir::Result<ReadModelView> ReadBalances(memoir::Store& store) {
  auto tables = memoir::InStoreProjections(store);
  if (!tables.ok()) return tables.status();
  auto snapshot = (*tables)->Read("balances");
  // Not active yet (killed before its first catch-up ended): the version
  // being built still holds exactly the events up to its checkpoint.
  if (!snapshot.ok() && snapshot.status().IsNotFound()) {
    snapshot = (*tables)->ReadVersion("balances", 1);
  }
  if (!snapshot.ok()) return snapshot.status();
  ReadModelView view;
  view.checkpoint = (*snapshot)->version().checkpoint;
  memoir::Status s = (*snapshot)->Scan(
      "by_account", "", [&](std::string_view key, std::string_view value) {
        view.balances[std::string(key)] = std::stoll(std::string(value));
        return true;
      });
  if (!s.ok()) return s;
  auto total = (*snapshot)->Get("totals", "bank");
  if (!total.ok()) return total.status();
  view.total = *total ? std::stoll(**total) : 0;
  return view;
}

int RunFollower(const std::string& path, int stop_fd) {
  memoir::StoreOptions options;
  options.read_only = true;
  auto store = memoir::Store::Open(path, options);
  if (!store.ok()) {
    std::fprintf(stderr, "follower: %s\n", store.status().ToString().c_str());
    return 3;
  }
  using Clock = std::chrono::steady_clock;
  auto next_print = Clock::now();
  uint64_t seen = 0, wakes = 0;
  for (;;) {
    pollfd stop{stop_fd, POLLIN, 0};
    if (::poll(&stop, 1, 0) != 0) break;  // closed: the parent is done
    auto next =
        (*store)->journal().WaitForCommit(seen, std::chrono::milliseconds(200));
    if (!next.ok()) {
      std::fprintf(stderr, "follower: %s\n", next.status().ToString().c_str());
      return 1;
    }
    if (*next > seen) ++wakes;
    seen = std::max(seen, *next);
    if (Clock::now() < next_print) continue;
    next_print = Clock::now() + std::chrono::milliseconds(400);
    auto view = ReadBalances(**store);
    if (view.ok()) {
      std::printf(
          "   follower (read-only process): journal at %llu, read model at "
          "%llu, bank total %.2f\n",
          static_cast<unsigned long long>(seen),
          static_cast<unsigned long long>(view->checkpoint),
          view->total / 100.0);
    } else if (!view.status().IsNotFound()) {
      std::fprintf(stderr, "follower: %s\n", view.status().ToString().c_str());
      return 1;
    }
    std::fflush(stdout);
  }
  std::printf("   follower: saw the journal advance %llu times\n",
              static_cast<unsigned long long>(wakes));
  std::fflush(stdout);
  return 0;
}

}  // namespace demo
