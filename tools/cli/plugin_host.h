// Loading replay plugins (memoir/plugin.h) into the CLI: dlopen, the ABI
// check, registration, and choosing the type that replays a stream.
//
// Every failure is a kInvalidArgument Status whose message says what is
// wrong with which file and what to do.
#ifndef MEMOIR_TOOLS_CLI_PLUGIN_HOST_H_
#define MEMOIR_TOOLS_CLI_PLUGIN_HOST_H_

#include <memory>
#include <string>
#include <string_view>

#include "memoir/plugin.h"
#include "memoir/result.h"

namespace memoir::cli {

// The ABI string of this executable (MEMOIR_PLUGIN_ABI_FOR its version).
std::string_view HostAbi();

class LoadedPlugin {
 public:
  // Loads the plugin at `path` with RTLD_NOW (a missing symbol fails here,
  // not later), compares its ABI string with HostAbi() before calling
  // anything else in it, then lets it register its types. The library is
  // never unloaded: the registered types' code lives in it.
  static Result<std::unique_ptr<LoadedPlugin>> Load(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::string& abi() const { return abi_; }
  const plugin::Registry& registry() const { return registry_; }

  // The type that replays `stream`: the one named `type_name` when given,
  // else the only registered type whose matcher takes the stream.
  Result<const plugin::Type*> TypeFor(std::string_view stream,
                                      std::string_view type_name) const;
  // The type named `type_name`, or an error listing the types.
  Result<const plugin::Type*> Named(std::string_view type_name) const;

  // "plugin 'bank' (path)", for messages.
  std::string Describe() const;

 private:
  LoadedPlugin() = default;
  std::string path_, name_, abi_;
  plugin::Registry registry_;
};

// Which streams `type` takes, for people: "streams starting with
// 'account-'", "streams chosen by its matcher", "no stream (name it with
// --type)".
std::string MatcherText(const plugin::Type& type);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_PLUGIN_HOST_H_
