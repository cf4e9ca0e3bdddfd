#include "reliability/fault_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

extern char** environ;

namespace memoir::test {
namespace {

using Clock = std::chrono::steady_clock;

// The environment of a child: ours without fault variables, plus `fault`.
std::vector<std::string> ChildEnv(const std::string& store,
                                  const Fault& fault) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "MEMOIR_IO_FAULT_", 16) != 0) env.emplace_back(*e);
  }
  env.push_back("MEMOIR_IO_FAULT_DIR=" + store);
  if (!fault.op.empty()) {
    env.push_back("MEMOIR_IO_FAULT_OP=" + fault.op);
    env.push_back("MEMOIR_IO_FAULT_NTH=" + std::to_string(fault.nth));
    env.push_back(std::string("MEMOIR_IO_FAULT_ERRNO=") +
                  (fault.enospc ? "ENOSPC" : "EIO"));
    env.push_back(std::string("MEMOIR_IO_FAULT_MODE=") +
                  (fault.persistent ? "persistent" : "once"));
  }
  return env;
}

}  // namespace

std::string Fault::Name() const {
  if (op.empty()) return "no fault (" + durability + ")";
  return op + " #" + std::to_string(nth) + " " + (enospc ? "ENOSPC" : "EIO") +
         (persistent ? " persistent" : " once") + " (" + durability + ")";
}

ChildRun RunFaultChild(const std::string& child, const std::string& store,
                       const Fault& fault, bool long_form,
                       std::chrono::seconds timeout) {
  std::vector<std::string> env = ChildEnv(store, fault);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string form = long_form ? "long" : "short";
  std::string durability = fault.durability;
  std::vector<char*> argv = {const_cast<char*>("fault_child"),
                             const_cast<char*>(store.c_str()), form.data(),
                             durability.data(), nullptr};
  ChildRun run;
  run.timeout = timeout;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.setup_error = "pipe2 failed";
    return run;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    run.setup_error = "fork failed";
    return run;
  }
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::execve(child.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  // The child is waited for through a pidfd, so a hang is bounded by the
  // deadline (it may close its stdout before it exits).
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &run.status, 0);
    ::close(fds[0]);
    run.setup_error = "pidfd_open failed";
    return run;
  }
  const auto deadline = Clock::now() + timeout;
  auto ms_left = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  std::string pending;
  bool eof = false, exited = false;
  while (!(eof && exited)) {
    pollfd p[2] = {{eof ? -1 : fds[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    int n = ::poll(p, 2, ms_left());
    if (n == 0) {
      run.hung = true;
      break;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      run.setup_error = std::string("poll failed: ") + std::strerror(errno);
      break;
    }
    if (p[1].revents != 0) exited = true;
    if (p[0].revents != 0) {
      char buf[4096];
      ssize_t got = ::read(fds[0], buf, sizeof(buf));
      if (got <= 0) {
        eof = true;
      } else {
        pending.append(buf, static_cast<size_t>(got));
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
          run.lines.push_back(pending.substr(0, nl));
          pending.erase(0, nl + 1);
        }
      }
    }
  }
  if (run.hung) ::kill(pid, SIGKILL);
  ::waitpid(pid, &run.status, 0);
  ::close(pidfd);
  ::close(fds[0]);
  return run;
}

Report ParseReport(const std::vector<std::string>& lines) {
  Report r;
  bool after_reopen = false;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    auto rest = [&in] {
      std::string s;
      std::getline(in, s);
      if (!s.empty() && s[0] == ' ') s.erase(0, 1);
      return s;
    };
    if (tag == "A") {
      Ack a;
      in >> a.cid >> a.stream >> a.first >> a.last;
      r.acks.push_back(a);
    } else if (tag == "S") {
      std::string s;
      uint64_t seq;
      in >> s >> seq;
      r.snapshots.insert({s, seq});
    } else if (tag == "N" || tag == "Q" || tag == "E") {
      Error e;
      e.tag = tag[0];
      in >> e.what;
      if (tag == "Q") {
        uint64_t seq;
        in >> seq;
        r.failed_snapshots.insert({e.what, seq});
        e.what += " " + std::to_string(seq);
      }
      int code;
      in >> code;
      e.code = static_cast<Status::Code>(code);
      e.message = rest();
      e.after_reopen = after_reopen;
      if (tag == "N") r.failed_cids.insert(std::stoull(e.what));
      r.errors.push_back(e);
    } else if (tag == "P") {
      std::string where;
      int code;
      in >> where >> code;
      r.probes[where] = {static_cast<Status::Code>(code), rest()};
    } else if (tag == "X") {
      after_reopen = true;
    } else if (tag == "C") {
      std::string op;
      uint64_t n;
      in >> op >> n;
      r.calls[op] = n;
    } else if (tag == "F") {
      std::string op;
      uint64_t n;
      in >> op >> n;
      r.injected_op = op;
      r.injected_path = rest();
    } else if (tag == "M") {
      r.failed_meta_write = true;
    } else if (tag == "J") {
      Report::Inline j;
      std::string first;
      in >> first;
      j.started = first != "-";
      if (j.started) {
        j.attached = first == "1";
        in >> j.detaches >> j.checkpoint >> j.head;
      }
      r.projection = j;
    } else if (tag == "Y") {
      in >> r.failed_before_close;
    } else if (tag == "K") {
      in >> r.failed_calls;
    } else if (tag == "END") {
      r.end = true;
    } else {
      r.unparsed.push_back(line);
    }
  }
  return r;
}

}  // namespace memoir::test
