// Notification: one thread waits until another signals, once.
//
// Built on a POSIX semaphore because of two properties the blocking journal
// calls rely on: the waiter may destroy the Notification as soon as Wait
// returns (sem_post touches nothing but the futex word once a waiter can
// run, as glibc documents for sem_destroy), and the woken waiter never
// blocks again on a lock its waker still holds, as it would with a mutex
// and condition variable notified under the lock.
//
// Thread safety: Notify from one thread, Wait from another.
#ifndef MEMOIR_STORAGE_NOTIFICATION_H_
#define MEMOIR_STORAGE_NOTIFICATION_H_

#include <semaphore.h>

namespace memoir::internal {

class Notification {
 public:
  Notification() { sem_init(&sem_, /*pshared=*/0, /*value=*/0); }
  ~Notification() { sem_destroy(&sem_); }
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  // Releases everything written before it to the waiter.
  void Notify() { sem_post(&sem_); }

  // Returns once Notify has been called; sees everything written before it.
  void Wait() {
    while (sem_wait(&sem_) != 0) {
      // EINTR: a signal handler ran; keep waiting.
    }
  }

 private:
  sem_t sem_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_NOTIFICATION_H_
