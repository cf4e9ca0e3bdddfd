// export and import: a round trip through JSON Lines gives the same
// streams, seqs, types, tags, payload bytes, ids and metadata (and the same
// export), and
// import refuses input that is not an export.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "memoir/store.h"
#include "support/open_store.h"
#include "support/temp_dir.h"
#include "tools/bank_store.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using test::CliResult;
using test::RunCli;

std::unique_ptr<Store> OpenReadOnly(const std::string& path) {
  return test::OpenReadOnlyOrFail(path);
}

// The bank, plus bytes that are not UTF-8 in a type and a tag, an empty
// payload and events appended together.
void WriteStore(const std::string& path) {
  auto store = Store::Open(path);
  REQUIRE(store.ok());
  test::FillBank(**store);
  Journal& j = (*store)->journal();
  REQUIRE(j.Append("odd", Expected::NoStream(),
                   {{std::string("T\xff\x01", 3),
                     "",
                     7,
                     {std::string("t\xc3", 2), "plain"}},
                    {"Second", std::string("\0\1\2", 3), 1, {}}})
              .ok());
  // Ids, causation, correlation and metadata (bytes that are not UTF-8),
  // then events without, then again with: import batches them apart.
  std::vector<EventData> linked(2);
  for (size_t i = 0; i < linked.size(); ++i) {
    linked[i].type = "Linked";
    linked[i].id = Uuid{0x0190f5b27c1e7a3dULL, 100 + i};
    linked[i].correlation_id = Uuid{7, 7};
  }
  linked[1].causation_id = linked[0].id;
  linked[1].metadata = std::string("m\xff\0", 3);
  REQUIRE(j.Append("linked", Expected::NoStream(), linked).ok());
  REQUIRE(j.Append("linked", Expected::Any(), {{"Plain", "p", 1, {}}}).ok());
  linked[0].id = Uuid{1, 1};
  linked[1].id = Uuid{1, 2};
  REQUIRE(j.Append("linked", Expected::Any(), linked).ok());
  // Stream metadata, one not UTF-8.
  REQUIRE(j.SetStreamMetadata("linked", std::string("owner\0\xfe", 7)).ok());
  REQUIRE(j.SetStreamMetadata("odd", "{\"retention\":\"30d\"}").ok());
  // A snapshot with metadata.
  REQUIRE((*store)
              ->snapshots()
              .Save("linked", 3,
                    SnapshotData{"Links", 2, "state", std::string("s\xfe", 2)})
              .ok());
}

void CheckSameEvents(Store& a, Store& b) {
  auto pa = a.journal().ListStreams("", "", 1000);
  auto pb = b.journal().ListStreams("", "", 1000);
  REQUIRE(pa.ok());
  REQUIRE(pb.ok());
  REQUIRE(pa->streams.size() == pb->streams.size());
  for (size_t i = 0; i < pa->streams.size(); ++i) {
    const StreamInfo& sa = pa->streams[i];
    const StreamInfo& sb = pb->streams[i];
    CAPTURE(sa.name);
    CHECK(sa.name == sb.name);
    CHECK(sa.head == sb.head);
    CHECK(sa.deleted_to == sb.deleted_to);
    CHECK(sa.deleted == sb.deleted);
    CHECK(sa.event_count == sb.event_count);
    if (sa.deleted) continue;
    auto ma = a.journal().GetStreamMetadata(sa.name);
    auto mb = b.journal().GetStreamMetadata(sb.name);
    REQUIRE(ma.ok());
    REQUIRE(mb.ok());
    CHECK(*ma == *mb);
    auto ea = a.journal().Read(sa.name);
    auto eb = b.journal().Read(sb.name);
    REQUIRE(ea.ok());
    REQUIRE(eb.ok());
    REQUIRE(ea->size() == eb->size());
    for (size_t k = 0; k < ea->size(); ++k) {
      CHECK((*ea)[k].seq == (*eb)[k].seq);
      CHECK((*ea)[k].type == (*eb)[k].type);
      CHECK((*ea)[k].schema_version == (*eb)[k].schema_version);
      CHECK((*ea)[k].tags == (*eb)[k].tags);
      CHECK((*ea)[k].payload == (*eb)[k].payload);
      CHECK((*ea)[k].timestamp_ns == (*eb)[k].timestamp_ns);
      CHECK((*ea)[k].id == (*eb)[k].id);
      CHECK((*ea)[k].causation_id == (*eb)[k].causation_id);
      CHECK((*ea)[k].correlation_id == (*eb)[k].correlation_id);
      CHECK((*ea)[k].metadata == (*eb)[k].metadata);
    }
    auto snaps_a = a.snapshots().List(sa.name);
    auto snaps_b = b.snapshots().List(sb.name);
    REQUIRE(snaps_a.ok());
    REQUIRE(snaps_b.ok());
    REQUIRE(snaps_a->size() == snaps_b->size());
    if (snaps_a->empty()) continue;
    auto latest_a = a.snapshots().LoadLatest(sa.name);
    auto latest_b = b.snapshots().LoadLatest(sb.name);
    REQUIRE(latest_a.ok());
    REQUIRE(latest_b.ok());
    REQUIRE(latest_a->snapshot.has_value() == latest_b->snapshot.has_value());
    if (!latest_a->snapshot) continue;
    CHECK(latest_a->snapshot->payload == latest_b->snapshot->payload);
    CHECK(latest_a->snapshot->metadata == latest_b->snapshot->metadata);
  }
}

}  // namespace

TEST_CASE(
    "export, import into a new store and export again gives identical "
    "output and identical events") {
  test::TempDir dir;
  const std::string source = dir.Sub("source");
  const std::string target = dir.Sub("target");
  WriteStore(source);
  CliResult first = RunCli({"export", source});
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  CliResult imported = RunCli({"import", target}, first.out);
  REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  CHECK(imported.out ==
        "imported 7 streams, 14 events and 3 snapshots into " + target + "\n");
  CliResult second = RunCli({"export", target});
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);
  CHECK(second.out == first.out);
  CHECK(RunCli({"verify", target}).exit_code == 0);
  CheckSameEvents(*OpenReadOnly(source), *OpenReadOnly(target));
}

TEST_CASE("export of one stream imports on its own") {
  test::TempDir dir;
  WriteStore(dir.Sub("source"));
  CliResult one =
      RunCli({"export", dir.Sub("source"), "--stream", "account-3"});
  REQUIRE(one.exit_code == 0);
  CHECK(one.Lines().size() == 1 + 1 + 1 + 1);  // header, stream, seq 3, end
  REQUIRE(RunCli({"import", dir.Sub("target")}, one.out).exit_code == 0);
  auto store = OpenReadOnly(dir.Sub("target"));
  auto info = store->journal().GetStream("account-3");
  REQUIRE(info.ok());
  CHECK(info->head == 3);
  CHECK(info->deleted_to == 2);
  CHECK(info->event_count == 1);
  CHECK(store->journal().ListStreams("", "", 10)->streams.size() == 1);
  CHECK(RunCli({"export", dir.Sub("source"), "--stream", "nobody"}).exit_code ==
        1);
}

TEST_CASE(
    "import skips the metadata of a live stream none of whose events reached "
    "the export, as it skips the stream") {
  // An export whose stream line was written before every event of the
  // stream was deleted (a race with a live store).
  const std::string input =
      "{\"memoir_export\":1}\n"
      "{\"kind\":\"stream\",\"stream\":\"gone\",\"head\":2,"
      "\"deleted_to\":0,\"deleted\":false,\"created_ns\":1,"
      "\"metadata_base64\":\"bWV0YQ==\"}\n"
      "{\"kind\":\"end\",\"streams\":1,\"events\":0,\"snapshots\":0}\n";
  test::TempDir dir;
  CliResult r = RunCli({"import", dir.Sub("target")}, input);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto store = OpenReadOnly(dir.Sub("target"));
  CHECK(store->journal().GetStream("gone").status().IsNotFound());
}

TEST_CASE("import refuses input that is not an export, naming the line") {
  test::TempDir dir;
  WriteStore(dir.Sub("source"));
  const std::string good = RunCli({"export", dir.Sub("source")}).out;
  struct Case {
    const char* name;
    std::string input;
    const char* says;
  };
  const std::string cut = good.substr(0, good.rfind("{\"kind\":\"end\""));
  const std::string bad_json = good.substr(0, good.find('\n') + 1) + "{oops\n";
  const std::string gap = [&] {
    std::string s = good;
    const std::string from = "\"stream\":\"account-1\",\"seq\":2";
    return s.replace(s.find(from), from.size(),
                     "\"stream\":\"account-1\",\"seq\":9");
  }();
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    REQUIRE(s.find(from) != std::string::npos);
    return s.replace(s.find(from), from.size(), to);
  };
  const std::string bad_id = replaced("\"id\":\"0190f5b2", "\"id\":\"x190f5b2");
  const std::string bad_metadata =
      replaced("\"metadata_base64\":\"", "\"metadata_base64\":\"!");
  for (const Case& c : {Case{"empty", "", "line 1: the input is empty"},
                        Case{"not an export", "{\"a\":1}\n",
                             "line 1: the input does not start with"},
                        Case{"bad json", bad_json, "line 2: not valid JSON"},
                        Case{"cut short", cut, "was cut short"},
                        Case{"gap", gap, "seq 9 where seq 2 was expected"},
                        Case{"bad id", bad_id, "\"id\" is not a UUID"},
                        Case{"bad metadata", bad_metadata,
                             "\"metadata_base64\" is not base64"}}) {
    CAPTURE(c.name);
    CliResult r =
        RunCli({"import", dir.Sub(std::string("t-") + c.name)}, c.input);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find(c.says) != std::string::npos, r.err);
  }
  // Streams that exist already are a conflict: nothing of them is written.
  REQUIRE(RunCli({"import", dir.Sub("twice")}, good).exit_code == 0);
  CliResult again = RunCli({"import", dir.Sub("twice")}, good);
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists") != std::string::npos);
}

TEST_CASE(
    "a failed import into a new store leaves nothing behind; into an "
    "existing store it changes nothing the input did not reach") {
  test::TempDir dir;
  WriteStore(dir.Sub("source"));
  const std::string good = RunCli({"export", dir.Sub("source")}).out;
  const std::string cut = good.substr(0, good.rfind("{\"kind\":\"end\""));
  auto entries = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> before = entries();
  for (const std::string& input :
       {std::string("garbage\n"), std::string(""), cut}) {
    CAPTURE(input.substr(0, 20));
    CliResult r = RunCli({"import", dir.Sub("new-store")}, input);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("new-store was not created") != std::string::npos,
                  r.err);
    CHECK(!std::filesystem::exists(dir.Sub("new-store")));
    CHECK(entries() == before);  // no half-built sibling either
  }
  // An empty directory counts as new: it stays empty.
  std::filesystem::create_directory(dir.Sub("empty"));
  CHECK(RunCli({"import", dir.Sub("empty")}, "garbage\n").exit_code == 1);
  CHECK(std::filesystem::is_empty(dir.Sub("empty")));
  REQUIRE(RunCli({"import", dir.Sub("empty")}, good).exit_code == 0);
  CHECK(RunCli({"verify", dir.Sub("empty")}).exit_code == 0);
  // An existing store is kept, with what it held.
  const std::string digest = test::FileDigest(dir.Sub("source") + "/data.mdb");
  CliResult bad = RunCli({"import", dir.Sub("source")}, "garbage\n");
  CHECK(bad.exit_code == 1);
  CHECK(test::FileDigest(dir.Sub("source") + "/data.mdb") == digest);
  CHECK(RunCli({"verify", dir.Sub("source")}).exit_code == 0);
}

}  // namespace memoir
