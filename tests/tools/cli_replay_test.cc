// The replay commands of the memoir CLI, run as a program with the test
// plugin (replay_plugin.cc) on journals these tests write: replay, steps,
// diff, bisect, verify-snapshots, rehandle and plugin, the plugin version
// check, and an error for every way a plugin or a replay can fail.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "json.h"
#include "memoir/store.h"
#include "memoir/version.h"
#include "support/temp_dir.h"
#include "tools/cli_json_lines.h"
#include "tools/cli_runner.h"
#include "tools/replay_types.h"

namespace memoir {
namespace {

namespace rt = test::replay;
using cli::JsonValue;
using test::CliResult;
using test::RunCli;

const std::string kPlugin = MEMOIR_TEST_PLUGIN;
const std::string kOldPlugin = MEMOIR_TEST_PLUGIN_OLD;

using test::Has;
using test::JsonLines;
using test::Parse;

const JsonValue& At(const JsonValue& v, const char* key) {
  const JsonValue* f = v.Find(key);
  REQUIRE_MESSAGE(f != nullptr, "no key ", key);
  return *f;
}
uint64_t U(const JsonValue& v, const char* key) {
  REQUIRE(At(v, key).AsU64());
  return *At(v, key).AsU64();
}
int64_t I(const JsonValue& v, const char* key) {
  REQUIRE(At(v, key).AsI64());
  return *At(v, key).AsI64();
}

// --- Journals --------------------------------------------------------------

// What the original run's Apply computed: a wobble entry added
// kOriginalNoise, which a replay never reproduces.
rt::Balance OriginalFold(const std::vector<rt::Entry>& entries, size_t n) {
  rt::Balance b;
  for (size_t i = 0; i < n; ++i) {
    b.balance +=
        entries[i].amount + (entries[i].wobble ? rt::kOriginalNoise : 0);
    ++b.entries;
  }
  return b;
}

// Appends `entries` to `stream`, with a snapshot of the original run's
// state after every `every` events (0: none).
void Write(Store& store, const std::string& stream,
           const std::vector<rt::Entry>& entries, uint64_t every) {
  for (size_t i = 0; i < entries.size(); ++i) {
    REQUIRE(store.journal()
                .Append(stream, Expected::At(i),
                        {rt::Ledger::EventCodec::Encode(entries[i])})
                .ok());
    if (every != 0 && (i + 1) % every == 0) {
      REQUIRE(store.snapshots()
                  .Save(stream, i + 1,
                        rt::Ledger::StateCodec::EncodeState(
                            OriginalFold(entries, i + 1)))
                  .ok());
    }
  }
}

// n entries of 1, 2, ..., n.
std::vector<rt::Entry> Rising(int n) {
  std::vector<rt::Entry> out;
  for (int i = 1; i <= n; ++i) out.push_back({i, 0, 0});
  return out;
}

// n entries of +10, except entry k (1-based; 0: none), which takes the
// balance to -1000; the entries after it add 1 and leave it negative.
std::vector<rt::Entry> Planted(int n, int k) {
  std::vector<rt::Entry> out;
  int64_t balance = 0;
  for (int i = 1; i <= n; ++i) {
    int64_t amount = k == 0 || i < k ? 10 : i == k ? -(balance + 1000) : 1;
    out.push_back({amount, 0, 0});
    balance += amount;
  }
  return out;
}

// The stream of a bisect case: n events, the break at k.
std::string CaseStream(int n, int k) {
  return "ledger-" + std::to_string(n) + "-" + std::to_string(k);
}

struct StoreFixture {
  test::TempDir dir;
  std::string path = dir.Sub("store");
  std::unique_ptr<Store> store;

  StoreFixture() {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto s = Store::Open(path, o);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(s).value();
  }
  // Closes the store: the CLI reads it as a copy nobody writes.
  void Done() {
    REQUIRE(store->Close().ok());
    store.reset();
  }
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin() + 1, path);
    args.push_back("--plugin");
    args.push_back(kPlugin);
    return RunCli(args);
  }
};

}  // namespace

// --- The plugin and its version check --------------------------------------

TEST_CASE(
    "memoir plugin lists the plugin's types, their streams and invariants") {
  CliResult r = RunCli({"plugin", kPlugin});
  REQUIRE_EXIT(r, 0);
  CHECK(Has(r.out, "plugin  replay-test\n"));
  CHECK(Has(r.out, std::string("abi     memoir ") + MEMOIR_VERSION + "; "));
  CHECK(Has(r.out,
            "type ledger: actor type 'ledger', streams starting with "
            "'ledger-', command-sourced (rehandle works), events "
            "shown as JSON"));
  CHECK(Has(r.out,
            "  invariant never-negative: the balance is never below "
            "zero\n"));
  CHECK(Has(r.out,
            "type ledger-strict: actor type 'ledger', no stream by "
            "itself (name it with --type)"));
  CHECK(Has(r.out,
            "type tally: actor type 'tally', streams starting with "
            "'tally-', event-sourced, events shown as JSON"));
  CHECK(Has(r.out,
            "type flaky: actor type 'flaky', streams starting with "
            "'flaky-', command-sourced (rehandle works), events shown "
            "as envelopes only\n  no invariants"));

  std::vector<JsonValue> lines =
      JsonLines(RunCli({"plugin", kPlugin, "--json"}));
  REQUIRE(lines.size() == 10);
  CHECK(At(lines[0], "name").text == "replay-test");
  CHECK(U(lines[0], "types") == 9);
  CHECK(At(lines[1], "name").text == "ledger");
  CHECK(At(lines[1], "stream_prefix").text == "ledger-");
  CHECK(At(lines[1], "command_sourced").boolean);
  REQUIRE(At(lines[1], "invariants").items.size() == 2);
  CHECK(At(At(lines[1], "invariants").items[0], "name").text ==
        "never-negative");
  CHECK_FALSE(At(lines[5], "command_sourced").boolean);  // tally
}

TEST_CASE(
    "a plugin built against another memoir version is refused before any "
    "of its code runs, naming both versions") {
  // If registration ran, it would throw and say so instead.
  setenv("MEMOIR_TEST_PLUGIN_THROW", "1", 1);
  CliResult r = RunCli({"plugin", kOldPlugin});
  unsetenv("MEMOIR_TEST_PLUGIN_THROW");
  REQUIRE_EXIT(r, 2);
  CHECK(Has(r.err, "plugin 'replay-test' (" + kOldPlugin +
                       ") was built against memoir 0.0.9 ("));
  CHECK(Has(r.err, std::string("this memoir is ") + MEMOIR_VERSION + " ("));
  CHECK(Has(r.err, "they differ in the memoir version"));
  CHECK(Has(r.err, "Rebuild the plugin against this version"));
  CHECK_FALSE(Has(r.err, "registration"));
  CHECK(r.out.empty());

  StoreFixture f;
  Write(*f.store, "ledger-1", Rising(3), 0);
  f.Done();
  CliResult replay =
      RunCli({"replay", f.path, "ledger-1", "--plugin", kOldPlugin});
  REQUIRE_EXIT(replay, 2);
  CHECK(Has(replay.err, "was built against memoir 0.0.9"));
}

TEST_CASE(
    "plugins that cannot be loaded get an error naming the file and what to "
    "do") {
  test::TempDir dir;
  SUBCASE("a missing file") {
    CliResult r = RunCli({"plugin", dir.Sub("nothing.so")});
    REQUIRE_EXIT(r, 2);
    CHECK(Has(r.err, "plugin file '" + dir.Sub("nothing.so") +
                         "' does not exist; check the path"));
  }
  SUBCASE("a file that is not a shared library") {
    std::ofstream(dir.Sub("text.so")) << "not a library\n";
    CliResult r = RunCli({"plugin", dir.Sub("text.so")});
    REQUIRE_EXIT(r, 2);
    CHECK(Has(r.err, "plugin file '" + dir.Sub("text.so") +
                         "' is not a shared library"));
    CHECK(Has(r.err, "MEMOIR_PLUGIN"));
  }
  SUBCASE("a shared library without the entry point") {
    CliResult r = RunCli({"plugin", MEMOIR_TEST_NOT_A_PLUGIN});
    REQUIRE_EXIT(r, 2);
    CHECK(Has(r.err,
              "is a shared library but not a memoir plugin: it "
              "exports no memoir_plugin() function"));
  }
  SUBCASE("a library that needs a symbol memoir does not have") {
    CliResult r = RunCli({"plugin", MEMOIR_TEST_UNRESOLVED});
    REQUIRE_EXIT(r, 2);
    CHECK(Has(r.err, "undefined symbol: memoir_test_symbol_nobody_defines"));
    CHECK(Has(r.err, "Rebuild it against this version"));
  }
  SUBCASE("a registration function that throws") {
    setenv("MEMOIR_TEST_PLUGIN_THROW", "1", 1);
    CliResult r = RunCli({"plugin", kPlugin});
    unsetenv("MEMOIR_TEST_PLUGIN_THROW");
    REQUIRE_EXIT(r, 2);
    CHECK(Has(r.err, "plugin 'replay-test' (" + kPlugin +
                         ") could not register its types: its registration "
                         "function threw std::runtime_error: registration "
                         "bug on purpose"));
  }
}

// --- replay and diff -------------------------------------------------------

TEST_CASE(
    "replay gives the state at a seq equal to a fold of the first N events, "
    "from a snapshot or from the start") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Rising(100), 10);
  f.Done();
  for (uint64_t seq : {0, 1, 9, 10, 11, 55, 100}) {
    CAPTURE(seq);
    for (bool from_start : {false, true}) {
      std::vector<std::string> args = {"replay", "ledger-1", "--to",
                                       std::to_string(seq), "--json"};
      if (from_start) args.push_back("--from-start");
      CliResult r = f.Run(args);
      REQUIRE_EXIT(r, 0);
      std::vector<JsonValue> lines = JsonLines(r);
      REQUIRE(lines.size() == 1);
      const JsonValue& state = At(lines[0], "state");
      CHECK(I(state, "balance") == static_cast<int64_t>(seq * (seq + 1) / 2));
      CHECK(U(state, "entries") == seq);
      CHECK(U(lines[0], "seq") == seq);
      CHECK(U(lines[0], "head") == 100);
      CHECK(U(lines[0], "snapshot_seq") == (from_start ? 0 : seq / 10 * 10));
      CHECK(U(lines[0], "events_replayed") == (from_start ? seq : seq % 10));
    }
  }
  CliResult text = f.Run({"replay", "ledger-1", "--to", "55"});
  REQUIRE_EXIT(text, 0);
  CHECK(Has(text.out, "stream   ledger-1\n"));
  CHECK(Has(text.out, "type     type 'ledger' of plugin 'replay-test'\n"));
  CHECK(Has(text.out, "seq      55 (head 100)\n"));
  CHECK(Has(text.out,
            "rebuilt  from the snapshot at seq 50, then 5 events applied\n"));
  CHECK(Has(text.out, "state    {\n           \"balance\": 1540,\n"));
  CliResult head = f.Run({"replay", "ledger-1", "--json"});
  CHECK(U(JsonLines(head)[0], "seq") == 100);
}

TEST_CASE("replay --steps prints each event with the state after it") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Rising(20), 10);
  Write(*f.store, "flaky-1", Rising(3), 0);
  f.Done();
  CliResult r = f.Run(
      {"replay", "ledger-1", "--steps", "--from", "9", "--to", "12", "--json"});
  REQUIRE_EXIT(r, 0);
  std::vector<JsonValue> lines = JsonLines(r);
  REQUIRE(lines.size() == 5);
  CHECK(At(lines[0], "kind").text == "start");
  CHECK(U(lines[0], "seq") == 8);
  CHECK(I(At(lines[0], "state"), "balance") == 36);
  for (uint64_t i = 1; i < lines.size(); ++i) {
    const uint64_t seq = 8 + i;
    CAPTURE(seq);
    CHECK(At(lines[i], "kind").text == "step");
    const JsonValue& event = At(lines[i], "event");
    CHECK(U(event, "seq") == seq);
    CHECK(At(event, "type").text == "Entry");
    CHECK(I(At(event, "payload"), "amount") == static_cast<int64_t>(seq));
    CHECK(I(At(lines[i], "state"), "balance") ==
          static_cast<int64_t>(seq * (seq + 1) / 2));
  }

  CliResult text = f.Run({"replay", "ledger-1", "--steps", "--to", "2"});
  REQUIRE_EXIT(text, 0);
  CHECK(Has(text.out, "initial state  {\n"));
  CHECK(Has(text.out,
            " Entry v1  {\"amount\":2,\"wobble\":0}\n"
            "  /balance  1 -> 3\n  /entries  1 -> 2\n"));

  // Without event_to_json, the envelope.
  CliResult flaky = f.Run({"replay", "flaky-1", "--steps"});
  REQUIRE_EXIT(flaky, 0);
  CHECK(Has(flaky.out,
            " Entry v1  (16 B payload; the plugin has no "
            "event_to_json)\n"));
  CliResult from_only = f.Run({"replay", "ledger-1", "--from", "3"});
  REQUIRE_EXIT(from_only, 2);
  CHECK(Has(from_only.err, "--from needs --steps"));
}

TEST_CASE(
    "diff lists the paths that changed between two seqs, with before and "
    "after") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Rising(20), 5);
  f.Done();
  CliResult r = f.Run({"diff", "ledger-1", "--at", "3", "--at", "12"});
  REQUIRE_EXIT(r, 0);
  CHECK(r.out ==
        "ledger-1 (type 'ledger' of plugin 'replay-test'), seq 3 -> seq 12: "
        "2 paths changed\n  /balance  6 -> 78\n  /entries  3 -> 12\n");
  CliResult json =
      f.Run({"diff", "ledger-1", "--at", "12", "--at", "3", "--json"});
  REQUIRE_EXIT(json, 0);
  JsonValue v = Parse(json.out);
  CHECK(U(v, "from_seq") == 12);
  const auto& changes = At(v, "changes").items;
  REQUIRE(changes.size() == 2);
  CHECK(At(changes[0], "path").text == "/balance");
  CHECK(I(changes[0], "before") == 78);
  CHECK(I(changes[0], "after") == 6);
  CliResult same = f.Run({"diff", "ledger-1", "--at", "7", "--at", "7"});
  REQUIRE_EXIT(same, 0);
  CHECK(Has(same.out, "no change"));
  CliResult one = f.Run({"diff", "ledger-1", "--at", "7"});
  REQUIRE_EXIT(one, 2);
  CHECK(Has(one.err, "diff compares two seqs: give --at A --at B (1 given)"));
  CliResult above = f.Run({"diff", "ledger-1", "--at", "7", "--at", "21"});
  REQUIRE_EXIT(above, 2);
  CHECK(Has(above.err,
            "--at 21 is above the head of stream 'ledger-1' "
            "(seq 20)"));
}

// --- bisect ----------------------------------------------------------------

TEST_CASE(
    "bisect finds the planted breaking event for several stream lengths, "
    "in the first and the last event too, and reports none when it holds") {
  struct Case {
    int n, k;
  };
  const Case cases[] = {{1, 1},     {1, 0},   {2, 1},   {2, 2},   {2, 0},
                        {10, 1},    {10, 5},  {10, 10}, {10, 0},  {37, 1},
                        {37, 19},   {37, 37}, {37, 0},  {300, 1}, {300, 151},
                        {300, 300}, {300, 0}};
  StoreFixture f;
  for (const Case& c : cases) {
    Write(*f.store, CaseStream(c.n, c.k), Planted(c.n, c.k), 10);
  }
  f.Done();
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.k);
    for (bool exhaustive : {false, true}) {
      CAPTURE(exhaustive);
      std::vector<std::string> args = {"bisect", CaseStream(c.n, c.k),
                                       "--invariant", "never-negative",
                                       "--json"};
      if (exhaustive) args.push_back("--exhaustive");
      CliResult r = f.Run(args);
      REQUIRE_EXIT(r, c.k == 0 ? 0 : 1);
      JsonValue v = Parse(r.out);
      CHECK(At(v, "found").boolean == (c.k != 0));
      if (c.k == 0) continue;
      CHECK(U(v, "seq") == static_cast<uint64_t>(c.k));
      CHECK(U(At(v, "event"), "seq") == static_cast<uint64_t>(c.k));
      CHECK(I(At(v, "after"), "balance") == -1000);
      CHECK(I(At(v, "before"), "balance") == 10 * (c.k - 1));
      CHECK(I(At(At(v, "event"), "payload"), "amount") ==
            -(10 * (c.k - 1) + 1000));
      // Never more than a fold; a search (more than one probe) takes about
      // log2(n) probes, each a snapshot plus < 10 events.
      CHECK(U(v, "events_replayed") <= static_cast<uint64_t>(c.n));
      if (!exhaustive && U(v, "probes") > 1) {
        const uint64_t probes = U(v, "probes");
        CHECK(probes <= std::ceil(std::log2(c.n + 1)) + 3);
        CHECK(U(v, "events_replayed") <= probes * 10 + 10);
      }
    }
  }
}

TEST_CASE("bisect shows the breaking event and the state before and after it") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Planted(30, 17), 10);
  f.Done();
  CliResult r = f.Run({"bisect", "ledger-1", "--invariant", "never-negative"});
  REQUIRE_EXIT(r, 1);
  CHECK(Has(r.out,
            "invariant 'never-negative' (the balance is never below "
            "zero) first fails after seq 17 of ledger-1 (head 30)\n"));
  CHECK(Has(r.out, "event    seq 17  "));
  CHECK(Has(r.out, " Entry v1  {\"amount\":-1160,\"wobble\":0}\n"));
  CHECK(Has(r.out, "before   {\"balance\":160,\"entries\":16}\n"));
  CHECK(Has(r.out, "after    {\"balance\":-1000,\"entries\":17}\n"));
  CHECK(Has(r.out,
            "changed  /balance  160 -> -1000\n"
            "         /entries  16 -> 17\n"));
  // 30 events with a snapshot every 10: one fold is cheaper than a search.
  CHECK(Has(r.out,
            "cost     one fold from the first event, 17 events applied "
            "(snapshots could not make a search cheaper than folding the "
            "30)\n"));

  CliResult holds =
      f.Run({"bisect", "ledger-1", "--invariant", "under-a-million"});
  REQUIRE_EXIT(holds, 0);
  CHECK(Has(holds.out,
            "invariant 'under-a-million' (the balance stays under "
            "1,000,000) holds at the head of ledger-1 (seq 30"));
  CliResult unknown = f.Run({"bisect", "ledger-1", "--invariant", "sorted"});
  REQUIRE_EXIT(unknown, 2);
  CHECK(Has(unknown.err,
            "type 'ledger' of plugin 'replay-test' has no "
            "invariant 'sorted'; it has: never-negative, "
            "under-a-million"));
}

// --- verify-snapshots ------------------------------------------------------

TEST_CASE(
    "verify-snapshots flags exactly the snapshot written by a "
    "non-deterministic apply and passes a healthy stream") {
  StoreFixture f;
  std::vector<rt::Entry> wobbly = Rising(50);
  wobbly[24].wobble = 1;  // seq 25: the original run added noise here
  Write(*f.store, "flaky-bad", wobbly, 10);
  Write(*f.store, "flaky-good", Rising(50), 10);
  Write(*f.store, "ledger-1", Rising(30), 10);
  Write(*f.store, "ledger-2", Rising(5), 0);  // no snapshots
  f.Done();
  CliResult r = f.Run({"verify-snapshots", "--json"});
  REQUIRE_EXIT(r, 1);
  std::vector<JsonValue> lines = JsonLines(r);
  // The streams with snapshots, by type, then the summary.
  REQUIRE(lines.size() == 4);
  CHECK(At(lines[0], "stream").text == "ledger-1");
  CHECK(U(lines[0], "checked") == 3);
  CHECK(At(lines[1], "stream").text == "flaky-bad");
  CHECK(U(lines[1], "checked") == 3);  // 10 and 20 agree, 30 does not
  const JsonValue& m = At(lines[1], "first_mismatch");
  CHECK(U(m, "seq") == 30);
  CHECK(Has(At(m, "detail").text, "(replayed from the snapshot at seq 20)"));
  REQUIRE(At(m, "changes").items.size() == 1);
  const JsonValue& change = At(m, "changes").items[0];
  CHECK(At(change, "path").text == "/balance");
  CHECK(I(change, "before") == 465 + rt::kOriginalNoise);
  CHECK(I(change, "after") > 465);
  CHECK(I(change, "after") <= 465 + 1000);
  CHECK(At(lines[2], "stream").text == "flaky-good");
  CHECK(U(lines[2], "checked") == 5);
  CHECK(At(lines[2], "first_mismatch").kind == JsonValue::Kind::kNull);
  CHECK(At(lines[3], "kind").text == "summary");
  CHECK(U(lines[3], "streams") == 4);
  CHECK(U(lines[3], "mismatches") == 1);
  CHECK(U(lines[3], "checked") == 11);

  CliResult text = f.Run({"verify-snapshots"});
  REQUIRE_EXIT(text, 1);
  CHECK(Has(text.out,
            "flaky-bad (flaky): 3 snapshots checked, 0 unusable; "
            "first mismatch at the snapshot of seq 30: "));
  CHECK(Has(text.out, "\n  /balance  snapshot 5465, replay "));
  CHECK_FALSE(Has(text.out, "flaky-good"));
  CHECK(Has(text.out, "FAILED: 1 stream has a snapshot that differs"));

  CliResult good = f.Run({"verify-snapshots", "--stream", "flaky-good"});
  REQUIRE_EXIT(good, 0);
  CHECK(Has(good.out, "flaky-good (flaky): 5 snapshots checked, 0 unusable\n"));
  CHECK(Has(good.out, "OK: every snapshot checked equals the replay"));
  CliResult ledgers = f.Run({"verify-snapshots", "--type", "ledger", "--json"});
  REQUIRE_EXIT(ledgers, 0);
  CHECK(JsonLines(ledgers).size() == 2);
}

// --- rehandle --------------------------------------------------------------

TEST_CASE(
    "rehandle reports the first seq where a changed handler diverges and "
    "none for the same handler") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Planted(40, 23), 10);
  Write(*f.store, "tally-1", Rising(4), 0);
  f.Done();
  CliResult same = f.Run({"rehandle", "ledger-1"});
  REQUIRE_EXIT(same, 0);
  CHECK(Has(same.out,
            "today's handler persists each of the 40 recorded "
            "commands exactly as recorded: no divergence"));
  CliResult strict =
      f.Run({"rehandle", "ledger-1", "--type", "ledger-strict", "--json"});
  REQUIRE_EXIT(strict, 1);
  JsonValue v = Parse(strict.out);
  CHECK(At(v, "diverged").boolean);
  CHECK(U(v, "commands") == 23);
  const JsonValue& d = At(v, "first_divergence");
  CHECK(U(d, "seq") == 23);
  CHECK(At(d, "detail").text ==
        "rejected: would overdraw: balance 220, entry -1220");
  CHECK(I(At(At(d, "command"), "payload"), "amount") == -1220);
  CliResult text = f.Run({"rehandle", "ledger-1", "--type", "ledger-strict"});
  REQUIRE_EXIT(text, 1);
  CHECK(Has(text.out, "first divergence at seq 23 (after 23 commands re-run)"));
  CHECK(Has(text.out, "today     rejected: would overdraw"));

  CliResult tally = f.Run({"rehandle", "tally-1"});
  REQUIRE_EXIT(tally, 2);
  CHECK(Has(tally.err, "type 'tally' (actor type 'tally') is event-sourced"));
  CHECK(Has(tally.err, "rehandle works on command-sourced types"));
}

// --- Streams whose first events were deleted -------------------------------

// Deleted events are not damage: the replay commands say which seqs were
// deleted and from where a state can be rebuilt, exit 1, and give no
// repair advice.
void CheckDeletedNotDamaged(const CliResult& r) {
  REQUIRE_EXIT(r, 1);
  CHECK_FALSE(Has(r.err, "damaged"));
  CHECK_FALSE(Has(r.err, "repair"));
  CHECK_FALSE(Has(r.err, "corrupt"));
  CHECK(r.out.empty());
}

TEST_CASE(
    "replay before a delete-to mark says which events were deleted and the "
    "earliest seq it can rebuild, not that the store is damaged") {
  StoreFixture f;
  Write(*f.store, "cart-1", Rising(8), 5);  // a snapshot at seq 5
  Write(*f.store, "cart-2", Rising(8), 0);  // no snapshot
  f.Done();
  for (const char* stream : {"cart-1", "cart-2"}) {
    CliResult del = RunCli({"delete-to", f.path, stream, "3", "--yes"});
    REQUIRE_EXIT(del, 0);
  }
  CliResult verify = RunCli({"verify", f.path});
  REQUIRE_EXIT(verify, 0);

  CliResult r = f.Run({"replay", "cart-1", "--type", "ledger", "--to", "2"});
  CheckDeletedNotDamaged(r);
  CHECK(Has(r.err,
            "events 1..3 of stream 'cart-1' were deleted (delete-to), so "
            "the state after seq 2 cannot be rebuilt"));
  CHECK(Has(r.err,
            "the earliest state that can be rebuilt is the one after seq 5 "
            "(the oldest snapshot at or after seq 3)"));

  // Past the mark but before the snapshot: the deletion is still the cause.
  CliResult between =
      f.Run({"replay", "cart-1", "--type", "ledger", "--to", "4"});
  CheckDeletedNotDamaged(between);
  CHECK(Has(between.err, "the state after seq 4 cannot be rebuilt"));
  CliResult from_start =
      f.Run({"replay", "cart-1", "--type", "ledger", "--from-start"});
  CheckDeletedNotDamaged(from_start);
  CHECK(Has(from_start.err,
            "events 1..3 of stream 'cart-1' were deleted (delete-to), so a "
            "replay from the first event cannot run"));
  CliResult fine =
      f.Run({"replay", "cart-1", "--type", "ledger", "--to", "6", "--json"});
  REQUIRE_EXIT(fine, 0);
  CHECK(I(At(Parse(fine.out), "state"), "balance") == 21);

  CliResult none = f.Run({"replay", "cart-2", "--type", "ledger"});
  CheckDeletedNotDamaged(none);
  CHECK(Has(none.err,
            "events 1..3 of stream 'cart-2' were deleted (delete-to), so "
            "the state after seq 8 cannot be rebuilt"));
  CHECK(Has(none.err,
            "no snapshot at or after seq 3 exists, so no state after seq 3 "
            "can be rebuilt"));

  CliResult diff =
      f.Run({"diff", "cart-1", "--type", "ledger", "--at", "2", "--at", "6"});
  CheckDeletedNotDamaged(diff);
  CHECK(Has(diff.err, "events 1..3 of stream 'cart-1' were deleted"));
  CliResult steps = f.Run({"replay", "cart-1", "--type", "ledger", "--steps",
                           "--from", "2", "--to", "6"});
  CheckDeletedNotDamaged(steps);
  CHECK(Has(steps.err, "the state after seq 1 cannot be rebuilt"));
}

TEST_CASE(
    "bisect, verify-snapshots and rehandle on a stream whose first events "
    "were deleted report the deletion, not damage") {
  StoreFixture f;
  Write(*f.store, "ledger-cut", Planted(30, 5), 10);    // breaks before 10
  Write(*f.store, "ledger-late", Planted(30, 25), 10);  // breaks at 25
  f.Done();
  for (const char* stream : {"ledger-cut", "ledger-late"}) {
    REQUIRE_EXIT(RunCli({"delete-to", f.path, stream, "12", "--yes"}), 0);
  }
  for (const char* exhaustive : {"", "--exhaustive"}) {
    CAPTURE(exhaustive);
    std::vector<std::string> args = {"bisect", "ledger-cut", "--invariant",
                                     "never-negative"};
    if (*exhaustive) args.push_back(exhaustive);
    CliResult cut = f.Run(args);
    CheckDeletedNotDamaged(cut);
    CHECK(Has(cut.err,
              "the invariant already fails at seq 20, the earliest state "
              "of 'ledger-cut' that can be rebuilt: events 1..12 were "
              "deleted (delete-to), so the event that broke it cannot be "
              "found"));
    args[1] = "ledger-late";
    args.push_back("--json");
    CliResult late = f.Run(args);
    REQUIRE_EXIT(late, 1);
    CHECK(U(Parse(late.out), "seq") == 25);
  }

  CliResult snaps = f.Run({"verify-snapshots", "--json"});
  REQUIRE_EXIT(snaps, 0);
  std::vector<JsonValue> lines = JsonLines(snaps);
  REQUIRE(lines.size() == 3);
  for (int i = 0; i < 2; ++i) {
    CHECK(U(lines[i], "checked") == 1);  // 30, from the snapshot at 20
    CHECK(U(lines[i], "unusable") == 0);
    CHECK(U(lines[i], "unverifiable") == 2);  // 10 and 20: no events before
  }
  CliResult text = f.Run({"verify-snapshots", "--stream", "ledger-cut"});
  REQUIRE_EXIT(text, 0);
  CHECK(Has(text.out,
            "ledger-cut (ledger): 1 snapshots checked, 0 unusable, 2 not "
            "checkable (the events before them were deleted)"));

  CliResult rehandle = f.Run({"rehandle", "ledger-late"});
  CheckDeletedNotDamaged(rehandle);
  CHECK(Has(rehandle.err,
            "events 1..12 of stream 'ledger-late' were deleted (delete-to), "
            "so its recorded commands cannot be re-run from the first"));
}

// --- Failures --------------------------------------------------------------

TEST_CASE(
    "a stream no type matches, an unknown type and an ambiguous stream get "
    "errors that list the types") {
  StoreFixture f;
  Write(*f.store, "other-1", Rising(2), 0);
  Write(*f.store, "ledger-x1", Rising(2), 0);
  f.Done();
  CliResult none = f.Run({"replay", "other-1"});
  REQUIRE_EXIT(none, 2);
  CHECK(Has(none.err,
            "stream 'other-1' matches no type of plugin "
            "'replay-test' (" +
                kPlugin +
                ") (ledger: streams "
                "starting with 'ledger-'; ledger-strict: no stream"));
  CHECK(Has(none.err, "name the type with --type NAME"));
  CliResult named = f.Run({"replay", "other-1", "--type", "ledger", "--json"});
  REQUIRE_EXIT(named, 0);
  CHECK(I(At(Parse(named.out), "state"), "balance") == 3);
  CliResult unknown = f.Run({"replay", "other-1", "--type", "nope"});
  REQUIRE_EXIT(unknown, 2);
  CHECK(Has(unknown.err,
            "has no type 'nope'; its types: ledger, "
            "ledger-strict, ledger-x, flaky, tally, broken, "
            "crashy, eventbug, badjson"));
  CliResult both = f.Run({"replay", "ledger-x1"});
  REQUIRE_EXIT(both, 2);
  CHECK(Has(both.err,
            "stream 'ledger-x1' matches several types of plugin "
            "'replay-test' (" +
                kPlugin +
                ") (ledger, ledger-x); "
                "name one with --type NAME"));
  CliResult missing = f.Run({"replay", "ledger-9"});
  REQUIRE_EXIT(missing, 1);
  CliResult above =
      f.Run({"replay", "other-1", "--type", "ledger", "--to", "3"});
  REQUIRE_EXIT(above, 2);
  CHECK(Has(above.err, "--to 3 is above the head of stream 'other-1' (seq 2)"));
}

TEST_CASE(
    "an exception in the plugin's code is an error naming the type, and a "
    "crash in it is exit code 3 with a message") {
  StoreFixture f;
  Write(*f.store, "broken-1", Rising(2), 0);
  Write(*f.store, "crashy-1", Rising(2), 0);
  f.Done();
  CliResult thrown = f.Run({"replay", "broken-1"});
  REQUIRE_EXIT(thrown, 3);
  CHECK(Has(thrown.err,
            "plugin type 'broken': state_to_json threw "
            "std::runtime_error: state_to_json bug on purpose"));
  CliResult crashed = f.Run({"replay", "crashy-1"});
  REQUIRE_EXIT(crashed, 3);
  CHECK(Has(crashed.err, "memoir: reading " + f.path + " with plugin " +
                             kPlugin + " crashed (Segmentation fault)"));
  CHECK(Has(crashed.err, "MEMOIR_CLI_NO_FORK=1"));
}

TEST_CASE("replay commands leave data.mdb byte-identical") {
  StoreFixture f;
  Write(*f.store, "ledger-1", Planted(40, 23), 10);
  std::vector<rt::Entry> wobbly = Rising(30);
  wobbly[14].wobble = 1;
  Write(*f.store, "flaky-1", wobbly, 10);
  f.Done();
  const std::string data = f.path + "/data.mdb";
  const std::vector<std::vector<std::string>> commands = {
      {"replay", "ledger-1"},
      {"replay", "ledger-1", "--steps", "--from-start"},
      {"diff", "ledger-1", "--at", "1", "--at", "40"},
      {"bisect", "ledger-1", "--invariant", "never-negative"},
      {"bisect", "ledger-1", "--invariant", "never-negative", "--exhaustive"},
      {"verify-snapshots"},
      {"rehandle", "ledger-1", "--type", "ledger-strict"},
  };
  for (const auto& args : commands) {
    CAPTURE(args[0]);
    const std::string before = test::FileDigest(data);
    CliResult r = f.Run(args);
    CHECK_MESSAGE(r.exit_code >= 0, r.err);
    CHECK(r.exit_code <= 1);
    CHECK(test::FileDigest(data) == before);
  }
}

// --- The demo's bank plugin ------------------------------------------------

TEST_CASE(
    "the demo's planted overdraft is found by bisect with the bank plugin") {
  test::TempDir dir;
  const std::string store = dir.Sub("demo-store");
  const std::string command = std::string(MEMOIR_DEMO) + " " + store +
                              " --quick --plant-overdraft 2>&1";
  FILE* demo = popen(command.c_str(), "r");
  REQUIRE(demo != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, demo)) > 0) out.append(buf, n);
  REQUIRE_MESSAGE(pclose(demo) == 0, out);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(out, m,
                                    std::regex("(account-\\d+) seq "
                                               "(\\d+): withdrew")),
                  out);
  const std::string account = m[1];
  const std::string seq = m[2];

  CliResult listed = RunCli({"plugin", MEMOIR_BANK_PLUGIN});
  REQUIRE_EXIT(listed, 0);
  CHECK(Has(listed.out,
            "  invariant balance-never-negative: the balance is "
            "never below zero\n"));
  CliResult r =
      RunCli({"bisect", store, account, "--plugin", MEMOIR_BANK_PLUGIN,
              "--invariant", "balance-never-negative", "--json"});
  REQUIRE_EXIT(r, 1);
  JsonValue v = Parse(r.out);
  CHECK(std::to_string(U(v, "seq")) == seq);
  CHECK(At(At(v, "event"), "type").text == "Withdrawn");
  CHECK(I(At(v, "after"), "balance") == -100000);
  CliResult snapshots = RunCli(
      {"verify-snapshots", store, "--plugin", MEMOIR_BANK_PLUGIN, "--json"});
  REQUIRE_EXIT(snapshots, 0);
  JsonValue summary = Parse(snapshots.Lines().back());
  CHECK(U(summary, "checked") > 0);
  CHECK(U(summary, "mismatches") == 0);
}

}  // namespace memoir
