// The whole command line of `memoir`: the top-level App with every command.
// main.cc parses and runs it; the completion and man page generators
// (docs.h) and the tests walk the same definitions.
#ifndef MEMOIR_TOOLS_CLI_APP_H_
#define MEMOIR_TOOLS_CLI_APP_H_

#include <CLI/CLI.hpp>
#include <vector>

#include "cli.h"

namespace memoir::cli {

// Defines `app` (description, --version, the exit codes in the footer) and
// adds every command, binding their options to `o` and their bodies to
// `commands`; `o` and `app` must outlive the bodies. Includes the hidden
// commands `completion bash|zsh` and `man` (Kind::kLocal), which print the
// generated files of docs.h.
void DefineApp(CLI::App& app, Options& o, std::vector<Command>& commands);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_APP_H_
