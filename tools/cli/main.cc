// memoir: inspect a memoir store, live or copied, safely (README.md, "The
// memoir CLI"). Parses the command line, then runs the chosen command in a
// contained child process (contain.h).
#include <fmt/format.h>

#include "cli.h"
#include "contain.h"
#include "memoir/version.h"

using memoir::cli::Command;
using memoir::cli::Options;

int main(int argc, char** argv) {
  CLI::App app{
      "memoir: inspect a memoir store, live or copied, safely, and replay "
      "its history with the application's code.\n"
      "Commands that read open the store read-only and never change it.",
      "memoir"};
  app.set_version_flag("--version", "memoir " MEMOIR_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok; 1 problems found (verify, verify-snapshots, a "
      "bisect that found a break, a rehandle that diverged), nothing to act "
      "on (no such stream) or not done (a deletion not confirmed, import "
      "input rejected); 2 usage error (also a plugin that cannot be loaded); "
      "3 the store cannot be read (missing, corrupt, locked for write) or a "
      "plugin's code failed or crashed on it.\nRun 'memoir COMMAND --help' "
      "for a command's options.");
  Options o;
  std::vector<Command> commands;
  memoir::cli::AddInfoCommands(app, o, commands);
  memoir::cli::AddEventCommands(app, o, commands);
  memoir::cli::AddVerifyCommand(app, o, commands);
  memoir::cli::AddExportCommands(app, o, commands);
  memoir::cli::AddImportCommand(app, o, commands);
  memoir::cli::AddCopyCommand(app, o, commands);
  memoir::cli::AddDeleteCommands(app, o, commands);
  memoir::cli::AddReplayCommands(app, o, commands);
  memoir::cli::AddBisectCommands(app, o, commands);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const Command& c : commands)
      known = known || c.app->get_name() == argv[1];
    if (!known) {
      return memoir::cli::UsageError(
          fmt::format("unknown command '{}'", argv[1]));
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string command;
    for (const CLI::App* sub : app.get_subcommands()) {
      command = " " + sub->get_name();
    }
    fmt::print(stderr, "memoir: {}\n  Run 'memoir{} --help' for usage.\n",
               e.what(), command);
    return memoir::cli::kExitUsage;
  }
  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    memoir::cli::ContainOptions contain;
    contain.store = o.store;
    contain.plugin = o.plugin;
    if (c.kind == memoir::cli::Kind::kRead) {
      contain.stall_timeout = std::chrono::milliseconds(
          static_cast<int64_t>(o.stall_timeout_s * 1000));
    }
    return memoir::cli::RunContained(contain, c.body);
  }
  return memoir::cli::kExitUsage;
}
