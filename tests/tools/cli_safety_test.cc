// The CLI is safe by construction: reads never change data.mdb, also while
// a writer holds the store, and no damaged file kills it by a signal or
// hangs it. Contained children that fault or stall are reported as an
// unreadable store (exit code 3).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "contain.h"
#include "json.h"
#include "memoir/store.h"
#include "support/lmdb_pages.h"
#include "support/temp_dir.h"
#include "tools/bank_store.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using test::CliResult;
using test::RunCli;

std::vector<std::vector<std::string>> ReadCommands(const std::string& store,
                                                   const std::string& copy) {
  const std::string schema = test::BankSchemaPath();
  return {{"info", store},
          {"streams", store},
          {"events", store, "account-1", "--schema", schema},
          {"all", store, "--json"},
          {"tail", store, "-n", "2"},
          {"snapshots", store, "account-1", "--schema", schema},
          {"verify", store},
          {"export", store},
          {"copy", store, copy}};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// Appends `count` events of 200 bytes to streams s-0 .. s-6 of a new
// store at `path`, in batches of 100, and closes it.
void WriteNotes(const std::string& path, int count) {
  auto s = Store::Open(path);
  REQUIRE(s.ok());
  for (int batch = 0; batch < count / 100; ++batch) {
    std::vector<EventData> events;
    for (int i = 0; i < 100; ++i) {
      events.push_back({"Noted", std::string(200, 'p'), 1, {"note"}});
    }
    REQUIRE((*s)->journal()
                .Append("s-" + std::to_string(batch % 7), Expected::Any(),
                        std::move(events))
                .ok());
  }
}

}  // namespace

TEST_CASE("read commands leave data.mdb byte-identical") {
  test::TempDir dir;
  const std::string store = dir.Sub("bank");
  test::WriteBankStore(store);
  const std::string data = store + "/data.mdb";
  int copies = 0;
  for (bool no_lock : {false, true}) {
    for (std::vector<std::string> args :
         ReadCommands(store, dir.Sub("copy" + std::to_string(copies++)))) {
      if (no_lock) args.push_back("--no-lock");
      CAPTURE(args[0]);
      CAPTURE(no_lock);
      const std::string before = test::FileDigest(data);
      CliResult r = RunCli(args);
      CHECK_MESSAGE(r.exit_code == 0, r.err);
      CHECK(test::FileDigest(data) == before);
    }
  }
}

TEST_CASE(
    "read commands leave data.mdb byte-identical while a writer process "
    "holds the store, and work while it appends") {
  test::TempDir dir;
  const std::string store = dir.Sub("bank");
  test::WriteBankStore(store);
  auto writer = Store::Open(store);
  REQUIRE(writer.ok());
  Journal& j = (*writer)->journal();
  // Idle writer: nothing else may change the file.
  REQUIRE(j.Append("live", Expected::Any(), {{"T", "x", 1, {}}}).ok());
  const std::string data = store + "/data.mdb";
  int copies = 0;
  for (const auto& args :
       ReadCommands(store, dir.Sub("copy" + std::to_string(copies++)))) {
    CAPTURE(args[0]);
    const std::string before = test::FileDigest(data);
    CliResult r = RunCli(args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(test::FileDigest(data) == before);
  }
  // Busy writer: every read still succeeds.
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    while (!stop.load()) {
      if (!j.Append("live", Expected::Any(), {{"T", "y", 1, {"t"}}}).ok()) {
        return;
      }
    }
  });
  for (const auto& args :
       ReadCommands(store, dir.Sub("copy" + std::to_string(copies++)))) {
    CAPTURE(args[0]);
    CliResult r = RunCli(args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
  }
  stop = true;
  appender.join();
}

namespace {

// Every read command over a damaged store: a core set on every store, and
// the variants that read or print differently (other options, --json,
// --schema, --no-lock, copies) in turn, kDamageVariantsPerStore per store.
constexpr size_t kDamageVariantsPerStore = 2;

std::vector<std::vector<std::string>> DamageCommands(const std::string& store,
                                                     const std::string& copy,
                                                     int run) {
  const std::string schema = test::BankSchemaPath();
  std::vector<std::vector<std::string>> commands = {
      {"info", store},
      {"streams", store},
      {"events", store, "account-1"},
      {"all", store},
      {"snapshots", store, "account-2"},
      {"verify", store},
      {"export", store}};
  const std::vector<std::vector<std::string>> variants = {
      {"tail", store, "-n", "3"},
      {"copy", store, copy},
      {"copy", store, copy, "--compact"},
      {"info", store, "--json"},
      {"streams", store, "--json", "--prefix", "account"},
      {"events", store, "account-1", "--schema", schema, "--json"},
      {"events", store, "account-2", "--reverse", "--limit", "1"},
      {"events", store, "audit", "--no-lock"},
      {"all", store, "--tag", "bank", "--schema", schema},
      {"all", store, "--json", "--from-position", "3"},
      {"tail", store, "--tag", "bank", "--json"},
      {"snapshots", store, "account-1", "--schema", schema, "--json"},
      {"verify", store, "--stream", "account-1", "--json"},
      {"export", store, "--stream", "account-2"}};
  for (size_t k = 0; k < kDamageVariantsPerStore; ++k) {
    commands.push_back(
        variants[(static_cast<size_t>(run) * kDamageVariantsPerStore + k) %
                 variants.size()]);
  }
  return commands;
}

}  // namespace

TEST_CASE(
    "random byte damage to data.mdb never kills a read command of the CLI by "
    "a signal or hangs it") {
  test::TempDir dir;
  const std::string source = dir.Sub("bank");
  test::WriteBankStore(source);
  const std::string pristine = ReadFile(source + "/data.mdb");
  REQUIRE(pristine.size() > 4096);
  // 200 damaged stores (6 under AddressSanitizer, where each of the eight
  // commands per store takes about a second); MEMOIR_CLI_FUZZ_RUNS=N for
  // another number (the "long" ctest label runs 1,000).
#if defined(__SANITIZE_ADDRESS__)
  int runs = 6;
#else
  int runs = 200;
#endif
  if (const char* env = std::getenv("MEMOIR_CLI_FUZZ_RUNS")) {
    runs = std::atoi(env);
  }
  uint64_t seed = std::random_device{}();
  INFO("seed ", seed);
  std::mt19937_64 rng(seed);
  const std::string store = dir.Sub("damaged");
  const std::string copy = dir.Sub("copy");
  int by_code[4] = {0, 0, 0, 0};
  int commands_run = 0;
  for (int run = 0; run < runs; ++run) {
    std::string bytes = pristine;
    int changes = 1 + static_cast<int>(rng() % 16);
    for (int c = 0; c < changes; ++c) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    std::filesystem::remove_all(store);
    std::filesystem::create_directory(store);
    WriteFile(store + "/data.mdb", bytes);
    for (const auto& args : DamageCommands(store, copy, run)) {
      std::string command;
      for (size_t a = 0; a < args.size(); ++a) {
        if (a != 1) command += (a == 0 ? "" : " ") + args[a];  // not STORE
      }
      CAPTURE(run);
      CAPTURE(command);
      std::filesystem::remove_all(copy);
      // A hang is a command still running at a deadline far beyond any
      // honest read of this small store, also under a sanitizer on a busy
      // machine. A looping read is stopped after 1 s of CPU time without
      // progress (5 s by default): this store is read in milliseconds, and
      // a stopped read (exit code 3) is an answer this test accepts.
      std::vector<std::string> stalling = args;
      stalling.insert(stalling.end(), {"--stall-timeout", "1"});
      CliResult r = RunCli(stalling, "", std::chrono::seconds(120));
      ++commands_run;
      CHECK(r.signal == 0);
      CHECK(!r.timed_out);
      CHECK_MESSAGE((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 3),
                    r.err);
      CHECK(r.err.find("Sanitizer") == std::string::npos);
      CHECK(r.err.find("runtime error") == std::string::npos);
      if (r.exit_code >= 0 && r.exit_code <= 3) ++by_code[r.exit_code];
    }
  }
  MESSAGE("exit codes of ", commands_run, " read commands over ", runs,
          " damaged stores: 0:", by_code[0], " 1:", by_code[1],
          " 3:", by_code[3]);
}

TEST_CASE(
    "a reader that pauses longer than the stall timeout still gets every "
    "line of 'all', and the CLI exits 0") {
  // `memoir all STORE | less`: the pager stops reading, the pipe fills and
  // the CLI's child blocks writing. That is not a stalled read of the
  // store, however long the reader takes.
  test::TempDir dir;
  const std::string store = dir.Sub("big");
  constexpr int kEvents = 4000;  // about 1 MB of output: far over a pipe's
  WriteNotes(store, kEvents);
  test::CliProcess all({"all", store, "--json", "--stall-timeout", "0.2"});
  // The reader is away for ten times the stall timeout before it reads a
  // line (the scenario, not a synchronisation: the check below holds
  // however long it is away).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::string line;
  int lines = 0;
  uint64_t last_position = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (all.ReadLine(deadline, &line)) {
    auto v = cli::ParseJson(line);
    REQUIRE_MESSAGE(v.ok(), line);
    const cli::JsonValue* position = v->Find("position");
    REQUIRE(position != nullptr);
    REQUIRE(position->AsU64().has_value());
    CHECK(*position->AsU64() == last_position + 1);
    last_position = *position->AsU64();
    ++lines;
  }
  CHECK(lines == kEvents);
  const int status = all.Stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE(
    "read commands on a store whose log pages repeat end with exit code 3, "
    "never printing an event twice or filling the disk") {
  // Every record passes its checks, but the log's branch pages lead to the
  // same leaves over and over: an unchecked walk would print the same
  // events without end, and a compacting copy would write pages until the
  // disk is full.
  test::TempDir dir;
  const std::string store = dir.Sub("looping");
  WriteNotes(store, 20000);
  REQUIRE(test::MakeBranchPagesRepeat(store, "log") == "");
  const std::string copy = dir.Sub("copy");
  const std::vector<std::vector<std::string>> commands = {
      {"all", store},
      {"all", store, "--json"},
      {"export", store},
      {"verify", store},
      {"copy", store, copy, "--compact"}};
  for (const auto& args : commands) {
    CAPTURE(args[0]);
    CAPTURE(args.back());
    std::filesystem::remove_all(copy);
    CliResult r = RunCli(args, "", std::chrono::seconds(120));
    CHECK(!r.timed_out);
    CHECK(r.signal == 0);
    if (args[0] == "verify") {
      CHECK(r.exit_code == 1);  // verify read the store and found damage
      CHECK(r.out.find("repeat or loop") != std::string::npos);
    } else {
      CHECK(r.exit_code == 3);
      CHECK_MESSAGE(r.err.find("repeat or loop") != std::string::npos, r.err);
    }
    if (args[0] == "all" || args[0] == "export") {
      // No event printed twice: no line repeats an earlier one.
      std::vector<std::string> lines = r.Lines();
      std::sort(lines.begin(), lines.end());
      CHECK(std::adjacent_find(lines.begin(), lines.end()) == lines.end());
    }
    CHECK(!std::filesystem::exists(copy + "/data.mdb"));
    CHECK(!std::filesystem::exists(copy + "/data.mdb.partial"));
  }
}

TEST_CASE("a contained command that faults is reported as exit code 3") {
  cli::ContainOptions o;
  o.store = "/some/store";
  CHECK(cli::RunContained(o, [] { return 7; }) == 7);
  CHECK(cli::RunContained(o, [] {
          raise(SIGSEGV);
          return 0;
        }) == 3);
  CHECK(cli::RunContained(o, [] {
          raise(SIGBUS);
          return 0;
        }) == 3);
  // A user's interrupt is passed on as such, not as damage.
  CHECK(cli::RunContained(o, [] {
          raise(SIGINT);
          return 0;
        }) == 128 + SIGINT);
}

namespace {

// Spins on the CPU for `cpu` of this process's CPU time, calling `beat`
// every few thousand rounds.
template <typename Beat>
void SpinFor(std::chrono::milliseconds cpu, Beat beat) {
  auto used = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) +
           std::chrono::nanoseconds(ts.tv_nsec);
  };
  const auto end = used() + cpu;
  volatile uint64_t rounds = 0;
  while (used() < end) {
    for (int i = 0; i < 4096; ++i) rounds = rounds + 1;
    beat();
  }
}

}  // namespace

TEST_CASE(
    "a contained command that spins without a heartbeat is stopped as a "
    "stalled read") {
  cli::ContainOptions o;
  o.store = "/some/store";
  o.stall_timeout = std::chrono::milliseconds(300);
  // However slowly a busy machine runs it, the child uses CPU time and
  // never proves progress: it must be stopped (ctest's timeout is the
  // deadline).
  CHECK(cli::RunContained(o, [] {
          volatile uint64_t rounds = 0;
          for (;;) rounds = rounds + 1;
          return 0;
        }) == 3);
}

TEST_CASE(
    "a contained command that heartbeats runs on for many times the stall "
    "timeout") {
  cli::ContainOptions o;
  o.store = "/some/store";
  o.stall_timeout = std::chrono::milliseconds(300);
  CHECK(cli::RunContained(o, [] {
          SpinFor(std::chrono::milliseconds(1500), [] { cli::Heartbeat(); });
          return 5;
        }) == 5);
}

TEST_CASE(
    "a contained command that waits without using the CPU is not taken for "
    "a stalled read") {
  // What a child blocked on a full stdout pipe, on the disk or on a busy
  // machine's run queue looks like to the watchdog: time passes, the
  // heartbeat stays still, and no CPU time is used.
  cli::ContainOptions o;
  o.store = "/some/store";
  o.stall_timeout = std::chrono::milliseconds(200);
  CHECK(cli::RunContained(o, [] {
          std::this_thread::sleep_for(std::chrono::milliseconds(1000));
          return 5;
        }) == 5);
}

}  // namespace memoir
