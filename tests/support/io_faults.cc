#include "support/io_faults.h"

#include <dlfcn.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

namespace memoir::test {
namespace {

constexpr std::string_view kOpNames[kIoOpCount] = {
    "write", "writev", "pwrite", "pwritev", "fdatasync", "fsync", "msync"};

struct State {
  std::mutex mu;
  IoFaultPlan plan;
  std::string prefix;  // the resolved directory plus "/"
  bool lifted = false;
  uint64_t matched = 0;  // calls that count towards plan.nth
  IoFaultTally tally;
};

// Leaked on purpose: calls keep coming during static destruction.
State& S() {
  static State* s = new State();
  return *s;
}

// Set once a plan names a directory: until then no call pays for a path
// lookup.
std::atomic<bool> g_armed{false};

// /proc/self/fd links and /proc/self/maps name files by their resolved
// path, so the directory is resolved the same way (it may not exist yet:
// then its parent is).
std::string Resolve(const std::string& dir) {
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf) != nullptr) return buf;
  auto slash = dir.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash);
  if (parent.empty()) parent = "/";
  std::string base = slash == std::string::npos ? dir : dir.substr(slash + 1);
  if (realpath(parent.c_str(), buf) == nullptr) return dir;
  std::string out = buf;
  if (out.back() != '/') out += '/';
  return out + base;
}

std::string FdPath(int fd) {
  char link[64];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  char buf[PATH_MAX];
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The file mapped at `addr`, from /proc/self/maps ("lo-hi perms off dev
// inode path").
std::string MapPath(const void* addr) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2) {
      continue;
    }
    if (a < lo || a >= hi) continue;
    auto slash = line.find('/');
    return slash == std::string::npos ? std::string() : line.substr(slash);
  }
  return {};
}

// Counts one call on `path` (at `offset` for positional writes, else -1)
// and returns the errno it must fail with, or 0.
int Decide(IoOp op, const std::string& path, int64_t offset) {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.prefix.empty() || path.compare(0, s.prefix.size(), s.prefix) != 0) {
    return 0;
  }
  if (s.lifted) return 0;
  ++s.tally.calls[static_cast<size_t>(op)];
  if (!s.plan.any_op && op != s.plan.op) return 0;
  if (s.plan.below_offset != 0 &&
      (offset < 0 || static_cast<uint64_t>(offset) >= s.plan.below_offset)) {
    return 0;
  }
  const uint64_t n = ++s.matched;
  if (s.plan.nth == 0) return 0;
  if (s.plan.persistent ? n < s.plan.nth : n != s.plan.nth) return 0;
  ++s.tally.failed;
  static const uint64_t kMetaBytes =
      2 * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (op == IoOp::kPwrite && offset >= 0 &&
      static_cast<uint64_t>(offset) < kMetaBytes && path.size() >= 9 &&
      path.compare(path.size() - 9, 9, "/data.mdb") == 0) {
    s.tally.failed_meta_write = true;
  }
  if (!s.tally.injected) {
    s.tally.injected = true;
    s.tally.injected_op = op;
    s.tally.injected_at = n;
    s.tally.injected_path = path;
  }
  return s.plan.err;
}

int CheckFd(IoOp op, int fd, int64_t offset = -1) {
  if (!g_armed.load(std::memory_order_acquire)) return 0;
  const int saved = errno;
  int err = Decide(op, FdPath(fd), offset);
  errno = saved;
  return err;
}

int CheckAddr(IoOp op, const void* addr) {
  if (!g_armed.load(std::memory_order_acquire)) return 0;
  const int saved = errno;
  int err = Decide(op, MapPath(addr), -1);
  errno = saved;
  return err;
}

template <typename Fn>
Fn Real(const char* name) {
  void* sym = dlsym(RTLD_NEXT, name);
  if (sym == nullptr) {
    std::fprintf(stderr, "io_faults: no next definition of %s\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(sym);
}

}  // namespace

std::string_view IoOpName(IoOp op) { return kOpNames[static_cast<size_t>(op)]; }

std::optional<IoOp> ParseIoOp(std::string_view name) {
  for (size_t i = 0; i < kIoOpCount; ++i) {
    if (kOpNames[i] == name) return static_cast<IoOp>(i);
  }
  return std::nullopt;
}

std::optional<IoFaultPlan> IoFaultPlanFromEnv(std::string* error) {
  auto get = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
  };
  IoFaultPlan plan;
  plan.dir = get("MEMOIR_IO_FAULT_DIR");
  const std::string op = get("MEMOIR_IO_FAULT_OP");
  const std::string nth = get("MEMOIR_IO_FAULT_NTH");
  const std::string err = get("MEMOIR_IO_FAULT_ERRNO");
  const std::string mode = get("MEMOIR_IO_FAULT_MODE");
  const std::string below = get("MEMOIR_IO_FAULT_BELOW");
  if (op.empty() && nth.empty()) return plan;
  if (plan.dir.empty()) {
    *error = "MEMOIR_IO_FAULT_DIR is required with a fault";
    return std::nullopt;
  }
  if (op == "any") {
    plan.any_op = true;
  } else if (auto parsed = ParseIoOp(op)) {
    plan.op = *parsed;
  } else {
    *error = "MEMOIR_IO_FAULT_OP: unknown op '" + op + "'";
    return std::nullopt;
  }
  char* end = nullptr;
  plan.nth = std::strtoull(nth.c_str(), &end, 10);
  if (nth.empty() || *end != '\0' || plan.nth == 0) {
    *error = "MEMOIR_IO_FAULT_NTH: want a count >= 1, got '" + nth + "'";
    return std::nullopt;
  }
  if (err == "EIO" || err.empty()) {
    plan.err = EIO;
  } else if (err == "ENOSPC") {
    plan.err = ENOSPC;
  } else {
    *error = "MEMOIR_IO_FAULT_ERRNO: want EIO or ENOSPC, got '" + err + "'";
    return std::nullopt;
  }
  if (!below.empty()) {
    plan.below_offset = std::strtoull(below.c_str(), &end, 10);
    if (*end != '\0' || plan.below_offset == 0) {
      *error =
          "MEMOIR_IO_FAULT_BELOW: want an offset >= 1, got '" + below + "'";
      return std::nullopt;
    }
  }
  if (mode == "persistent") {
    plan.persistent = true;
  } else if (mode != "once" && !mode.empty()) {
    *error =
        "MEMOIR_IO_FAULT_MODE: want once or persistent, got '" + mode + "'";
    return std::nullopt;
  }
  return plan;
}

void ArmIoFaults(const IoFaultPlan& plan) {
  State& s = S();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.plan = plan;
    s.prefix = plan.dir.empty() ? std::string() : Resolve(plan.dir) + "/";
    s.lifted = false;
    s.matched = 0;
    s.tally = IoFaultTally{};
  }
  g_armed.store(!plan.dir.empty(), std::memory_order_release);
}

void LiftIoFaults() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().lifted = true;
}

IoFaultTally IoFaultsSoFar() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().tally;
}

}  // namespace memoir::test

// --- The interposed calls --------------------------------------------------
// Each asks whether to fail before calling the real function, so a failed
// call writes nothing.

using memoir::test::CheckAddr;
using memoir::test::CheckFd;
using memoir::test::IoOp;
using memoir::test::Real;

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  if (int e = CheckFd(IoOp::kWrite, fd)) {
    errno = e;
    return -1;
  }
  static auto real = Real<ssize_t (*)(int, const void*, size_t)>("write");
  return real(fd, buf, n);
}

extern "C" ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  if (int e = CheckFd(IoOp::kWritev, fd)) {
    errno = e;
    return -1;
  }
  static auto real = Real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  return real(fd, iov, cnt);
}

extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (int e = CheckFd(IoOp::kPwrite, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  return real(fd, buf, n, off);
}

extern "C" ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  if (int e = CheckFd(IoOp::kPwrite, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  return real(fd, buf, n, off);
}

extern "C" ssize_t pwritev(int fd, const struct iovec* iov, int cnt,
                           off_t off) {
  if (int e = CheckFd(IoOp::kPwritev, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
  return real(fd, iov, cnt, off);
}

extern "C" ssize_t pwritev64(int fd, const struct iovec* iov, int cnt,
                             off64_t off) {
  if (int e = CheckFd(IoOp::kPwritev, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const struct iovec*, int, off64_t)>("pwritev64");
  return real(fd, iov, cnt, off);
}

extern "C" ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off,
                            int flags) {
  if (int e = CheckFd(IoOp::kPwritev, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const struct iovec*, int, off_t, int)>("pwritev2");
  return real(fd, iov, cnt, off, flags);
}

extern "C" ssize_t pwritev64v2(int fd, const struct iovec* iov, int cnt,
                               off64_t off, int flags) {
  if (int e = CheckFd(IoOp::kPwritev, fd, off)) {
    errno = e;
    return -1;
  }
  static auto real =
      Real<ssize_t (*)(int, const struct iovec*, int, off64_t, int)>(
          "pwritev64v2");
  return real(fd, iov, cnt, off, flags);
}

extern "C" int fdatasync(int fd) {
  if (int e = CheckFd(IoOp::kFdatasync, fd)) {
    errno = e;
    return -1;
  }
  static auto real = Real<int (*)(int)>("fdatasync");
  return real(fd);
}

extern "C" int fsync(int fd) {
  if (int e = CheckFd(IoOp::kFsync, fd)) {
    errno = e;
    return -1;
  }
  static auto real = Real<int (*)(int)>("fsync");
  return real(fd);
}

extern "C" int msync(void* addr, size_t len, int flags) {
  if (int e = CheckAddr(IoOp::kMsync, addr)) {
    errno = e;
    return -1;
  }
  static auto real = Real<int (*)(void*, size_t, int)>("msync");
  return real(addr, len, flags);
}
