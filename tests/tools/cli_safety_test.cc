// The CLI is safe by construction: reads never change data.mdb, also while
// a writer holds the store, and no damaged file kills it by a signal or
// hangs it. Contained children that fault or stall are reported as an
// unreadable store (exit code 3).
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "contain.h"
#include "memoir/store.h"
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
  // 200 damaged stores (fewer under AddressSanitizer, which makes each run
  // slower); MEMOIR_CLI_FUZZ_RUNS=N for another number (the "long" ctest
  // label runs 1,000).
#if defined(__SANITIZE_ADDRESS__)
  int runs = 30;
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
      CliResult r = RunCli(args, "", std::chrono::seconds(20));
      ++commands_run;
      CHECK(r.signal == 0);
      CHECK(!r.timed_out);
      CHECK(r.elapsed < std::chrono::seconds(10));
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

TEST_CASE("a contained command that stops making progress is stopped") {
  cli::ContainOptions o;
  o.store = "/some/store";
  o.stall_timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  CHECK(cli::RunContained(o, [] {
          for (;;) pause();
          return 0;
        }) == 3);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // Heartbeats keep a long command alive past the timeout.
  CHECK(cli::RunContained(o, [] {
          auto end =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(900);
          while (std::chrono::steady_clock::now() < end) {
            cli::Heartbeat();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
          return 5;
        }) == 5);
}

}  // namespace memoir
