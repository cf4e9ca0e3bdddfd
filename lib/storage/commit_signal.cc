// CommitSignal (commit_signal.h) on Linux futexes.
#include "storage/commit_signal.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace memoir::internal {
namespace {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "the futex word must be a plain 32-bit integer");

uint32_t* Word(std::atomic<uint32_t>& word) {
  return reinterpret_cast<uint32_t*>(&word);
}

}  // namespace

void CommitSignal::Publish(uint64_t position) {
  position_.store(position, std::memory_order_release);
  word_.fetch_add(1, std::memory_order_seq_cst);
  // A waiter registers before it reads the word; if it registered after
  // this load, its FUTEX_WAIT sees the bumped word and returns at once.
  if (waiters_.load(std::memory_order_seq_cst) != 0) {
    syscall(SYS_futex, Word(word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
  }
}

void CommitSignal::Wake() {
  word_.fetch_add(1, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) != 0) {
    syscall(SYS_futex, Word(word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
  }
}

uint64_t CommitSignal::WaitAbove(uint64_t after,
                                 std::chrono::nanoseconds timeout,
                                 const std::atomic<bool>* cancel) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    const uint32_t seen = word_.load(std::memory_order_seq_cst);
    const uint64_t now_at = position();
    const Clock::duration left = deadline - Clock::now();
    // The flag is read after the word: a Wake after this read changes the
    // word, so the FUTEX_WAIT below returns at once.
    const bool cancelled =
        cancel != nullptr && cancel->load(std::memory_order_seq_cst);
    if (now_at > after || left <= Clock::duration::zero() || cancelled) {
      waiters_.fetch_sub(1, std::memory_order_seq_cst);
      return now_at;
    }
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec wait{static_cast<time_t>(ns / 1'000'000'000),
                  static_cast<long>(ns % 1'000'000'000)};
    // Returns on a wake-up, a changed word (EAGAIN), a signal (EINTR) or
    // the timeout; the loop re-checks the position in every case.
    syscall(SYS_futex, Word(word_), FUTEX_WAIT_PRIVATE, seen, &wait, nullptr,
            0);
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

}  // namespace memoir::internal
