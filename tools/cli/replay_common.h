// What the replay commands (replay, diff, bisect, verify-snapshots,
// rehandle, plugin) share: loading the plugin, opening the store, choosing
// the stream's type, progress, and printing events, states and changes.
#ifndef MEMOIR_TOOLS_CLI_REPLAY_COMMON_H_
#define MEMOIR_TOOLS_CLI_REPLAY_COMMON_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "contain.h"
#include "json.h"
#include "json_diff.h"
#include "memoir/plugin.h"
#include "output.h"
#include "plugin_host.h"

namespace memoir::cli {

// Options every replay command takes besides Options.
struct ReplayArgs {
  std::string type;  // --type: the registered type to use
  bool from_start = false;
};

void AddPluginOption(CLI::App* cmd, Options& o);
void AddTypeOption(CLI::App* cmd, ReplayArgs& args);

// Loads o.plugin. On failure prints why and returns null (exit code 2).
std::unique_ptr<LoadedPlugin> LoadPlugin(const Options& o);

// A plugin, the store and the type that replays o.stream.
struct ReplaySession {
  std::unique_ptr<LoadedPlugin> plugin;
  std::unique_ptr<Store> store;
  const plugin::Type* type = nullptr;
  uint64_t head = 0;  // o.stream's highest seq
};

// Loads the plugin, opens the store read-only, picks the type for o.stream
// and checks that the stream exists. Returns kExitOk, or the exit code
// after printing what went wrong.
int OpenSession(const Options& o, const ReplayArgs& args, ReplaySession* s);

// Reports a replay that failed (Fail), except that kNotFound, which a
// replay returns when the events it needs were deleted (delete-to), is
// that message alone with exit code 1: no damage, nothing to repair.
int ReplayFail(const Status& s, std::string_view doing);

// A usage error unless 0 < seq <= head ("--to 500 is above the head").
int CheckSeq(std::string_view option, uint64_t seq, const Options& o,
             uint64_t head);

// Progress on stderr (a terminal only) and the containment heartbeat.
class ReplayMeter {
 public:
  explicit ReplayMeter(std::string what) : progress_(std::move(what)) {}
  ReplayProgress fn() {
    return [this](uint64_t n) {
      Heartbeat();
      progress_.Update(n, "events applied");
    };
  }

 private:
  Progress progress_;
};

// Parses JSON the plugin produced; kFailed naming the type and `what`
// ("state_to_json") when it is not JSON.
Result<JsonValue> PluginJson(const plugin::Type& type, std::string_view what,
                             const std::string& text);

// One event for people: "seq 7  2026-...Z  Withdrawn v1  {...}", the
// payload as JSON when the type has event_to_json, else its size.
Result<std::string> EventText(const plugin::Type& type,
                              const plugin::EventReport& e);
// One event as a JSON object: seq, position, time, type, schema version,
// size and "payload" (JSON, or null without event_to_json).
Result<std::string> EventObject(const plugin::Type& type,
                                const plugin::EventReport& e);

// "/balance  23400 -> -99976600" lines, each starting with `indent`.
std::vector<std::string> ChangeLines(const std::vector<JsonChange>& changes,
                                     std::string_view indent);
// A JSON array of {"path", "before", "after"} (a missing side left out).
std::string ChangesArray(const std::vector<JsonChange>& changes);

// The type's name for messages: "type 'account' of plugin 'bank'".
std::string TypeText(const LoadedPlugin& p, const plugin::Type& t);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_REPLAY_COMMON_H_
