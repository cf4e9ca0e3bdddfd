// What every command shares: the exit codes, the options common to many
// commands, opening the store, and reporting a failed Status.
#ifndef MEMOIR_TOOLS_CLI_CLI_H_
#define MEMOIR_TOOLS_CLI_CLI_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/store.h"

// CLI11 is included only by the files that define options: it costs
// seconds per file to compile.
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace memoir::cli {

// "No limit", for counts taken from options.
inline constexpr size_t kAll = std::numeric_limits<size_t>::max();

// Exit codes (README.md, "The memoir CLI").
enum Exit : int {
  kExitOk = 0,
  // The command ran and found problems (verify; streams listed damaged
  // streams), or found nothing to act on (a named stream does not exist),
  // or was declined or refused its input (a deletion not confirmed, an
  // import line that is not an export).
  // Replay commands: bisect found a break, verify-snapshots a mismatch,
  // rehandle a divergence.
  kExitProblems = 1,
  kExitUsage = 2,  // bad arguments or options
  // The store is missing, corrupt or locked for write; or a replay
  // plugin's code failed or crashed on it.
  kExitUnreadable = 3,
};

// Options shared by commands; each command binds those it takes.
struct Options {
  std::string store;
  std::string stream;
  bool json = false;
  bool meta = false;  // events, all, tail: id and metadata columns
  bool no_lock = false;
  std::string schema;
  std::string plugin;  // the replay commands' --plugin
  double stall_timeout_s = 5;
};

// How a command runs (contain.h): reads are watched for stalls, writes are
// never cut short. kLocal commands touch no store (completion, man) and run
// in this process.
enum class Kind { kRead, kWrite, kLocal };

struct Command {
  CLI::App* app;
  Kind kind;
  std::function<int()> body;
};

// Each command group adds its subcommands to `app`, binding their options
// to `o`, and its bodies to `commands`.
void AddInfoCommands(CLI::App& app, Options& o, std::vector<Command>& commands);
void AddEventCommands(CLI::App& app, Options& o,
                      std::vector<Command>& commands);
void AddVerifyCommand(CLI::App& app, Options& o,
                      std::vector<Command>& commands);
void AddExportCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands);
void AddImportCommand(CLI::App& app, Options& o,
                      std::vector<Command>& commands);
void AddCopyCommand(CLI::App& app, Options& o, std::vector<Command>& commands);
void AddDeleteCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands);
// replay, diff and plugin (cmd_replay.cc); bisect, verify-snapshots and
// rehandle (cmd_bisect.cc): the commands that run a replay plugin.
void AddReplayCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands);
void AddBisectCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands);
// subscriptions, projections, rows and reset-projection (cmd_read_side.cc).
void AddReadSideCommands(CLI::App& app, Options& o,
                         std::vector<Command>& commands);

// Option helpers, so that every command spells and explains them alike.
void AddStoreArg(CLI::App* cmd, Options& o);
void AddStreamArg(CLI::App* cmd, Options& o);
void AddJsonFlag(CLI::App* cmd, Options& o);
void AddNoLockFlag(CLI::App* cmd, Options& o);
void AddSchemaOption(CLI::App* cmd, Options& o);

// Asks `question` on stderr ("... This cannot be undone. Type 'yes' to go
// on: ") and reads the answer from stdin: true only for "yes".
bool Confirm(const std::string& question);

// Validates a whole number of at least 1 ("--limit 0" makes no sense).
CLI::Validator AtLeastOne();

// Opens o.store read-only (with o.no_lock). On failure prints what went
// wrong and what to do, and returns null: the command then exits with
// kExitUnreadable, whatever the cause.
std::unique_ptr<Store> OpenForReading(const Options& o);
// Opens o.store for writing (creating it only when `create`), as above.
std::unique_ptr<Store> OpenForWriting(const Options& o, bool create);

// Prints "memoir: <message>" and a hint to stderr and returns the exit code
// for `s` (see Exit). `doing` says what failed ("reading stream 'a'");
// empty when the status's message says it already.
int Fail(const Status& s, std::string_view doing);

// The exit code Fail returns for `s`.
int ExitCode(const Status& s);

// Prints a usage error ("memoir COMMAND: message" and a hint to the
// command's --help) and returns kExitUsage.
int UsageError(std::string_view message);

// Like Fail, for a store that cannot be opened (missing, not a store,
// locked, damaged): the hint says how to find or restore the store, and the
// exit code is always kExitUnreadable.
int FailOpening(const Status& s, std::string_view doing);

// How errors are printed. By default: "memoir: <message>" and, indented on
// the next line, a hint. With --json (SetJsonErrors(true)), each error is
// one JSON object on one line of stderr:
//   {"error":"<message>","code":<exit code>,"hint":"<hint>",
//    "command":"<command>"}
// ("hint" and "command" only when known), so scripts can parse it.
void SetJsonErrors(bool json);
// The command named in JSON errors ("events"); empty before parsing.
void SetErrorCommand(std::string_view command);
// Prints one error as above; `code` is the exit code it will end with.
// `who` starts the plain line ("memoir: ..." or, for usage errors of one
// command, "memoir events: ...").
void PrintError(int code, std::string_view message, std::string_view hint,
                std::string_view who = "memoir");

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_CLI_H_
