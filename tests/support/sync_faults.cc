#include "support/sync_faults.h"

#include <dlfcn.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace memoir::test {
namespace {

struct State {
  std::mutex mu;
  std::condition_variable cv;
  int fail_count = 0;
  int fail_errno = 0;
  bool block_next = false;
  bool blocked = false;
  bool release = false;
  int calls = 0;
};

State& S() {
  static State* s = new State();  // outlives static destructors
  return *s;
}

// Returns -1 with errno set when the call must fail.
int Intercept() {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  ++s.calls;
  if (s.block_next) {
    s.block_next = false;
    s.blocked = true;
    s.release = false;
    s.cv.notify_all();
    s.cv.wait_for(lock, std::chrono::seconds(30), [&] { return s.release; });
    s.blocked = false;
  }
  if (s.fail_count > 0) {
    --s.fail_count;
    errno = s.fail_errno;
    return -1;
  }
  return 0;
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void FailNextSyncs(int count, int err) {
  std::lock_guard<std::mutex> lock(S().mu);
  S().fail_count = count;
  S().fail_errno = err;
}

void BlockNextSync() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().block_next = true;
}

bool WaitUntilSyncBlocked() {
  std::unique_lock<std::mutex> lock(S().mu);
  return S().cv.wait_for(lock, std::chrono::seconds(60),
                         [] { return S().blocked; });
}

void ReleaseSync() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().release = true;
  S().cv.notify_all();
}

int SyncCalls() {
  std::lock_guard<std::mutex> lock(S().mu);
  return S().calls;
}

void ResetSyncFaults() {
  std::lock_guard<std::mutex> lock(S().mu);
  S().fail_count = 0;
  S().block_next = false;
  S().release = true;
  S().cv.notify_all();
}

}  // namespace memoir::test

extern "C" int fdatasync(int fd) {
  if (memoir::test::Intercept() != 0) return -1;
  static auto real = memoir::test::Real<int (*)(int)>("fdatasync");
  return real(fd);
}

extern "C" int fsync(int fd) {
  if (memoir::test::Intercept() != 0) return -1;
  static auto real = memoir::test::Real<int (*)(int)>("fsync");
  return real(fd);
}
