// memoir: inspect a memoir store, live or copied, safely (README.md, "The
// memoir CLI"). Parses the command line, then runs the chosen command in a
// contained child process (contain.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <string_view>

#include "app.h"
#include "cli.h"
#include "contain.h"

using memoir::cli::Command;
using memoir::cli::Options;

namespace {

// Edit distance, for "did you mean" on a mistyped option.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The option of `cmd` closest to the mistyped `given`, if any is close.
std::string Closest(const CLI::App& cmd, std::string_view given) {
  std::string best;
  size_t best_distance = 3;  // at most two edits away
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const std::string& l : opt->get_lnames()) {
      const size_t d = Distance(given, "--" + l);
      if (d < best_distance) {
        best_distance = d;
        best = "--" + l;
      }
    }
  }
  return best;
}

// Arguments `cmd` did not take (it allows extras so that they can be named
// here): a usage error naming them, or 0 when there were none.
int RejectExtras(const CLI::App& cmd) {
  const std::vector<std::string> extras = cmd.remaining();
  if (extras.empty()) return 0;
  const std::string who = "memoir " + cmd.get_name();
  const std::string help = fmt::format("Run '{} --help' for its options.", who);
  const std::string& first = extras.front();
  if (first.size() > 1 && first[0] == '-') {
    const std::string name = first.substr(0, first.find('='));
    const std::string closest = Closest(cmd, name);
    memoir::cli::PrintError(
        memoir::cli::kExitUsage, fmt::format("unknown option '{}'", name),
        closest.empty() ? help
                        : fmt::format("Did you mean '{}'? {}", closest, help),
        who);
  } else {
    memoir::cli::PrintError(memoir::cli::kExitUsage,
                            fmt::format("unexpected argument '{}'", first),
                            help, who);
  }
  return memoir::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"", "memoir"};
  Options o;
  std::vector<Command> commands;
  memoir::cli::DefineApp(app, o, commands);
  // Errors before and during parsing are JSON too when --json was asked for.
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) memoir::cli::SetJsonErrors(true);
  }
  if (argc == 1) {
    // Bare `memoir`: what it can do, and a usage error (exit code 2), as
    // for any other missing argument.
    fmt::print(stderr, "{}", app.help());
    return memoir::cli::kExitUsage;
  }
  if (argv[1][0] != '-') {
    bool known = false;
    for (const Command& c : commands)
      known = known || c.app->get_name() == argv[1];
    if (!known) {
      return memoir::cli::UsageError(
          fmt::format("unknown command '{}'", argv[1]));
    }
  } else if (std::strcmp(argv[1], "--help") != 0 &&
             std::strcmp(argv[1], "-h") != 0 &&
             std::strcmp(argv[1], "--version") != 0) {
    return memoir::cli::UsageError(
        fmt::format("unknown option '{}' (options follow the command: "
                    "memoir COMMAND [OPTIONS])",
                    argv[1]));
  }
  // Each command takes what it does not know, so that it can be named.
  for (const Command& c : commands) c.app->allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string who = "memoir";
    for (const CLI::App* sub : app.get_subcommands()) {
      who = "memoir " + sub->get_name();
    }
    memoir::cli::PrintError(memoir::cli::kExitUsage, e.what(),
                            fmt::format("Run '{} --help' for usage.", who),
                            who);
    return memoir::cli::kExitUsage;
  }
  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    memoir::cli::SetErrorCommand(c.app->get_name());
    if (int code = RejectExtras(*c.app); code != 0) return code;
    if (c.kind == memoir::cli::Kind::kLocal) return c.body();
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
