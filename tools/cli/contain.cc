// Running a command in a watched child process (contain.h).
#include "contain.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
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

// The CPU time a process has used, from its CPU-time clock; -1 once the
// clock cannot be read (the process is gone).
int64_t CpuNanos(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
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

  // Progress is measured against the CPU time the child uses, not the
  // wall clock: a child blocked writing to a full pipe (a pager, a slow
  // `| while read`), waiting for the disk or starved by a busy machine uses
  // none and is never taken for a stalled read, while LMDB looping over
  // damaged pages spins and uses it up. Without a CPU clock for the child
  // the watchdog stays off rather than guess.
  clockid_t child_clock{};
  const bool watch = options.stall_timeout.count() > 0 &&
                     clock_getcpuclockid(pid, &child_clock) == 0;
  const int64_t budget_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          options.stall_timeout)
          .count();
  uint64_t seen = g_heartbeat->load();
  int64_t cpu_at_beat = watch ? CpuNanos(child_clock) : 0;
  bool stalled = false;
  for (;;) {
    pollfd p{exit_pipe[0], POLLIN, 0};
    int n = poll(&p, 1, 100);
    if (n > 0) break;  // POLLHUP: the child is gone
    if (n < 0 && errno != EINTR) break;
    if (!watch) continue;
    // Read the clock before the heartbeat: CPU used after a beat the parent
    // has not seen yet only makes the next check later, never early.
    const int64_t cpu = CpuNanos(child_clock);
    const uint64_t beat = g_heartbeat->load();
    if (cpu < 0) continue;  // the child is exiting
    if (beat != seen) {
      seen = beat;
      cpu_at_beat = cpu;
    } else if (cpu - cpu_at_beat >= budget_ns) {
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
               "memoir: reading {} spent {} ms of CPU time without making "
               "progress and was stopped: its files are probably damaged "
               "(LMDB can loop on pages that point at each other).\n  Check "
               "a copy with 'memoir verify'; for records that take longer to "
               "check, raise --stall-timeout.\n",
               options.store, options.stall_timeout.count());
    return 3;
  }
  return Interpret(options, status);
}

}  // namespace memoir::cli
