// Running a command in a watched child process (contain.h).
#include "contain.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "output.h"

namespace memoir::cli {
namespace {

// Shared with the child through an anonymous shared mapping.
std::atomic<uint64_t>* g_heartbeat = nullptr;
volatile sig_atomic_t g_child = 0;

void Forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

std::atomic<uint64_t>* SharedCounter() {
  void* p = mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return new (p) std::atomic<uint64_t>(0);
}

// Runs the body in the child: a fault must kill it with its signal (not be
// caught by a sanitizer runtime and turned into an exit code), and a broken
// stdout pipe ends it quietly.
[[noreturn]] void RunChild(pid_t parent, const std::function<int()>& body) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(3);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) signal(sig, SIG_DFL);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  int code = 0;
  try {
    code = body();
    FlushOut();
  } catch (const BrokenPipe&) {
    code = 0;
  }
  std::fflush(stderr);
  std::exit(code);
}

int Interpret(const ContainOptions& options, int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (!WIFSIGNALED(status)) return 3;
  int sig = WTERMSIG(status);
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGPIPE) {
    return 128 + sig;
  }
  if (!options.plugin.empty()) {
    // The plugin's code (apply, a codec, a JSON or invariant function) ran
    // in the child, on data from the store: either may be at fault.
    fmt::print(stderr,
               "memoir: {} with plugin {} crashed ({}): the plugin's code "
               "(apply, a codec, state_to_json, an invariant) or damaged "
               "store files.\n  Check the store with 'memoir verify'; if it "
               "passes, debug the plugin: MEMOIR_CLI_NO_FORK=1 runs the "
               "command in one process, e.g. under gdb.\n",
               options.store.empty() ? std::string("loading the plugin")
                                     : "reading " + options.store,
               options.plugin, strsignal(sig));
    return 3;
  }
  fmt::print(stderr,
             "memoir: reading {} crashed ({}): its files are damaged in a way "
             "LMDB cannot survive.\n  The store cannot be read; restore it "
             "from a copy or a backup.\n",
             options.store, strsignal(sig));
  return 3;
}

}  // namespace

void Heartbeat() {
  if (g_heartbeat != nullptr) {
    g_heartbeat->fetch_add(1, std::memory_order_relaxed);
  }
}

int RunContained(const ContainOptions& options,
                 const std::function<int()>& body) {
  const char* no_fork = std::getenv("MEMOIR_CLI_NO_FORK");
  if (no_fork != nullptr && std::strcmp(no_fork, "1") == 0) {
    try {
      return body();
    } catch (const BrokenPipe&) {
      return 0;
    }
  }
  g_heartbeat = SharedCounter();
  // The child holds the write end open; it closes when the child exits, so
  // the parent wakes at once instead of polling waitpid.
  int exit_pipe[2];
  if (g_heartbeat == nullptr || pipe2(exit_pipe, O_CLOEXEC) != 0) {
    fmt::print(stderr, "memoir: cannot set up a child process: {}\n",
               std::strerror(errno));
    return 3;
  }
  std::fflush(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fmt::print(stderr, "memoir: cannot fork: {}\n", std::strerror(errno));
    return 3;
  }
  if (pid == 0) {
    close(exit_pipe[0]);
    RunChild(parent, body);
  }
  close(exit_pipe[1]);
  g_child = pid;
  constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction forward {
  }, saved[3];
  forward.sa_handler = Forward;
  sigemptyset(&forward.sa_mask);
  for (int i = 0; i < 3; ++i) sigaction(kForwarded[i], &forward, &saved[i]);

  uint64_t seen = g_heartbeat->load();
  auto still_since = std::chrono::steady_clock::now();
  bool stalled = false;
  for (;;) {
    pollfd p{exit_pipe[0], POLLIN, 0};
    int n = poll(&p, 1, 100);
    if (n > 0) break;  // POLLHUP: the child is gone
    if (n < 0 && errno != EINTR) break;
    uint64_t beat = g_heartbeat->load();
    auto now = std::chrono::steady_clock::now();
    if (beat != seen) {
      seen = beat;
      still_since = now;
    } else if (options.stall_timeout.count() > 0 &&
               now - still_since >= options.stall_timeout) {
      stalled = true;
      kill(pid, SIGKILL);
      break;
    }
  }
  close(exit_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  for (int i = 0; i < 3; ++i) sigaction(kForwarded[i], &saved[i], nullptr);
  munmap(g_heartbeat, sizeof(*g_heartbeat));
  g_heartbeat = nullptr;
  if (stalled) {
    fmt::print(stderr,
               "memoir: reading {} made no progress for {} ms and was "
               "stopped: its files are probably damaged (LMDB can loop on "
               "pages that point at each other).\n  Check a copy with "
               "'memoir verify'; on a very slow disk raise --stall-timeout.\n",
               options.store, options.stall_timeout.count());
    return 3;
  }
  return Interpret(options, status);
}

}  // namespace memoir::cli
