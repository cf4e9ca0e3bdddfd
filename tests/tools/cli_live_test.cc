// The CLI on a store another process is writing: tail --follow sees new
// commits, and copy takes a consistent snapshot.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "json.h"
#include "memoir/store.h"
#include "support/temp_dir.h"
#include "tools/bank_store.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Reads lines until one parses as an event of `stream` at `seq`.
bool ReadUntilEvent(test::CliProcess& p, const std::string& stream,
                    uint64_t seq, SteadyClock::time_point deadline) {
  std::string line;
  while (p.ReadLine(deadline, &line)) {
    auto v = cli::ParseJson(line);
    REQUIRE_MESSAGE(v.ok(), line);
    const cli::JsonValue* s = v->Find("stream");
    const cli::JsonValue* q = v->Find("seq");
    if (s != nullptr && q != nullptr && s->text == stream &&
        q->AsU64() == seq) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("tail --follow prints each event another process commits") {
  test::TempDir dir;
  const std::string store = dir.Sub("bank");
  // This test process is the writer; the CLI is another process.
  auto writer = Store::Open(store);
  REQUIRE(writer.ok());
  test::FillBank(**writer);
  Journal& j = (*writer)->journal();
  test::CliProcess tail({"tail", store, "--follow", "--json", "-n", "1"});
  // The newest event printed first shows that the follower is running.
  REQUIRE(ReadUntilEvent(tail, "account-2", 2,
                         SteadyClock::now() + std::chrono::seconds(20)));
  for (uint64_t seq = 4; seq <= 6; ++seq) {
    CAPTURE(seq);
    REQUIRE(j.Append("account-1", Expected::At(seq - 1),
                     {{"Deposited", "late", 1, {"bank"}}})
                .ok());
    // How soon it prints is a figure for the benchmark, not a test: a
    // loaded machine may take long, and only a follower that never prints
    // the event misses this deadline.
    REQUIRE(ReadUntilEvent(tail, "account-1", seq,
                           SteadyClock::now() + std::chrono::seconds(60)));
  }
}

TEST_CASE("tail --follow with a tag prints only the tagged new events") {
  test::TempDir dir;
  const std::string store = dir.Sub("bank");
  auto writer = Store::Open(store);
  REQUIRE(writer.ok());
  test::FillBank(**writer);
  Journal& j = (*writer)->journal();
  test::CliProcess tail(
      {"tail", store, "--follow", "--json", "--tag", "security", "-n", "1"});
  REQUIRE(ReadUntilEvent(tail, "audit", 1,
                         SteadyClock::now() + std::chrono::seconds(20)));
  REQUIRE(j.Append("audit", Expected::At(1), {{"Login", "a", 1, {}}}).ok());
  REQUIRE(j.Append("audit", Expected::At(2), {{"Login", "b", 1, {"security"}}})
              .ok());
  // Seq 2 carries no tag: the next line must be seq 3.
  std::string line;
  REQUIRE(tail.ReadLine(SteadyClock::now() + std::chrono::seconds(60), &line));
  auto v = cli::ParseJson(line);
  REQUIRE(v.ok());
  CHECK(v->Find("seq")->AsU64() == 3u);
}

TEST_CASE("copy of a store being written is consistent") {
  test::TempDir dir;
  const std::string store = dir.Sub("src");
  StoreOptions o;
  o.durability = Durability::kNone;
  o.index_flush_events = 64;
  auto writer = Store::Open(store, o);
  REQUIRE(writer.ok());
  Journal& j = (*writer)->journal();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> appended{0};
  std::thread appender([&] {
    for (uint64_t i = 0; !stop.load(); ++i) {
      std::string stream = "s" + std::to_string(i % 5);
      if (!j.Append(stream, Expected::Any(),
                    {{"T", std::to_string(i), 1, {"even"}}})
               .ok()) {
        return;
      }
      appended.fetch_add(1);
    }
  });
  while (appended.load() < 200) std::this_thread::yield();
  for (const char* mode : {"plain", "compact"}) {
    CAPTURE(mode);
    const std::string dest = dir.Sub(mode);
    std::vector<std::string> args = {"copy", store, dest};
    if (std::string(mode) == "compact") args.push_back("--compact");
    test::CliResult copy = test::RunCli(args);
    REQUIRE_MESSAGE(copy.exit_code == 0, copy.err);
    CHECK(copy.out.find("copied " + store + " to " + dest) == 0);
    test::CliResult verify = test::RunCli({"verify", dest});
    CHECK_MESSAGE(verify.exit_code == 0, verify.out, verify.err);
    // Each copied stream is a gap-free prefix of the source stream.
    StoreOptions ro;
    ro.read_only = true;
    auto copied = Store::Open(dest, ro);
    REQUIRE(copied.ok());
    auto page = (*copied)->journal().ListStreams("", "", 100);
    REQUIRE(page.ok());
    CHECK(page->streams.size() == 5);
    for (const StreamInfo& s : page->streams) {
      auto got = (*copied)->journal().Read(s.name);
      auto want = j.Read(s.name, {.to_seq = s.head});
      REQUIRE(got.ok());
      REQUIRE(want.ok());
      REQUIRE(got->size() == s.head);
      REQUIRE(want->size() == s.head);
      for (size_t i = 0; i < got->size(); ++i) {
        CHECK((*got)[i].payload == (*want)[i].payload);
      }
    }
  }
  stop = true;
  appender.join();
}

}  // namespace memoir
