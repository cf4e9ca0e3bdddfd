// Shell completion and the man page are generated from the CLI's own
// definitions: they name every visible command and each of its options
// (checked against the CLI11 App that `memoir` parses with, not a list
// kept here), bash accepts the script and completes with it, and groff
// renders the page. The build's generated files match the program's.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "support/temp_dir.h"
#include "tools/cli_json_lines.h"
#include "tools/cli_runner.h"

namespace memoir {
namespace {

using test::CliResult;
using test::RunCli;

struct Definitions {
  Definitions() { cli::DefineApp(app, o, commands); }
  // The visible commands: those the completion and the man page must name.
  std::vector<const CLI::App*> Visible() const {
    std::vector<const CLI::App*> out;
    for (const cli::Command& c : commands) {
      if (!c.app->get_group().empty()) out.push_back(c.app);
    }
    return out;
  }
  CLI::App app{"", "memoir"};
  cli::Options o;
  std::vector<cli::Command> commands;
};

// Every spelling of every option of `cmd` ("-n", "--limit").
std::vector<std::string> OptionNames(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

using test::Has;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// Runs `command` with sh; returns its exit status and its output.
int Shell(const std::string& command, std::string* out) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HaveProgram(const std::string& name) {
  std::string out;
  return Shell("command -v " + name, &out) == 0;
}

// The words bash completion offers for `line` (the cursor at its end).
// The words bash completion offers for `line` (the cursor at its end), run
// in the directory of `script`.
std::vector<std::string> BashComplete(const std::string& script,
                                      const std::string& line) {
  const std::string dir = script.substr(0, script.rfind('/'));
  WriteText(dir + "/complete.sh",
            ". " + script +
                "\n"
                "COMP_LINE='" +
                line +
                "'\n"
                "read -ra COMP_WORDS <<< \"$COMP_LINE\"\n"
                "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')\n"
                "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                "_memoir\n"
                "printf '%s\\n' \"${COMPREPLY[@]}\"\n");
  std::string out;
  REQUIRE(Shell("cd " + dir + " && bash complete.sh", &out) == 0);
  std::vector<std::string> words;
  std::istringstream in(out);
  for (std::string w; std::getline(in, w);) {
    if (!w.empty()) words.push_back(w);
  }
  return words;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE(
    "the bash completion names every command and each of its options, and "
    "bash accepts and runs it") {
  Definitions defs;
  CliResult r = RunCli({"completion", "bash"});
  REQUIRE(r.exit_code == 0);
  const std::string& script = r.out;
  for (const CLI::App* cmd : defs.Visible()) {
    CAPTURE(cmd->get_name());
    const size_t at = script.find("\n    " + cmd->get_name() + ")\n");
    REQUIRE(at != std::string::npos);
    const size_t opts = script.find("opts='", at);
    const std::string line =
        " " + script.substr(opts + 6, script.find('\'', opts + 6) - opts - 6) +
        " ";
    for (const std::string& name : OptionNames(*cmd)) {
      CAPTURE(name);
      CHECK(Has(line, " " + name + " "));
    }
  }
  CHECK(!Has(script, "\n    completion)"));  // hidden commands stay hidden
  test::TempDir dir;
  WriteText(dir.Sub("memoir.bash"), script);
  std::string out;
  CHECK_MESSAGE(Shell("bash -n " + dir.Sub("memoir.bash"), &out) == 0, out);

  // It completes: commands, a command's options, file names for a STORE.
  std::vector<std::string> commands =
      BashComplete(dir.Sub("memoir.bash"), "memoir ver");
  CHECK(commands == std::vector<std::string>{"verify", "verify-snapshots"});
  std::vector<std::string> options =
      BashComplete(dir.Sub("memoir.bash"), "memoir events s a --li");
  CHECK(options == std::vector<std::string>{"--limit"});
  WriteText(dir.Sub("store-one"), "");
  std::vector<std::string> files =
      BashComplete(dir.Sub("memoir.bash"), "memoir info sto");
  CHECK(Contains(files, "store-one"));
  std::vector<std::string> schema =
      BashComplete(dir.Sub("memoir.bash"), "memoir events s a --schema sto");
  CHECK(Contains(schema, "store-one"));
  CHECK(BashComplete(dir.Sub("memoir.bash"), "memoir events s a --limit ")
            .empty());
}

TEST_CASE(
    "the zsh completion names every command and each of its options in a "
    "#compdef function") {
  Definitions defs;
  CliResult r = RunCli({"completion", "zsh"});
  REQUIRE(r.exit_code == 0);
  const std::string& script = r.out;
  CHECK(script.rfind("#compdef memoir\n", 0) == 0);
  CHECK(Has(script, "\n_memoir \"$@\"\n"));
  for (const CLI::App* cmd : defs.Visible()) {
    CAPTURE(cmd->get_name());
    CHECK(Has(script, "\n    '" + cmd->get_name() + ":"));
    const size_t at = script.find("\n        " + cmd->get_name() + ")\n");
    REQUIRE(at != std::string::npos);
    const std::string block = script.substr(at, script.find(";;", at) - at);
    for (const std::string& name : OptionNames(*cmd)) {
      CAPTURE(name);
      CHECK((Has(block, "'" + name + "[") || Has(block, name + ",") ||
             Has(block, "," + name + "}")));
    }
  }
  // Quotes balance on every line of the function (a broken quote would
  // swallow the rest of the script).
  std::istringstream lines(script);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#", 0) == 0) continue;  // comments
    std::string unescaped;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line.compare(i, 4, "'\\''") == 0) {
        i += 3;
        continue;
      }
      unescaped += line[i];
    }
    CAPTURE(line);
    CHECK(std::count(unescaped.begin(), unescaped.end(), '\'') % 2 == 0);
  }
  if (HaveProgram("zsh")) {
    test::TempDir dir;
    WriteText(dir.Sub("_memoir"), script);
    std::string out;
    CHECK_MESSAGE(Shell("zsh -n " + dir.Sub("_memoir"), &out) == 0, out);
  }
}

TEST_CASE("the man page documents every command and renders") {
  Definitions defs;
  CliResult r = RunCli({"man"});
  REQUIRE(r.exit_code == 0);
  const std::string& page = r.out;
  CHECK(page.find(".TH MEMOIR 1") != std::string::npos);
  CHECK(Has(page, ".SH \"EXIT STATUS\""));
  for (const CLI::App* cmd : defs.Visible()) {
    CAPTURE(cmd->get_name());
    std::string name;
    for (char c : cmd->get_name())
      name += c == '-' ? std::string("\\-") : std::string(1, c);
    CHECK(Has(page, ".SS \"memoir " + name));
  }
  if (!HaveProgram("groff")) return;
  test::TempDir dir;
  WriteText(dir.Sub("memoir.1"), page);
  std::string out;
  REQUIRE_MESSAGE(
      Shell("groff -man -Tutf8 -ww -z " + dir.Sub("memoir.1"), &out) == 0, out);
  CHECK_MESSAGE(out.empty(), out);  // no warnings
  REQUIRE(Shell("groff -man -Tascii -P-cbou " + dir.Sub("memoir.1"), &out) ==
          0);
  for (const CLI::App* cmd : defs.Visible()) {
    CHECK(Has(out, "memoir " + cmd->get_name()));
  }
  CHECK(Has(out, "EXIT STATUS"));
}

TEST_CASE("the build's generated completion and man page are the CLI's") {
  const std::string docs = MEMOIR_CLI_DOCS_DIR;
  CHECK(ReadText(docs + "/completion/memoir") ==
        RunCli({"completion", "bash"}).out);
  CHECK(ReadText(docs + "/completion/_memoir") ==
        RunCli({"completion", "zsh"}).out);
  CHECK(ReadText(docs + "/man/memoir.1") == RunCli({"man"}).out);
}

}  // namespace memoir
