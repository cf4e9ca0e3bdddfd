// Shell completion and the man page, generated from the CLI's own
// definitions (the CLI11 App that main.cc parses with), so they list
// exactly the commands and options the program accepts. The hidden
// commands `memoir completion bash|zsh` and `memoir man` print them; the
// build runs those to make the installed files (tools/cli/CMakeLists.txt).
#ifndef MEMOIR_TOOLS_CLI_DOCS_H_
#define MEMOIR_TOOLS_CLI_DOCS_H_

#include <CLI/CLI.hpp>
#include <string>

namespace memoir::cli {

// A bash completion script for `app` (sourced by bash-completion as
// share/bash-completion/completions/memoir): completes the visible
// subcommands, each one's options, and file names for positional arguments
// and for options whose value is a FILE or LIB.
std::string BashCompletion(const CLI::App& app);

// A zsh completion function (share/zsh/site-functions/_memoir), as above,
// with each command's and option's description.
std::string ZshCompletion(const CLI::App& app);

// memoir(1) in man(7) format: every visible subcommand with its usage,
// description and options, and the exit codes (the app's footer).
std::string ManPage(const CLI::App& app);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_DOCS_H_
