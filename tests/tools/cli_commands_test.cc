// The memoir CLI's commands, run as a program on the bank store
// (bank_store.h): their output names the right streams, seqs and counts,
// and their exit codes follow the README.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "format.h"
#include "json.h"
#include "memoir/store.h"
#include "output.h"
#include "support/lmdb_pages.h"
#include "support/temp_dir.h"
#include "tools/bank_store.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using cli::JsonValue;
using test::CliResult;
using test::RunCli;

struct BankFixture {
  BankFixture() { test::WriteBankStore(store); }
  test::TempDir dir;
  std::string store = dir.Sub("bank");
};

// Every line of `r.out` parsed as a JSON object.
std::vector<JsonValue> JsonLines(const CliResult& r) {
  std::vector<JsonValue> out;
  for (const std::string& line : r.Lines()) {
    auto v = cli::ParseJson(line);
    REQUIRE_MESSAGE(v.ok(), line, " : ", v.status().ToString());
    REQUIRE(v->kind == JsonValue::Kind::kObject);
    out.push_back(std::move(v).value());
  }
  return out;
}

uint64_t U(const JsonValue& v, const char* key) {
  const JsonValue* f = v.Find(key);
  REQUIRE_MESSAGE(f != nullptr, key);
  REQUIRE(f->AsU64());
  return *f->AsU64();
}

std::string S(const JsonValue& v, const char* key) {
  const JsonValue* f = v.Find(key);
  REQUIRE_MESSAGE(f != nullptr, key);
  return f->text;
}

// The first whitespace-separated word of each line after the header.
std::vector<std::string> FirstColumn(const CliResult& r) {
  std::vector<std::string> lines = r.Lines();
  std::vector<std::string> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t start = lines[i].find_first_not_of(' ');
    out.push_back(lines[i].substr(start, lines[i].find(' ', start) - start));
  }
  return out;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

#define REQUIRE_EXIT(r, code)                                                 \
  REQUIRE_MESSAGE((r).exit_code == (code), "stdout:\n", (r).out, "stderr:\n", \
                  (r).err)

}  // namespace

TEST_CASE_FIXTURE(BankFixture, "info reports counts, positions and readers") {
  CliResult r = RunCli({"info", store});
  REQUIRE_EXIT(r, 0);
  CHECK(Contains(r.out, "format version  3\n"));
  CHECK(Contains(r.out, "streams         5 (1 deleted)\n"));
  CHECK(Contains(r.out, "events          7\n"));
  CHECK(Contains(r.out, "snapshots       2\n"));
  CHECK(Contains(r.out, "last position   10\n"));
  CHECK(Contains(r.out, "(this command)"));
  CHECK(Contains(r.out, "writer          none\n"));
  CHECK(Contains(r.out, " KiB"));

  auto lines = JsonLines(RunCli({"info", store, "--json"}));
  REQUIRE(lines.size() == 1);
  CHECK(U(lines[0], "events") == 7);
  CHECK(U(lines[0], "streams") == 5);
  CHECK(U(lines[0], "deleted_streams") == 1);
  CHECK(U(lines[0], "snapshots") == 2);
  CHECK(U(lines[0], "last_position") == 10);
  CHECK(U(lines[0], "format_version") == 3);
  CHECK(lines[0].Find("readers")->items.size() >= 1);
}

TEST_CASE_FIXTURE(BankFixture,
                  "streams lists events, head, deleted-to and snapshots") {
  CliResult r = RunCli({"streams", store});
  REQUIRE_EXIT(r, 0);
  CHECK(FirstColumn(r) == std::vector<std::string>{"account-1", "account-2",
                                                   "account-3", "audit",
                                                   "closed-9"});
  std::vector<std::string> lines = r.Lines();
  CHECK(lines[0].rfind("STREAM", 0) == 0);
  // account-3: 1 event, head 3, deleted to 2, no snapshot.
  CHECK(lines[3].find("account-3       1     3           2          0") == 0);
  CHECK(Contains(lines[5], "deleted"));

  auto json = JsonLines(RunCli({"streams", store, "--json"}));
  REQUIRE(json.size() == 5);
  CHECK(S(json[0], "stream") == "account-1");
  CHECK(U(json[0], "events") == 3);
  CHECK(U(json[0], "snapshots") == 1);
  CHECK(U(json[2], "deleted_to") == 2);
  CHECK(json[4].Find("deleted")->boolean);

  CliResult page =
      RunCli({"streams", store, "--prefix", "account", "--limit", "2"});
  REQUIRE_EXIT(page, 0);
  CHECK(FirstColumn(page) ==
        std::vector<std::string>{"account-1", "account-2"});
}

TEST_CASE("streams --meta shows each stream's metadata; --json carries it") {
  test::TempDir dir;
  const std::string store = dir.Sub("store");
  {
    auto s = Store::Open(store);
    REQUIRE(s.ok());
    Journal& j = (*s)->journal();
    REQUIRE(
        j.Append("orders-1", Expected::Any(), {{"Placed", "{}", 1, {}}}).ok());
    REQUIRE(
        j.Append("orders-2", Expected::Any(), {{"Placed", "{}", 1, {}}}).ok());
    REQUIRE(j.SetStreamMetadata("orders-1", "{\"owner\":\"billing\"}").ok());
  }
  CliResult r = RunCli({"streams", store, "--meta"});
  REQUIRE_EXIT(r, 0);
  std::vector<std::string> lines = r.Lines();
  REQUIRE(lines.size() == 3);
  CHECK(Contains(lines[0], "METADATA"));
  CHECK(Contains(lines[1], "{\"owner\":\"billing\"}"));
  CHECK(lines[2].back() == '-');
  CHECK_FALSE(Contains(RunCli({"streams", store}).out, "billing"));
  auto json = JsonLines(RunCli({"streams", store, "--json"}));
  REQUIRE(json.size() == 2);
  CHECK(S(json[0], "metadata_base64") ==
        cli::Base64("{\"owner\":\"billing\"}"));
  CHECK(json[1].Find("metadata_base64") == nullptr);

  // A damaged metadata record is listed and named, not a stop.
  REQUIRE(test::FlipFirstRecordByte(store, "stream_meta").empty());
  CliResult damaged = RunCli({"streams", store, "--meta"});
  CHECK(damaged.exit_code == 1);
  std::vector<std::string> rows = damaged.Lines();
  REQUIRE(rows.size() == 3);
  CHECK(Contains(rows[1], "damaged"));
  CHECK(Contains(damaged.err, "stream 'orders-1' is damaged"));
  CHECK(Contains(damaged.err, "metadata record"));
  auto damaged_json = JsonLines(RunCli({"streams", store, "--json"}));
  REQUIRE(damaged_json.size() == 2);
  CHECK(damaged_json[0].Find("metadata_damage") != nullptr);
}

TEST_CASE(
    "streams lists a stream whose newest events a damaged record may hide as "
    "damaged, names the record on stderr and exits 1") {
  test::TempDir dir;
  const std::string store = dir.Sub("s");
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = 65536;
  {
    auto s = Store::Open(store, o);
    REQUIRE(s.ok());
    for (int i = 0; i < 3; ++i) {
      for (const char* name : {"victim", "bystander"}) {
        REQUIRE((*s)->journal()
                    .Append(name, Expected::Any(), {{"T", "p", 1, {}}})
                    .ok());
      }
    }
    REQUIRE((*s)->Close().ok());
  }
  // victim seq 4 at position 7, above the last index flush: a child appends
  // it and exits without closing, as a crash would.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto s = Store::Open(store, o);
    ::_exit(
        s.ok() && (*s)->journal()
                      .Append("victim", Expected::Any(), {{"T", "late", 1, {}}})
                      .ok()
            ? 0
            : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(test::FlipValueBit(store, "log", test::Big64(7), 20, 1));

  CliResult r = RunCli({"streams", store});
  REQUIRE_EXIT(r, 1);
  CHECK(FirstColumn(r) == std::vector<std::string>{"bystander", "victim"});
  std::vector<std::string> lines = r.Lines();
  REQUIRE(lines.size() == 3);
  CHECK(Contains(lines[1], "live"));
  CHECK(Contains(lines[2], "damaged"));
  CHECK(Contains(r.err, "stream 'victim' is damaged"));
  CHECK(Contains(r.err, "position 7"));
  CHECK(Contains(r.err, "'victim' seq 4"));

  auto json = JsonLines(RunCli({"streams", store, "--json"}));
  REQUIRE(json.size() == 2);
  CHECK(S(json[0], "damage").empty());
  CHECK(Contains(S(json[1], "damage"), "'victim' seq 4"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "events prints a stream's seqs, with payloads as JSON "
                  "through a schema") {
  CliResult r = RunCli(
      {"events", store, "account-1", "--schema", test::BankSchemaPath()});
  REQUIRE_EXIT(r, 0);
  CHECK(FirstColumn(r) == std::vector<std::string>{"1", "2", "3"});
  CHECK(Contains(r.out, R"({"amount": 100, "memo": "salary"})"));
  CHECK(Contains(r.out, "bank,large"));
  CHECK(Contains(r.out, "48 B"));

  CliResult back =
      RunCli({"events", store, "account-1", "--reverse", "--limit", "2"});
  REQUIRE_EXIT(back, 0);
  CHECK(FirstColumn(back) == std::vector<std::string>{"3", "2"});
  CliResult one =
      RunCli({"events", store, "account-1", "--from", "2", "--to", "2"});
  CHECK(FirstColumn(one) == std::vector<std::string>{"2"});
  CliResult tail = RunCli({"events", store, "account-3"});
  CHECK(FirstColumn(tail) == std::vector<std::string>{"3"});

  auto json = JsonLines(RunCli({"events", store, "account-1", "--json",
                                "--schema", test::BankSchemaPath()}));
  REQUIRE(json.size() == 3);
  CHECK(U(json[2], "seq") == 3);
  CHECK(U(json[2], "position") == 7);
  CHECK(S(json[2], "type") == "Deposited");
  CHECK(json[2].Find("tags")->items.size() == 2);
  const JsonValue* payload = json[2].Find("payload");
  REQUIRE(payload != nullptr);
  CHECK(U(*payload, "amount") == 250);
  CHECK(S(*payload, "memo") == "bonus");
  CHECK(cli::FromBase64(S(json[2], "payload_base64")) ==
        test::BankPayload("Deposited", R"({amount: 250, memo: "bonus"})"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "without a schema payloads show as text or a hex preview") {
  CliResult r = RunCli({"all", store});
  REQUIRE_EXIT(r, 0);
  CHECK(Contains(r.out, "\"login from 10.0.0.1\""));
  CHECK(Contains(r.out, "hex:"));
  CHECK(Contains(r.out, "19 B"));
  // A type the schema lacks falls back to the preview, saying why in JSON.
  auto json = JsonLines(RunCli({"events", store, "audit", "--json", "--schema",
                                test::BankSchemaPath()}));
  REQUIRE(json.size() == 1);
  CHECK(json[0].Find("payload") == nullptr);
  CHECK(Contains(S(json[0], "payload_error"), "no table 'Login'"));
}

TEST_CASE_FIXTURE(BankFixture, "all lists events in commit order and by tag") {
  CliResult r = RunCli({"all", store});
  REQUIRE_EXIT(r, 0);
  CHECK(FirstColumn(r) ==
        std::vector<std::string>{"1", "2", "3", "4", "7", "8", "10"});
  CHECK(FirstColumn(RunCli({"all", store, "--tag", "large"})) ==
        std::vector<std::string>{"7"});
  CHECK(FirstColumn(RunCli({"all", store, "--from-position", "5", "--limit",
                            "2"})) == std::vector<std::string>{"7", "8"});
  auto json = JsonLines(RunCli({"all", store, "--json", "--tag", "security"}));
  REQUIRE(json.size() == 1);
  CHECK(S(json[0], "stream") == "audit");
}

TEST_CASE_FIXTURE(BankFixture, "tail prints the newest events") {
  CHECK(FirstColumn(RunCli({"tail", store, "-n", "3"})) ==
        std::vector<std::string>{"7", "8", "10"});
  CHECK(FirstColumn(RunCli({"tail", store})) ==
        std::vector<std::string>{"1", "2", "3", "4", "7", "8", "10"});
  CHECK(FirstColumn(RunCli({"tail", store, "--tag", "bank", "-n", "2"})) ==
        std::vector<std::string>{"8", "10"});
}

TEST_CASE_FIXTURE(BankFixture,
                  "snapshots lists seq, type and checksum state, with "
                  "payloads") {
  CliResult r = RunCli(
      {"snapshots", store, "account-1", "--schema", test::BankSchemaPath()});
  REQUIRE_EXIT(r, 0);
  CHECK(FirstColumn(r) == std::vector<std::string>{"2"});
  CHECK(Contains(r.out, "Account"));
  CHECK(Contains(r.out, " ok "));
  CHECK(Contains(r.out, R"({"owner": "ada", "balance": 70})"));
  auto json = JsonLines(RunCli({"snapshots", store, "account-2", "--json"}));
  REQUIRE(json.size() == 1);
  CHECK(U(json[0], "seq") == 2);
  CHECK(json[0].Find("checksum_ok")->boolean);
  CliResult none = RunCli({"snapshots", store, "audit"});
  REQUIRE_EXIT(none, 0);
  CHECK(none.out.empty());
}

TEST_CASE_FIXTURE(BankFixture,
                  "verify passes a healthy store and names a damaged "
                  "event's stream and seq") {
  CliResult ok = RunCli({"verify", store});
  REQUIRE_EXIT(ok, 0);
  CHECK(Contains(ok.out, "OK: no problems found"));
  CHECK(Contains(ok.out, "5 streams, 7 events"));

  // account-1 seq 2 is at position 3.
  REQUIRE(test::FlipValueBit(store, "log", test::Big64(3), 30, 4));
  CliResult bad = RunCli({"verify", store});
  REQUIRE_EXIT(bad, 1);
  CHECK(Contains(bad.out,
                 "problem: stream 'account-1' seq 2 (position 3): damaged "
                 "event record"));
  CHECK(Contains(bad.out, "FAILED: 1 problem"));
  auto json = JsonLines(RunCli({"verify", store, "--json"}));
  REQUIRE(json.size() == 2);
  CHECK(S(json[0], "kind") == "problem");
  CHECK(S(json[0], "stream") == "account-1");
  CHECK(U(json[0], "seq") == 2);
  CHECK(S(json[1], "kind") == "summary");
  CHECK(U(json[1], "problems") == 1);
  CHECK(RunCli({"verify", store, "--stream", "account-2"}).exit_code == 0);
  CHECK(RunCli({"verify", store, "--stream", "account-1"}).exit_code == 1);
  // Reading the damaged event itself is refused, naming it.
  CliResult read = RunCli({"events", store, "account-1"});
  REQUIRE_EXIT(read, 3);
  CHECK(Contains(read.err, "'account-1' seq 2"));
  CHECK(Contains(read.err, "memoir verify"));
}

TEST_CASE_FIXTURE(BankFixture, "every --json line of every listing parses") {
  const std::string schema = test::BankSchemaPath();
  const std::vector<std::vector<std::string>> commands = {
      {"info", store},
      {"streams", store},
      {"events", store, "account-1", "--schema", schema},
      {"events", store, "audit"},
      {"all", store, "--schema", schema},
      {"tail", store, "--tag", "bank"},
      {"snapshots", store, "account-1", "--schema", schema},
      {"verify", store}};
  for (std::vector<std::string> args : commands) {
    args.push_back("--json");
    CAPTURE(args[0]);
    CliResult r = RunCli(args);
    REQUIRE_EXIT(r, 0);
    CHECK(!JsonLines(r).empty());
  }
}

TEST_CASE_FIXTURE(BankFixture, "every command explains itself with --help") {
  for (const char* command : {"info",
                              "streams",
                              "events",
                              "all",
                              "tail",
                              "snapshots",
                              "verify",
                              "export",
                              "import",
                              "copy",
                              "delete-to",
                              "delete-stream",
                              "subscriptions",
                              "projections",
                              "parked",
                              "rows",
                              "reset-projection",
                              "retry-parked",
                              "drop-parked",
                              "outbox",
                              "timers",
                              "drop-message",
                              "dead-letters"}) {
    CAPTURE(command);
    CliResult r = RunCli({command, "--help"});
    REQUIRE_EXIT(r, 0);
    CHECK(Contains(r.out, std::string("Usage: memoir ") + command));
    CHECK(Contains(r.out, "Exit codes:"));
  }
  CliResult top = RunCli({"--help"});
  REQUIRE_EXIT(top, 0);
  CHECK(Contains(top.out, "delete-stream"));
}

TEST_CASE_FIXTURE(BankFixture, "usage errors exit with 2 and say what to do") {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {},
           {"bogus", store},
           {"info"},
           {"events", store},
           {"events", store, "account-1", "--limit", "0"},
           {"events", store, "account-1", "--nonsense"},
           {"events", store, "account-1", "--schema", "/no/such.fbs"},
           {"events", store, std::string("bad\x01name")},
           {"delete-to", store, "account-1", "99", "--yes"}}) {
    CAPTURE(args.size() > 0 ? args[0] : "(none)");
    CliResult r = RunCli(args);
    REQUIRE_EXIT(r, 2);
    CHECK(r.out.empty());
    // "memoir: ..." or, naming the command, "memoir events: ...".
    CHECK(r.err.rfind("memoir", 0) == 0);
    CHECK(Contains(r.err, "--help"));
  }
  CliResult schema =
      RunCli({"events", store, "account-1", "--schema", store + "/data.mdb"});
  REQUIRE_EXIT(schema, 2);
  CHECK(Contains(schema.err, "cannot parse schema"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "a store that cannot be read exits with 3, a missing "
                  "stream with 1") {
  CliResult missing = RunCli({"info", dir.Sub("nowhere")});
  REQUIRE_EXIT(missing, 3);
  CHECK(Contains(missing.err, "does not exist"));
  CliResult empty_dir = RunCli({"streams", dir.path()});
  REQUIRE_EXIT(empty_dir, 3);
  CHECK(Contains(empty_dir.err, "data.mdb is missing"));
  CliResult stream = RunCli({"events", store, "nobody"});
  REQUIRE_EXIT(stream, 1);
  CHECK(Contains(stream.err, "'nobody' does not exist"));
  CHECK(Contains(stream.err, "memoir streams"));
  CHECK(RunCli({"events", store, "closed-9"}).exit_code == 1);
  CHECK(RunCli({"verify", store, "--stream", "nobody"}).exit_code == 1);

  // A writer holds the store: reads go on, writes are refused naming it.
  auto writer = Store::Open(store);
  REQUIRE(writer.ok());
  CHECK(RunCli({"streams", store}).exit_code == 0);
  CliResult info = RunCli({"info", store});
  CHECK(Contains(info.out, "pid " + std::to_string(getpid())));
  CliResult locked = RunCli({"delete-stream", store, "audit", "--yes"});
  REQUIRE_EXIT(locked, 3);
  CHECK(Contains(locked.err, "held for writing by another process"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "deleting asks for confirmation unless given --yes") {
  CliResult no = RunCli({"delete-to", store, "account-1", "2"}, "no\n");
  REQUIRE_EXIT(no, 1);
  CHECK(Contains(no.err, "Delete events 1..2 of stream 'account-1'"));
  CHECK(Contains(no.err, "nothing was deleted"));
  CHECK(FirstColumn(RunCli({"events", store, "account-1"})).size() == 3);
  CliResult eof = RunCli({"delete-stream", store, "audit"});
  REQUIRE_EXIT(eof, 1);

  CliResult yes = RunCli({"delete-to", store, "account-1", "2"}, "yes\n");
  REQUIRE_EXIT(yes, 0);
  CHECK(FirstColumn(RunCli({"events", store, "account-1"})) ==
        std::vector<std::string>{"3"});
  CliResult again = RunCli({"delete-to", store, "account-1", "1", "--yes"});
  REQUIRE_EXIT(again, 0);
  CHECK(Contains(again.out, "nothing to do"));

  CliResult gone = RunCli({"delete-stream", store, "audit", "--yes"});
  REQUIRE_EXIT(gone, 0);
  CHECK(Contains(gone.out, "deleted stream 'audit'"));
  CHECK(RunCli({"events", store, "audit"}).exit_code == 1);
  CHECK(RunCli({"verify", store}).exit_code == 0);
}

TEST_CASE_FIXTURE(BankFixture,
                  "deleting with --expected-head deletes nothing when the "
                  "stream is at another head") {
  CliResult stale = RunCli(
      {"delete-to", store, "account-1", "2", "--yes", "--expected-head", "2"});
  REQUIRE_EXIT(stale, 1);
  CHECK(Contains(stale.err, "is at head 3, not 2; nothing was deleted"));
  CliResult gone_stale = RunCli(
      {"delete-stream", store, "audit", "--yes", "--expected-head", "999"});
  REQUIRE_EXIT(gone_stale, 1);
  CHECK(Contains(gone_stale.err, "nothing was deleted"));
  CHECK(FirstColumn(RunCli({"events", store, "account-1"})).size() == 3);
  CHECK(RunCli({"events", store, "audit"}).exit_code == 0);
  CliResult current = RunCli(
      {"delete-to", store, "account-1", "2", "--yes", "--expected-head", "3"});
  REQUIRE_EXIT(current, 0);
  CHECK(FirstColumn(RunCli({"events", store, "account-1"})) ==
        std::vector<std::string>{"3"});
}

// --- Defects of issue 16 ---------------------------------------------------

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++n;
  }
  return n;
}

TEST_CASE(
    "repair of a missing store exits 3, as the README's table says, with a "
    "hint to check the path") {
  test::TempDir dir;
  CliResult r = RunCli({"repair", dir.Sub("nowhere")});
  REQUIRE_EXIT(r, 3);
  CHECK(Contains(r.err, "does not exist"));
  CHECK(Contains(r.err, "Check the path"));
  CHECK(!Contains(r.err, "memoir streams"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "verify of a missing stream names the stream and the store "
                  "once each") {
  CliResult r = RunCli({"verify", store, "--stream", "nosuch"});
  REQUIRE_EXIT(r, 1);
  CHECK(Count(r.err, "'nosuch'") == 1);
  CHECK(Count(r.err, store) == 1);
  CHECK(Contains(r.err, "does not exist"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "a deletion is confirmed only by 'yes', as the question "
                  "asks") {
  for (const char* answer : {"y\n", "Y\n", "yes please\n", "\n", "YES\n"}) {
    CAPTURE(answer);
    CliResult r = RunCli({"delete-to", store, "account-1", "2"}, answer);
    REQUIRE_EXIT(r, 1);
    CHECK(Contains(r.err, "Type 'yes' to go on"));
    CHECK(Contains(r.err, "nothing was deleted"));
    CliResult gone = RunCli({"delete-stream", store, "audit"}, answer);
    REQUIRE_EXIT(gone, 1);
  }
  CHECK(FirstColumn(RunCli({"events", store, "account-1"})).size() == 3);
  CHECK(RunCli({"events", store, "audit"}).exit_code == 0);
  CliResult yes = RunCli({"delete-stream", store, "audit"}, "yes\n");
  REQUIRE_EXIT(yes, 0);
}

// --- The CLI as a daily tool -----------------------------------------------

TEST_CASE("bare memoir prints every command to stderr and exits 2") {
  CLI::App app{"", "memoir"};
  cli::Options o;
  std::vector<cli::Command> commands;
  cli::DefineApp(app, o, commands);
  CliResult r = RunCli({});
  REQUIRE_EXIT(r, 2);
  CHECK(r.out.empty());
  CHECK(Contains(r.err, "Usage: memoir"));
  size_t listed = 0;
  for (const cli::Command& c : commands) {
    if (c.app->get_group().empty()) continue;  // hidden
    CAPTURE(c.app->get_name());
    CHECK(Contains(r.err, "  " + c.app->get_name() + " "));
    ++listed;
  }
  CHECK(listed >= 12);
}

TEST_CASE_FIXTURE(BankFixture,
                  "an unknown option is named with its command and a hint") {
  CliResult r = RunCli({"events", store, "account-1", "--frm", "2"});
  REQUIRE_EXIT(r, 2);
  CHECK(r.out.empty());
  CHECK(Contains(r.err, "memoir events: unknown option '--frm'"));
  CHECK(Contains(r.err, "Did you mean '--from'?"));
  CHECK(Contains(r.err, "memoir events --help"));
  CliResult eq = RunCli({"tail", store, "--folow=1"});
  REQUIRE_EXIT(eq, 2);
  CHECK(Contains(eq.err, "memoir tail: unknown option '--folow'"));
  CliResult extra = RunCli({"info", store, "surplus"});
  REQUIRE_EXIT(extra, 2);
  CHECK(Contains(extra.err, "memoir info: unexpected argument 'surplus'"));
  CliResult top = RunCli({"--frm"});
  REQUIRE_EXIT(top, 2);
  CHECK(Contains(top.err, "unknown option '--frm'"));
}

TEST_CASE_FIXTURE(BankFixture,
                  "with --json every error is one JSON object on stderr "
                  "carrying the exit code") {
  test::TempDir other;
  struct Case {
    std::vector<std::string> args;
    int code;
  };
  for (const Case& c : std::vector<Case>{
           {{"info", other.Sub("nowhere"), "--json"}, 3},
           {{"events", store, "nobody", "--json"}, 1},
           {{"events", store, "account-1", "--frm", "1", "--json"}, 2},
           {{"events", store, "--json"}, 2},
           {{"bogus", "--json"}, 2},
           {{"verify", store, "--stream", "nosuch", "--json"}, 1},
           {{"repair", other.Sub("nowhere"), "--json"}, 3}}) {
    CAPTURE(c.args[0]);
    CliResult r = RunCli(c.args);
    REQUIRE_EXIT(r, c.code);
    std::vector<std::string> lines;
    std::istringstream in(r.err);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    REQUIRE(lines.size() == 1);
    auto v = cli::ParseJson(lines[0]);
    REQUIRE_MESSAGE(v.ok(), lines[0]);
    REQUIRE(v->kind == JsonValue::Kind::kObject);
    CHECK(!S(*v, "error").empty());
    CHECK(U(*v, "code") == static_cast<uint64_t>(c.code));
  }
  CliResult hint = RunCli({"events", store, "nobody", "--json"});
  auto v = cli::ParseJson(hint.err.substr(0, hint.err.find('\n')));
  REQUIRE(v.ok());
  CHECK(Contains(S(*v, "hint"), "memoir streams"));
  CHECK(S(*v, "command") == "events");
}

TEST_CASE("a progress line reads 'N of M unit (x%)' when the total is known") {
  cli::Progress events("export");
  events.SetTotal(8);
  CHECK(events.Text(2, "events") == "export: 2 of 8 events (25%)");
  CHECK(events.Text(8, "events") == "export: 8 of 8 events (100%)");
  cli::Progress bytes("import");
  bytes.SetTotal(4 << 20);
  CHECK(bytes.Text(1 << 20, "bytes") == "import: 1.0 MiB of 4.0 MiB (25%)");
  cli::Progress about("verify");
  about.SetTotal(1000, /*about=*/true);
  CHECK(about.Text(500, "records") ==
        "verify: 500 of about 1000 records (50%)");
  // Past an estimate the count stands alone rather than claim over 100%.
  CHECK(about.Text(1200, "records") == "verify: 1200 records");
  cli::Progress unknown("copy");
  CHECK(unknown.Text(7, "records") == "copy: 7 records");
}

TEST_CASE_FIXTURE(BankFixture,
                  "on a terminal the progress line is cleared before the "
                  "results are printed") {
  // A store large enough for verify to report progress (every 256 records).
  const std::string big = dir.Sub("big");
  {
    StoreOptions so;
    so.durability = Durability::kNone;
    auto s = Store::Open(big, so);
    REQUIRE(s.ok());
    std::vector<EventData> batch(100, EventData{"T", "p", 1, {}});
    for (int i = 0; i < 20; ++i) {
      REQUIRE((*s)->journal()
                  .Append("s" + std::to_string(i), Expected::Any(), batch)
                  .ok());
    }
    REQUIRE((*s)->Close().ok());
  }
  struct Case {
    std::vector<std::string> args;
    std::string progress, result;
  };
  for (const Case& c : {Case{{"verify", big},
                             "verify: 256 of about 4040 records checked (6%)",
                             "checked " + big},
                        Case{{"export", store},
                             "export: 1 of 7 events (14%)",
                             "{\"kind\":\"end\""}}) {
    CAPTURE(c.args[0]);
    test::PtyResult r = test::RunCliOnPty(c.args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.out);
    const size_t shown = r.out.find(c.progress);
    REQUIRE_MESSAGE(shown != std::string::npos, r.out);
    const size_t result = r.out.find(c.result);
    REQUIRE(result != std::string::npos);
    // Every progress text is followed by a clear before the result.
    const size_t last_progress = r.out.rfind(c.args[0] + ": ", result);
    const size_t clear = r.out.find("\r\033[K", last_progress);
    CHECK(clear < result);
    CHECK(r.out.find("\r\033[K", result) == std::string::npos);
  }
}

}  // namespace memoir
