// What an acknowledgement means with synchronous standbys, tested against
// real servers: a primary and two streaming standbys started by
// tools/pg.sh for each test, `synchronous_standby_names = 'ANY 1 (s1,
// s2)'`. Losing one standby does not block commits, losing both does until
// one returns; after kill -9 of the primary in the middle of group commits
// and promotion of the standby that received the most, every acknowledged
// append is there exactly once, none is there in part, and positions are
// dense and in commit order.
#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "memoir/store.h"
#include "support/finally.h"
#include "support/temp_dir.h"

// Its own namespace: a unity build puts this file beside postgres_test.cc.
namespace memoir::replication_test {
namespace {

using std::chrono::seconds;

// Runs `command` and returns its stdout; fails the test when it fails.
std::string Run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = pclose(p);
  REQUIRE_MESSAGE(rc == 0, command << " failed: " << out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string PgSh(const std::string& args) {
  return Run(std::string("bash ") + MEMOIR_PG_SH + " " + args);
}

// The first value of `sql`'s first row on the server `uri` ("" when none;
// "error: ..." when it fails).
std::string Sql(const std::string& uri, const std::string& sql) {
  PGconn* c = PQconnectdb(uri.c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    out = std::string("error: ") + PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      out = std::string("error: ") + PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

bool Eventually(const std::function<bool()>& done,
                std::chrono::seconds limit = seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    // A poll interval: only the deadline above (two minutes) fails.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A primary and two synchronous standbys (ANY 1 of s1, s2), each in its own
// directory under `dir`; all stopped and deleted at the end.
// Stops the servers of the directories it was given, newest first, when it
// goes: a Cluster's first member, so that a failure in the middle of its
// constructor stops what was started.
class ServerStopper {
 public:
  ~ServerStopper() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      const int rc = std::system(("bash " + std::string(MEMOIR_PG_SH) +
                                  " stop " + *it + " >/dev/null 2>&1")
                                     .c_str());
      (void)rc;  // nothing more to do about a server that will not stop
    }
  }
  const std::string& Add(const std::string& dir) {
    dirs_.push_back(dir);
    return dir;
  }

 private:
  std::vector<std::string> dirs_;
};

class Cluster {
 public:
  explicit Cluster(const test::TempDir& dir)
      : primary_dir(stopper_.Add(dir.Sub("p"))),
        s1_dir(stopper_.Add(dir.Sub("s1"))),
        s2_dir(stopper_.Add(dir.Sub("s2"))) {
    // The servers run as the postgres user, which must reach their
    // directories.
    REQUIRE(chmod(dir.path().c_str(), 0711) == 0);
    primary = PgSh("start " + primary_dir);
    s1 = PgSh("standby " + s1_dir + " " + primary_dir + " s1");
    s2 = PgSh("standby " + s2_dir + " " + primary_dir + " s2");
    REQUIRE(Sql(primary,
                "ALTER SYSTEM SET synchronous_standby_names = "
                "'ANY 1 (s1, s2)'")
                .empty());
    REQUIRE(Sql(primary, "SELECT pg_reload_conf()") == "t");
    REQUIRE_MESSAGE(Eventually([&] { return QuorumStandbys() == "2"; }),
                    "the standbys did not join: " << QuorumStandbys());
  }
  std::string QuorumStandbys() const {
    return Sql(primary,
               "SELECT count(*) FROM pg_stat_replication WHERE state = "
               "'streaming' AND sync_state = 'quorum'");
  }
  // The URI of `uri`'s store in schema "repl".
  static std::string StoreUri(const std::string& uri) {
    return uri + "&memoir_schema=repl";
  }
  // The store on whichever of the three servers takes writes: libpq tries
  // each host and keeps the one that is not a standby, so after a
  // promotion the same Store reconnects to the new primary by itself.
  std::string AnyPrimaryUri() const {
    return "postgresql:///postgres?host=" + primary_dir + "," + s1_dir + "," +
           s2_dir +
           "&user=memoir&target_session_attrs=read-write&memoir_schema=repl";
  }

  // First, so that it is built before and destroyed after the rest.
  ServerStopper stopper_;

 public:
  const std::string primary_dir, s1_dir, s2_dir;
  std::string primary, s1, s2;
};

std::vector<EventData> Events(const std::string& tag, int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"E", tag + ":" + std::to_string(i), 1, {}});
  }
  return out;
}

}  // namespace

TEST_CASE(
    "with two synchronous standbys, losing one does not block commits; "
    "losing both blocks them until one returns, and the waiting append "
    "then completes") {
  // Declared first, so destroyed last: after the cluster's servers have
  // stopped, which ends an append still waiting for a standby (a failed
  // REQUIRE would otherwise leave the store's Close, or a future's
  // destructor, waiting for it forever).
  std::future<Result<AppendResult>> one_left, none_left;
  std::unique_ptr<Store> store;
  test::TempDir dir;
  Cluster cluster(dir);
  auto opened = Store::Open(Cluster::StoreUri(cluster.primary), {});
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  store = std::move(opened).value();
  Journal& j = store->journal();
  REQUIRE(j.Append("s", Expected::At(0), Events("a", 1)).ok());

  PgSh("kill " + cluster.s1_dir);
  one_left = std::async(std::launch::async, [&] {
    return j.Append("s", Expected::At(1), Events("b", 1));
  });
  REQUIRE(one_left.wait_for(seconds(120)) == std::future_status::ready);
  auto r = one_left.get();
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());

  PgSh("kill " + cluster.s2_dir);
  none_left = std::async(std::launch::async, [&] {
    return j.Append("s", Expected::At(2), Events("c", 1));
  });
  // Blocked: no standby can acknowledge it. (Waiting longer could only
  // make this check stricter, never make it fail on a slow machine.)
  CHECK(none_left.wait_for(seconds(3)) == std::future_status::timeout);
  PgSh("restart " + cluster.s2_dir);
  REQUIRE(none_left.wait_for(seconds(120)) == std::future_status::ready);
  auto late = none_left.get();
  REQUIRE_MESSAGE(late.ok(), late.status().ToString());
  CHECK(late->first_seq == 3);
  // And the standby that returned has it.
  CHECK(Eventually([&] {
    return Sql(cluster.s2,
               "SELECT count(*) FROM repl.events WHERE position = 3") == "1";
  }));
}

TEST_CASE(
    "after kill -9 of the primary in the middle of group commits and the "
    "promotion of the standby that received the most, every acknowledged "
    "append is there exactly once, none is there in part, and positions "
    "are dense; the same Store then writes to the promoted server") {
  std::unique_ptr<Store> store;  // closed after the servers stop
  test::TempDir dir;
  Cluster cluster(dir);
  auto opened = Store::Open(cluster.AnyPrimaryUri(), {});
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  store = std::move(opened).value();

  // Each writer thread owns a stream and appends 1 to 3 events at its
  // exact head until an append fails (the primary is gone).
  struct Append {
    uint64_t expected = 0;
    int n = 0;
    bool acknowledged = false;
    AppendResult result;
  };
  constexpr int kWriters = 8;
  std::mutex mu;
  std::vector<std::vector<Append>> appends(kWriters);
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> writers;
  bool primary_killed = false;
  // However the test ends, the writers stop (their appends fail once the
  // primary is gone) and are joined before what they use goes.
  test::Finally join_writers([&] {
    if (!primary_killed) {
      const int rc = std::system(
          ("bash " + std::string(MEMOIR_PG_SH) + " kill " + cluster.primary_dir)
              .c_str());
      (void)rc;
    }
    for (std::thread& t : writers) {
      if (t.joinable()) t.join();
    }
  });
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string stream = "w" + std::to_string(w);
      uint64_t head = 0;
      for (int i = 0;; ++i) {
        Append a;
        a.expected = head;
        a.n = 1 + (i + w) % 3;
        auto r = store->journal().Append(
            stream, Expected::At(head),
            Events(stream + "@" + std::to_string(head), a.n));
        a.acknowledged = r.ok();
        if (r.ok()) a.result = *r;
        {
          std::lock_guard<std::mutex> lock(mu);
          appends[w].push_back(a);
        }
        if (!r.ok()) return;  // the primary is gone: the outcome is open
        head = r->last_seq;
        ++acknowledged;
      }
    });
  }
  REQUIRE(Eventually([&] { return acknowledged.load() >= 400; }));
  PgSh("kill " + cluster.primary_dir);
  primary_killed = true;
  for (std::thread& t : writers) t.join();

  // Promote the standby that received (and flushed) the most WAL: with
  // ANY 1, every acknowledged commit is on at least one of them.
  auto received = [&](const std::string& uri) {
    return Sql(uri,
               "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::"
               "bigint");
  };
  const std::string r1 = received(cluster.s1), r2 = received(cluster.s2);
  REQUIRE(r1.find("error") == std::string::npos);
  REQUIRE(r2.find("error") == std::string::npos);
  const bool first = std::stoll(r1) >= std::stoll(r2);
  const std::string promoted = first ? cluster.s1 : cluster.s2;
  PgSh("promote " + (first ? cluster.s1_dir : cluster.s2_dir));
  REQUIRE(Eventually(
      [&] { return Sql(promoted, "SELECT pg_is_in_recovery()") == "f"; }));

  auto reopened = Store::Open(Cluster::StoreUri(promoted), {});
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
  Journal& j = (*reopened)->journal();
  int checked = 0;
  for (int w = 0; w < kWriters; ++w) {
    const std::string stream = "w" + std::to_string(w);
    auto events = j.Read(stream);
    REQUIRE_MESSAGE(events.ok(), events.status().ToString());
    // Gap-free from 1, each event written by the append at its seq.
    for (size_t i = 0; i < events->size(); ++i) {
      CHECK((*events)[i].seq == i + 1);
    }
    for (const Append& a : appends[w]) {
      const uint64_t first_seq = a.expected + 1;
      const uint64_t stored =
          events->size() >= first_seq ? events->size() - a.expected : 0;
      if (a.acknowledged) {
        // There, once, where the answer said, with its own payloads.
        REQUIRE(stored >= static_cast<uint64_t>(a.n));
        for (int k = 0; k < a.n; ++k) {
          const RecordedEvent& e = (*events)[a.expected + k];
          CHECK(e.position == a.result.first_position + k);
          CHECK(e.payload == stream + "@" + std::to_string(a.expected) + ":" +
                                 std::to_string(k));
        }
        ++checked;
      } else {
        // The append whose answer was lost: all of it or none of it.
        CHECK_MESSAGE((stored == 0 || stored == static_cast<uint64_t>(a.n)),
                      stream << " holds " << stored << " of the " << a.n
                             << " events of the append left open");
      }
    }
  }
  CHECK(checked >= 400);
  // Positions: 1..last with no hole, in commit order.
  const uint64_t last = *j.LastPosition();
  uint64_t next = 1;
  REQUIRE(j.ScanAll(1, kMaxSeq, [&](const EventView& e) {
             CHECK(e.position == next);
             ++next;
             return true;
           }).ok());
  CHECK(next - 1 == last);
  // The Store the writers used reconnects to the promoted server (within
  // its reconnect backoff) and appends after the last position.
  Result<AppendResult> after = Status::Busy("not yet");
  CHECK(Eventually([&] {
    after = store->journal().Append("after", Expected::NoStream(),
                                    Events("after-failover", 1));
    return after.ok();
  }));
  REQUIRE_MESSAGE(after.ok(), after.status().ToString());
  CHECK(after->first_position == last + 1);
}

}  // namespace memoir::replication_test
