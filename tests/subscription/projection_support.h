// What the projection tests share: a deposits model, its fold over the
// journal, and reading a projection's rows.
#ifndef MEMOIR_TESTS_SUBSCRIPTION_PROJECTION_SUPPORT_H_
#define MEMOIR_TESTS_SUBSCRIPTION_PROJECTION_SUPPORT_H_

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "memoir/projection.h"
#include "memoir/projection_store.h"
#include "memoir/store.h"

namespace memoir::test {

using namespace std::chrono_literals;

inline constexpr auto kLong = std::chrono::minutes(2);

// Appends a deposit of `cents` to `account`; returns its position.
inline uint64_t Deposit(Store& store, const std::string& account, int64_t cents,
                        const std::string& type = "Deposited") {
  EventData e;
  e.type = type;
  e.payload = std::to_string(cents);
  auto r = store.journal().Append(account, Expected::Any(), {e});
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->last_position;
}

// Balances per account: the model every test folds.
inline Status ApplyDeposit(ReadModel& model, const EventView& e) {
  auto old = model.Get("balances", e.stream);
  if (!old.ok()) return old.status();
  const int64_t cents =
      (*old ? std::stoll(**old) : 0) + std::stoll(std::string(e.payload));
  return model.Put("balances", e.stream, std::to_string(cents));
}

inline ProjectionOptions Balances(uint32_t version = 1) {
  ProjectionOptions o;
  o.name = "balances";
  o.version = version;
  o.tables = {"balances"};
  o.filter.types = {"Deposited"};
  o.on_failure.backoff_initial = 1ms;
  o.on_failure.backoff_max = 1ms;
  o.safety_poll = 20ms;
  return o;
}

inline std::unique_ptr<Projection> StartOrFail(Store& store,
                                               ProjectionOptions o,
                                               Projection::Apply apply) {
  auto p = Projection::Start(store, std::move(o), std::move(apply));
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  return std::move(p).value();
}

// The fold of the journal's deposits up to `through`, per account.
inline std::map<std::string, std::string> Fold(Store& store, uint64_t through) {
  std::map<std::string, int64_t> sums;
  Status s = store.journal().ScanAll(1, SIZE_MAX, [&](const EventView& e) {
    if (e.position > through) return false;
    if (e.type == "Deposited") {
      sums[std::string(e.stream)] += std::stoll(std::string(e.payload));
    }
    return true;
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::map<std::string, std::string> out;
  for (auto& [k, v] : sums) out[k] = std::to_string(v);
  return out;
}

// Every row of `table` in `snapshot`.
inline std::map<std::string, std::string> Rows(ProjectionSnapshot& snapshot,
                                               const std::string& table) {
  std::map<std::string, std::string> out;
  Status s =
      snapshot.Scan(table, "", [&](std::string_view k, std::string_view v) {
        out[std::string(k)] = std::string(v);
        return true;
      });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

inline std::unique_ptr<ProjectionSnapshot> ReadOrFail(Store& store,
                                                      const std::string& name) {
  auto tables = InStoreProjections(store);
  REQUIRE_MESSAGE(tables.ok(), tables.status().ToString());
  auto snapshot = (*tables)->Read(name);
  REQUIRE_MESSAGE(snapshot.ok(), snapshot.status().ToString());
  return std::move(snapshot).value();
}

// Waits (up to kLong) until `p` is attached inline.
inline void WaitAttached(Projection& p) {
  Status s = p.WaitAttached(
      std::chrono::duration_cast<std::chrono::milliseconds>(kLong));
  REQUIRE_MESSAGE(s.ok(), "the projection never attached: ", s.ToString());
}

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUBSCRIPTION_PROJECTION_SUPPORT_H_
