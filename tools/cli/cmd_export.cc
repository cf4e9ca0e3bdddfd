// export: a store (or one stream) as JSON Lines, for import.
//
// Format, one JSON object per line:
//   {"memoir_export":1}
//   {"kind":"stream","stream":S,"head":H,"deleted_to":D,"deleted":B,
//    "created_ns":T,"created":ISO,"metadata_base64":M}  every stream first;
//                                       metadata only when set
//   {"kind":"event","stream":S,"seq":N,"timestamp_ns":T,"time":ISO,
//    "type":X,"schema_version":V,"tags":[X...],"payload_base64":P,
//    "id":U,"causation_id":U,"correlation_id":U,"metadata_base64":M}
//                                                       in commit order;
//                                       the last four only when present
//   {"kind":"snapshot","stream":S,"seq":N,"timestamp_ns":T,"time":ISO,
//    "type":X,"schema_version":V,"payload_base64":P,"metadata_base64":M}
//                                       metadata only when present
//   {"kind":"end","streams":N,"events":N,"snapshots":N}
// X is a string, or {"base64":...} for bytes that are not UTF-8; U a UUID
// ("0190f5b2-7c1e-7a3d-9b1f-3c2d4e5f6a7b"). Global
// positions are left out: they belong to a store, not to its data, and an
// import assigns its own.
//
// With --plugin LIB, event and snapshot lines of the streams the plugin's
// types take also carry "decoded": the payload (event_to_json) or state
// (state_to_json) as JSON, or "decoded_error": why the plugin could not
// show it. They are for people and other tools: payload_base64 stays the
// exact bytes, and import reads only it, so such an export imports to the
// same store as one without --plugin.
//
// A live store exports each stream as of the moment the listing saw it:
// events above the listed head are left for the next export.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <limits>
#include <map>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "json.h"
#include "memoir/message_store.h"
#include "output.h"
#include "plugin_decode.h"

namespace memoir::cli {
namespace {

struct Counts {
  uint64_t streams = 0, events = 0, snapshots = 0;
};

std::string StreamLine(const StreamInfo& s, std::string_view metadata) {
  JsonObject line;
  line.Str("kind", "stream")
      .Str("stream", s.name)
      .Num("head", s.head)
      .Num("deleted_to", s.deleted_to)
      .Bool("deleted", s.deleted)
      .Int("created_ns", s.created_ns)
      .Str("created", IsoTime(s.created_ns, true));
  if (!metadata.empty()) line.Str("metadata_base64", Base64(metadata));
  return line.str();
}

// Adds what the plugin made of a record, when it took it.
void AddDecoded(JsonObject& line, const Decoded& d) {
  if (!d.claimed) return;
  if (d.error.empty()) {
    line.Raw("decoded", d.json);
  } else {
    line.Str("decoded_error", d.error);
  }
}

std::string EventLine(const EventView& e, PluginDecoder* decoder) {
  std::string tags = "[";
  for (std::string_view t : e.tags) {
    if (tags.size() > 1) tags += ',';
    tags += JsonBytes(t);
  }
  tags += ']';
  JsonObject line;
  line.Str("kind", "event")
      .Str("stream", e.stream)
      .Num("seq", e.seq)
      .Int("timestamp_ns", e.timestamp_ns)
      .Str("time", IsoTime(e.timestamp_ns, true))
      .Raw("type", JsonBytes(e.type))
      .Num("schema_version", e.schema_version)
      .Raw("tags", tags)
      .Str("payload_base64", Base64(e.payload));
  if (!e.id.empty()) line.Str("id", e.id.ToString());
  if (!e.causation_id.empty()) {
    line.Str("causation_id", e.causation_id.ToString());
  }
  if (!e.correlation_id.empty()) {
    line.Str("correlation_id", e.correlation_id.ToString());
  }
  if (!e.metadata.empty()) line.Str("metadata_base64", Base64(e.metadata));
  if (decoder != nullptr) AddDecoded(line, decoder->Event(e));
  return line.str();
}

std::string SnapshotLine(std::string_view stream, const Snapshot& s,
                         PluginDecoder* decoder) {
  JsonObject line;
  line.Str("kind", "snapshot")
      .Str("stream", stream)
      .Num("seq", s.info.seq)
      .Int("timestamp_ns", s.info.timestamp_ns)
      .Str("time", IsoTime(s.info.timestamp_ns, true))
      .Raw("type", JsonBytes(s.info.type))
      .Num("schema_version", s.info.schema_version)
      .Str("payload_base64", Base64(s.payload));
  if (!s.metadata.empty()) line.Str("metadata_base64", Base64(s.metadata));
  if (decoder != nullptr) AddDecoded(line, decoder->State(stream, s));
  return line.str();
}

// The streams to export, by name, as listed now.
Result<std::map<std::string, StreamInfo>> ListAll(Journal& j,
                                                  const std::string& only) {
  std::map<std::string, StreamInfo> streams;
  if (!only.empty()) {
    Result<StreamInfo> info = j.GetStream(only);
    if (!info.ok()) return info.status();
    streams.emplace(only, *info);
    return streams;
  }
  std::string after;
  for (;;) {
    Heartbeat();
    Result<StreamPage> page = j.ListStreams("", after, 1000);
    if (!page.ok()) return page.status();
    for (StreamInfo& s : page->streams) streams.emplace(s.name, std::move(s));
    if (page->next.empty()) return streams;
    after = page->next;
  }
}

// Prints the events of the listed streams, up to their listed heads.
Status ExportEvents(Journal& j,
                    const std::map<std::string, StreamInfo>& streams,
                    const std::string& only, PluginDecoder* decoder,
                    Counts* counts, Progress* progress) {
  bool broken = false;
  auto visit = [&](const EventView& e) {
    Heartbeat();
    auto it = streams.find(std::string(e.stream));
    if (it == streams.end() || e.seq > it->second.head) return true;
    try {
      PrintLine(EventLine(e, decoder));
    } catch (const BrokenPipe&) {
      broken = true;
      return false;
    }
    progress->Update(++counts->events, "events");
    return true;
  };
  Status s;
  if (only.empty()) {
    s = j.ScanAll(1, kAll, visit);
  } else if (!streams.begin()->second.deleted) {
    s = j.Scan(only, {.to_seq = streams.begin()->second.head}, visit);
  }
  if (broken) throw BrokenPipe{};
  return s;
}

Status ExportSnapshots(SnapshotStore& snaps,
                       const std::map<std::string, StreamInfo>& streams,
                       PluginDecoder* decoder, Counts* counts) {
  for (const auto& [name, info] : streams) {
    if (info.deleted) continue;
    Result<std::vector<SnapshotInfo>> list = snaps.List(name);
    if (!list.ok()) return list.status();
    for (const SnapshotInfo& s : *list) {
      Heartbeat();
      if (s.seq > info.head) continue;  // taken after the listing
      Result<LoadResult> one =
          snaps.LoadLatest(name, {.max_seq = s.seq, .min_seq = s.seq});
      if (!one.ok()) return one.status();
      if (!s.checksum_ok || !one->snapshot) {
        return Status::Corruption(fmt::format(
            "the snapshot of stream '{}' at seq {} is damaged; the export "
            "stops rather than leave it out",
            name, s.seq));
      }
      PrintLine(SnapshotLine(name, *one->snapshot, decoder));
      ++counts->snapshots;
    }
  }
  return Status::OK();
}

// Durable messages and timers are keyed by this store's positions and are
// not exported: say so when some are pending, so that nobody takes the
// export for the whole store.
void WarnAboutMessages(Store& store, const std::string& only) {
  Result<std::unique_ptr<MessageStore>> messages = InStoreMessages(store);
  if (!messages.ok()) return;
  size_t waiting = 0, timers = 0;
  MessageKey after;
  for (;;) {
    Result<std::vector<StoredMessage>> page = (*messages)->Waiting(after, 1000);
    if (!page.ok() || page->empty()) break;
    after = page->back().key;
    for (const StoredMessage& m : *page) {
      if (only.empty() || m.id.sender == only || m.receiver == only) {
        ++waiting;
      }
    }
  }
  std::string stream, key;
  size_t damaged = 0;
  for (;;) {
    Result<std::vector<StoredTimer>> page =
        (*messages)->Timers(stream, key, 1000, &damaged);
    if (!page.ok() || page->empty()) break;
    stream = page->back().stream;
    key = page->back().key;
    for (const StoredTimer& t : *page) {
      if (only.empty() || t.stream == only) ++timers;
    }
  }
  if (waiting + timers == 0) return;
  ClearProgress();
  fmt::print(stderr,
             "memoir: note: {} durable message(s) waiting and {} timer(s) "
             "pending are not in this export (they are tied to this store's "
             "positions); let the application deliver them first ('memoir "
             "outbox' and 'memoir timers' list them), or use 'memoir copy', "
             "which keeps them\n",
             waiting, timers);
}

int RunExport(const Options& o, const std::string& only) {
  std::unique_ptr<PluginDecoder> decoder;
  if (!o.plugin.empty()) {
    decoder = PluginDecoder::Load(o);
    if (!decoder) return kExitUsage;
  }
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Progress progress("export");
  Counts counts;
  Result<std::map<std::string, StreamInfo>> streams =
      ListAll(store->journal(), only);
  if (!streams.ok()) return Fail(streams.status(), "listing streams");
  PrintLine(JsonObject().Num("memoir_export", 1).str());
  uint64_t total_events = 0;
  for (const auto& [name, info] : *streams) {
    std::string metadata;
    if (!info.deleted) {
      Result<std::string> m = store->journal().GetStreamMetadata(name);
      // Deleted since the listing: its events are skipped the same way.
      if (m.status().IsStreamDeleted() || m.status().IsNotFound()) {
        m = std::string();
      }
      if (!m.ok()) {
        return Fail(m.status(),
                    fmt::format("reading the metadata of '{}'", name));
      }
      metadata = std::move(*m);
    }
    PrintLine(StreamLine(info, metadata));
    ++counts.streams;
    if (!info.deleted) total_events += info.event_count;
  }
  progress.SetTotal(total_events);
  Status s = ExportEvents(store->journal(), *streams, only, decoder.get(),
                          &counts, &progress);
  if (!s.ok()) return Fail(s, "exporting events");
  s = ExportSnapshots(store->snapshots(), *streams, decoder.get(), &counts);
  if (!s.ok()) return Fail(s, "exporting snapshots");
  PrintLine(JsonObject()
                .Str("kind", "end")
                .Num("streams", counts.streams)
                .Num("events", counts.events)
                .Num("snapshots", counts.snapshots)
                .str());
  WarnAboutMessages(*store, only);
  return kExitOk;
}

}  // namespace

void AddExportCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands) {
  auto stream = std::make_shared<std::string>();
  CLI::App* exp = app.add_subcommand(
      "export",
      "Write the store (or one stream) to stdout as JSON Lines: streams, "
      "events in commit order and snapshots, for 'memoir import'");
  AddStoreArg(exp, o);
  exp->add_option("--stream", *stream, "Only this stream")->type_name("S");
  AddDecodePluginOption(exp, o);
  AddNoLockFlag(exp, o);
  commands.push_back(
      {exp, Kind::kRead, [&o, stream] { return RunExport(o, *stream); }});
}

}  // namespace memoir::cli
