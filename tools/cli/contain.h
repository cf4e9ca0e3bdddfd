// Containment: every command runs in a forked child, so that LMDB meeting a
// damaged file (it may fault or loop on pages that lie) cannot take the CLI
// down with a signal or hang it.
//
// The parent waits for the child, forwards SIGINT/SIGTERM/SIGHUP to it, and
// watches a heartbeat the child bumps as it makes progress (each record
// read, each poll of `tail --follow`). A child that dies by a signal, or
// that uses the stall timeout's worth of CPU time without a heartbeat, is
// reported as a damaged store, exit code 3 (time the child spends blocked
// on a full stdout pipe, on the disk or waiting for a core is not CPU time,
// so a slow reader of its output or a busy machine never trips it); when the
// command runs a replay plugin's code, a crash is reported as the plugin's or
// the store's (either may be at fault), also exit code 3. The child's stdout
// and stderr are the parent's.
#ifndef MEMOIR_TOOLS_CLI_CONTAIN_H_
#define MEMOIR_TOOLS_CLI_CONTAIN_H_

#include <chrono>
#include <functional>
#include <string>

namespace memoir::cli {

struct ContainOptions {
  std::string store;  // named in the messages
  // Kill the child when it uses this much CPU time without a heartbeat;
  // zero: never (for commands that write, which must not be cut short).
  std::chrono::milliseconds stall_timeout{0};
  // The replay plugin the command loads, if any (named in the messages).
  std::string plugin;
};

// Runs `body` in a child process and returns its exit code, or 3 when it
// died by a signal or stalled, or 128 + the signal when the user stopped
// it. Set MEMOIR_CLI_NO_FORK=1 to run `body` in this process (debugging).
int RunContained(const ContainOptions& options,
                 const std::function<int()>& body);

// Child side: proves progress. Cheap; call per record.
void Heartbeat();

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_CONTAIN_H_
