#include "runtime/executor.h"

#include <utility>

namespace memoir::internal {

namespace {
thread_local bool tls_runtime_thread = false;
}  // namespace

bool Executor::OnRuntimeThread() { return tls_runtime_thread; }

void Executor::RunGuarded(Task& task) {
  try {
    task();
  } catch (...) {
    // Tasks catch what user code throws; this is the last line, so that a
    // mistake can never terminate the process the library lives in.
  }
}

Executor::Executor(size_t threads) {
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
  timer_thread_ = std::thread([this] { TimerLoop(); });
}

Executor::~Executor() { Stop(); }

void Executor::Post(Task task) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      tasks_.push_back(std::move(task));
      work_cv_.notify_one();
      return;
    }
  }
  // After Stop the threads are gone; run inline rather than drop the task
  // (it may answer a caller's future).
  task();
}

void Executor::At(TimePoint when, Task task) {
  {
    std::lock_guard lock(timer_mu_);
    if (!timers_stopping_) {
      timers_.push(Timer{when, timer_order_++, std::move(task)});
      timer_cv_.notify_one();
      return;
    }
  }
  task();  // stopped: run now
}

void Executor::Work() {
  tls_runtime_thread = true;
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    RunGuarded(task);
  }
}

void Executor::TimerLoop() {
  tls_runtime_thread = true;
  std::unique_lock lock(timer_mu_);
  for (;;) {
    if (timers_stopping_) break;
    if (timers_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    TimePoint next = timers_.top().when;
    if (std::chrono::steady_clock::now() < next) {
      timer_cv_.wait_until(lock, next);
      continue;
    }
    Task task = std::move(const_cast<Timer&>(timers_.top()).task);
    timers_.pop();
    lock.unlock();
    // On this thread, not the pool: a deadline must be answered even when
    // every pool thread is busy (or blocked by a careless callback).
    RunGuarded(task);
    lock.lock();
  }
  // Stopping: every pending timer fires now, so no deadline goes unanswered.
  while (!timers_.empty()) {
    Task task = std::move(const_cast<Timer&>(timers_.top()).task);
    timers_.pop();
    lock.unlock();
    RunGuarded(task);
    lock.lock();
  }
}

void Executor::Stop() {
  {
    std::lock_guard lock(timer_mu_);
    if (timers_stopping_ && !timer_thread_.joinable()) return;
    timers_stopping_ = true;
  }
  timer_cv_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  // Tasks posted by the last tasks after the workers left.
  for (;;) {
    Task task;
    {
      std::lock_guard lock(mu_);
      if (tasks_.empty()) {
        stopped_ = true;
        break;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    RunGuarded(task);
  }
}

}  // namespace memoir::internal
