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
      // The messages stay in the outbox; the next start tries again.
      Log(LogLevel::kError,
          fmt::format("durable messages after {}#{} are not delivered: {}; "
                      "run 'memoir verify' on the store",
                      after.position, after.n, page.status().ToString()));
      return;
    }
    if (page->empty()) return;
    after = page->back().key;
    dispatcher_.Add(std::move(page).value());
  }
}

void SystemImpl::DeliverDurable(const StoredMessage& message,
                                Dispatcher::Done done) {
  const detail::Behavior* behavior = FindBehavior(message.receiver_type);
  if (behavior == nullptr) {
    // Not an error of the message: the type may be registered later.
    done(Status::Busy(fmt::format(
        "actor type '{}' is not registered; the message from '{}' to '{}' "
        "waits",
        message.receiver_type, message.id.sender, message.receiver)));
    return;
  }
  Result<std::unique_ptr<detail::Message>> delivery =
      behavior->MakeDelivery(message, done);
  if (!delivery.ok()) {
    Log(LogLevel::kError,
        fmt::format("durable message {}#{} from '{}' to '{}' waits: {}",
                    message.key.position, message.key.n, message.id.sender,
                    message.receiver, delivery.status().ToString()));
    done(delivery.status());
    return;
  }
  // A refusal (closed, quarantined, full) finishes the message, which
  // answers `done`.
  (void)Enqueue(behavior, message.receiver, std::move(delivery).value());
}

}  // namespace memoir::internal
