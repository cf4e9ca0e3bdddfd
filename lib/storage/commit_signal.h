// CommitSignal: the writer thread publishes the newest visible global
// position after each commit; threads of the same process wait for it to
// pass a mark. A waiter sleeps on a futex word, and the writer makes the
// wake-up system call only when someone waits, so a commit nobody waits
// for costs two atomic stores and a load.
//
// Thread safety: Publish from one thread (the writer), the rest from any.
#ifndef MEMOIR_STORAGE_COMMIT_SIGNAL_H_
#define MEMOIR_STORAGE_COMMIT_SIGNAL_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace memoir::internal {

class CommitSignal {
 public:
  // Makes `position` the newest visible position and wakes the waiters.
  void Publish(uint64_t position);
  uint64_t position() const {
    return position_.load(std::memory_order_acquire);
  }
  // Waits until position() is above `after`, `timeout` has passed, or
  // `*cancel` (if given) is true after a Wake, and returns position() (at
  // most `after` on timeout or cancel).
  uint64_t WaitAbove(uint64_t after, std::chrono::nanoseconds timeout,
                     const std::atomic<bool>* cancel = nullptr);
  // Wakes every waiter to look at its cancel flag. Set the flag first.
  void Wake();

 private:
  std::atomic<uint64_t> position_{0};
  std::atomic<uint32_t> word_{0};  // the futex: bumped by every Publish
  std::atomic<uint32_t> waiters_{0};
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_COMMIT_SIGNAL_H_
