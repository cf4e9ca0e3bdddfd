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
      Entry& e = it->second;
      if (e.timer.id == t.id && !e.cancelled) continue;  // known already
      if (!e.in_flight) Unqueue(e, key);
      e.timer = std::move(t);
      e.next_ns = e.timer.due_ns;
      e.cancelled = false;
      e.stuck = false;
      e.backing_off = false;
      e.backoff = std::chrono::milliseconds(0);
      // One in flight stays in flight: its answer (for the old id) queues
      // the new one.
      if (!e.in_flight) Queue(e, key);
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
    if (it->second.in_flight) {
      // Its answer is still to come: the entry waits for it, so that a
      // timer started again under the key is not handed over meanwhile.
      it->second.cancelled = true;
      continue;
    }
    Unqueue(it->second, key);
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
      auto it = entries_.find(key);
      if (it == entries_.end() || it->second.in_flight ||
          it->second.cancelled) {
        continue;
      }
      it->second.in_flight = it->second.timer.id;
      due.push_back(it->second.timer);
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
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (!e.in_flight || !(*e.in_flight == id)) return;  // not the one out
  e.in_flight.reset();
  if (e.cancelled) {
    entries_.erase(it);
    return;
  }
  if (!(e.timer.id == id)) {
    // Replaced while in flight (by its own command, too: a timer restarted
    // when it fires): the new one waits for its own time.
    if (s.ok() || s.IsRejected()) ++counters_.fired;
    if (gone) ++counters_.dropped;
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
  if (e.stuck) return;
  e.backing_off = true;
  e.backoff = std::clamp(e.backoff * 2, kTimerFirstBackoff, kTimerMaxBackoff);
  // Not after Stop, nor while the system closes: the next start fires it.
  if (stopped_ || s.IsClosed()) return;
  at_(std::chrono::steady_clock::now() + e.backoff,
      [this, key, id] { Retry(key, id); });
}

void TimerWheel::Retry(const std::string& key, const DeliveryId& id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (!e.backing_off || e.in_flight || e.cancelled || !(e.timer.id == id)) {
    return;
  }
  e.backing_off = false;
  Queue(e, key);  // still due: next_ns is its due time
  ArmLocked();
}

void TimerWheel::Wake() {
  std::lock_guard lock(mu_);
  // Those refused for good and those backing off go now.
  for (auto& [key, e] : entries_) {
    if (e.in_flight || e.cancelled || (!e.stuck && !e.backing_off)) continue;
    e.stuck = false;
    e.backing_off = false;
    e.backoff = std::chrono::milliseconds(0);
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
  for (const auto& [key, e] : entries_) {
    if (e.cancelled) continue;
    ++out.pending;
    if (e.stuck) ++out.stuck;
    if (e.in_flight) ++out.firing;
  }
  return out;
}

}  // namespace memoir::internal
