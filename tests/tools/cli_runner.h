// Runs the built `memoir` binary for the CLI tests: whole runs with a
// deadline, and long-running ones (tail --follow) read line by line.
#ifndef MEMOIR_TESTS_TOOLS_CLI_RUNNER_H_
#define MEMOIR_TESTS_TOOLS_CLI_RUNNER_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace memoir::test {

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal or the deadline
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string out, err;
  std::chrono::milliseconds elapsed{0};
  // Every line of `out`.
  std::vector<std::string> Lines() const;
};

// Runs `memoir ARGS...` with `input` on stdin and returns when it ends, or
// kills it at the deadline.
CliResult RunCli(const std::vector<std::string>& args,
                 const std::string& input = "",
                 std::chrono::milliseconds deadline = std::chrono::seconds(30));

// A run on a terminal: everything the program wrote to it (stdout and
// stderr share it, as in an interactive shell; the terminal turns "\n"
// into "\r\n").
struct PtyResult {
  int exit_code = -1;  // -1 when killed by a signal or the deadline
  std::string out;
};

// Runs `memoir ARGS...` with stdout and stderr on one pseudo-terminal and
// stdin from /dev/null; kills it at the deadline.
PtyResult RunCliOnPty(
    const std::vector<std::string>& args,
    std::chrono::milliseconds deadline = std::chrono::seconds(30));

// A `memoir` process left running, whose stdout is read line by line.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args);
  ~CliProcess();  // stops it
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  // The next line of stdout, waiting until `deadline`; false at the
  // deadline or at the end of output.
  bool ReadLine(std::chrono::steady_clock::time_point deadline,
                std::string* line);
  // Sends SIGTERM and reaps it; returns the raw wait status.
  int Stop();

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffered_;
};

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_TOOLS_CLI_RUNNER_H_
