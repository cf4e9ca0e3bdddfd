// Durable messages in the runtime (Effect::Send): loading the outbox and
// handing each message to its receiver (runtime/dispatcher.h decides when).
#include <fmt/format.h>

#include <utility>

#include "runtime/system_impl.h"

namespace memoir::internal {

void SystemImpl::LoadOutbox() {
  Result<std::unique_ptr<MessageStore>> messages = InStoreMessages(store_);
  if (!messages.ok()) return;  // a store of another kind: no messages
  messages_ = std::move(messages).value();
  MessageKey after;
  for (;;) {
    Result<std::vector<StoredMessage>> page = messages_->Waiting(after, 1000);
    if (!page.ok()) {
      // Delivering the messages before it and new ones would take them
      // ahead of the unreadable ones of the same pairs, which could then
      // never be taken: deliver none. They stay in the outbox.
      dispatcher_.Stop();
      Log(LogLevel::kError,
          fmt::format("durable messages are not delivered by this system: "
                      "the outbox cannot be read after {}#{}: {}; run "
                      "'memoir verify' on the store",
                      after.position, after.n, page.status().ToString()));
      return;
    }
    if (page->empty()) return;
    after = page->back().key;
    dispatcher_.Add(std::move(page).value());
  }
}

void SystemImpl::LoadTimers() {
  if (!messages_) return;
  timers_.SetClock([m = messages_.get()] { return m->NowNanos(); });
  std::string stream, key;
  size_t damaged = 0;
  for (;;) {
    Result<std::vector<StoredTimer>> page =
        messages_->Timers(stream, key, 1000, &damaged);
    if (!page.ok()) {
      // The timers read so far still fire; those after the failure do not.
      Log(LogLevel::kError,
          fmt::format("durable timers after timer '{}' of '{}' do not fire "
                      "in this system: {}; run 'memoir verify' on the store",
                      key, stream, page.status().ToString()));
      return;
    }
    if (page->empty()) break;
    stream = page->back().stream;
    key = page->back().key;
    timers_.Add(std::move(page).value());
  }
  if (damaged > 0) {
    Log(LogLevel::kError,
        fmt::format("{} durable timer record(s) are damaged and do not fire; "
                    "the others do. Run 'memoir verify' on the store",
                    damaged));
  }
}

void SystemImpl::FireTimer(const StoredTimer& timer, TimerWheel::Done done) {
  const detail::Behavior* behavior = FindBehavior(timer.receiver_type);
  if (behavior == nullptr) {
    done(Status::Busy(fmt::format(
             "actor type '{}' is not registered; timer '{}' of '{}' waits",
             timer.receiver_type, timer.key, timer.stream)),
         false);
    return;
  }
  auto answered = [this, key = timer.key, stream = timer.stream,
                   done = std::move(done)](const Status& s, bool gone) {
    if (!gone && (s.IsInvalidArgument() || s.IsStreamDeleted())) {
      Log(LogLevel::kError,
          fmt::format("timer '{}' of '{}' cannot fire: {}; it stays pending "
                      "('memoir timers STORE' lists it)",
                      key, stream, s.ToString()));
    }
    done(s, gone);
  };
  Result<std::unique_ptr<detail::Message>> delivery = behavior->MakeDelivery(
      timer.type, timer.schema_version, timer.payload, answered);
  if (!delivery.ok()) {
    answered(Status::InvalidArgument(delivery.status().message()), false);
    return;
  }
  (*delivery)->fired = FiredTimer{timer.key, timer.id};
  (void)Enqueue(behavior, timer.stream, std::move(delivery).value());
}

Result<std::unique_ptr<Route>> SystemImpl::StartRouteErased(
    detail::RouteSpec spec) {
  if (!messages_) {
    return Status::InvalidArgument(
        "this store keeps no durable messages (not opened by Store::Open), "
        "so it cannot route");
  }
  return internal::StartRoute(
      store_, *messages_, routes_, std::move(spec),
      [this](std::vector<StoredMessage> sent) {
        counters_.messages_sent.fetch_add(sent.size());
        dispatcher_.Add(std::move(sent));
      },
      [this](const std::string& what) { Log(LogLevel::kWarning, what); });
}

Status SystemImpl::DropMessage(MessageKey key, std::string_view reason) {
  if (!messages_) {
    return Status::InvalidArgument(
        "this store keeps no durable messages (not opened by Store::Open)");
  }
  {
    // First, so that a turn starting from now on does not take it.
    std::lock_guard lock(dropped_mu_);
    dropped_.insert(key);
  }
  Result<AppendResult> dropped = messages_->Drop(key, reason);
  if (!dropped.ok()) {
    std::lock_guard lock(dropped_mu_);
    dropped_.erase(key);
    return dropped.status();
  }
  dispatcher_.Forget(key);
  Log(LogLevel::kWarning,
      fmt::format("durable message {}#{} was dropped to the dead letters "
                  "(position {}): {}",
                  key.position, key.n, dropped->first_position, reason));
  return Status::OK();
}

void SystemImpl::DeliverDurable(const StoredMessage& message,
                                Dispatcher::Done done) {
  const detail::Behavior* behavior = FindBehavior(message.receiver_type);
  if (behavior == nullptr) {
    // Not an error of the message: the type may be registered later.
    done(Status::Busy(fmt::format(
             "actor type '{}' is not registered; the message from '{}' to "
             "'{}' waits",
             message.receiver_type, message.id.sender, message.receiver)),
         false);
    return;
  }
  // An answer that no retry can change is logged once: the message then
  // waits, first in its pair, until Register or Release tries it again.
  auto answered = [this, key = message.key, from = message.id.sender,
                   to = message.receiver,
                   done = std::move(done)](const Status& s, bool taken) {
    if (!taken && (s.IsInvalidArgument() || s.IsStreamDeleted())) {
      Log(LogLevel::kError,
          fmt::format("durable message {}#{} from '{}' to '{}' cannot be "
                      "delivered: {}; it waits in the outbox ('memoir outbox "
                      "STORE' lists it)",
                      key.position, key.n, from, to, s.ToString()));
    }
    done(s, taken);
  };
  Result<std::unique_ptr<detail::Message>> delivery = behavior->MakeDelivery(
      message.type, message.schema_version, message.payload, answered);
  if (!delivery.ok()) {
    // Decoding or a type that cannot receive: final as things are.
    answered(Status::InvalidArgument(delivery.status().message()), false);
    return;
  }
  (*delivery)->taken = TakenMessage{message.key, message.id};
  // A refusal (closed, quarantined, full) finishes the message, which
  // answers `done`.
  (void)Enqueue(behavior, message.receiver, std::move(delivery).value());
}

}  // namespace memoir::internal
