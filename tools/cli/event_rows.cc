// Events and snapshots as table rows or JSON lines (event_rows.h).
#include "event_rows.h"

#include <fmt/format.h>

#include "format.h"
#include "json.h"

namespace memoir::cli {
namespace {

std::vector<Table::Column> EventColumns(bool commit_order, bool meta) {
  std::vector<Table::Column> cols;
  if (commit_order) {
    cols = {{"POSITION", true}, {"STREAM", false}, {"SEQ", true}};
  } else {
    cols = {{"SEQ", true}, {"POSITION", true}};
  }
  for (const char* c : {"TIME", "TYPE"}) cols.push_back({c, false});
  cols.push_back({"VER", true});
  cols.push_back({"SIZE", true});
  cols.push_back({"TAGS", false});
  if (meta) {
    for (const char* c : {"ID", "CAUSATION", "CORRELATION", "METADATA"}) {
      cols.push_back({c, false});
    }
  }
  cols.push_back({"PAYLOAD", false});
  return cols;
}

// What the plugin made of a record when it took it, else the schema's
// rendering or a preview.
RenderedPayload Show(const Decoded& d, Schema* schema, std::string_view type,
                     std::string_view payload) {
  if (!d.claimed) return Render(schema, type, payload);
  RenderedPayload out;
  out.cell = DecodedCell(d, payload);
  out.json = d.json;
  out.why = d.error;
  return out;
}

std::string JoinTags(std::span<const std::string_view> tags) {
  std::string out;
  for (std::string_view t : tags) {
    if (!out.empty()) out += ',';
    out += Cell(t, 32);
  }
  return out.empty() ? "-" : out;
}

}  // namespace

bool LoadSchema(const Options& o, std::unique_ptr<Schema>* schema) {
  if (o.schema.empty()) return true;
  auto loaded = Schema::Load(o.schema);
  if (!loaded.ok()) {
    (void)UsageError(loaded.status().message());
    return false;
  }
  *schema = std::move(loaded).value();
  return true;
}

bool LoadDecoder(const Options& o, std::unique_ptr<PluginDecoder>* decoder) {
  if (o.plugin.empty()) return true;
  *decoder = PluginDecoder::Load(o);
  return *decoder != nullptr;
}

EventPrinter::EventPrinter(const Options& o, Schema* schema,
                           PluginDecoder* decoder, bool in_commit_order)
    : json_(o.json),
      meta_(o.meta),
      schema_(schema),
      decoder_(decoder),
      commit_order_(in_commit_order),
      table_(EventColumns(in_commit_order, o.meta)) {}

void EventPrinter::Print(const EventView& e) {
  ++count_;
  RenderedPayload payload = Show(decoder_ ? decoder_->Event(e) : Decoded{},
                                 schema_, e.type, e.payload);
  if (json_) {
    std::vector<std::string> tags(e.tags.begin(), e.tags.end());
    JsonObject line;
    line.Str("stream", e.stream)
        .Num("seq", e.seq)
        .Num("position", e.position)
        .Str("time", IsoTime(e.timestamp_ns, /*nanos=*/true))
        .Int("timestamp_ns", e.timestamp_ns)
        .Str("type", e.type)
        .Num("schema_version", e.schema_version)
        .Num("size", e.payload.size())
        .Strs("tags", tags);
    if (!e.id.empty()) line.Str("id", e.id.ToString());
    if (!e.causation_id.empty()) {
      line.Str("causation_id", e.causation_id.ToString());
    }
    if (!e.correlation_id.empty()) {
      line.Str("correlation_id", e.correlation_id.ToString());
    }
    if (!e.metadata.empty()) {
      line.Str("metadata_base64", Base64(e.metadata));
    }
    if (!payload.json.empty()) line.Raw("payload", payload.json);
    if (!payload.why.empty()) line.Str("payload_error", payload.why);
    line.Str("payload_base64", Base64(e.payload));
    PrintLine(line.str());
    return;
  }
  std::vector<std::string> row;
  if (commit_order_) {
    row = {std::to_string(e.position), Cell(e.stream, 40),
           std::to_string(e.seq)};
  } else {
    row = {std::to_string(e.seq), std::to_string(e.position)};
  }
  row.push_back(IsoTime(e.timestamp_ns));
  row.push_back(Cell(e.type, 40));
  row.push_back(std::to_string(e.schema_version));
  row.push_back(Size(e.payload.size()));
  row.push_back(JoinTags(e.tags));
  if (meta_) {
    for (const Uuid& id : {e.id, e.causation_id, e.correlation_id}) {
      row.push_back(id.empty() ? "-" : id.ToString());
    }
    row.push_back(e.metadata.empty() ? "-" : Preview(e.metadata));
  }
  row.push_back(payload.cell);
  table_.Row(std::move(row));
}

void EventPrinter::Flush() {
  if (json_) {
    FlushOut();
  } else {
    table_.Flush();
  }
}

void PrintSnapshots(const Options& o, Schema* schema, PluginDecoder* decoder,
                    std::string_view stream,
                    const std::vector<SnapshotInfo>& infos,
                    const std::vector<std::string>& payloads) {
  Table table({{"SEQ", true},
               {"TIME", false},
               {"TYPE", false},
               {"VER", true},
               {"SIZE", true},
               {"CHECKSUM", false},
               {"PAYLOAD", false}});
  for (size_t i = 0; i < infos.size(); ++i) {
    const SnapshotInfo& s = infos[i];
    RenderedPayload payload;
    if (s.checksum_ok) {
      Decoded d;
      if (decoder != nullptr) {
        d = decoder->State(stream, Snapshot{s, payloads[i]});
      }
      payload = Show(d, schema, s.type, payloads[i]);
    }
    if (o.json) {
      JsonObject line;
      line.Str("stream", stream)
          .Num("seq", s.seq)
          .Bool("checksum_ok", s.checksum_ok)
          .Num("size", s.size);
      if (s.checksum_ok) {
        line.Str("time", IsoTime(s.timestamp_ns, /*nanos=*/true))
            .Int("timestamp_ns", s.timestamp_ns)
            .Str("type", s.type)
            .Num("schema_version", s.schema_version);
        if (!payload.json.empty()) line.Raw("payload", payload.json);
        if (!payload.why.empty()) line.Str("payload_error", payload.why);
        line.Str("payload_base64", Base64(payloads[i]));
      }
      PrintLine(line.str());
      continue;
    }
    if (!s.checksum_ok) {
      table.Row(
          {std::to_string(s.seq), "-", "-", "-", Size(s.size), "DAMAGED", "-"});
      continue;
    }
    table.Row({std::to_string(s.seq), IsoTime(s.timestamp_ns), Cell(s.type, 40),
               std::to_string(s.schema_version), Size(s.size), "ok",
               payload.cell});
  }
  table.Flush();
}

}  // namespace memoir::cli
