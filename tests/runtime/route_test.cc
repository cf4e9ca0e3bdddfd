// Routes (memoir/route.h): events of other streams become durable
// commands for process-manager actors, committed with the route's progress
// in one transaction, so each routed event is seen once across restarts.
// Failure paths first. Waits poll committed state with generous deadlines.
#include "memoir/route.h"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "memoir/actor_system.h"
#include "memoir/message_store.h"
#include "memoir/store.h"
#include "runtime/actor_test_types.h"
#include "support/temp_dir.h"

namespace memoir::route_test {
namespace {

struct Deposit {
  int64_t amount = 0;
  int64_t source_seq = 0;  // the seq of the event it was routed from
};
struct Tally {
  int64_t count = 0;
  int64_t sum = 0;
  int64_t last_seq = 0;
  int64_t out_of_order = 0;  // source seqs not above the one before
};

// A process manager per account: counts the deposits routed to it.
struct Watcher {
  static constexpr std::string_view kTypeName = "watcher";
  using State = Tally;
  using Command = Deposit;
  using Event = Deposit;
  using Reply = int64_t;
  using EventCodec = PodCodec<Deposit, "Seen">;
  using CommandCodec = PodCodec<Deposit, "See">;
  using StateCodec = PodCodec<Tally, "Tally">;
  using Fx = Effect<Event, Reply>;
  Fx Handle(const State& s, const Command& c) const {
    return Fx::Persist(c, s.count + 1);
  }
  void Apply(State& s, const Event& e) const {
    ++s.count;
    s.sum += e.amount;
    if (e.source_seq <= s.last_seq) ++s.out_of_order;
    s.last_seq = e.source_seq;
  }
};

std::string Amount(int64_t v) {
  std::string out(sizeof v, '\0');
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}

int64_t AmountOf(const EventView& e) {
  int64_t v = 0;
  REQUIRE(e.payload.size() == sizeof v);
  std::memcpy(&v, e.payload.data(), sizeof v);
  return v;
}

RouteOptions<Watcher> Deposits() {
  RouteOptions<Watcher> o;
  o.name = "deposits";
  o.filter.types = {"Deposited"};
  o.max_batch = 20;
  o.route = [](const EventView& e) -> std::optional<Routed<Watcher>> {
    const int64_t amount = AmountOf(e);
    if (amount == 13) throw std::runtime_error("unlucky amount");
    if (amount < 0) return std::nullopt;  // not routed
    return Routed<Watcher>{"watch-" + std::string(e.stream),
                           Deposit{amount, static_cast<int64_t>(e.seq)}};
  };
  return o;
}

uint64_t Pay(Store& store, const std::string& account, int64_t amount) {
  auto r =
      store.journal().Append(account, Expected::Any(),
                             {EventData{"Deposited", Amount(amount), 1, {}}});
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->last_position;
}

Tally Committed(ActorSystem& system, const std::string& id) {
  auto c = system.Ref<Watcher>(id).CommittedState();
  return c.ok() && c->state ? *c->state : Tally{};
}

std::unique_ptr<ActorSystem> Start(Store& store) {
  auto system = test::StartSystem(store);
  REQUIRE(system->Register(Watcher{}).ok());
  return system;
}

TEST_CASE(
    "a route refuses bad options, a second route of its name, and a "
    "stream of its own written by someone else") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = Start(*store);
  RouteOptions<Watcher> unnamed = Deposits();
  unnamed.name = "";
  CHECK(system->StartRoute(unnamed).status().IsInvalidArgument());
  RouteOptions<Watcher> huge = Deposits();
  huge.max_batch = kMaxMessagesPerCommit + 1;
  CHECK(system->StartRoute(huge).status().IsInvalidArgument());
  RouteOptions<Watcher> none = Deposits();
  none.route = nullptr;
  CHECK(system->StartRoute(none).status().IsInvalidArgument());
  // Skipping would let a batch that failed to commit be passed over.
  RouteOptions<Watcher> skip = Deposits();
  skip.on_failure.then = OnFailure::kSkip;
  Status skipping = system->StartRoute(skip).status();
  CHECK(skipping.IsInvalidArgument());
  CHECK(skipping.ToString().find("kStop") != std::string::npos);

  auto first = system->StartRoute(Deposits());
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  auto second = system->StartRoute(Deposits());
  CHECK(second.status().IsInvalidArgument());
  CHECK(second.status().ToString().find("already running") !=
        std::string::npos);

  RouteOptions<Watcher> foreign = Deposits();
  foreign.name = "foreign";
  REQUIRE(store->journal()
              .Append("$route-foreign", Expected::Any(),
                      {EventData{"Other", "x", 1, {}}})
              .ok());
  auto refused = system->StartRoute(foreign);
  CHECK(refused.status().IsCorruption());
  CHECK(refused.status().ToString().find("not a progress record") !=
        std::string::npos);
}

TEST_CASE(
    "a routing function that throws stops the route at that event, naming "
    "it, and routes nothing from it on") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = Start(*store);
  Pay(*store, "account-1", 5);
  const uint64_t bad = Pay(*store, "account-1", 13);
  Pay(*store, "account-1", 7);
  RouteOptions<Watcher> o = Deposits();
  o.on_failure.retries = 1;
  // A retry's backoff, not a wait: any length gives the same outcome,
  // which the test awaits with a generous deadline.
  o.on_failure.backoff_initial = std::chrono::milliseconds(1);
  auto route = system->StartRoute(o);
  REQUIRE(route.ok());
  REQUIRE(test::Eventually([&] {
    return (*route)->Stats().subscription.state ==
           SubscriptionStats::State::kStopped;
  }));
  const std::string cause = (*route)->Stats().subscription.cause.ToString();
  CHECK(cause.find("unlucky amount") != std::string::npos);
  CHECK(cause.find(std::to_string(bad)) != std::string::npos);
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "watch-account-1").count == 1; }));
  CHECK(Committed(*system, "watch-account-1").sum == 5);
  CHECK((*route)->Stats().progress < bad);
}

TEST_CASE(
    "a process manager sees each routed event once across restarts of the "
    "route and the system") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  std::map<std::string, Tally> expected;
  constexpr int kRounds = 6;
  constexpr int kPerRound = 300;
  for (int round = 0; round < kRounds; ++round) {
    auto system = Start(*store);
    auto route = system->StartRoute(Deposits());
    REQUIRE_MESSAGE(route.ok(), route.status().ToString());
    uint64_t last = 0;
    for (int i = 0; i < kPerRound; ++i) {
      const std::string account = "account-" + std::to_string(i % 7);
      // Every fifth is not routed, so sparse batches advance too.
      const int64_t amount = i % 5 == 4 ? -1 : round * 1000 + i + 20;
      last = Pay(*store, account, amount);
      if (amount < 0) continue;
      Tally& t = expected["watch-" + account];
      ++t.count;
      t.sum += amount;
    }
    // Odd rounds stop wherever the route is; even ones once it has routed
    // everything. Either way the next round goes on from its progress.
    if (round % 2 == 0) {
      REQUIRE((*route)->WaitFor(last, std::chrono::seconds(60)).ok());
    }
    REQUIRE(system->Shutdown().ok());
  }
  auto system = Start(*store);
  auto route = system->StartRoute(Deposits());
  REQUIRE(route.ok());
  for (const auto& [id, want] : expected) {
    REQUIRE_MESSAGE(test::Eventually(
                        [&, id = id, want = want] {
                          return Committed(*system, id).count >= want.count;
                        },
                        std::chrono::seconds(60)),
                    id);
  }
  for (const auto& [id, want] : expected) {
    Tally got = Committed(*system, id);
    CHECK_MESSAGE(got.count == want.count, id);
    CHECK_MESSAGE(got.sum == want.sum, id);
    CHECK_MESSAGE(got.out_of_order == 0, id);
  }
  REQUIRE(test::Eventually([&] {
    auto m = InStoreMessages(*store).value();
    return m->Waiting({}, 10).value().empty();
  }));
  CHECK(system->Stats().messages_duplicates == 0);
  // Its progress stream keeps a bounded tail: older progress events are
  // deleted as it goes.
  auto head = store->journal().Head("$route-deposits");
  REQUIRE(head.ok());
  uint64_t kept = 0;
  REQUIRE(store->journal()
              .Scan("$route-deposits", ReadOptions{},
                    [&](const EventView&) {
                      ++kept;
                      return true;
                    })
              .ok());
  CHECK(*head > 64);
  CHECK(kept < *head);
  CHECK(kept <= 64);
}

TEST_CASE(
    "a route whose stream is written by someone else while it runs stops "
    "rather than route twice, and says why") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  auto system = Start(*store);
  RouteOptions<Watcher> o = Deposits();
  o.on_failure.retries = 1;
  // A retry's backoff, not a wait: any length gives the same outcome,
  // which the test awaits with a generous deadline.
  o.on_failure.backoff_initial = std::chrono::milliseconds(1);
  auto route = system->StartRoute(o);
  REQUIRE(route.ok());
  const uint64_t first = Pay(*store, "account-1", 5);
  REQUIRE((*route)->WaitFor(first, std::chrono::seconds(60)).ok());
  // A second writer of the route's stream: the next commit's expectation
  // fails.
  REQUIRE(store->journal()
              .Append("$route-deposits", Expected::Any(),
                      {EventData{
                          "memoir.RouteProgress", std::string(8, '\0'), 1, {}}})
              .ok());
  Pay(*store, "account-1", 7);
  REQUIRE(test::Eventually([&] {
    return (*route)->Stats().subscription.state ==
           SubscriptionStats::State::kStopped;
  }));
  const Status cause = (*route)->Stats().subscription.cause;
  CHECK(cause.ToString().find("written by someone else") != std::string::npos);
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "watch-account-1").count == 1; }));
  CHECK(Committed(*system, "watch-account-1").sum == 5);
}

TEST_CASE(
    "a route started at the head records that start, so a restart before "
    "it routed anything does not skip what was committed in between") {
  test::TempDir dir;
  auto store = test::OpenTestStore(dir.Sub("store"));
  Pay(*store, "account-1", 5);  // before the route: never routed
  RouteOptions<Watcher> o = Deposits();
  o.start = StartAt::Head();
  {
    auto system = Start(*store);
    auto route = system->StartRoute(o);
    REQUIRE_MESSAGE(route.ok(), route.status().ToString());
    REQUIRE(system->Shutdown().ok());
  }
  Pay(*store, "account-1", 7);  // while no route runs
  auto system = Start(*store);
  auto route = system->StartRoute(o);
  REQUIRE(route.ok());
  REQUIRE(test::Eventually(
      [&] { return Committed(*system, "watch-account-1").count == 1; }));
  CHECK(Committed(*system, "watch-account-1").sum == 7);
}

}  // namespace
}  // namespace memoir::route_test
