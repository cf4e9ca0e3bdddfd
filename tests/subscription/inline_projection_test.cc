// Inline projections (ProjectionOptions::Mode::kInline): applied by the
// writer inside the transactions that append the events. Failure paths
// first. Every wait has a deadline of minutes that fails the test rather
// than hanging it.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "memoir/projection.h"
#include "memoir/projection_store.h"
#include "memoir/store.h"
#include "subscription/projection_support.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using test::ApplyDeposit;
using test::Deposit;
using test::FastStore;
using test::Fold;
using test::kLong;
using test::OpenStoreOrFail;
using test::ReadOrFail;
using test::Rows;
using test::StartOrFail;
using test::WaitAttached;

ProjectionOptions Inline() {
  ProjectionOptions o = test::Balances();
  o.mode = ProjectionOptions::Mode::kInline;
  return o;
}

// The active version's checkpoint and rows, read in one transaction.
std::pair<uint64_t, std::map<std::string, std::string>> Model(Store& store) {
  auto snapshot = ReadOrFail(store, "balances");
  return {snapshot->version().checkpoint, Rows(*snapshot, "balances")};
}

TEST_CASE("an inline projection refuses a read-only store and zero events") {
  test::TempDir dir;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    ProjectionOptions o = Inline();
    o.inline_max_events = 0;
    auto p = Projection::Start(*store, o, ApplyDeposit);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Status::Code::kInvalidArgument);
    CHECK(p.status().message().find("inline_max_events") != std::string::npos);
  }
  auto read_only = test::OpenReadOnlyOrFail(dir.path());
  auto p = Projection::Start(*read_only, Inline(), ApplyDeposit);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == Status::Code::kInvalidArgument);
  CHECK_MESSAGE(p.status().message().find("read-only") != std::string::npos,
                p.status().ToString());
}

TEST_CASE(
    "WaitAttached refuses an async projection, ends with the cause when a "
    "failure stopped the projection, and with kClosed once it is paused") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(kLong);
  {
    auto async = StartOrFail(*store, test::Balances(), ApplyDeposit);
    Status s = async->WaitAttached(wait);
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK_MESSAGE(s.message().find("kAsync") != std::string::npos,
                  s.ToString());
    REQUIRE(async->Stop().ok());
  }
  {
    // A poison event before the head: the projection stops on it and never
    // attaches, and the wait says why long before its deadline.
    Deposit(*store, "account-1", 666);
    ProjectionOptions o = Inline();
    o.name = "stops";
    o.on_failure.retries = 0;
    auto p = StartOrFail(*store, o, [](ReadModel& m, const EventView& e) {
      if (e.payload == "666") return Status::Failed("poison");
      return ApplyDeposit(m, e);
    });
    Status s = p->WaitAttached(wait);
    CHECK_FALSE(s.ok());
    CHECK_FALSE(s.IsTimeout());
    CHECK_MESSAGE(s.ToString().find("poison") != std::string::npos,
                  s.ToString());
    CHECK_FALSE(p->Stats().attached);
    REQUIRE(p->Stop().ok());
  }
  auto p = StartOrFail(*store, Inline(), ApplyDeposit);
  WaitAttached(*p);
  REQUIRE(p->Pause().ok());
  Status s = p->WaitAttached(wait);
  CHECK(s.code() == Status::Code::kClosed);
  CHECK_MESSAGE(s.message().find("paused") != std::string::npos, s.ToString());
  REQUIRE(p->Resume().ok());
  WaitAttached(*p);
  REQUIRE(p->Stop().ok());
}

TEST_CASE(
    "an inline apply that fails or throws detaches it: the append still "
    "commits, the projection handles the event on its own thread by its "
    "policy, then attaches again") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  std::atomic<int> flaky_calls{0};
  ProjectionOptions o = Inline();
  o.on_failure.then = OnFailure::kSkip;
  auto p = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (e.payload == "13" && flaky_calls.fetch_add(1) == 0) {
      return Status::Failed("flaky");  // fails once, then applies
    }
    if (e.payload == "666") throw std::runtime_error("poison");
    return ApplyDeposit(m, e);
  });
  WaitAttached(*p);
  Deposit(*store, "account-1", 5);
  Deposit(*store, "account-1", 13);  // the append succeeds all the same
  CHECK(p->Stats().detaches == 1);
  CHECK(p->Stats().detached_because.message().find("flaky") !=
        std::string::npos);
  WaitAttached(*p);
  const uint64_t poison = Deposit(*store, "account-2", 666);
  CHECK(p->Stats().detached_because.message().find("poison") !=
        std::string::npos);
  WaitAttached(*p);
  const uint64_t last = Deposit(*store, "account-2", 7);
  // Attached again: the last deposit is in the model with its append.
  auto [checkpoint, rows] = Model(*store);
  CHECK(checkpoint == last);
  CHECK(rows == std::map<std::string, std::string>{{"account-1", "18"},
                                                   {"account-2", "7"}});
  ProjectionStats stats = p->Stats();
  CHECK(stats.skipped == 1);
  CHECK(stats.detaches == 2);
  CHECK(flaky_calls.load() == 2);
  CHECK(store->journal().LastPosition().value() == last);
  CHECK(poison < last);
}

TEST_CASE(
    "a commit with more events than inline_max_events detaches an inline "
    "projection, which catches up on its own thread and attaches again") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  ProjectionOptions o = Inline();
  o.inline_max_events = 5;
  auto p = StartOrFail(*store, o, ApplyDeposit);
  WaitAttached(*p);
  std::vector<EventData> ten(10);
  for (EventData& e : ten) {
    e.type = "Deposited";
    e.payload = "3";
  }
  auto r = store->journal().Append("account-1", Expected::Any(), ten);
  REQUIRE(r.ok());
  CHECK(p->Stats().detached_because.code() == Status::Code::kBusy);
  REQUIRE(p->WaitFor(r->last_position, kLong).ok());
  WaitAttached(*p);
  const uint64_t last = Deposit(*store, "account-1", 1);
  CHECK(Model(*store) == std::pair{last, std::map<std::string, std::string>{
                                             {"account-1", "31"}}});
}

TEST_CASE(
    "AttachInline behind the head applies the events already committed "
    "before it returns") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto tables = InStoreProjections(*store).value();
  REQUIRE(tables->Commit("balances", 1, 0, 0, {}, /*activate=*/true).ok());
  Deposit(*store, "account-1", 4);
  const uint64_t last = Deposit(*store, "account-2", 5);
  InlineProjection spec;
  spec.name = "balances";
  spec.tables = {"balances"};
  spec.apply = ApplyDeposit;
  spec.max_events = 0;
  CHECK(tables->AttachInline(spec, 0).status().code() ==
        Status::Code::kInvalidArgument);
  spec.max_events = 100;
  auto attached = tables->AttachInline(spec, 0);
  REQUIRE_MESSAGE(attached.ok(), attached.status().ToString());
  CHECK(tables->AttachInline(spec, 0).status().code() == Status::Code::kBusy);
  // No append since: the events came with the commit AttachInline made.
  CHECK(Model(*store) == std::pair{last, Fold(*store, last)});
  CHECK((*attached)->Detach() == last);
  const uint64_t after = Deposit(*store, "account-1", 1);
  CHECK(Model(*store).first == last);
  CHECK(after == last + 1);
}

TEST_CASE(
    "an inline projection detaches when its record is moved under it, "
    "rather than overwrite it") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto p = StartOrFail(*store, Inline(), ApplyDeposit);
  WaitAttached(*p);
  const uint64_t first = Deposit(*store, "account-1", 5);
  CHECK(p->Stats().checkpoint == first);
  // Someone else (a second runner, a tool) moves the checkpoint.
  auto tables = InStoreProjections(*store).value();
  REQUIRE(tables->SetCheckpoint("balances", 1, 0).ok());
  Deposit(*store, "account-1", 6);
  ProjectionStats stats = p->Stats();
  CHECK_FALSE(stats.attached);
  CHECK(stats.detached_because.code() == Status::Code::kConflict);
  // The record stays where the other writer put it.
  auto v1 = tables->ReadVersion("balances", 1);
  REQUIRE(v1.ok());
  CHECK((*v1)->version().checkpoint == 0);
}

TEST_CASE(
    "Pause, Reset, SetCheckpoint and Stop detach an inline projection "
    "first: the writer never moves its record behind them") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  Deposit(*store, "account-1", 10);
  auto p = StartOrFail(*store, Inline(), ApplyDeposit);
  WaitAttached(*p);
  const uint64_t attached_at = Deposit(*store, "account-1", 1);
  REQUIRE(p->Pause().ok());
  CHECK_FALSE(p->Stats().attached);
  const uint64_t while_paused = Deposit(*store, "account-1", 100);
  CHECK(Model(*store).first == attached_at);
  REQUIRE(p->Resume().ok());
  REQUIRE(p->WaitFor(while_paused, kLong).ok());
  WaitAttached(*p);
  CHECK(Model(*store).second["account-1"] == "111");

  REQUIRE(p->Reset().ok());
  REQUIRE(p->WaitFor(while_paused, kLong).ok());
  WaitAttached(*p);
  uint64_t last = Deposit(*store, "account-2", 2);
  CHECK(Model(*store) == std::pair{last, Fold(*store, last)});

  // Back to before the first deposit of account-2: it is applied again.
  REQUIRE(p->SetCheckpoint(while_paused).ok());
  REQUIRE(p->WaitFor(last, kLong).ok());
  WaitAttached(*p);
  last = Deposit(*store, "account-3", 3);
  auto model = Model(*store);
  CHECK(model.first == last);
  CHECK(model.second["account-2"] == "4");

  REQUIRE(p->Stop().ok());
  last = Deposit(*store, "account-3", 3);
  CHECK(Model(*store).first == last - 1);
}

TEST_CASE(
    "an inline projection with kParkStream parks a poison stream's later "
    "events on its own thread, and RetryParked delivers them") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  std::atomic<bool> healed{false};
  ProjectionOptions o = Inline();
  o.on_failure.retries = 0;
  o.on_failure.then = OnFailure::kParkStream;
  auto p = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (e.payload == "666" && !healed.load()) return Status::Failed("poison");
    return ApplyDeposit(m, e);
  });
  WaitAttached(*p);
  Deposit(*store, "account-1", 666);
  const uint64_t later = Deposit(*store, "account-1", 1);
  const uint64_t other = Deposit(*store, "account-2", 2);
  REQUIRE(p->WaitFor(other, kLong).ok());
  // Detached by the poison event, then moved on by its own thread: a
  // Pause must keep that progress, not go back to where it detached.
  REQUIRE(p->Pause().ok());
  CHECK(p->Stats().checkpoint == other);
  REQUIRE(p->Resume().ok());
  REQUIRE(p->WaitFor(other, kLong).ok());
  auto parked = p->Parked();
  REQUIRE(parked.ok());
  REQUIRE(parked->size() == 2);
  CHECK(parked->back().position == later);
  // A parked stream keeps it off the writer.
  CHECK_FALSE(p->Stats().attached);
  CHECK(Model(*store).second ==
        std::map<std::string, std::string>{{"account-2", "2"}});
  healed = true;
  REQUIRE(p->RetryParked().ok());
  CHECK(p->Parked()->empty());
  const uint64_t last = Deposit(*store, "account-3", 3);
  REQUIRE(p->WaitFor(last, kLong).ok());
  WaitAttached(*p);
  const uint64_t attached = Deposit(*store, "account-3", 3);
  CHECK(Model(*store) == std::pair{attached, Fold(*store, attached)});
}

TEST_CASE(
    "an inline projection keeps its model equal to the fold while threads "
    "append at once, every acknowledged append in it") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 100; ++i) Deposit(*store, "account-0", 1);
  auto p = StartOrFail(*store, Inline(), ApplyDeposit);
  WaitAttached(*p);
  std::vector<std::thread> threads;
  std::atomic<int> behind{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        EventData e;
        e.type = i % 10 == 0 ? "Renamed" : "Deposited";
        e.payload = std::to_string(i);
        auto r = store->journal().Append("account-" + std::to_string(t % 3),
                                         Expected::Any(), {e});
        if (!r.ok()) {
          ++behind;
          continue;
        }
        auto tables = InStoreProjections(*store).value();
        auto v = tables->ReadVersion("balances", 1);
        if (!v.ok() || (*v)->version().checkpoint < r->last_position) ++behind;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(behind.load() == 0);
  const uint64_t head = store->journal().LastPosition().value();
  CHECK(Model(*store) == std::pair{head, Fold(*store, head)});
  CHECK(p->Stats().detaches == 0);
  CHECK(p->Stats().attached);
}

}  // namespace
}  // namespace memoir
