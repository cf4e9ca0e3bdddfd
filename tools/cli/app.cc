// The top-level App (app.h).
#include "app.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "docs.h"
#include "memoir/version.h"

namespace memoir::cli {
namespace {

struct DocArgs {
  std::string shell;
  std::string output;  // empty: stdout
};

// Writes `text` to `path` (or stdout when empty).
int WriteDoc(const std::string& text, const std::string& path) {
  FILE* out = path.empty() ? stdout : std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    PrintError(kExitUnreadable,
               fmt::format("cannot write {}: {}", path, std::strerror(errno)),
               "");
    return kExitUnreadable;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  ok = (out == stdout ? std::fflush(out) : std::fclose(out)) == 0 && ok;
  if (!ok) {
    PrintError(
        kExitUnreadable,
        fmt::format("cannot write {}: {}", path.empty() ? "stdout" : path,
                    std::strerror(errno)),
        "");
    return kExitUnreadable;
  }
  return kExitOk;
}

void AddDocCommands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<DocArgs>();
  // Hidden (group ""): they document the CLI rather than read stores.
  CLI::App* completion = app.add_subcommand(
      "completion",
      "Print a shell completion script generated from these definitions");
  completion->group("");
  completion
      ->add_option("SHELL", args->shell, "bash (a bash-completion file) or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->add_option("-o,--output", args->output,
                         "Write to FILE instead of stdout");
  commands.push_back({completion, Kind::kLocal, [&app, args] {
                        return WriteDoc(args->shell == "bash"
                                            ? BashCompletion(app)
                                            : ZshCompletion(app),
                                        args->output);
                      }});

  auto man_args = std::make_shared<DocArgs>();
  CLI::App* man = app.add_subcommand(
      "man", "Print the memoir(1) man page generated from these definitions");
  man->group("");
  man->add_option("-o,--output", man_args->output,
                  "Write to FILE instead of stdout");
  commands.push_back({man, Kind::kLocal, [&app, man_args] {
                        return WriteDoc(ManPage(app), man_args->output);
                      }});
}

}  // namespace

void DefineApp(CLI::App& app, Options& o, std::vector<Command>& commands) {
  app.description(
      "memoir: inspect a memoir store, live or copied, safely, and replay "
      "its history with the application's code.\n"
      "Commands that read open the store read-only and never change it.");
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
  AddInfoCommands(app, o, commands);
  AddReadSideCommands(app, o, commands);
  AddEventCommands(app, o, commands);
  AddVerifyCommand(app, o, commands);
  AddExportCommands(app, o, commands);
  AddImportCommand(app, o, commands);
  AddCopyCommand(app, o, commands);
  AddDeleteCommands(app, o, commands);
  AddReplayCommands(app, o, commands);
  AddBisectCommands(app, o, commands);
  AddDocCommands(app, commands);
}

}  // namespace memoir::cli
