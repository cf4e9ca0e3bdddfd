// What the PostgreSQL backend adds to the shared contract (the conformance
// tests run the rest): several writers at once, lost connections and the
// unknown outcome, reconnecting, the schema's version, and the failures of
// opening. Run only against a server (MEMOIR_TEST_POSTGRES); see
// support/backend.h.
#include "memoir/postgres.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/backend.h"
#include "support/finally.h"
#include "support/open_store.h"
#include "support/pg_proxy.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::vector<EventData> Events(int n, const std::string& tag = "") {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) {
    EventData e;
    e.type = "Tick";
    e.payload = "p" + std::to_string(i);
    if (!tag.empty()) e.tags = {tag};
    out.push_back(std::move(e));
  }
  return out;
}

// Waits for `done` with a generous deadline, so that a bug fails the test
// instead of hanging it.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    // A poll interval, not a wait for anything: the deadline above is
    // what fails, and only after 30 s.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A store reached through a proxy that can cut its connections
// (support/pg_proxy.h): created at `dir`/store without the proxy, then
// opened through it. `direct` opens the same store without the proxy.
struct ProxiedStore {
  explicit ProxiedStore(const test::TempDir& dir,
                        const std::function<void(Store&)>& fill = nullptr)
      : path(dir.Sub("store")), proxy_dir(dir.Sub("proxy")) {
    REQUIRE(std::filesystem::create_directory(proxy_dir));
    {
      auto create = test::OpenStoreOrFail(path, test::FastStore());
      if (fill) fill(*create);
    }
    proxy =
        std::make_unique<test::PgProxy>(proxy_dir, test::PostgresSocketDir());
    std::string uri = test::PostgresUriFor(path);
    const std::string server = test::PostgresSocketDir();
    const size_t h = uri.find(server);
    REQUIRE(h != std::string::npos);
    uri.replace(h, server.size(), proxy_dir);
    auto opened = Store::Open(uri, test::FastStore());
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    store = std::move(opened).value();
  }
  std::unique_ptr<Store> Direct() const {
    return test::OpenStoreOrFail(path, test::FastStore());
  }
  const std::string path, proxy_dir;
  std::unique_ptr<test::PgProxy> proxy;
  std::unique_ptr<Store> store;
};

}  // namespace

TEST_CASE(
    "four writer processes appending to overlapping streams get gap-free "
    "seqs per stream and dense positions in commit order, as a reader sees "
    "them during the run") {
  test::TempDir dir;
  const std::string path = dir.Sub("shared");
  auto reader_store = test::OpenStoreOrFail(path, test::FastStore());
  // Four processes, as four hosts would be: each its own store, writer
  // thread and connections (tests/support/store_probe.cc, "writer").
  struct Acked {
    std::string stream;
    uint64_t first_seq = 0, n = 0, first_position = 0;
  };
  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<std::string> failures;
  std::atomic<int> running{4};
  std::vector<std::thread> writers;
  // The writer processes always end; their threads are joined however the
  // test ends.
  test::Finally join_writers([&] {
    for (std::thread& t : writers) {
      if (t.joinable()) t.join();
    }
  });
  const std::string uri = test::PostgresUriFor(path);
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      const std::string command = "MEMOIR_PROBE_SEED=" + std::to_string(w + 1) +
                                  " " + MEMOIR_STORE_PROBE + " writer '" + uri +
                                  "' 2>&1";
      FILE* p = popen(command.c_str(), "r");
      char line[512];
      while (p != nullptr && std::fgets(line, sizeof line, p) != nullptr) {
        Acked a;
        char stream[64];
        std::lock_guard<std::mutex> lock(mu);
        if (std::sscanf(line, "acked %63s %" SCNu64 " %" SCNu64 " %" SCNu64,
                        stream, &a.first_seq, &a.n, &a.first_position) == 4) {
          a.stream = stream;
          acked.push_back(a);
        } else {
          failures.push_back(line);
        }
      }
      const int rc = p != nullptr ? pclose(p) : -1;
      if (rc != 0) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("writer exited with " + std::to_string(rc));
      }
      --running;
    });
  }
  // The reader follows the log while the writers write: every position it
  // sees is the next one, never a gap that fills later.
  uint64_t next = 1;
  std::map<std::string, uint64_t> heads;
  std::string problem;
  auto follow = [&] {
    Status s =
        reader_store->journal().ScanAll(next, 1000, [&](const EventView& e) {
          if (e.position != next && problem.empty()) {
            problem = "position " + std::to_string(e.position) + " after " +
                      std::to_string(next - 1);
          }
          uint64_t& h = heads[std::string(e.stream)];
          if (e.seq != h + 1 && problem.empty()) {
            problem = std::string(e.stream) + " seq " + std::to_string(e.seq) +
                      " after " + std::to_string(h);
          }
          h = e.seq;
          next = e.position + 1;
          return true;
        });
    CHECK_MESSAGE(s.ok(), s.ToString());
    return s.ok();
  };
  uint64_t seen_while_running = 0;
  while (running.load() > 0 && follow()) {
    seen_while_running = next - 1;
    // Until the next commit (or a moment): not a busy loop competing with
    // the writers for the cores.
    // (A pause between scans: whatever it returns, the loop goes on, so
    // a loaded machine only makes it scan less often.)
    (void)reader_store->journal().WaitForCommit(next - 1,
                                                std::chrono::milliseconds(50));
  }
  for (std::thread& t : writers) t.join();
  follow();
  for (const std::string& f : failures) FAIL_CHECK(f);
  CHECK_MESSAGE(problem.empty(), problem);
  uint64_t total = 0;
  for (const Acked& a : acked) total += a.n;
  CHECK(acked.size() == 4 * 6 * 40);
  CHECK(next - 1 == total);
  CHECK(*reader_store->journal().LastPosition() == total);
  MESSAGE("the reader saw " << seen_while_running << " of " << total
                            << " events while the writers ran");
  // Every acknowledged append is where its answer said, exactly once.
  for (const Acked& a : acked) {
    auto events = reader_store->journal().Read(
        a.stream, {.from_seq = a.first_seq, .to_seq = a.first_seq + a.n - 1});
    REQUIRE(events.ok());
    REQUIRE(events->size() == a.n);
    CHECK((*events)[0].position == a.first_position);
  }
}

TEST_CASE(
    "a connection lost before the commit answer is an unknown outcome: a "
    "retry with the same exact expectation commits once or conflicts") {
  test::TempDir dir;
  ProxiedStore proxied(dir);
  test::PgProxy& proxy = *proxied.proxy;
  auto direct = proxied.Direct();
  Journal& j = proxied.store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), Events(1)).ok());

  SUBCASE("cut before the request reaches the server: nothing committed") {
    proxy.CutNext(test::PgProxy::Cut::kBeforeRequest);
    auto lost = j.Append("acct", Expected::At(1), Events(2));
    REQUIRE_FALSE(lost.ok());
    CHECK_MESSAGE(lost.status().IsUnknownOutcome(), lost.status().ToString());
    CHECK(lost.status().ToString().find("exact expectation") !=
          std::string::npos);
    CHECK(proxy.cuts() == 1);
    CHECK(*direct->journal().Head("acct") == 1);
    // The store reconnects; the retry commits, once.
    auto retry = j.Append("acct", Expected::At(1), Events(2));
    REQUIRE_MESSAGE(retry.ok(), retry.status().ToString());
    CHECK(retry->first_seq == 2);
    CHECK(*direct->journal().Head("acct") == 3);
  }
  SUBCASE(
      "cut after the server answered: committed, and the retry "
      "conflicts") {
    proxy.CutNext(test::PgProxy::Cut::kAfterAnswer);
    auto lost = j.Append("acct", Expected::At(1), Events(2));
    REQUIRE_FALSE(lost.ok());
    CHECK_MESSAGE(lost.status().IsUnknownOutcome(), lost.status().ToString());
    CHECK(proxy.cuts() == 1);
    // The server did commit (the answer was lost, not the work).
    CHECK(Eventually([&] { return *direct->journal().Head("acct") == 3; }));
    auto retry = j.Append("acct", Expected::At(1), Events(2));
    REQUIRE_FALSE(retry.ok());
    CHECK(retry.status().IsConflict());
    CHECK(retry.status().actual_seq() == 3);
    CHECK(direct->journal().Read("acct")->size() == 3);
  }
  SUBCASE(
      "cut after the answer, with event ids: the retry is recognised "
      "and returns the original result") {
    std::vector<EventData> events = Events(2);
    events[0].id = Uuid::Generate();
    events[1].id = Uuid::Generate();
    proxy.CutNext(test::PgProxy::Cut::kAfterAnswer);
    auto lost = j.Append("acct", Expected::Any(), events);
    CHECK(lost.status().IsUnknownOutcome());
    CHECK(Eventually([&] { return *direct->journal().Head("acct") == 3; }));
    auto retry = j.Append("acct", Expected::Any(), events);
    REQUIRE_MESSAGE(retry.ok(), retry.status().ToString());
    CHECK(retry->first_seq == 2);
    CHECK(retry->last_seq == 3);
    CHECK(*direct->journal().Head("acct") == 3);
  }
}

TEST_CASE(
    "while the server cannot be reached writes fail as not written and "
    "reads fail with the reason; both work again once it can") {
  test::TempDir dir;
  ProxiedStore proxied(dir);
  test::PgProxy& proxy = *proxied.proxy;
  Journal& j = proxied.store->journal();
  REQUIRE(j.Append("s", Expected::Any(), Events(1)).ok());
  proxy.Refuse(true);
  proxy.DropAll();
  // Appends racing the proxy's drop may still commit (acknowledged), or
  // lose their answer (an unknown outcome: committed or not); count both.
  size_t committed = 1, unknown = 0;
  REQUIRE(Eventually([&] {
    auto r = j.Append("s", Expected::Any(), Events(1));
    if (r.ok()) ++committed;
    if (r.status().IsUnknownOutcome()) ++unknown;
    return !r.ok() && r.status().IsIOError();
  }));
  auto r = j.Append("s", Expected::Any(), Events(1));
  REQUIRE_FALSE(r.ok());
  CHECK_MESSAGE(r.status().IsIOError(), r.status().ToString());
  CHECK(r.status().ToString().find("nothing was written") != std::string::npos);
  auto read = j.Read("s");
  CHECK_FALSE(read.ok());
  proxy.Refuse(false);
  // Within the reconnect backoff (at most a second by default).
  CHECK(Eventually(
      [&] { return j.Append("s", Expected::Any(), Events(1)).ok(); }));
  auto events = j.Read("s");
  REQUIRE(events.ok());
  // Those acknowledged before the outage, perhaps those whose outcome was
  // unknown, and the one after it: none that failed as not written.
  CHECK(events->size() >= committed + 1);
  CHECK(events->size() <= committed + unknown + 1);
}

TEST_CASE("a commit in one store wakes WaitForCommit in another at once") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  auto writer = test::OpenStoreOrFail(path, test::FastStore());
  auto follower = test::OpenStoreOrFail(path, test::FastStore());
  REQUIRE(writer->journal().Append("s", Expected::Any(), Events(1)).ok());
  std::atomic<uint64_t> seen{0};
  std::thread waiter([&] {
    auto r = follower->journal().WaitForCommit(1, std::chrono::seconds(30));
    seen = r.ok() ? *r : 0;
  });
  test::Finally join_waiter([&] {
    if (waiter.joinable()) waiter.join();
  });
  REQUIRE(writer->journal().Append("s", Expected::Any(), Events(2)).ok());
  waiter.join();
  CHECK(seen.load() == 3);
  // A wait with nothing to wait for ends at its timeout, not an error.
  // (No commit comes, so however late it returns the answer is 3.)
  auto idle =
      follower->journal().WaitForCommit(3, std::chrono::milliseconds(50));
  REQUIRE(idle.ok());
  CHECK(*idle == 3);
}

TEST_CASE(
    "opening refuses a newer format, a foreign schema, a bad name and a "
    "missing store read-only, each saying what to do") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  { auto create = test::OpenStoreOrFail(path, test::FastStore()); }
  REQUIRE(test::PostgresQuery(
              path, "UPDATE {s}.meta SET format_version = 99") == "1");
  auto newer = Store::Open(test::StoreLocation(path), test::FastStore());
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().IsInvalidArgument());
  CHECK(newer.status().ToString().find("upgrade memoir") != std::string::npos);
  REQUIRE(test::PostgresQuery(path, "UPDATE {s}.meta SET format_version = 1") ==
          "1");
  CHECK(Store::Open(test::StoreLocation(path), test::FastStore()).ok());

  const std::string foreign = dir.Sub("foreign");
  const std::string uri = test::PostgresUriFor(foreign);
  REQUIRE(test::PostgresQuery(foreign, "CREATE SCHEMA {s}").find("error") ==
          std::string::npos);
  auto not_ours = Store::Open(uri, test::FastStore());
  REQUIRE_FALSE(not_ours.ok());
  CHECK(not_ours.status().IsCorruption());
  CHECK(not_ours.status().ToString().find("holds no memoir store") !=
        std::string::npos);
  REQUIRE(test::PostgresQuery(foreign, "DROP SCHEMA {s}").find("error") ==
          std::string::npos);

  PostgresOptions bad;
  bad.schema = "Robert'); DROP TABLE students;--";
  auto named =
      OpenPostgres(std::getenv("MEMOIR_TEST_POSTGRES"), test::FastStore(), bad);
  REQUIRE_FALSE(named.ok());
  CHECK(named.status().IsInvalidArgument());

  StoreOptions ro;
  ro.read_only = true;
  auto missing = Store::Open(test::PostgresUriFor(dir.Sub("none")), ro);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().IsNotFound());

  auto unreachable = Store::Open(
      "postgresql:///postgres?host=" + dir.Sub("no-server"), test::FastStore());
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.status().IsIOError());
  CHECK(unreachable.status().ToString().find("cannot connect to PostgreSQL") !=
        std::string::npos);
}

TEST_CASE(
    "a payload above the PostgreSQL limit is refused before anything is "
    "sent, and a damaged row is corruption naming stream, seq and "
    "position") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  auto store = test::OpenStoreOrFail(path, test::FastStore());
  EventData big;
  big.type = "Big";
  big.payload.assign(kMaxPostgresPayloadBytes + 1, 'x');
  auto r = store->journal().Append("s", Expected::Any(), {big});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsInvalidArgument());
  CHECK(r.status().ToString().find("kMaxPostgresPayloadBytes") !=
        std::string::npos);
  big.payload.clear();
  CHECK(*store->journal().Head("s") == 0);

  REQUIRE(store->journal().Append("s", Expected::Any(), Events(3)).ok());
  REQUIRE(test::PostgresQuery(path,
                              "UPDATE {s}.events SET payload = 'forged' "
                              "WHERE seq = 2") == "1");
  auto read = store->journal().Read("s");
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().IsCorruption());
  CHECK_MESSAGE(
      read.status().ToString().find("s#2 at position 2") != std::string::npos,
      read.status().ToString());
}

TEST_CASE(
    "InspectPostgres counts what the store holds and names the server's "
    "acknowledgement settings; the LMDB-only tools refuse the store saying "
    "so") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), test::FastStore());
  Journal& j = store->journal();
  REQUIRE(j.Append("a", Expected::Any(), Events(3)).ok());
  REQUIRE(j.Append("b", Expected::Any(), Events(2)).ok());
  REQUIRE(j.DeleteStream("b").ok());
  REQUIRE(store->snapshots().Save("a", 3, {"State", 1, "s"}).ok());
  auto info = InspectPostgres(*store);
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->format_version == 1);
  CHECK(info->streams == 2);
  CHECK(info->deleted_streams == 1);
  CHECK(info->events == 3);
  CHECK(info->snapshots == 1);
  CHECK(info->last_position == 5);
  CHECK(info->bytes > 0);
  CHECK(std::atoi(info->server_version.c_str()) >= 15);
  CHECK(info->synchronous_commit ==
        "off (for this store's writer: "
        "durability)");  // FastStore: kNone
  // A store at the default durability shows the server's own setting.
  StoreOptions durable;
  auto sync_store = test::OpenStoreOrFail(dir.path(), durable);
  auto sync_info = InspectPostgres(*sync_store);
  REQUIRE(sync_info.ok());
  CHECK(sync_info->synchronous_commit ==
        test::PostgresQuery(dir.path(), "SHOW synchronous_commit"));
  CHECK(sync_info->synchronous_standby_names ==
        test::PostgresQuery(dir.path(), "SHOW synchronous_standby_names"));
  auto lmdb_only = InspectStore(*store);
  REQUIRE_FALSE(lmdb_only.ok());
  CHECK(lmdb_only.status().IsInvalidArgument());
  CHECK(lmdb_only.status().ToString().find("LMDB") != std::string::npos);
}

TEST_CASE(
    "a writer connection the server closed while idle is replaced before "
    "the next commit, which succeeds, not an unknown outcome") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), test::FastStore());
  Journal& j = store->journal();
  REQUIRE(j.Append("s", Expected::Any(), Events(1)).ok());
  // The server ends the idle writer's session (a restart, an operator).
  const std::string pid = test::PostgresQuery(
      dir.path(),
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'memoir {s} "
      "writer'");
  REQUIRE(std::atoi(pid.c_str()) > 0);
  REQUIRE(test::PostgresQuery(
              dir.path(), "SELECT pg_terminate_backend(" + pid + ")") == "t");
  // Its end reaches the client asynchronously: wait until the backend
  // process has exited (the server is on this machine), which closes its
  // socket, then append.
  REQUIRE(Eventually([&] { return !std::filesystem::exists("/proc/" + pid); }));
  auto r = j.Append("s", Expected::At(1), Events(1));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->first_seq == 2);
}

TEST_CASE(
    "a read whose connection is lost after its visitor saw events fails, "
    "rather than repeat it on a new connection") {
  test::TempDir dir;
  ProxiedStore proxied(dir, [](Store& create) {
    REQUIRE(create.journal().Append("s", Expected::Any(), Events(600)).ok());
  });
  test::PgProxy& proxy = *proxied.proxy;
  Store* store = proxied.store.get();
  std::map<uint64_t, int> seen;
  bool then_ran = false;
  // The first page (512 events) arrives; the request for the second is cut.
  Status s = store->journal().ScanAllThen(
      1, 1000,
      [&](const EventView& e) {
        if (seen.empty()) proxy.CutNext(test::PgProxy::Cut::kBeforeRequest);
        ++seen[e.position];
        return true;
      },
      [&] { then_ran = true; });
  CHECK_MESSAGE(s.IsIOError(), s.ToString());
  CHECK_FALSE(then_ran);
  CHECK(proxy.cuts() == 1);
  CHECK(seen.size() == 512);
  for (const auto& [position, times] : seen) CHECK(times == 1);
  // The next read, on a new connection, sees everything.
  auto all = store->journal().ReadAll(1, 1000);
  REQUIRE(all.ok());
  CHECK(all->size() == 600);
}

TEST_CASE(
    "a group commit that outlasts statement_timeout fails with kTimeout, "
    "writes nothing, and the store goes on") {
  test::TempDir dir;
  {
    auto create = test::OpenStoreOrFail(dir.path(), test::FastStore());
    REQUIRE(create->journal().Append("s", Expected::Any(), Events(1)).ok());
  }
  PostgresOptions pg;
  pg.schema = test::PostgresQuery(dir.path(), "SELECT '{s}'");
  // Long enough that no statement of a loaded machine reaches it but the
  // one that waits for a lock held until after it.
  pg.statement_timeout = std::chrono::seconds(2);
  auto opened =
      OpenPostgres(std::getenv("MEMOIR_TEST_POSTGRES"), test::FastStore(), pg);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  auto store = std::move(opened).value();
  // Another session holds stream s's row: the append waits for it.
  std::unique_ptr<PGconn, void (*)(PGconn*)> holder_conn(
      PQconnectdb(std::getenv("MEMOIR_TEST_POSTGRES")), &PQfinish);
  PGconn* holder = holder_conn.get();
  REQUIRE(PQstatus(holder) == CONNECTION_OK);
  auto exec = [&](const std::string& sql) {
    PGresult* r = PQexec(holder, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
                    PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
  };
  // Should statement_timeout not apply (the bug this test is for), the
  // server ends the holder's transaction after a minute: the append then
  // commits and the checks below fail, rather than the test hanging.
  REQUIRE(exec("SET idle_in_transaction_session_timeout = '60s'"));
  REQUIRE(exec("BEGIN"));
  REQUIRE(exec("SELECT 1 FROM " + pg.schema +
               ".streams WHERE name = 's' FOR UPDATE"));
  auto r = store->journal().Append("s", Expected::At(1), Events(1));
  REQUIRE_FALSE(r.ok());
  CHECK_MESSAGE(r.status().IsTimeout(), r.status().ToString());
  CHECK(r.status().ToString().find("nothing was written") != std::string::npos);
  REQUIRE(exec("ROLLBACK"));
  auto again = store->journal().Append("s", Expected::At(1), Events(1));
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->first_seq == 2);
}

#ifdef MEMOIR_CLI
TEST_CASE(
    "the CLI reads a PostgreSQL store from its URI: info, streams, events "
    "and export; verify says it is LMDB's") {
  test::TempDir dir;
  {
    auto store = test::OpenStoreOrFail(dir.path(), test::FastStore());
    REQUIRE(store->journal().Append("alpha", Expected::Any(), Events(2)).ok());
    REQUIRE(store->journal().Append("beta", Expected::Any(), Events(1)).ok());
  }
  const std::string uri = test::PostgresUriFor(dir.path());
  auto run = [&](const std::string& args, int* rc) {
    std::string out;
    FILE* p =
        popen((std::string(MEMOIR_CLI) + " " + args + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    *rc = pclose(p);
    return out;
  };
  int rc = 0;
  const std::string info = run("info '" + uri + "' --json", &rc);
  CHECK_MESSAGE(rc == 0, info);
  CHECK(info.find("\"backend\":\"postgresql\"") != std::string::npos);
  CHECK(info.find("\"streams\":2") != std::string::npos);
  CHECK(info.find("\"events\":3") != std::string::npos);
  const std::string streams = run("streams '" + uri + "'", &rc);
  CHECK_MESSAGE(rc == 0, streams);
  CHECK(streams.find("alpha") != std::string::npos);
  CHECK(streams.find("beta") != std::string::npos);
  const std::string events = run("events '" + uri + "' alpha --json", &rc);
  CHECK_MESSAGE(rc == 0, events);
  CHECK(events.find("\"seq\":2") != std::string::npos);
  const std::string exported = run("export '" + uri + "'", &rc);
  CHECK_MESSAGE(rc == 0, exported);
  CHECK(exported.find("beta") != std::string::npos);
  const std::string verify = run("verify '" + uri + "'", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(verify.find("LMDB") != std::string::npos, verify);
}
#endif

}  // namespace memoir
