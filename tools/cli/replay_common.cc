// Shared parts of the replay commands (replay_common.h).
#include "replay_common.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "format.h"

namespace memoir::cli {

void AddPluginOption(CLI::App* cmd, Options& o) {
  cmd->add_option("--plugin", o.plugin,
                  "The application's replay plugin: a shared library "
                  "defining its actor types with MEMOIR_PLUGIN")
      ->type_name("LIB")
      ->required();
}

void AddTypeOption(CLI::App* cmd, ReplayArgs& args) {
  cmd->add_option("--type", args.type,
                  "The plugin's type to replay with (default: the one whose "
                  "stream matcher takes the stream)")
      ->type_name("NAME");
}

std::unique_ptr<LoadedPlugin> LoadPlugin(const Options& o) {
  Heartbeat();
  Result<std::unique_ptr<LoadedPlugin>> p = LoadedPlugin::Load(o.plugin);
  Heartbeat();
  if (!p.ok()) {
    Fail(p.status(), "loading the plugin");
    return nullptr;
  }
  return std::move(p).value();
}

int OpenSession(const Options& o, const ReplayArgs& args, ReplaySession* s) {
  s->plugin = LoadPlugin(o);
  if (!s->plugin) return kExitUsage;
  Result<const plugin::Type*> type = s->plugin->TypeFor(o.stream, args.type);
  if (!type.ok()) return Fail(type.status(), "choosing the type");
  s->type = *type;
  s->store = OpenForReading(o);
  if (!s->store) return kExitUnreadable;
  Result<StreamInfo> info = s->store->journal().GetStream(o.stream);
  if (!info.ok()) {
    return Fail(info.status(), fmt::format("reading stream '{}'", o.stream));
  }
  if (info->deleted) {
    return Fail(
        Status::StreamDeleted(fmt::format(
            "stream '{}' was deleted; there is nothing to replay", o.stream)),
        fmt::format("reading stream '{}'", o.stream));
  }
  s->head = info->head;
  return kExitOk;
}

int ReplayFail(const Status& s, std::string_view doing) {
  if (!s.IsNotFound()) return Fail(s, doing);
  fmt::print(stderr, "memoir: {}: {}\n", doing, s.message());
  return kExitProblems;
}

int CheckSeq(std::string_view option, uint64_t seq, const Options& o,
             uint64_t head) {
  if (seq > head) {
    return UsageError(
        fmt::format("{} {} is above the head of stream '{}' (seq {})", option,
                    seq, o.stream, head));
  }
  return kExitOk;
}

Result<JsonValue> PluginJson(const plugin::Type& type, std::string_view what,
                             const std::string& text) {
  Result<JsonValue> v = ParseJson(text);
  if (v.ok()) return v;
  return Status::Failed(fmt::format(
      "plugin type '{}': {} returned text that is not JSON ({}): {}",
      type.name(), what, v.status().message(), Cell(text, 80)));
}

namespace {

Result<std::string> PayloadJson(const plugin::Type& type,
                                const plugin::EventReport& e) {
  if (!e.json) return std::string();
  Result<JsonValue> v = PluginJson(type, "event_to_json", *e.json);
  if (!v.ok()) return v.status();
  return WriteJson(*v);
}

}  // namespace

Result<std::string> EventText(const plugin::Type& type,
                              const plugin::EventReport& e) {
  Result<std::string> payload = PayloadJson(type, e);
  if (!payload.ok()) return payload.status();
  return fmt::format("seq {}  {}  {} v{}  {}", e.event.seq,
                     IsoTime(e.event.timestamp_ns), Cell(e.event.type),
                     e.event.schema_version,
                     e.json ? *payload
                            : fmt::format("({} payload; the plugin has no "
                                          "event_to_json)",
                                          Size(e.event.payload.size())));
}

Result<std::string> EventObject(const plugin::Type& type,
                                const plugin::EventReport& e) {
  Result<std::string> payload = PayloadJson(type, e);
  if (!payload.ok()) return payload.status();
  return JsonObject()
      .Num("seq", e.event.seq)
      .Num("position", e.event.position)
      .Str("time", IsoTime(e.event.timestamp_ns, /*nanos=*/true))
      .Int("timestamp_ns", e.event.timestamp_ns)
      .Str("type", e.event.type)
      .Num("schema_version", e.event.schema_version)
      .Num("size", e.event.payload.size())
      .Raw("payload", e.json ? *payload : "null")
      .str();
}

std::vector<std::string> ChangeLines(const std::vector<JsonChange>& changes,
                                     std::string_view indent) {
  std::vector<std::string> out;
  auto side = [](const std::optional<JsonValue>& v) {
    return v ? WriteJson(*v) : std::string("(absent)");
  };
  for (const JsonChange& c : changes) {
    out.push_back(fmt::format("{}{}  {} -> {}", indent, PathText(c.path),
                              side(c.before), side(c.after)));
  }
  return out;
}

std::string ChangesArray(const std::vector<JsonChange>& changes) {
  std::string out = "[";
  for (const JsonChange& c : changes) {
    if (out.size() > 1) out += ',';
    JsonObject o;
    o.Str("path", c.path);
    if (c.before) o.Raw("before", WriteJson(*c.before));
    if (c.after) o.Raw("after", WriteJson(*c.after));
    out += o.str();
  }
  return out + "]";
}

std::string TypeText(const LoadedPlugin& p, const plugin::Type& t) {
  return fmt::format("type '{}' of plugin '{}'", t.name(), p.name());
}

}  // namespace memoir::cli
