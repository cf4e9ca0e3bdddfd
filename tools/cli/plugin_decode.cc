// Payloads and states through a replay plugin (plugin_decode.h).
#include "plugin_decode.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "format.h"
#include "json.h"
#include "json_diff.h"
#include "replay_common.h"

namespace memoir::cli {
namespace {

// The plugin's text as one compact line of JSON, or why it is not JSON.
Decoded Checked(const plugin::Type& type, std::string_view what,
                const Result<std::string>& text) {
  Decoded out;
  out.claimed = true;
  if (!text.ok()) {
    out.error = std::string(text.status().message());
    return out;
  }
  Result<JsonValue> v = PluginJson(type, what, *text);
  if (!v.ok()) {
    out.error = std::string(v.status().message());
    return out;
  }
  out.json = WriteJson(*v);
  return out;
}

}  // namespace

void AddDecodePluginOption(CLI::App* cmd, Options& o) {
  cmd->add_option("--plugin", o.plugin,
                  "Show payloads (and snapshot states) as JSON through this "
                  "replay plugin's event_to_json / state_to_json, for the "
                  "streams its types take; it wins over --schema there")
      ->type_name("LIB");
}

std::unique_ptr<PluginDecoder> PluginDecoder::Load(const Options& o) {
  std::unique_ptr<LoadedPlugin> p = LoadPlugin(o);
  if (!p) return nullptr;
  return std::unique_ptr<PluginDecoder>(new PluginDecoder(std::move(p)));
}

const plugin::Type* PluginDecoder::TypeFor(std::string_view stream) {
  auto it = types_.find(stream);
  if (it != types_.end()) return it->second;
  const plugin::Type* found = nullptr;
  for (const auto& t : plugin_->registry().types()) {
    if (t->Matches(stream)) {
      found = t.get();
      break;
    }
  }
  types_.emplace(std::string(stream), found);
  return found;
}

Decoded PluginDecoder::Event(const EventView& e) {
  const plugin::Type* type = TypeFor(e.stream);
  if (type == nullptr || !type->has_event_json()) return {};
  Result<plugin::EventReport> r = type->DescribeEvent(RecordedEvent::From(e));
  if (!r.ok()) return Checked(*type, "event_to_json", r.status());
  if (!r->json) return {};
  return Checked(*type, "event_to_json", *r->json);
}

Decoded PluginDecoder::State(std::string_view stream,
                             const Snapshot& snapshot) {
  const plugin::Type* type = TypeFor(stream);
  if (type == nullptr) return {};
  return Checked(*type, "state_to_json", type->DescribeState(snapshot));
}

std::string DecodedCell(const Decoded& d, std::string_view payload) {
  if (d.error.empty()) return d.json;
  return fmt::format("!PLUGIN ERROR: {}; bytes: {}", Cell(d.error, 200),
                     Preview(payload));
}

}  // namespace memoir::cli
