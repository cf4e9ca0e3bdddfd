// info, streams and snapshots: what a store and its streams hold.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <limits>

#include "cli.h"
#include "contain.h"
#include "event_rows.h"
#include "format.h"
#include "json.h"
#include "memoir/inspect.h"
#include "memoir/postgres.h"
#include "output.h"

namespace memoir::cli {
namespace {

std::string ReaderText(const ReaderSlot& r) {
  std::string who = r.pid == getpid() ? " (this command)" : "";
  return r.txn_id == 0
             ? fmt::format("pid {}{} idle", r.pid, who)
             : fmt::format("pid {}{} reading txn {}", r.pid, who, r.txn_id);
}

// info of a PostgreSQL store: what it holds and what an acknowledgement
// waits for there (no map, pages, readers or writer lock: the server's).
int RunPostgresInfo(const Options& o, Store& store) {
  Result<PostgresStoreInfo> r = InspectPostgres(store);
  if (!r.ok()) return Fail(r.status(), fmt::format("inspecting {}", o.store));
  const PostgresStoreInfo& info = *r;
  if (o.json) {
    PrintLine(
        JsonObject()
            .Str("store", info.store)
            .Str("backend", "postgresql")
            .Str("server_version", info.server_version)
            .Str("schema", info.schema)
            .Num("format_version", info.format_version)
            .Num("bytes", info.bytes)
            .Num("streams", info.streams)
            .Num("deleted_streams", info.deleted_streams)
            .Num("events", info.events)
            .Num("snapshots", info.snapshots)
            .Num("last_position", info.last_position)
            .Str("synchronous_commit", info.synchronous_commit)
            .Str("synchronous_standby_names", info.synchronous_standby_names)
            .str());
    return kExitOk;
  }
  PrintPairs({
      {"store", info.store},
      {"backend",
       "PostgreSQL " + info.server_version + ", schema " + info.schema},
      {"format version", std::to_string(info.format_version)},
      {"tables", Size(info.bytes) + " with their indexes"},
      {"streams",
       fmt::format("{} ({} deleted)", info.streams, info.deleted_streams)},
      {"events", std::to_string(info.events)},
      {"snapshots", std::to_string(info.snapshots)},
      {"last position", std::to_string(info.last_position)},
      {"synchronous_commit", info.synchronous_commit},
      {"synchronous standbys",
       !info.synchronous_standby_names.empty() ? info.synchronous_standby_names
       : info.synchronous_commit.rfind("off", 0) == 0
           ? "none (and with synchronous_commit off an acknowledgement "
             "waits for no flush)"
           : "none (an acknowledgement waits for the primary's WAL flush "
             "only)"},
  });
  return kExitOk;
}

int RunInfo(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Heartbeat();
  if (IsPostgresUri(o.store)) return RunPostgresInfo(o, *store);
  Result<StoreInfo> r = InspectStore(*store);
  if (!r.ok()) return Fail(r.status(), fmt::format("inspecting {}", o.store));
  const StoreInfo& info = *r;
  const uint64_t unindexed = info.last_position - info.indexed_to;
  if (o.json) {
    std::string readers = "[";
    for (const ReaderSlot& slot : info.readers) {
      if (readers.size() > 1) readers += ',';
      readers += JsonObject()
                     .Int("pid", slot.pid)
                     .Num("thread", slot.thread)
                     .Num("txn_id", slot.txn_id)
                     .str();
    }
    readers += ']';
    PrintLine(JsonObject()
                  .Str("store", info.path)
                  .Num("format_version", info.format_version)
                  .Num("file_size", info.file_size)
                  .Num("map_size", info.map_size)
                  .Num("map_used", info.map_used)
                  .Num("page_size", info.page_size)
                  .Num("streams", info.streams)
                  .Num("deleted_streams", info.deleted_streams)
                  .Num("events", info.events)
                  .Num("snapshots", info.snapshots)
                  .Num("last_position", info.last_position)
                  .Num("indexed_to", info.indexed_to)
                  .Num("max_readers", info.max_readers)
                  .Raw("readers", readers)
                  .Str("writer", info.writer)
                  .str());
    return kExitOk;
  }
  std::string readers = fmt::format("{} of {} slots in use",
                                    info.readers.size(), info.max_readers);
  for (const ReaderSlot& slot : info.readers) {
    readers += "\n" + ReaderText(slot);
  }
  if (o.no_lock) readers = "unknown (opened with --no-lock)";
  double used = info.map_size == 0
                    ? 0
                    : 100.0 * static_cast<double>(info.map_used) /
                          static_cast<double>(info.map_size);
  PrintPairs({
      {"store", info.path},
      {"format version", std::to_string(info.format_version)},
      {"data.mdb", fmt::format("{} on disk, {} in use", Size(info.file_size),
                               Size(info.map_used))},
      {"map size", fmt::format("{} ({:.1f}% used)", Size(info.map_size), used)},
      {"page size", Size(info.page_size)},
      {"streams",
       fmt::format("{} ({} deleted)", info.streams, info.deleted_streams)},
      {"events", std::to_string(info.events)},
      {"snapshots", std::to_string(info.snapshots)},
      {"last position", std::to_string(info.last_position)},
      {"indexed to",
       fmt::format("{} ({} position{} in the unindexed tail)", info.indexed_to,
                   unindexed, unindexed == 1 ? "" : "s")},
      {"readers", readers},
      {"writer", info.writer.empty() ? "none" : info.writer},
  });
  return kExitOk;
}

struct StreamsArgs {
  std::string prefix;
  size_t limit = kAll;
  bool by_creation = false;
  bool meta = false;
};

int RunStreams(const Options& o, const StreamsArgs& args) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  std::vector<Table::Column> columns{{"STREAM", false},   {"EVENTS", true},
                                     {"HEAD", true},      {"DELETED-TO", true},
                                     {"SNAPSHOTS", true}, {"LAST WRITE", false},
                                     {"STATE", false}};
  if (args.meta) columns.push_back({"METADATA", false});
  Table table(columns);
  std::string after;
  size_t printed = 0;
  std::vector<std::pair<std::string, std::string>> damaged;  // stream, why
  for (;;) {
    size_t want = std::min<size_t>(args.limit - printed, 1000);
    if (want == 0) break;
    ListStreamsOptions list;
    list.prefix = args.prefix;
    list.start_after = after;
    list.limit = want;
    if (args.by_creation) list.order = ListStreamsOptions::Order::kCreation;
    Result<StreamPage> page = store->journal().ListStreams(list);
    if (!page.ok()) return Fail(page.status(), "listing streams");
    for (const StreamInfo& s : page->streams) {
      Heartbeat();
      Result<std::vector<SnapshotInfo>> snaps = store->snapshots().List(s.name);
      if (!snaps.ok()) {
        return Fail(snaps.status(),
                    fmt::format("listing the snapshots of '{}'", s.name));
      }
      // The stream's user metadata (Journal::SetStreamMetadata); a
      // tombstoned stream has none.
      std::string metadata, metadata_damage;
      if (!s.deleted && (o.json || args.meta)) {
        Result<std::string> m = store->journal().GetStreamMetadata(s.name);
        if (m.ok()) {
          metadata = std::move(*m);
        } else if (m.status().IsCorruption()) {
          // Listed, and named on stderr, like a damaged record.
          metadata_damage = std::string(m.status().message());
          damaged.emplace_back(s.name, metadata_damage);
        } else if (!m.status().IsStreamDeleted() &&
                   !m.status().IsNotFound()) {  // else deleted meanwhile
          return Fail(m.status(),
                      fmt::format("reading the metadata of '{}'", s.name));
        }
      }
      if (o.json) {
        JsonObject line;
        line.Str("stream", s.name)
            .Num("id", s.id)
            .Num("events", s.event_count)
            .Num("head", s.head)
            .Num("deleted_to", s.deleted_to)
            .Num("snapshots", snaps->size())
            .Str("created", IsoTime(s.created_ns, true))
            .Str("last_write", IsoTime(s.last_write_ns, true))
            .Bool("deleted", s.deleted)
            .Str("damage", s.damage);
        if (!metadata.empty()) line.Str("metadata_base64", Base64(metadata));
        if (!metadata_damage.empty()) {
          line.Str("metadata_damage", metadata_damage);
        }
        PrintLine(line.str());
      } else {
        std::vector<std::string> row{Cell(s.name),
                                     std::to_string(s.event_count),
                                     std::to_string(s.head),
                                     std::to_string(s.deleted_to),
                                     std::to_string(snaps->size()),
                                     IsoTime(s.last_write_ns),
                                     s.deleted          ? "deleted"
                                     : s.damage.empty() ? "live"
                                                        : "damaged"};
        if (args.meta) {
          row.push_back(!metadata_damage.empty() ? "damaged"
                        : metadata.empty()       ? "-"
                                                 : Preview(metadata));
        }
        table.Row(row);
      }
      if (!s.damage.empty()) damaged.emplace_back(s.name, s.damage);
      ++printed;
    }
    if (page->next.empty()) break;
    after = page->next;
  }
  if (printed == 0 && !o.json) {
    fmt::print(stderr, "memoir: no streams{}\n",
               args.prefix.empty()
                   ? ""
                   : fmt::format(" start with '{}'", args.prefix));
  }
  if (damaged.empty()) return kExitOk;
  table.Flush();  // the listing first, then what is wrong with it
  for (const auto& [name, why] : damaged) {
    PrintError(kExitProblems,
               fmt::format("stream '{}' is damaged: {}", name, why), "");
  }
  return kExitProblems;
}

int RunSnapshots(const Options& o) {
  std::unique_ptr<Schema> schema;
  if (!LoadSchema(o, &schema)) return kExitUsage;
  std::unique_ptr<PluginDecoder> decoder;
  if (!LoadDecoder(o, &decoder)) return kExitUsage;
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  SnapshotStore& snaps = store->snapshots();
  Result<std::vector<SnapshotInfo>> infos = snaps.List(o.stream);
  if (!infos.ok()) {
    return Fail(infos.status(),
                fmt::format("listing the snapshots of '{}'", o.stream));
  }
  std::vector<std::string> payloads(infos->size());
  for (size_t i = 0; i < infos->size(); ++i) {
    Heartbeat();
    const SnapshotInfo& s = (*infos)[i];
    if (!s.checksum_ok) continue;
    Result<LoadResult> one =
        snaps.LoadLatest(o.stream, {.max_seq = s.seq, .min_seq = s.seq});
    if (!one.ok()) {
      return Fail(one.status(), fmt::format("loading the snapshot of '{}' at "
                                            "seq {}",
                                            o.stream, s.seq));
    }
    if (one->snapshot) payloads[i] = std::move(one->snapshot->payload);
  }
  PrintSnapshots(o, schema.get(), decoder.get(), o.stream, *infos, payloads);
  return kExitOk;
}

}  // namespace

void AddInfoCommands(CLI::App& app, Options& o,
                     std::vector<Command>& commands) {
  CLI::App* info = app.add_subcommand(
      "info",
      "Format version, map size and use, counts of streams, events and "
      "snapshots, last position, readers and writer");
  AddStoreArg(info, o);
  AddJsonFlag(info, o);
  AddNoLockFlag(info, o);
  commands.push_back({info, Kind::kRead, [&o] { return RunInfo(o); }});

  auto args = std::make_shared<StreamsArgs>();
  CLI::App* streams = app.add_subcommand(
      "streams",
      "Streams in name (or creation) order: events, head, deleted-to mark, "
      "snapshots, last write");
  AddStoreArg(streams, o);
  streams
      ->add_option("--prefix", args->prefix,
                   "Only streams whose names start with P")
      ->type_name("P");
  streams->add_option("--limit", args->limit, "At most N streams")
      ->type_name("N")
      ->check(AtLeastOne());
  streams->add_flag("--by-creation", args->by_creation,
                    "In the order the streams were created, oldest first");
  streams->add_flag("--meta", args->meta,
                    "Add each stream's user metadata (--json lines carry it "
                    "whenever it is set)");
  AddJsonFlag(streams, o);
  AddNoLockFlag(streams, o);
  commands.push_back(
      {streams, Kind::kRead, [&o, args] { return RunStreams(o, *args); }});

  CLI::App* snapshots = app.add_subcommand(
      "snapshots",
      "The snapshots of one stream: seq, time, type, version, size, checksum "
      "state, payload");
  AddStoreArg(snapshots, o);
  AddStreamArg(snapshots, o);
  AddSchemaOption(snapshots, o);
  AddDecodePluginOption(snapshots, o);
  AddJsonFlag(snapshots, o);
  AddNoLockFlag(snapshots, o);
  commands.push_back(
      {snapshots, Kind::kRead, [&o] { return RunSnapshots(o); }});
}

}  // namespace memoir::cli
