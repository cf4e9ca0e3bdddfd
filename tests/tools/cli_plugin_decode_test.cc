// The listing commands with --plugin (events, all, tail, snapshots,
// export): payloads and snapshot states of a PodCodec store shown through
// the test plugin's event_to_json / state_to_json (replay_plugin.cc), the
// usual printing for streams it does not take, and a marked error, not an
// aborted listing, for a record it cannot show.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "json.h"
#include "memoir/store.h"
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

const std::string kDecodePlugin = MEMOIR_TEST_PLUGIN;

using test::Has;
using test::JsonLines;
using test::Parse;

const JsonValue* Field(const JsonValue& v, const char* key) {
  return v.Find(key);
}
// The "payload" of a line, which must be there.
const JsonValue& Payload(const JsonValue& v) {
  const JsonValue* p = v.Find("payload");
  REQUIRE_MESSAGE(p != nullptr, "no payload");
  return *p;
}
int64_t IntField(const JsonValue& v, const char* key) {
  const JsonValue* f = v.Find(key);
  REQUIRE_MESSAGE(f != nullptr, "no key ", key);
  REQUIRE(f->AsI64());
  return *f->AsI64();
}
std::string S(const JsonValue& v, const char* key) {
  const JsonValue* f = v.Find(key);
  REQUIRE_MESSAGE(f != nullptr, "no key ", key);
  return f->text;
}

// A store written the way an application with PodCodec actors writes it:
// entries of `amounts` on each stream, a snapshot of the balance after
// every second entry.
struct PodStore {
  test::TempDir dir;
  std::string path = dir.Sub("store");

  void Write(const std::string& stream, const std::vector<int64_t>& amounts) {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(path, o);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    rt::Balance b;
    for (size_t i = 0; i < amounts.size(); ++i) {
      rt::Entry e{amounts[i], 0, 0};
      REQUIRE((*store)
                  ->journal()
                  .Append(stream, Expected::At(i),
                          {rt::Ledger::EventCodec::Encode(e)})
                  .ok());
      b.balance += e.amount;
      ++b.entries;
      if (b.entries % 2 == 0) {
        REQUIRE((*store)
                    ->snapshots()
                    .Save(stream, i + 1, rt::Ledger::StateCodec::EncodeState(b))
                    .ok());
      }
    }
    REQUIRE((*store)->Close().ok());
  }
  // Appends bytes PodCodec<Entry> cannot read (3 bytes, not 16).
  void WriteGarbage(const std::string& stream, uint64_t head) {
    StoreOptions o;
    o.durability = Durability::kNone;
    auto store = Store::Open(path, o);
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .Append(stream, Expected::At(head),
                        {{"Entry", std::string("\x01\x02\x03", 3), 1, {}}})
                .ok());
    REQUIRE((*store)->Close().ok());
  }
  CliResult Run(std::vector<std::string> args, bool plugin = true) {
    args.insert(args.begin() + 1, path);
    if (plugin) {
      args.push_back("--plugin");
      args.push_back(kDecodePlugin);
    }
    return RunCli(args);
  }
};

}  // namespace

TEST_CASE(
    "events --plugin shows each PodCodec payload as the plugin's JSON, in "
    "the table and as a JSON value in --json lines") {
  PodStore s;
  s.Write("ledger-1", {5, -2, 7});
  CliResult plain = s.Run({"events", "ledger-1"}, /*plugin=*/false);
  REQUIRE_EXIT(plain, 0);
  CHECK_FALSE(Has(plain.out, "amount"));  // bytes only, without the plugin

  CliResult table = s.Run({"events", "ledger-1"});
  REQUIRE_EXIT(table, 0);
  CHECK(Has(table.out, R"({"amount":5,"wobble":0})"));
  CHECK(Has(table.out, R"({"amount":-2,"wobble":0})"));
  CHECK(Has(table.out, R"({"amount":7,"wobble":0})"));

  std::vector<JsonValue> lines =
      JsonLines(s.Run({"events", "ledger-1", "--json"}));
  REQUIRE(lines.size() == 3);
  for (size_t i = 0; i < lines.size(); ++i) {
    const JsonValue* payload = Field(lines[i], "payload");
    REQUIRE(payload != nullptr);
    CHECK(payload->kind == JsonValue::Kind::kObject);
    CHECK(Field(lines[i], "payload_error") == nullptr);
    CHECK(Field(lines[i], "payload_base64") != nullptr);  // the bytes too
  }
  CHECK(IntField(Payload(lines[1]), "amount") == -2);
}

TEST_CASE(
    "all and tail with --plugin decode the streams the plugin takes and "
    "print the others as without it") {
  PodStore s;
  s.Write("ledger-1", {5, 6});
  s.Write("other-1", {9});  // no type of the plugin takes other-*
  for (std::vector<std::string> args :
       {std::vector<std::string>{"all", "--json"},
        std::vector<std::string>{"tail", "-n", "3", "--json"}}) {
    CAPTURE(args[0]);
    std::vector<JsonValue> lines = JsonLines(s.Run(args));
    REQUIRE(lines.size() == 3);
    CHECK(S(lines[0], "stream") == "ledger-1");
    CHECK(IntField(Payload(lines[0]), "amount") == 5);
    CHECK(IntField(Payload(lines[1]), "amount") == 6);
    CHECK(S(lines[2], "stream") == "other-1");
    CHECK(Field(lines[2], "payload") == nullptr);
    CHECK(Field(lines[2], "payload_error") == nullptr);
  }
  CliResult table = s.Run({"all"});
  REQUIRE_EXIT(table, 0);
  CHECK(Has(table.out, R"({"amount":6,"wobble":0})"));
  CHECK_FALSE(Has(table.out, R"("amount":9)"));
  CliResult tail = s.Run({"tail", "-n", "1"});
  REQUIRE_EXIT(tail, 0);
  CHECK(Has(tail.out, "other-1"));
  CHECK_FALSE(Has(tail.out, "amount"));
}

TEST_CASE("snapshots --plugin shows each state as the plugin's JSON") {
  PodStore s;
  s.Write("ledger-1", {5, 6, 7, 8});  // snapshots at 2 and 4
  CliResult table = s.Run({"snapshots", "ledger-1"});
  REQUIRE_EXIT(table, 0);
  CHECK(Has(table.out, R"({"balance":11,"entries":2})"));
  CHECK(Has(table.out, R"({"balance":26,"entries":4})"));
  std::vector<JsonValue> lines =
      JsonLines(s.Run({"snapshots", "ledger-1", "--json"}));
  REQUIRE(lines.size() == 2);
  CHECK(IntField(Payload(lines[1]), "balance") == 26);
}

TEST_CASE(
    "export --plugin adds each decoded payload and state beside the exact "
    "bytes, and imports to the same store as a plain export") {
  PodStore s;
  s.Write("ledger-1", {5, 6});
  s.Write("other-1", {9});
  CliResult plain = s.Run({"export"}, /*plugin=*/false);
  REQUIRE_EXIT(plain, 0);
  CliResult decoded = s.Run({"export"});
  REQUIRE_EXIT(decoded, 0);
  std::vector<JsonValue> a = JsonLines(plain), b = JsonLines(decoded);
  REQUIRE(a.size() == b.size());
  int events = 0, snapshots = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const JsonValue* kind = Field(b[i], "kind");
    if (kind == nullptr || (kind->text != "event" && kind->text != "snapshot"))
      continue;
    CHECK(S(a[i], "payload_base64") == S(b[i], "payload_base64"));
    CHECK(Field(a[i], "decoded") == nullptr);
    if (S(b[i], "stream") == "other-1") {
      CHECK(Field(b[i], "decoded") == nullptr);
      continue;
    }
    const JsonValue* d = Field(b[i], "decoded");
    REQUIRE(d != nullptr);
    if (kind->text == "event") {
      ++events;
      CHECK(IntField(*d, "amount") == (events == 1 ? 5 : 6));
    } else {
      ++snapshots;
      CHECK(IntField(*d, "balance") == 11);
    }
  }
  CHECK(events == 2);
  CHECK(snapshots == 1);

  const std::string target = s.dir.Sub("imported");
  CliResult imported = RunCli({"import", target}, decoded.out);
  REQUIRE_EXIT(imported, 0);
  CliResult again = RunCli({"export", target});
  REQUIRE_EXIT(again, 0);
  CHECK(again.out == plain.out);
}

TEST_CASE(
    "a record the plugin cannot show is marked with why and its bytes, and "
    "the listing goes on") {
  PodStore s;
  s.Write("eventbug-1", {1, 13, 2});
  s.Write("badjson-1", {1, 13, 2});
  s.Write("ledger-1", {4});
  s.WriteGarbage("ledger-1", 1);

  SUBCASE("event_to_json throws") {
    CliResult table = s.Run({"events", "eventbug-1"});
    REQUIRE_EXIT(table, 0);
    CHECK(Has(table.out, R"({"amount":1,"wobble":0})"));
    CHECK(Has(table.out,
              "!PLUGIN ERROR: plugin type 'eventbug': event_to_json threw "
              "std::runtime_error: event_to_json bug on purpose on seq 2"));
    CHECK(Has(table.out, R"({"amount":2,"wobble":0})"));
    std::vector<JsonValue> lines =
        JsonLines(s.Run({"events", "eventbug-1", "--json"}));
    REQUIRE(lines.size() == 3);
    CHECK(Field(lines[1], "payload") == nullptr);
    CHECK(Has(S(lines[1], "payload_error"), "event_to_json bug on purpose"));
    CHECK(IntField(Payload(lines[2]), "amount") == 2);
  }
  SUBCASE("event_to_json and state_to_json return text that is not JSON") {
    CliResult table = s.Run({"events", "badjson-1"});
    REQUIRE_EXIT(table, 0);
    CHECK(Has(table.out,
              "!PLUGIN ERROR: plugin type 'badjson': event_to_json returned "
              "text that is not JSON ("));
    CHECK(Has(table.out, "{amount: 13"));
    std::vector<JsonValue> lines =
        JsonLines(s.Run({"events", "badjson-1", "--json"}));
    REQUIRE(lines.size() == 3);  // every line still parses
    CHECK(Field(lines[1], "payload") == nullptr);
    CHECK(Has(S(lines[1], "payload_error"), "is not JSON"));
    CHECK(IntField(Payload(lines[2]), "amount") == 2);
    std::vector<JsonValue> snaps =
        JsonLines(s.Run({"snapshots", "badjson-1", "--json"}));
    REQUIRE(snaps.size() == 1);
    CHECK(Has(S(snaps[0], "payload_error"),
              "plugin type 'badjson': state_to_json returned text that is "
              "not JSON"));
    std::vector<JsonValue> exported = JsonLines(s.Run({"export"}));
    bool marked = false;
    for (const JsonValue& line : exported) {
      const JsonValue* e = Field(line, "decoded_error");
      if (e != nullptr && Has(e->text, "event_to_json returned text")) {
        marked = true;
        CHECK(Field(line, "decoded") == nullptr);
      }
    }
    CHECK(marked);
  }
  SUBCASE("the payload does not decode") {
    CliResult table = s.Run({"events", "ledger-1"});
    REQUIRE_EXIT(table, 0);
    CHECK(Has(table.out, R"({"amount":4,"wobble":0})"));
    CHECK(Has(table.out, "!PLUGIN ERROR: "));
    CHECK(Has(table.out, "cannot decode event type 'Entry' version 1"));
    CHECK(Has(table.out, "bytes: hex:010203"));
  }
}

TEST_CASE(
    "a plugin crashing on a record is reported as the plugin's or the "
    "store's fault, and a plugin that cannot load is a usage error") {
  PodStore s;
  s.Write("crashy-1", {1, 2});  // state_to_json crashes once entries > 0
  CliResult crashed = s.Run({"snapshots", "crashy-1"});
  REQUIRE_EXIT(crashed, 3);
  CHECK(Has(crashed.err, "memoir: reading " + s.path + " with plugin " +
                             kDecodePlugin + " crashed (Segmentation fault)"));
  CliResult missing = RunCli(
      {"events", s.path, "crashy-1", "--plugin", s.dir.Sub("nothing.so")});
  REQUIRE_EXIT(missing, 2);
  CHECK(Has(missing.err, "does not exist; check the path"));
}

}  // namespace memoir
