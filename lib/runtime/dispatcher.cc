// The dispatcher of durable messages (runtime/dispatcher.h).
#include "runtime/dispatcher.h"

#include <algorithm>
#include <utility>

namespace memoir::internal {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{20};
constexpr std::chrono::milliseconds kMaxBackoff{5'000};

std::string PairKey(const StoredMessage& m) {
  std::string key = m.id.sender;
  key.push_back('\0');
  key += m.receiver;
  return key;
}

}  // namespace

void Dispatcher::Add(std::vector<StoredMessage> messages) {
  std::lock_guard lock(mu_);
  for (StoredMessage& m : messages) {
    const std::string key = PairKey(m);
    Pair& pair = pairs_[key];
    const MessageKey at = m.key;
    if (!pair.queue.emplace(at, std::move(m)).second) continue;
    ++counters_.waiting;
    ++counters_.added;
    if (!pair.in_flight && !pair.waiting) ready_.insert(key);
  }
  if (!ready_.empty()) PumpLaterLocked();
}

void Dispatcher::PumpLaterLocked() {
  if (pump_queued_ || stopped_) return;
  pump_queued_ = true;
  later_(std::chrono::milliseconds(0), [this] { Pump(); });
}

void Dispatcher::Pump() {
  std::vector<std::pair<std::string, StoredMessage>> now;
  {
    std::lock_guard lock(mu_);
    pump_queued_ = false;
    if (stopped_) return;
    for (const std::string& key : ready_) {
      auto it = pairs_.find(key);
      if (it == pairs_.end()) continue;
      Pair& pair = it->second;
      if (pair.in_flight || pair.waiting || pair.queue.empty()) continue;
      pair.in_flight = true;
      now.emplace_back(key, pair.queue.begin()->second);
    }
    ready_.clear();
  }
  for (auto& entry : now) {
    // (Not a structured binding: clang 14 cannot capture one.)
    const std::string& key = entry.first;
    const MessageKey at = entry.second.key;
    deliver_(entry.second,
             [this, key, at](const Status& s, bool taken_already) {
               Finished(key, at, s, taken_already);
             });
  }
}

void Dispatcher::Finished(const std::string& key, MessageKey at,
                          const Status& s, bool taken_already) {
  std::lock_guard lock(mu_);
  auto it = pairs_.find(key);
  if (it == pairs_.end()) return;
  Pair& pair = it->second;
  pair.in_flight = false;
  // Taken: committed with the receiver's events, refused by it (the
  // refusal takes it too; a failed commit never answers kRejected), or
  // taken before. Any other answer, a failed commit of the receiver's
  // batch included, leaves it first in its pair.
  // A message forgotten (dropped) while out moves its pair on too.
  const bool forgotten = pair.queue.count(at) == 0;
  if (s.ok() || s.IsRejected() || taken_already || forgotten) {
    if (pair.queue.erase(at) == 1) {
      --counters_.waiting;
      if (taken_already) {
        ++counters_.duplicates;
      } else {
        ++counters_.delivered;
      }
    }
    pair.backoff = std::chrono::milliseconds(0);
    if (pair.queue.empty()) {
      pairs_.erase(it);
    } else {
      ready_.insert(key);
      PumpLaterLocked();
    }
    return;
  }
  // Not handled: it stays first; tried again after a backoff (or on Wake).
  pair.waiting = true;
  pair.stuck = s.IsInvalidArgument() || s.IsStreamDeleted();
  if (stopped_ || s.IsClosed() || pair.stuck) return;
  pair.backoff = std::clamp(pair.backoff * 2, kFirstBackoff, kMaxBackoff);
  later_(pair.backoff, [this, key] { Retry(key); });
}

void Dispatcher::Retry(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pairs_.find(key);
  if (it == pairs_.end() || !it->second.waiting || it->second.stuck) return;
  it->second.waiting = false;
  ++counters_.retries;
  ready_.insert(key);
  PumpLaterLocked();
}

void Dispatcher::Wake() {
  std::lock_guard lock(mu_);
  for (auto& [key, pair] : pairs_) {
    if (!pair.waiting) continue;
    pair.waiting = false;
    pair.stuck = false;
    ++counters_.retries;
    ready_.insert(key);
  }
  if (!ready_.empty()) PumpLaterLocked();
}

void Dispatcher::Forget(MessageKey key) {
  std::lock_guard lock(mu_);
  for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
    Pair& pair = it->second;
    auto m = pair.queue.find(key);
    if (m == pair.queue.end()) continue;
    const bool first = m == pair.queue.begin();
    pair.queue.erase(m);
    --counters_.waiting;
    ++counters_.dropped;
    if (!first || pair.in_flight) return;  // Finished moves the pair on
    pair.waiting = false;
    pair.stuck = false;
    pair.backoff = std::chrono::milliseconds(0);
    if (pair.queue.empty()) {
      pairs_.erase(it);
    } else {
      ready_.insert(it->first);
      PumpLaterLocked();
    }
    return;
  }
}

void Dispatcher::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
}

DispatchCounters Dispatcher::Counters() const {
  std::lock_guard lock(mu_);
  DispatchCounters out = counters_;
  for (const auto& [key, pair] : pairs_) {
    if (pair.queue.empty()) continue;
    if (pair.stuck) ++out.stuck;
    const int64_t sent = pair.queue.begin()->second.sent_ns;
    if (out.oldest_sent_ns == 0 || sent < out.oldest_sent_ns) {
      out.oldest_sent_ns = sent;
    }
  }
  return out;
}

}  // namespace memoir::internal
