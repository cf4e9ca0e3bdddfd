// The read-side commands (subscriptions, projections, parked, rows,
// reset-projection, retry-parked) run as a program on a store with a projection
// and a checkpoint: what they print is what the library stored.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "json.h"
#include "memoir/checkpoint_store.h"
#include "memoir/clock.h"
#include "memoir/message_store.h"
#include "memoir/projection.h"
#include "memoir/store.h"
#include "memoir/subscription.h"
#include "support/open_store.h"
#include "support/temp_dir.h"
#include "tools/cli_json_lines.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using cli::JsonValue;
using test::CliResult;
using test::RunCli;

using test::Has;

#define REQUIRE_EXIT(r, code)                                                 \
  REQUIRE_MESSAGE((r).exit_code == (code), "stdout:\n", (r).out, "stderr:\n", \
                  (r).err)

// A store with 30 deposits to 3 accounts, a projection "sums" (table
// "by_account") caught up to position 20 of them, and a checkpoint
// "mailer" at 12.
struct ReadSideFixture {
  ReadSideFixture() {
    auto s = test::OpenStoreOrFail(store, test::FastStore());
    auto deposit = [&](int i) {
      EventData e;
      e.type = "Deposited";
      e.payload = std::to_string(i);
      auto r = s->journal().Append("account-" + std::to_string(i % 3),
                                   Expected::Any(), {e});
      REQUIRE(r.ok());
    };
    for (int i = 1; i <= 20; ++i) deposit(i);
    ProjectionOptions o;
    o.name = "sums";
    o.tables = {"by_account"};
    auto p = Projection::Start(
        *s, o, [](ReadModel& m, const EventView& e) -> Status {
          auto old = m.Get("by_account", e.stream);
          if (!old.ok()) return old.status();
          int64_t sum = (*old ? std::stoll(**old) : 0) +
                        std::stoll(std::string(e.payload));
          return m.Put("by_account", e.stream, std::to_string(sum));
        });
    REQUIRE_MESSAGE(p.ok(), p.status().ToString());
    REQUIRE((*p)->WaitFor(20, std::chrono::minutes(2)).ok());
    REQUIRE((*p)->Stop().ok());
    for (int i = 21; i <= 30; ++i) deposit(i);
    auto checkpoints = InStoreCheckpoints(*s).value();
    REQUIRE(checkpoints->Save("mailer", 12).ok());
    ParkedEvent parked;
    parked.position = 5;
    parked.stream = "account-2";
    parked.seq = 2;
    parked.type = "Deposited";
    parked.error = "failed: no such account";
    REQUIRE(checkpoints->Park("mailer", parked).ok());
  }
  test::TempDir dir;
  std::string store = dir.Sub("store");
};

TEST_CASE_FIXTURE(ReadSideFixture,
                  "projections and subscriptions list checkpoints and lag") {
  CliResult p = RunCli({"projections", store});
  REQUIRE_EXIT(p, 0);
  REQUIRE(p.Lines().size() == 2);
  CHECK(Has(p.Lines()[0], "NAME"));
  CHECK(Has(p.Lines()[1], "sums"));
  CHECK(Has(p.Lines()[1], "active"));
  CliResult pj = RunCli({"projections", store, "--json"});
  REQUIRE_EXIT(pj, 0);
  auto v = cli::ParseJson(pj.Lines().at(0));
  REQUIRE(v.ok());
  CHECK(v->Find("checkpoint")->AsU64() == 20u);
  CHECK(v->Find("head")->AsU64() == 30u);
  CHECK(v->Find("lag_events")->AsU64() == 10u);
  CHECK(v->Find("state")->text == "active");

  CliResult sj = RunCli({"subscriptions", store, "--json"});
  REQUIRE_EXIT(sj, 0);
  auto c = cli::ParseJson(sj.Lines().at(0));
  REQUIRE(c.ok());
  CHECK(c->Find("name")->text == "mailer");
  CHECK(c->Find("checkpoint")->AsU64() == 12u);
  CHECK(c->Find("lag_events")->AsU64() == 18u);
  const JsonValue* lag_s = c->Find("lag_seconds");
  REQUIRE(lag_s != nullptr);
  CHECK(lag_s->kind == JsonValue::Kind::kNumber);
}

TEST_CASE(
    "outbox lists the waiting durable messages in commit order, naming the "
    "one each waits for, and verify counts them") {
  test::TempDir dir;
  const std::string store = dir.Sub("store");
  {
    auto s = test::OpenStoreOrFail(store, test::FastStore());
    auto messages = InStoreMessages(*s).value();
    for (int i = 0; i < 3; ++i) {
      MessageCommit c;
      c.append = {"transfer-1", Expected::Any(), {{"Started", "x", 1, {}}}};
      OutgoingMessage m;
      m.receiver_type = "account";
      m.receiver = i == 2 ? "account-b" : "account-a";
      m.command = {i == 2 ? "Credit" : "Debit", "5", 1, {}};
      c.send.push_back(m);
      REQUIRE(messages->Commit(std::move(c)).ok());
    }
  }
  CliResult empty = RunCli({"outbox", dir.Sub("none"), "--json"});
  CHECK(empty.exit_code != 0);
  CliResult r = RunCli({"outbox", store});
  REQUIRE_EXIT(r, 0);
  REQUIRE(r.Lines().size() == 4);  // header and three messages
  CHECK(Has(r.Lines()[1], "1#0"));
  CHECK(Has(r.Lines()[1], "transfer-1 seq 1"));
  CHECK(Has(r.Lines()[1], "account account-a"));
  CHECK(Has(r.Lines()[1], "Debit"));
  // The second Debit waits for the first; the Credit has a pair of its own.
  CHECK(Has(r.Lines()[2], "2#0"));
  CHECK(Has(r.Lines()[2], " 1#0"));
  CHECK(Has(r.Lines()[3], "Credit"));
  CliResult j = RunCli({"outbox", store, "--json"});
  REQUIRE_EXIT(j, 0);
  std::vector<JsonValue> rows = test::JsonLines(j);
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].Find("key")->text == "2#0");
  CHECK(rows[1].Find("sender_seq")->AsU64() == 2u);
  CHECK(rows[1].Find("waits_for")->text == "1#0");
  CHECK(rows[2].Find("waits_for")->text == "-");
  CHECK(rows[2].Find("receiver")->text == "account-b");
  CliResult v = RunCli({"verify", store});
  REQUIRE_EXIT(v, 0);
  CHECK(Has(v.out,
            "checked the durable messages: 3 messages waiting, 0 inbox "
            "records"));
}

TEST_CASE(
    "drop-message moves a waiting message to the dead letters, which "
    "dead-letters lists, and the next of its pair becomes first; a wrong "
    "key changes nothing") {
  test::TempDir dir;
  const std::string store = dir.Sub("store");
  {
    auto s = test::OpenStoreOrFail(store, test::FastStore());
    auto messages = InStoreMessages(*s).value();
    for (int i = 0; i < 2; ++i) {
      MessageCommit c;
      c.append = {"transfer-1", Expected::Any(), {{"Started", "x", 1, {}}}};
      OutgoingMessage m;
      m.receiver_type = "account";
      m.receiver = "account-gone";
      m.command = {"Debit", "5", 1, {}};
      m.reply_type = "transfer";
      c.send.push_back(m);
      REQUIRE(messages->Commit(std::move(c)).ok());
    }
  }
  CliResult bad = RunCli({"drop-message", store, "one", "--reason", "x"});
  CHECK(bad.exit_code == 2);
  CliResult none =
      RunCli({"drop-message", store, "9#0", "--reason", "x", "--yes"});
  CHECK(none.exit_code != 0);
  CHECK(Has(none.err, "no message waits at 9#0"));
  CliResult empty = RunCli({"dead-letters", store});
  REQUIRE_EXIT(empty, 0);
  CHECK(Has(empty.out, "no durable message was dropped"));
  CliResult dropped = RunCli({"drop-message", store, "1#0", "--reason",
                              "account-gone was destroyed", "--yes"});
  REQUIRE_EXIT(dropped, 0);
  CHECK(Has(dropped.out, "dropped the message 1#0 from 'transfer-1'"));
  CliResult again =
      RunCli({"drop-message", store, "1#0", "--reason", "twice", "--yes"});
  CHECK(again.exit_code != 0);
  CliResult j = RunCli({"outbox", store, "--json"});
  REQUIRE_EXIT(j, 0);
  std::vector<JsonValue> rows = test::JsonLines(j);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].Find("key")->text == "2#0");
  CHECK(rows[0].Find("waits_for")->text == "-");  // first of its pair now
  CHECK(rows[0].Find("refusal_to")->text == "transfer");
  CliResult list = RunCli({"dead-letters", store});
  REQUIRE_EXIT(list, 0);
  REQUIRE(list.Lines().size() == 2);  // header and one
  CHECK(Has(list.Lines()[1], "1#0"));
  CHECK(Has(list.Lines()[1], "account account-gone"));
  CHECK(Has(list.Lines()[1], "account-gone was destroyed"));
  CliResult lj = RunCli({"dead-letters", store, "--json"});
  REQUIRE_EXIT(lj, 0);
  std::vector<JsonValue> letters = test::JsonLines(lj);
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].Find("sender")->text == "transfer-1");
  CHECK(letters[0].Find("sender_seq")->AsU64() == 1u);
  CHECK(letters[0].Find("type")->text == "Debit");
  CHECK(letters[0].Find("reason")->text == "account-gone was destroyed");
  CliResult v = RunCli({"verify", store});
  REQUIRE_EXIT(v, 0);
  CHECK(Has(v.out, "1 message waiting"));
}

TEST_CASE(
    "timers lists the pending durable timers soonest first, and verify "
    "counts them") {
  test::TempDir dir;
  const std::string store = dir.Sub("store");
  const int64_t now = Clock::System()->NowNanos();
  {
    auto s = test::OpenStoreOrFail(store, test::FastStore());
    auto messages = InStoreMessages(*s).value();
    MessageCommit c;
    c.append = {"transfer-1", Expected::Any(), {{"Started", "x", 1, {}}}};
    for (int64_t in_s : {3600, -60}) {
      TimerChange t;
      t.key = in_s > 0 ? "deadline" : "reminder";
      t.receiver_type = "transfer";
      t.command = {"TimeOut", "", 1, {}};
      t.at_ns = now + in_s * 1'000'000'000;
      c.timers.push_back(t);
    }
    REQUIRE(messages->Commit(std::move(c)).ok());
  }
  CliResult r = RunCli({"timers", store});
  REQUIRE_EXIT(r, 0);
  REQUIRE(r.Lines().size() == 3);  // header and two timers
  CHECK(Has(r.Lines()[1], "transfer transfer-1"));
  CHECK(Has(r.Lines()[1], "reminder"));
  CHECK(Has(r.Lines()[1], "overdue"));
  CHECK(Has(r.Lines()[1], "seq 1 #1"));
  CHECK(Has(r.Lines()[2], "deadline"));
  CHECK(Has(r.Lines()[2], "TimeOut"));
  CliResult j = RunCli({"timers", store, "--json"});
  REQUIRE_EXIT(j, 0);
  std::vector<JsonValue> rows = test::JsonLines(j);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].Find("key")->text == "deadline");
  CHECK(rows[1].Find("seq")->AsU64() == 1u);
  CHECK(rows[1].Find("n")->AsU64() == 0u);
  CliResult v = RunCli({"verify", store});
  REQUIRE_EXIT(v, 0);
  CHECK(Has(v.out, "2 timers pending"));
  // An export does not carry them, and says so.
  CliResult e = RunCli({"export", store});
  REQUIRE_EXIT(e, 0);
  CHECK(Has(e.err, "2 timer(s) pending are not in this export"));
}

TEST_CASE_FIXTURE(ReadSideFixture, "parked lists a consumer's parked events") {
  CliResult r = RunCli({"parked", store, "mailer"});
  REQUIRE_EXIT(r, 0);
  REQUIRE(r.Lines().size() == 3);
  CHECK(Has(r.Lines()[1], "account-2"));
  CHECK(Has(r.Lines()[1], "no such account"));
  CHECK(Has(r.Lines()[2], "1 event parked by 'mailer'"));
  CliResult j = RunCli({"parked", store, "mailer", "--json"});
  REQUIRE_EXIT(j, 0);
  auto v = cli::ParseJson(j.Lines().at(0));
  REQUIRE(v.ok());
  CHECK(v->Find("position")->AsU64() == 5u);
  CHECK(v->Find("seq")->AsU64() == 2u);
  CliResult none = RunCli({"parked", store, "nobody"});
  REQUIRE_EXIT(none, 0);
  CHECK(Has(none.out, "'nobody' has no parked events"));
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "retry-parked refuses a store its owner holds and a name "
                  "with nothing parked, and marks the events for a retry at "
                  "the consumer's next start") {
  {
    auto owner = test::OpenStoreOrFail(store, test::FastStore());
    CliResult busy = RunCli({"retry-parked", store, "mailer", "--yes"});
    CHECK(busy.exit_code == 3);
    CHECK_MESSAGE(!busy.err.empty(), busy.out);
  }
  CliResult nothing = RunCli({"retry-parked", store, "nobody", "--yes"});
  REQUIRE_EXIT(nothing, 1);
  CHECK(Has(nothing.err, "'nobody' has no parked events"));
  CliResult marked = RunCli({"retry-parked", store, "mailer", "--yes"});
  REQUIRE_EXIT(marked, 0);
  CHECK(Has(marked.out, "marked 1 parked events of 'mailer'"));
  CliResult listed = RunCli({"parked", store, "mailer", "--json"});
  REQUIRE_EXIT(listed, 0);
  auto v = cli::ParseJson(listed.Lines().at(0));
  REQUIRE(v.ok());
  CHECK(v->Find("retry")->kind == JsonValue::Kind::kBool);
  CHECK(v->Find("retry")->boolean);
  CHECK(Has(RunCli({"parked", store, "mailer"}).out,
            "1 marked for a retry when it next starts"));

  // The consumer, started again, delivers the event first and unparks it.
  auto s = test::OpenStoreOrFail(store, test::FastStore());
  auto checkpoints = InStoreCheckpoints(*s).value();
  std::mutex mu;
  std::condition_variable seen;
  std::vector<uint64_t> retried;
  SubscriptionOptions o;
  o.name = "mailer";
  o.checkpoints = checkpoints.get();
  o.on_failure.then = OnFailure::kParkEvent;
  auto sub = Subscription::Start(*s, o, [&](const Batch& b) {
    std::lock_guard<std::mutex> lock(mu);
    if (b.parked_retry) {
      for (const EventView& e : b.events) retried.push_back(e.position);
      seen.notify_all();
    }
    return Status::OK();
  });
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  {
    // The handler has the retried event; its unparking follows on the
    // subscription's thread, which Stop joins.
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(seen.wait_for(lock, std::chrono::minutes(2),
                          [&] { return !retried.empty(); }));
  }
  REQUIRE((*sub)->Stop().ok());
  CHECK(checkpoints->Parked("mailer").value().empty());
  std::lock_guard<std::mutex> lock(mu);
  CHECK(retried == std::vector<uint64_t>{5});
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "a damaged parked record: parked and verify name its "
                  "position, retry-parked refuses, drop-parked removes it") {
  std::string key = "mailer";
  key.push_back('\0');
  key += test::Big64(5);
  REQUIRE(test::FlipValueBit(store, "parked", key, 3, 1));

  CliResult listed = RunCli({"parked", store, "mailer"});
  CHECK(listed.exit_code != 0);
  CHECK_MESSAGE(Has(listed.err, "parked event at position 5 of 'mailer'"),
                listed.err);
  CHECK(Has(listed.err, "drop-parked"));
  CliResult verified = RunCli({"verify", store});
  REQUIRE_EXIT(verified, 1);
  CHECK_MESSAGE(Has(verified.out,
                    "parked event at position 5 of 'mailer' is "
                    "damaged"),
                verified.out);
  CliResult retried = RunCli({"retry-parked", store, "mailer", "--yes"});
  CHECK(retried.exit_code != 0);
  CHECK(Has(retried.err, "position 5"));
  {
    // The consumer refuses to start over it, and says what to do.
    auto s = test::OpenStoreOrFail(store, test::FastStore());
    auto checkpoints = InStoreCheckpoints(*s).value();
    SubscriptionOptions o;
    o.name = "mailer";
    o.checkpoints = checkpoints.get();
    o.on_failure.then = OnFailure::kParkEvent;
    auto sub =
        Subscription::Start(*s, o, [](const Batch&) { return Status::OK(); });
    REQUIRE_FALSE(sub.ok());
    CHECK(sub.status().IsCorruption());
    CHECK_MESSAGE(Has(sub.status().ToString(), "memoir drop-parked"),
                  sub.status().ToString());
  }

  // Another position: nothing there, nothing changed, and it says so.
  CliResult wrong = RunCli({"drop-parked", store, "mailer", "7", "--yes"});
  REQUIRE_EXIT(wrong, 1);
  CHECK_MESSAGE(Has(wrong.err, "no parked event at position 7"), wrong.err);
  CHECK(Has(wrong.err, "nothing was changed"));
  CHECK_FALSE(Has(wrong.out, "dropped"));
  CliResult dropped = RunCli({"drop-parked", store, "mailer", "5", "--yes"});
  REQUIRE_EXIT(dropped, 0);
  CHECK_MESSAGE(Has(dropped.out,
                    "dropped the parked record at position 5 of "
                    "'mailer'"),
                dropped.out);
  CHECK(Has(dropped.out, "0 parked events left"));
  REQUIRE_EXIT(RunCli({"verify", store}), 0);
  CliResult again = RunCli({"drop-parked", store, "mailer", "5", "--yes"});
  REQUIRE_EXIT(again, 1);
  CHECK(Has(again.err, "no parked event at position 5"));
  CHECK(Has(RunCli({"parked", store, "mailer"}).out,
            "'mailer' has no parked events"));
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "drop-parked drops a readable parked event after "
                  "confirmation, and nothing without it") {
  CliResult declined = RunCli({"drop-parked", store, "mailer", "5"}, "no\n");
  REQUIRE_EXIT(declined, 1);
  CHECK(Has(declined.err, "nothing was changed"));
  CHECK(Has(RunCli({"parked", store, "mailer"}).out, "account-2"));
  CliResult dropped = RunCli({"drop-parked", store, "mailer", "5"}, "yes\n");
  REQUIRE_EXIT(dropped, 0);
  CHECK(Has(dropped.out, "(stream 'account-2' seq 2)"));
  CHECK(Has(dropped.out, "0 parked events left"));
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "rows prints a projection's table as of its checkpoint") {
  CliResult r = RunCli({"rows", store, "sums", "by_account", "--json"});
  REQUIRE_EXIT(r, 0);
  // Deposits 1..20: account-1 got 1,4,..,19 = 70; account-2 got 2,5,..,20
  // = 77; account-0 got 3,6,..,18 = 63.
  std::vector<std::string> want = {R"({"key":"account-0","value":"63"})",
                                   R"({"key":"account-1","value":"70"})",
                                   R"({"key":"account-2","value":"77"})"};
  CHECK(r.Lines() == want);
  CliResult from = RunCli({"rows", store, "sums", "by_account", "--from",
                           "account-1", "--limit", "1"});
  REQUIRE_EXIT(from, 0);
  CHECK(Has(from.out, "account-1"));
  CHECK_FALSE(Has(from.out, "account-2"));
  CHECK(Has(from.out,
            "1 row of 'by_account' version 1 (active), up to "
            "position 20"));

  CliResult missing = RunCli({"rows", store, "nope", "t"});
  REQUIRE_EXIT(missing, 1);
  CHECK(Has(missing.err, "no projection 'nope'"));
  CHECK(Has(missing.err, "memoir projections STORE"));
  CliResult no_version =
      RunCli({"rows", store, "sums", "by_account", "--version", "9"});
  REQUIRE_EXIT(no_version, 1);
  CHECK(Has(no_version.err, "no version 9"));
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "reset-projection asks first, then empties the tables and "
                  "zeroes the checkpoint") {
  CliResult declined = RunCli({"reset-projection", store, "sums"}, "no\n");
  REQUIRE_EXIT(declined, 1);
  CHECK(Has(declined.err, "nothing was changed"));
  CliResult still = RunCli({"rows", store, "sums", "by_account"});
  CHECK(Has(still.out, "3 rows"));

  CliResult reset = RunCli({"reset-projection", store, "sums", "--yes"});
  REQUIRE_EXIT(reset, 0);
  CHECK(Has(reset.out, "reset projection 'sums' version 1"));
  CliResult empty = RunCli({"rows", store, "sums", "by_account"});
  REQUIRE_EXIT(empty, 0);
  CHECK(Has(empty.out, "0 rows"));
  CHECK(Has(empty.out, "up to position 0"));
  CliResult unknown = RunCli({"reset-projection", store, "nope", "--yes"});
  REQUIRE_EXIT(unknown, 1);
}

TEST_CASE_FIXTURE(ReadSideFixture,
                  "delete-to keeps what a consumer has not read, says so, and "
                  "deletes it with --force") {
  // account-1 holds deposits 1, 4, 7, ...: seq k at position 3k - 2. The
  // event "mailer" parked at position 5 holds back seqs 3 and later (its
  // checkpoint, 12, would hold back 5 and later).
  CliResult held = RunCli({"delete-to", store, "account-1", "10", "--yes"});
  REQUIRE_EXIT(held, 1);
  CHECK(Has(held.err, "only up to seq 2, not 10"));
  CHECK(Has(held.err, "the event parked by 'mailer' at position 5"));
  CHECK(Has(held.err, "--force"));
  CliResult forced =
      RunCli({"delete-to", store, "account-1", "10", "--yes", "--force"});
  REQUIRE_EXIT(forced, 0);
  CHECK(Has(forced.out, "deleted events 3..10"));
}

}  // namespace
}  // namespace memoir
