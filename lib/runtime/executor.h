// Executor: the runtime's thread pool and timer.
//
// Post() runs a task on one of the pool's threads; At() runs a task on the
// timer thread once its time has come, so timer tasks must be quick (they
// answer deadlines or post further work). Stop() runs the timers still
// pending at once (so every deadline is answered), drains the queue and
// joins the threads.
//
// Thread safety: Post and At may be called from any thread, including from
// inside tasks.
#ifndef MEMOIR_RUNTIME_EXECUTOR_H_
#define MEMOIR_RUNTIME_EXECUTOR_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace memoir::internal {

class Executor {
 public:
  using Task = std::function<void()>;
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit Executor(size_t threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Post(Task task);
  void At(TimePoint when, Task task);
  // Idempotent. Must not be called from a pool thread.
  void Stop();

  // True on a pool or timer thread of any Executor.
  static bool OnRuntimeThread();

 private:
  struct Timer {
    TimePoint when;
    uint64_t order;
    Task task;
    bool operator>(const Timer& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };
  void Work();
  void TimerLoop();
  static void RunGuarded(Task& task);

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  bool stopped_ = false;

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_order_ = 0;
  bool timers_stopping_ = false;

  std::vector<std::thread> workers_;
  std::thread timer_thread_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_EXECUTOR_H_
