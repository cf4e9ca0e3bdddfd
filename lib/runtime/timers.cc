// The wheel of durable timers (runtime/timers.h).
#include "runtime/timers.h"

#include <algorithm>

namespace memoir::internal {
namespace {

constexpr std::chrono::milliseconds kTimerFirstBackoff{20};
constexpr std::chrono::milliseconds kTimerMaxBackoff{5'000};
// The longest wait before the clock is read again.
constexpr std::chrono::milliseconds kTimerLongestWait{60'000};

std::string TimerEntryKey(std::string_view stream, std::string_view key) {
  std::string out(stream);
  out.push_back('\0');
  out += key;
  return out;
}

}  // namespace

void TimerWheel::SetClock(Now now) {
  std::lock_guard lock(mu_);
  now_ = std::move(now);
}

void TimerWheel::Queue(Entry& e, const std::string& key) {
  queue_.emplace(e.next_ns, key);
}

void TimerWheel::Unqueue(const Entry& e, const std::string& key) {
  queue_.erase({e.next_ns, key});
}

void TimerWheel::Add(std::vector<StoredTimer> timers) {
  std::lock_guard lock(mu_);
  for (StoredTimer& t : timers) {
    const std::string key = TimerEntryKey(t.stream, t.key);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (it->second.timer.id == t.id) continue;  // known already
      Unqueue(it->second, key);
      // One in flight stays in flight: its answer (gone, for the old id)
      // queues the new one.
      it->second.timer = std::move(t);
      it->second.next_ns = it->second.timer.due_ns;
      it->second.stuck = false;
      it->second.backoff = std::chrono::milliseconds(0);
      if (!it->second.in_flight) Queue(it->second, key);
      continue;
    }
    Entry& e = entries_[key];
    e.timer = std::move(t);
    e.next_ns = e.timer.due_ns;
    Queue(e, key);
  }
  ArmLocked();
}

void TimerWheel::Cancel(const std::string& stream,
                        const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  for (const std::string& k : keys) {
    const std::string key = TimerEntryKey(stream, k);
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    Unqueue(it->second, key);
    // In flight: the actor finds it gone and its answer is ignored.
    entries_.erase(it);
  }
}

void TimerWheel::ArmLocked() {
  if (stopped_ || queue_.empty() || !now_) return;
  const int64_t wait_ns = std::max<int64_t>(0, queue_.begin()->first - now_());
  const auto wait = std::min<std::chrono::nanoseconds>(
      std::chrono::nanoseconds(wait_ns), kTimerLongestWait);
  const auto when = std::chrono::steady_clock::now() + wait;
  if (armed_ && *armed_ <= when) return;
  armed_ = when;
  at_(when, [this] { Tick(); });
}

void TimerWheel::Tick() {
  std::vector<StoredTimer> due;
  {
    std::lock_guard lock(mu_);
    if (armed_ && std::chrono::steady_clock::now() >= *armed_) armed_.reset();
    if (stopped_ || !now_) return;
    const int64_t now = now_();
    while (!queue_.empty() && queue_.begin()->first <= now) {
      const std::string key = queue_.begin()->second;
      queue_.erase(queue_.begin());
      Entry& e = entries_.at(key);
      e.in_flight = true;
      due.push_back(e.timer);
    }
    ArmLocked();
  }
  for (const StoredTimer& t : due) {
    fire_(t, [this, key = TimerEntryKey(t.stream, t.key), id = t.id](
                 const Status& s, bool gone) { Finished(key, id, s, gone); });
  }
}

void TimerWheel::Finished(const std::string& key, const DeliveryId& id,
                          const Status& s, bool gone) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;  // cancelled meanwhile
  Entry& e = it->second;
  e.in_flight = false;
  if (!(e.timer.id == id)) {
    // Replaced while in flight: the new one waits for its own time.
    Queue(e, key);
    ArmLocked();
    return;
  }
  if (s.ok() || s.IsRejected() || gone) {
    ++(gone ? counters_.dropped : counters_.fired);
    entries_.erase(it);
    return;
  }
  e.stuck = s.IsInvalidArgument() || s.IsStreamDeleted();
  if (stopped_ || s.IsClosed() || e.stuck) return;
  e.backoff = std::clamp(e.backoff * 2, kTimerFirstBackoff, kTimerMaxBackoff);
  e.next_ns =
      (now_ ? now_() : e.timer.due_ns) +
      std::chrono::duration_cast<std::chrono::nanoseconds>(e.backoff).count();
  Queue(e, key);
  ArmLocked();
}

void TimerWheel::Wake() {
  std::lock_guard lock(mu_);
  // Those refused for good and those backing off go now.
  const int64_t now = now_ ? now_() : 0;
  for (auto& [key, e] : entries_) {
    if (e.in_flight || (!e.stuck && e.backoff.count() == 0)) continue;
    if (!e.stuck) Unqueue(e, key);
    e.stuck = false;
    e.backoff = std::chrono::milliseconds(0);
    e.next_ns = std::min(e.next_ns, now);
    Queue(e, key);
  }
  ArmLocked();
}

void TimerWheel::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
}

TimerCounters TimerWheel::Counters() const {
  std::lock_guard lock(mu_);
  TimerCounters out = counters_;
  out.pending = entries_.size();
  for (const auto& [key, e] : entries_) {
    if (e.stuck) ++out.stuck;
  }
  return out;
}

}  // namespace memoir::internal
