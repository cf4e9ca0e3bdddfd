// Projections (memoir/projection.h) and their tables
// (memoir/projection_store.h). Failure paths first. Every wait has a
// deadline of minutes that fails the test rather than hanging it.
#include "memoir/projection.h"

#include <doctest/doctest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "memoir/checkpoint_store.h"
#include "memoir/inspect.h"
#include "memoir/projection_store.h"
#include "memoir/store.h"
#include "subscription/projection_support.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using namespace std::chrono_literals;
using test::ApplyDeposit;
using test::Balances;
using test::Deposit;
using test::FastStore;
using test::Fold;
using test::kLong;
using test::OpenStoreOrFail;
using test::ReadOrFail;
using test::Rows;
using test::StartOrFail;

TEST_CASE(
    "Projection::Start refuses bad options, a read-only store and a "
    "second runner") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto refused = [&](ProjectionOptions o, Status::Code code, const char* says) {
    auto p = Projection::Start(*store, std::move(o), ApplyDeposit);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == code);
    CHECK_MESSAGE(p.status().message().find(says) != std::string::npos,
                  p.status().ToString());
  };
  ProjectionOptions o = Balances();
  o.name = "";
  refused(o, Status::Code::kInvalidArgument, "projection name");
  o = Balances(0);
  refused(o, Status::Code::kInvalidArgument, "numbered from 1");
  o = Balances();
  o.tables.clear();
  refused(o, Status::Code::kInvalidArgument, "declares no tables");
  o = Balances();
  o.tables = {"bad\ntable"};
  refused(o, Status::Code::kInvalidArgument, "table name");
  o = Balances();
  o.max_batch = 0;
  refused(o, Status::Code::kInvalidArgument, "max_batch");
  auto none = Projection::Start(*store, Balances(), nullptr);
  CHECK(none.status().code() == Status::Code::kInvalidArgument);

  auto running = StartOrFail(*store, Balances(), ApplyDeposit);
  refused(Balances(), Status::Code::kBusy, "already running");
  running.reset();
  store.reset();

  auto read_only = test::OpenReadOnlyOrFail(dir.path());
  auto p = Projection::Start(*read_only, Balances(), ApplyDeposit);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == Status::Code::kInvalidArgument);
  CHECK_MESSAGE(p.status().message().find("read-only") != std::string::npos,
                p.status().ToString());
}

TEST_CASE(
    "a failing apply commits nothing of its batch and stops the "
    "projection after the events before it, naming the event") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 10; ++i) Deposit(*store, "account-1", 1);
  const uint64_t poison = Deposit(*store, "account-2", 1000);
  for (int i = 0; i < 5; ++i) Deposit(*store, "account-1", 1);
  std::atomic<int> calls_on_poison{0};
  auto p =
      StartOrFail(*store, Balances(), [&](ReadModel& m, const EventView& e) {
        if (e.position == poison) {
          ++calls_on_poison;
          throw std::runtime_error("no such account");
        }
        return ApplyDeposit(m, e);
      });
  Status waited = p->WaitFor(poison, kLong);
  REQUIRE(waited.code() == Status::Code::kFailed);
  CHECK(waited.message().find("no such account") != std::string::npos);
  CHECK(waited.message().find("account-2") != std::string::npos);
  CHECK(calls_on_poison.load() == 1 + Balances().on_failure.retries + 1);
  ProjectionStats stats = p->Stats();
  CHECK(stats.state == SubscriptionStats::State::kStopped);
  CHECK(stats.checkpoint == poison - 1);
  CHECK(p->Stop().ok());
  auto tables = InStoreProjections(*store).value();
  auto v1 = tables->ReadVersion("balances", 1);
  REQUIRE(v1.ok());
  CHECK((*v1)->version().checkpoint == poison - 1);
  CHECK(Rows(**v1, "balances") == Fold(*store, poison - 1));
  // Never active: it never reached the head.
  CHECK(tables->Read("balances").status().code() == Status::Code::kNotFound);
}

TEST_CASE(
    "an apply that writes a table it did not declare stops on that "
    "event") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t at = Deposit(*store, "account-1", 5);
  auto p = StartOrFail(*store, Balances(), [](ReadModel& m, const EventView&) {
    return m.Put("typo", "k", "v");
  });
  Status waited = p->WaitFor(at, kLong);
  CHECK(waited.code() == Status::Code::kFailed);
  CHECK_MESSAGE(waited.message().find("no table 'typo'") != std::string::npos,
                waited.ToString());
}

TEST_CASE(
    "with OnFailure::kSkip a poison event is left out and the rest "
    "applied") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  Deposit(*store, "account-1", 10);
  const uint64_t poison = Deposit(*store, "account-1", 7);
  const uint64_t last = Deposit(*store, "account-1", 100);
  ProjectionOptions o = Balances();
  o.on_failure.then = OnFailure::kSkip;
  auto p = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (e.position == poison) return Status::Failed("poison");
    return ApplyDeposit(m, e);
  });
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(p->Stats().skipped == 1);
  auto snapshot = ReadOrFail(*store, "balances");
  CHECK(Rows(*snapshot, "balances") ==
        std::map<std::string, std::string>{{"account-1", "110"}});
}

TEST_CASE(
    "a projection applies every event exactly once across restarts, "
    "and a read-only store reads its tables") {
  test::TempDir dir;
  std::mt19937 rng(7);
  uint64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto p = StartOrFail(*store, Balances(), ApplyDeposit);
    for (int i = 0; i < 200; ++i) {
      last = Deposit(*store, "account-" + std::to_string(rng() % 17),
                     static_cast<int64_t>(rng() % 1000) - 300);
      if (i % 50 == 0) Deposit(*store, "account-1", 1, "Renamed");
    }
    REQUIRE(p->WaitFor(last, kLong).ok());
    CHECK(p->Stats().active);
    auto snapshot = ReadOrFail(*store, "balances");
    CHECK(snapshot->version().checkpoint >= last);
    CHECK(Rows(*snapshot, "balances") == Fold(*store, last));
  }
  auto read_only = test::OpenReadOnlyOrFail(dir.path());
  auto snapshot = ReadOrFail(*read_only, "balances");
  CHECK(Rows(*snapshot, "balances") == Fold(*read_only, last));
  auto one = snapshot->Get("balances", "account-1");
  REQUIRE(one.ok());
  CHECK(*one == Fold(*read_only, last)["account-1"]);
  auto tables = InStoreProjections(*read_only).value();
  Status refused = tables->Commit("balances", 1, last, last + 1, {}, false);
  CHECK(refused.code() == Status::Code::kInvalidArgument);
}

TEST_CASE("Commit refuses a stale expected checkpoint and writes nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto tables = InStoreProjections(*store).value();
  std::vector<ProjectionWrite> writes = {{"t", "k", "1"}};
  REQUIRE(tables->Commit("p", 1, 0, 5, writes, true).ok());
  std::vector<ProjectionWrite> again = {{"t", "k", "2"}};
  Status stale = tables->Commit("p", 1, 0, 9, again, false);
  CHECK(stale.code() == Status::Code::kConflict);
  auto snapshot = tables->Read("p").value();
  CHECK(snapshot->version().checkpoint == 5);
  CHECK(*snapshot->Get("t", "k").value() == "1");
  std::vector<ProjectionWrite> long_key = {{"t", std::string(600, 'k'), "1"}};
  CHECK(tables->Commit("p", 1, 5, 6, long_key, false).code() ==
        Status::Code::kInvalidArgument);
}

bool Mentions(const VerifyReport& report, const std::string& text) {
  for (const VerifyProblem& p : report.problems) {
    if (p.what.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE(
    "verify checks checkpoints and projections: a damaged record, "
    "rows without a record; a damaged record stops a projection's "
    "start") {
  test::TempDir dir;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    const uint64_t last = Deposit(*store, "account-1", 5);
    auto p = StartOrFail(*store, Balances(), ApplyDeposit);
    REQUIRE(p->WaitFor(last, kLong).ok());
    REQUIRE(InStoreCheckpoints(*store).value()->Save("sub", last).ok());
    REQUIRE(p->Stop().ok());
    auto report = VerifyStore(*store);
    REQUIRE_MESSAGE(report.ok(), report.status().ToString());
    CHECK(report->ok());
    CHECK(report->checkpoints == 1);
    CHECK(report->projection_versions == 1);
    CHECK(report->projection_rows == 1);
  }
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            std::string bad = "short";
            MDB_val v{bad.size(), bad.data()};
            std::string cp = "sub";
            MDB_val k{cp.size(), cp.data()};
            REQUIRE(mdb_put(txn, raw.dbi("checkpoints"), &k, &v, 0) == 0);
            std::string record("balances\0\0\0\0\1", 13);
            MDB_val rk{record.size(), record.data()};
            REQUIRE(mdb_put(txn, raw.dbi("projections"), &rk, &v, 0) == 0);
            std::string orphan("gone\0\0\0\0\7t\0key", 15);
            MDB_val ok{orphan.size(), orphan.data()};
            REQUIRE(mdb_put(txn, raw.dbi("projection_rows"), &ok, &v, 0) == 0);
          }) == 0);
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto report = VerifyStore(*store);
  REQUIRE(report.ok());
  CHECK(report->problem_count == 3);
  CHECK(Mentions(*report, "checkpoint 'sub' is damaged"));
  CHECK(Mentions(*report, "projection 'balances' version 1 in"));
  CHECK(Mentions(*report, "projection 'gone' version 7 has rows"));
  auto p = Projection::Start(*store, Balances(), ApplyDeposit);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().IsCorruption());
  CHECK(InStoreProjections(*store)
            .value()
            ->Read("balances")
            .status()
            .IsCorruption());
}

TEST_CASE(
    "a new version builds beside the active one, which readers keep "
    "seeing until the new one reaches the head; then the old rows go") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  uint64_t last = 0;
  for (int i = 0; i < 30; ++i) last = Deposit(*store, "account-1", 1);
  {
    auto v1 = StartOrFail(*store, Balances(1), ApplyDeposit);
    REQUIRE(v1->WaitFor(last, kLong).ok());
  }
  // Version 2 counts events instead of summing; its first event blocks
  // until the test has looked.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  ProjectionOptions o = Balances(2);
  o.max_batch = 5;
  auto v2 = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (e.position == 1) {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, kLong, [&] { return release; })) {
        return Status::Timeout("test never released");
      }
    }
    auto old = m.Get("balances", e.stream);
    if (!old.ok()) return old.status();
    return m.Put("balances", e.stream,
                 std::to_string((*old ? std::stoll(**old) : 0) + 100));
  });
  {
    auto seen = ReadOrFail(*store, "balances");
    CHECK(seen->version().version == 1);
    CHECK(Rows(*seen, "balances")["account-1"] == "30");
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(v2->WaitFor(last, kLong).ok());
  {
    auto seen = ReadOrFail(*store, "balances");
    CHECK(seen->version().version == 2);
    CHECK(Rows(*seen, "balances")["account-1"] == "3000");
  }
  // The next batch sweeps version 1 away.
  last = Deposit(*store, "account-1", 1);
  REQUIRE(v2->WaitFor(last, kLong).ok());
  last = Deposit(*store, "account-1", 1);
  REQUIRE(v2->WaitFor(last, kLong).ok());
  auto all = InStoreProjections(*store).value()->List();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].version == 2);
  CHECK(v2->Stop().ok());
  // Version 1 may not come back.
  auto old = Projection::Start(*store, Balances(1), ApplyDeposit);
  REQUIRE_FALSE(old.ok());
  CHECK_MESSAGE(old.status().message().find("newer") != std::string::npos,
                old.status().ToString());
}

TEST_CASE(
    "Reset empties the tables and rebuilds them; SetCheckpoint skips "
    "events; Pause holds the tables still") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) last = Deposit(*store, "account-1", 2);
  auto p = StartOrFail(*store, Balances(), ApplyDeposit);
  REQUIRE(p->WaitFor(last, kLong).ok());
  REQUIRE(p->Reset().ok());
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, last));

  REQUIRE(p->Pause().ok());
  const uint64_t held = Deposit(*store, "account-1", 1000);
  CHECK(p->WaitFor(held, 1s).code() == Status::Code::kClosed);
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances")["account-1"] == "40");
  REQUIRE(p->SetCheckpoint(held).ok());  // skips the 1000
  REQUIRE(p->Resume().ok());
  last = Deposit(*store, "account-1", 1);
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances")["account-1"] == "41");
  REQUIRE(p->Stop().ok());
  CHECK(p->Resume().code() == Status::Code::kClosed);
}

int Cycles() {
  if (const char* env = std::getenv("MEMOIR_PROJECTION_KILL_CYCLES")) {
    return std::atoi(env);
  }
  return 100;
}

// Kills a process that appends deposits while `mode` projects them,
// `cycles` times, and checks the projection after each kill.
void SurvivesKills(ProjectionOptions::Mode mode, int cycles) {
  test::TempDir dir;
  std::mt19937 rng(11);
  uint64_t checkpoint_seen = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    int acks[2];
    REQUIRE(pipe(acks) == 0);
    const unsigned seed = rng();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(acks[0]);
      auto store = Store::Open(dir.path(), FastStore());
      if (!store.ok()) _exit(2);
      ProjectionOptions o = Balances();
      o.max_batch = 1 + seed % 50;
      o.mode = mode;
      auto p = Projection::Start(**store, o, ApplyDeposit);
      if (!p.ok()) _exit(3);
      // Inline, an append acknowledged once attached is in the tables.
      while (mode == ProjectionOptions::Mode::kInline &&
             !(*p)->Stats().attached) {
        std::this_thread::yield();
      }
      std::mt19937 child_rng(seed);
      for (;;) {
        EventData e;
        e.type = "Deposited";
        e.payload = std::to_string(child_rng() % 500);
        auto r = (*store)->journal().Append(
            "account-" + std::to_string(child_rng() % 40), Expected::Any(),
            {e});
        if (!r.ok()) _exit(5);
        if (write(acks[1], &r->last_position, 8) != 8) _exit(4);
      }
    }
    close(acks[1]);
    const int wait_for = 1 + static_cast<int>(rng() % 40);
    uint64_t acked = 0;
    for (int i = 0; i < wait_for; ++i) {
      REQUIRE(read(acks[0], &acked, 8) == 8);
    }
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    close(acks[0]);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited with ", status);

    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto tables = InStoreProjections(*store).value();
    auto v1 = tables->ReadVersion("balances", 1);
    REQUIRE_MESSAGE(v1.ok(), v1.status().ToString());
    const uint64_t checkpoint = (*v1)->version().checkpoint;
    CHECK(checkpoint >= checkpoint_seen);
    CHECK(checkpoint <= store->journal().LastPosition().value());
    if (mode == ProjectionOptions::Mode::kInline) {
      CHECK_MESSAGE(checkpoint >= acked, "cycle ", cycle, ": acknowledged ",
                    acked, ", projected ", checkpoint);
    }
    checkpoint_seen = checkpoint;
    const auto rows = Rows(**v1, "balances");
    const auto fold = Fold(*store, checkpoint);
    REQUIRE_MESSAGE(rows == fold, "cycle ", cycle, " checkpoint ", checkpoint);
  }
  MESSAGE("projection checkpoint after ", cycles, " kills: ", checkpoint_seen);
  // And it catches up from where the last kill left it.
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t head = store->journal().LastPosition().value();
  ProjectionOptions o = Balances();
  o.mode = mode;
  auto p = StartOrFail(*store, o, ApplyDeposit);
  REQUIRE(p->WaitFor(head, kLong).ok());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, head));
}

TEST_CASE(
    "a projection survives SIGKILL of its process: its tables always "
    "equal the fold of the events up to its checkpoint") {
  SurvivesKills(ProjectionOptions::Mode::kAsync, Cycles());
}

TEST_CASE(
    "a projection survives SIGKILL of its process inline too: every "
    "acknowledged append is in its tables") {
  SurvivesKills(ProjectionOptions::Mode::kInline, Cycles());
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "a projection rebuilt over deleted history counts the events it never "
    "saw") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 10; ++i) Deposit(*store, "account-1", 1);
  for (int i = 0; i < 5; ++i) Deposit(*store, "account-2", 2);
  const uint64_t last = Deposit(*store, "account-1", 100);
  REQUIRE(store->journal().DeleteTo("account-1", 6).ok());
  auto p = StartOrFail(*store, Balances(), ApplyDeposit);
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(p->Stats().gone == 6);
  // The model is the fold of what is left: the deleted deposits are gone.
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        std::map<std::string, std::string>{{"account-1", "104"},
                                           {"account-2", "10"}});
}

TEST_CASE(
    "DeleteTo stops at the lowest checkpoint kept in the store, says "
    "whose, and goes on once the consumer has passed; force deletes "
    "all") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  std::vector<uint64_t> at;
  for (int i = 0; i < 10; ++i) at.push_back(Deposit(*store, "account-1", 1));
  auto checkpoints = InStoreCheckpoints(*store).value();
  REQUIRE(checkpoints->Save("mailer", at[3]).ok());  // seq 4
  REQUIRE(checkpoints->Save("audit", at[7]).ok());

  Status held = store->journal().DeleteTo("account-1", 9);
  REQUIRE(held.IsBusy());
  CHECK_MESSAGE(held.message().find("subscription checkpoint 'mailer'") !=
                    std::string::npos,
                held.ToString());
  CHECK(held.message().find("up to seq 4, not 9") != std::string::npos);
  auto info = store->journal().GetStream("account-1").value();
  CHECK(info.deleted_to == 4);
  CHECK(info.head == 10);

  // The consumer moves on; a projection that has read less now holds.
  REQUIRE(checkpoints->Save("mailer", at[9]).ok());
  auto tables = InStoreProjections(*store).value();
  REQUIRE(tables->Commit("sums", 1, 0, at[5], {}, true).ok());  // seq 6
  held = store->journal().DeleteTo("account-1", 9);
  REQUIRE(held.IsBusy());
  CHECK(held.message().find("projection 'sums' version 1") !=
        std::string::npos);
  CHECK(store->journal().GetStream("account-1").value().deleted_to == 6);
  // Held events stay readable.
  std::vector<uint64_t> seqs;
  REQUIRE(store->journal()
              .Scan("account-1", {},
                    [&](const EventView& e) {
                      seqs.push_back(e.seq);
                      return true;
                    })
              .ok());
  CHECK(seqs == std::vector<uint64_t>{7, 8, 9, 10});

  DeleteOptions force;
  force.force = true;
  REQUIRE(store->journal().DeleteTo("account-1", 9, force).ok());
  CHECK(store->journal().GetStream("account-1").value().deleted_to == 9);

  // A retired version holds nothing.
  REQUIRE(tables->Commit("sums", 2, 0, 100, {}, true).ok());
  for (int i = 0; i < 3; ++i) Deposit(*store, "account-2", 1);
  REQUIRE(checkpoints->Save("audit", 100).ok());
  REQUIRE(checkpoints->Save("mailer", 100).ok());
  Status s = store->journal().DeleteTo("account-2", 2);
  CHECK_MESSAGE(s.ok(), s.ToString());
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

// What a subscription's handler took, in order: "stream/seq".
struct Taken {
  std::mutex mu;
  std::vector<std::string> events;
  std::atomic<bool> fixed{false};
  Subscription::Handler Handler(std::string poison_stream,
                                uint64_t poison_seq) {
    return [this, poison_stream, poison_seq](const Batch& b) {
      for (const EventView& e : b.events) {
        if (!fixed && e.stream == poison_stream && e.seq == poison_seq) {
          return Status::Failed("cannot handle it yet");
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const EventView& e : b.events) {
        events.push_back(std::string(e.stream) + "/" + std::to_string(e.seq));
      }
      return Status::OK();
    };
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
};

SubscriptionOptions Parking(OnFailure then, CheckpointStore* checkpoints) {
  SubscriptionOptions o;
  o.name = "mailer";
  o.checkpoints = checkpoints;
  o.on_failure.then = then;
  o.on_failure.retries = 1;
  o.on_failure.backoff_initial = 1ms;
  o.safety_poll = 20ms;
  return o;
}

TEST_CASE(
    "a subscription refuses a parking policy without a store that "
    "keeps parked events") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  Taken taken;
  auto none = Subscription::Start(
      *store, Parking(OnFailure::kParkEvent, nullptr), taken.Handler("", 0));
  CHECK(none.status().IsInvalidArgument());
  CHECK(none.status().message().find("does not keep them") !=
        std::string::npos);
}

TEST_CASE(
    "kParkStream parks the failing event and its stream's later "
    "events in order, delivers the other streams, and RetryParked "
    "delivers them all after a fix") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto checkpoints = InStoreCheckpoints(*store).value();
  for (int i = 0; i < 4; ++i) {
    Deposit(*store, "a", 1);
    Deposit(*store, "b", 1);
  }
  Taken taken;
  auto sub = Subscription::Start(
      *store, Parking(OnFailure::kParkStream, checkpoints.get()),
      taken.Handler("a", 2));
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  REQUIRE((*sub)->WaitFor(8, kLong).ok());
  CHECK(taken.Get() ==
        std::vector<std::string>{"a/1", "b/1", "b/2", "b/3", "b/4"});
  CHECK((*sub)->Stats().parked == 3);
  auto parked = checkpoints->Parked("mailer").value();
  REQUIRE(parked.size() == 3);
  CHECK(parked[0].seq == 2);
  CHECK_FALSE(parked[0].behind);
  CHECK(parked[0].error.find("cannot handle it yet") != std::string::npos);
  CHECK(parked[1].behind);
  CHECK(parked[2].seq == 4);

  // Parked events hold retention back.
  CHECK(store->journal().DeleteTo("a", 4).IsBusy());
  CHECK(store->journal().GetStream("a").value().deleted_to == 1);

  // Not fixed yet: the retry fails and everything stays parked.
  Status again = (*sub)->RetryParked();
  CHECK(again.code() == Status::Code::kFailed);
  CHECK(again.message().find("1 of 3 parked events failed again") !=
        std::string::npos);
  CHECK(checkpoints->Parked("mailer").value().size() == 3);

  // A later event of the stream waits behind them, across a restart.
  REQUIRE((*sub)->Stop().ok());
  sub = Subscription::Start(*store,
                            Parking(OnFailure::kParkStream, checkpoints.get()),
                            taken.Handler("a", 2));
  REQUIRE(sub.ok());
  const uint64_t later = Deposit(*store, "a", 1);
  REQUIRE((*sub)->WaitFor(later, kLong).ok());
  CHECK(checkpoints->Parked("mailer").value().size() == 4);

  taken.fixed = true;
  REQUIRE((*sub)->RetryParked().ok());
  CHECK(checkpoints->Parked("mailer").value().empty());
  CHECK((*sub)->Stats().parked == 0);
  CHECK(taken.Get() == std::vector<std::string>{"a/1", "b/1", "b/2", "b/3",
                                                "b/4", "a/2", "a/3", "a/4",
                                                "a/5"});
  // The stream flows again.
  const uint64_t next = Deposit(*store, "a", 1);
  REQUIRE((*sub)->WaitFor(next, kLong).ok());
  CHECK(taken.Get().back() == "a/6");
}

TEST_CASE("kParkEvent parks only the failing event") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto checkpoints = InStoreCheckpoints(*store).value();
  for (int i = 0; i < 3; ++i) Deposit(*store, "a", 1);
  Taken taken;
  auto sub = Subscription::Start(
      *store, Parking(OnFailure::kParkEvent, checkpoints.get()),
      taken.Handler("a", 2));
  REQUIRE(sub.ok());
  REQUIRE((*sub)->WaitFor(3, kLong).ok());
  CHECK(taken.Get() == std::vector<std::string>{"a/1", "a/3"});
  CHECK(checkpoints->Parked("mailer").value().size() == 1);
  taken.fixed = true;
  REQUIRE((*sub)->RetryParked().ok());
  CHECK(taken.Get() == std::vector<std::string>{"a/1", "a/3", "a/2"});
}

TEST_CASE(
    "a projection parks a poison stream and applies it exactly once "
    "on RetryParked, unparking in the same commit") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    Deposit(*store, "account-1", 10);
    last = Deposit(*store, "account-2", 1);
  }
  std::atomic<bool> fixed{false};
  ProjectionOptions o = Balances();
  o.on_failure.then = OnFailure::kParkStream;
  o.on_failure.retries = 0;
  auto p = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (!fixed && e.stream == "account-1" && e.seq == 3) {
      return Status::Failed("bad amount");
    }
    return ApplyDeposit(m, e);
  });
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(p->Stats().parked == 3);
  CHECK(p->Parked().value().size() == 3);
  auto rows = Rows(*ReadOrFail(*store, "balances"), "balances");
  CHECK(rows["account-1"] == "20");
  CHECK(rows["account-2"] == "5");
  fixed = true;
  REQUIRE(p->RetryParked().ok());
  CHECK(p->Parked().value().empty());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, last));
  // Once more: nothing is parked, nothing applied twice.
  REQUIRE(p->RetryParked().ok());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, last));
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "LagSeconds is the age of the last event examined while behind, "
    "0 when caught up or unknown") {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t two_s_ago = now - 2'000'000'000;
  CHECK(LagSeconds(0, two_s_ago) == 0);
  CHECK(LagSeconds(5, 0) == 0);
  const double lag = LagSeconds(5, two_s_ago);
  CHECK(lag >= 2.0);
  CHECK(lag < 600.0);  // generous: a loaded machine may pause the test
}

TEST_CASE(
    "SetCheckpoint on a paused projection moves it and leaves it paused") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t first = Deposit(*store, "account-1", 1);
  auto p = StartOrFail(*store, Balances(), ApplyDeposit);
  REQUIRE(p->WaitFor(first, kLong).ok());
  REQUIRE(p->Pause().ok());
  Deposit(*store, "account-1", 1);
  REQUIRE(p->SetCheckpoint(first).ok());  // still paused
  ProjectionStats stats = p->Stats();
  CHECK(stats.paused);
  CHECK(stats.checkpoint == first);
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "each projection version parks its own events; sweeping a "
    "replaced version forgets its parked events") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t poison = Deposit(*store, "account-1", 7);
  uint64_t last = Deposit(*store, "account-2", 1);
  ProjectionOptions o = Balances(1);
  o.on_failure.then = OnFailure::kParkEvent;
  o.on_failure.retries = 0;
  {
    auto v1 = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
      if (e.position == poison) return Status::Failed("v1 bug");
      return ApplyDeposit(m, e);
    });
    REQUIRE(v1->WaitFor(last, kLong).ok());
    CHECK(v1->Parked().value().size() == 1);
  }
  auto checkpoints = InStoreCheckpoints(*store).value();
  CHECK(checkpoints->Parked(ProjectionParkingName("balances", 1))
            .value()
            .size() == 1);
  o.version = 2;
  auto v2 = StartOrFail(*store, o, ApplyDeposit);  // the fix
  REQUIRE(v2->WaitFor(last, kLong).ok());
  CHECK(v2->Parked().value().empty());
  REQUIRE(v2->RetryParked().ok());  // nothing of v1's is applied again
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, last));
  // Later batches sweep version 1, its parked event included.
  last = Deposit(*store, "account-2", 1);
  REQUIRE(v2->WaitFor(last, kLong).ok());
  last = Deposit(*store, "account-2", 1);
  REQUIRE(v2->WaitFor(last, kLong).ok());
  CHECK(checkpoints->Parked(ProjectionParkingName("balances", 1))
            .value()
            .empty());
  CHECK(store->journal().DeleteTo("account-1", 1).ok());
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "8 workers with handlers that fail at random: every event up to "
    "the checkpoint is handled, each stream in order, and a restart "
    "misses nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto checkpoints = InStoreCheckpoints(*store).value();
  std::mutex mu;
  std::map<uint64_t, int> handled;                     // position -> times
  std::map<std::string, std::vector<uint64_t>> first;  // stream -> seqs
  std::atomic<uint64_t> calls{0};
  auto handler = [&](const Batch& b) -> Status {
    // Fails about a third of the calls, deterministically per call.
    if (std::hash<uint64_t>()(calls.fetch_add(1) * 2654435761u) % 3 == 0) {
      return Status::Failed("random failure");
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const EventView& e : b.events) {
      if (handled[e.position]++ == 0) {
        first[std::string(e.stream)].push_back(e.seq);
      }
    }
    return Status::OK();
  };
  SubscriptionOptions o;
  o.name = "workers";
  o.workers = 8;
  o.max_batch = 64;
  o.checkpoints = checkpoints.get();
  o.checkpoint_every_events = 50;
  o.on_failure.retries = 40;
  o.on_failure.backoff_initial = 0ms;
  o.on_failure.backoff_max = 1ms;
  o.safety_poll = 20ms;
  auto sub = Subscription::Start(*store, o, handler);
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  std::vector<std::thread> appenders;
  for (int t = 0; t < 8; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        EventData e;
        e.type = "T";
        e.payload = "p";
        auto r = store->journal().Append(
            "s-" + std::to_string((t * 7 + i) % 40), Expected::Any(), {e});
        CHECK(r.ok());
      }
    });
  }
  for (std::thread& t : appenders) t.join();
  const uint64_t mid = store->journal().LastPosition().value() / 2;
  REQUIRE((*sub)->WaitFor(mid, kLong).ok());
  REQUIRE((*sub)->Stop().ok());
  const uint64_t checkpoint = checkpoints->Load("workers").value();
  CHECK(checkpoint >= mid);
  {
    std::lock_guard<std::mutex> lock(mu);
    for (uint64_t p = 1; p <= checkpoint; ++p) {
      REQUIRE_MESSAGE(handled.count(p) == 1, "position ", p, " missing");
    }
    for (auto& [stream, seqs] : first) {
      CHECK_MESSAGE(std::is_sorted(seqs.begin(), seqs.end()), stream);
    }
  }
  // The restart resumes after the checkpoint and misses nothing.
  sub = Subscription::Start(*store, o, handler);
  REQUIRE(sub.ok());
  const uint64_t head = store->journal().LastPosition().value();
  REQUIRE((*sub)->WaitFor(head, kLong).ok());
  std::lock_guard<std::mutex> lock(mu);
  for (uint64_t p = 1; p <= head; ++p) {
    REQUIRE_MESSAGE(handled.count(p) == 1, "position ", p, " missing");
  }
  for (auto& [stream, seqs] : first) {
    CHECK_MESSAGE(std::is_sorted(seqs.begin(), seqs.end()), stream);
  }
  CHECK(Subscription::Start(
            *store,
            [&] {
              SubscriptionOptions bad = o;
              bad.name = "bad";
              bad.workers = 0;
              return bad;
            }(),
            handler)
            .status()
            .IsInvalidArgument());
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "a subscription hands out payloads 8-byte aligned, as the journal "
    "stores them (FlatBuffers read them in place)") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    EventData e;
    e.type = std::string(1 + i % 7, 't');
    e.payload = std::string(3 + i, 'p');
    e.tags = {std::string(1 + i % 3, 'g')};
    auto r = store->journal().Append(std::string(1 + i % 5, 's'),
                                     Expected::Any(), {e});
    REQUIRE(r.ok());
    last = r->last_position;
  }
  std::atomic<int> misaligned{0}, seen{0};
  SubscriptionOptions o;
  o.name = "aligned";
  o.max_batch = 7;
  auto sub = Subscription::Start(*store, o, [&](const Batch& b) {
    for (const EventView& e : b.events) {
      ++seen;
      if (reinterpret_cast<uintptr_t>(e.payload.data()) % 8 != 0) {
        ++misaligned;
      }
    }
    return Status::OK();
  });
  REQUIRE(sub.ok());
  REQUIRE((*sub)->WaitFor(last, kLong).ok());
  CHECK(seen.load() == 20);
  CHECK(misaligned.load() == 0);
}

}  // namespace
}  // namespace memoir

namespace memoir {
namespace {

TEST_CASE(
    "a projection started at the head (an empty journal) is active at "
    "once") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto p = StartOrFail(*store, Balances(), ApplyDeposit);
  auto view = InStoreProjections(*store).value()->Read("balances");
  REQUIRE_MESSAGE(view.ok(), view.status().ToString());
  CHECK((*view)->version().checkpoint == 0);
}

TEST_CASE(
    "Reset forgets the version's parked events: the rebuild applies "
    "them, and RetryParked does not apply them twice") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t poison = Deposit(*store, "account-1", 5);
  const uint64_t last = Deposit(*store, "account-1", 1);
  std::atomic<bool> fixed{false};
  ProjectionOptions o = Balances();
  o.on_failure.then = OnFailure::kParkEvent;
  o.on_failure.retries = 0;
  auto p = StartOrFail(*store, o, [&](ReadModel& m, const EventView& e) {
    if (!fixed && e.position == poison) return Status::Failed("not yet");
    return ApplyDeposit(m, e);
  });
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(p->Parked().value().size() == 1);
  fixed = true;
  REQUIRE(p->Reset().ok());
  REQUIRE(p->WaitFor(last, kLong).ok());
  CHECK(p->Parked().value().empty());
  REQUIRE(p->RetryParked().ok());
  CHECK(Rows(*ReadOrFail(*store, "balances"), "balances") ==
        Fold(*store, last));
}

}  // namespace
}  // namespace memoir
