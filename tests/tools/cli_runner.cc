#include "tools/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace memoir::test {
namespace {

// The CLI's environment: the test's, except that with
// MEMOIR_CLI_SKIP_LEAK_CHECK set (tests/CMakeLists.txt sets it for the test
// files that start the CLI hundreds of times) a sanitized CLI skips
// LeakSanitizer's scan at exit, a third of each start. The other CLI test
// files run every command with it.
std::vector<char*> ChildEnvironment(std::string* asan) {
  std::vector<char*> env;
  const bool skip = std::getenv("MEMOIR_CLI_SKIP_LEAK_CHECK") != nullptr;
  const char* prefix = "ASAN_OPTIONS=";
  for (char** e = environ; *e != nullptr; ++e) {
    if (skip && std::strncmp(*e, prefix, std::strlen(prefix)) == 0) continue;
    env.push_back(*e);
  }
  if (skip) {
    const char* given = std::getenv("ASAN_OPTIONS");
    *asan = std::string(prefix) + (given != nullptr ? given : "") +
            ":detect_leaks=0";
    env.push_back(asan->data());
  }
  env.push_back(nullptr);
  return env;
}

pid_t Spawn(const std::vector<std::string>& args, int in, int out, int err) {
  std::vector<std::string> argv_s = {MEMOIR_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  pid_t pid = -1;
  std::string asan;
  std::vector<char*> env = ChildEnvironment(&asan);
  int rc =
      posix_spawn(&pid, MEMOIR_CLI, &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

void Pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

}  // namespace

std::vector<std::string> CliResult::Lines() const {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

CliResult RunCli(const std::vector<std::string>& args, const std::string& input,
                 std::chrono::milliseconds deadline) {
  int in[2], out[2], err[2];
  Pipe(in);
  Pipe(out);
  Pipe(err);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = Spawn(args, in[0], out[1], err[1]);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Small inputs fit the pipe; a child that does not read them is fine.
  signal(SIGPIPE, SIG_IGN);
  if (!input.empty()) {
    ssize_t n = write(in[1], input.data(), input.size());
    (void)n;
  }
  close(in[1]);
  CliResult r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        start + deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (WIFEXITED(status) && !r.timed_out) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

PtyResult RunCliOnPty(const std::vector<std::string>& args,
                      std::chrono::milliseconds deadline) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    throw std::runtime_error("cannot open a pseudo-terminal");
  }
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (slave < 0 || null_in < 0) throw std::runtime_error("open failed");
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = Spawn(args, null_in, slave, slave);
  close(null_in);
  // The parent keeps the slave open, so the master never reports hang-up
  // (and never drops output) before everything is read.
  PtyResult r;
  int status = 0;
  bool exited = false;
  for (;;) {
    pollfd p{master, POLLIN, 0};
    // Waiting for output or the child's exit; the deadline below decides.
    int n = poll(&p, 1, exited ? 0 : 50);
    if (n > 0 && (p.revents & POLLIN)) {
      char buf[4096];
      ssize_t got = read(master, buf, sizeof(buf));
      if (got > 0) {
        r.out.append(buf, static_cast<size_t>(got));
        continue;
      }
    }
    if (exited) break;  // and nothing left to read
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exited = true;
    } else if (std::chrono::steady_clock::now() - start > deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      close(slave);
      close(master);
      return r;
    }
  }
  close(slave);
  close(master);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

CliProcess::CliProcess(const std::vector<std::string>& args) {
  int out[2];
  Pipe(out);
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = Spawn(args, null_in, out[1], 2);
  close(null_in);
  close(out[1]);
  out_ = out[0];
}

CliProcess::~CliProcess() {
  if (pid_ > 0) Stop();
}

bool CliProcess::ReadLine(std::chrono::steady_clock::time_point deadline,
                          std::string* line) {
  for (;;) {
    size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      *line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = read(out_, buf, sizeof(buf));
    if (got <= 0) return false;
    buffered_.append(buf, static_cast<size_t>(got));
  }
}

int CliProcess::Stop() {
  int status = 0;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (out_ >= 0) close(out_);
  out_ = -1;
  return status;
}

}  // namespace memoir::test
