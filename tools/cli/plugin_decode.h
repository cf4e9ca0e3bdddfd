// Payloads and snapshot states through a replay plugin, for the commands
// that list them (events, all, tail, snapshots, export): what a store
// holds shows as JSON whatever codec wrote it (PodCodec, protobuf, the
// application's own), not as bytes.
//
// A stream is decoded by the first registered type whose matcher takes it
// (its stream prefix, its `matches`); a stream no type takes, or an event
// of a type without event_to_json, is left to the usual printing (--schema,
// else a preview). A record the plugin cannot decode, or whose JSON is not
// JSON, is reported with it, never dropped: the listing goes on.
#ifndef MEMOIR_TOOLS_CLI_PLUGIN_DECODE_H_
#define MEMOIR_TOOLS_CLI_PLUGIN_DECODE_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "cli.h"
#include "memoir/journal.h"
#include "memoir/snapshot_store.h"
#include "plugin_host.h"

namespace memoir::cli {

// --plugin for the listing commands (optional there).
void AddDecodePluginOption(CLI::App* cmd, Options& o);

// What the plugin made of one record.
struct Decoded {
  bool claimed = false;  // a type took it: use json or error, not the bytes
  std::string json;      // one line of valid JSON (re-written compactly)
  std::string error;     // why the plugin could not show it; json is empty
};

class PluginDecoder {
 public:
  // Loads o.plugin. On failure prints why and returns null (exit code 2).
  static std::unique_ptr<PluginDecoder> Load(const Options& o);

  Decoded Event(const EventView& e);
  Decoded State(std::string_view stream, const Snapshot& snapshot);

 private:
  explicit PluginDecoder(std::unique_ptr<LoadedPlugin> plugin)
      : plugin_(std::move(plugin)) {}
  const plugin::Type* TypeFor(std::string_view stream);

  std::unique_ptr<LoadedPlugin> plugin_;
  std::map<std::string, const plugin::Type*, std::less<>> types_;  // cache
};

// The table cell of a claimed record: its JSON, or the error with a marker
// and a preview of the bytes.
std::string DecodedCell(const Decoded& d, std::string_view payload);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_PLUGIN_DECODE_H_
