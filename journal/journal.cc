// The non-virtual parts of the public Journal API (memoir/journal.h).
#include "memoir/journal.h"

#include <fmt/format.h>

#include <future>
#include <memory>
#include <optional>

#include "storage/notification.h"

namespace memoir {

RecordedEvent RecordedEvent::From(const EventView& view) {
  RecordedEvent e;
  e.stream = std::string(view.stream);
  e.seq = view.seq;
  e.position = view.position;
  e.timestamp_ns = view.timestamp_ns;
  e.type = std::string(view.type);
  e.schema_version = view.schema_version;
  e.payload = std::string(view.payload);
  e.tags.assign(view.tags.begin(), view.tags.end());
  e.id = view.id;
  e.causation_id = view.causation_id;
  e.correlation_id = view.correlation_id;
  e.metadata = std::string(view.metadata);
  return e;
}

std::future<Result<AppendResult>> Journal::AppendAsync(StreamAppend request) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  Append(std::move(request), [promise](Result<AppendResult> r) {
    promise->set_value(std::move(r));
  });
  return future;
}

namespace {

// Where a blocking call waits for its completion callback. It lives on the
// caller's stack and the callback captures only its address: no promise, no
// shared state and no heap-stored std::function per call.
template <typename T>
class Waiter {
 public:
  void Set(T value) {
    value_.emplace(std::move(value));
    done_.Notify();
  }
  T Wait() {
    done_.Wait();
    return std::move(*value_);
  }

 private:
  internal::Notification done_;
  std::optional<T> value_;
};

}  // namespace

Result<AppendResult> Journal::Append(std::string_view stream, Expected expected,
                                     std::vector<EventData> events) {
  return AppendAndWait(
      StreamAppend{std::string(stream), expected, std::move(events)});
}

Result<AppendResult> Journal::AppendAndWait(StreamAppend request) {
  Waiter<Result<AppendResult>> waiter;
  Append(std::move(request),
         [&waiter](Result<AppendResult> r) { waiter.Set(std::move(r)); });
  return waiter.Wait();
}

Result<std::vector<AppendResult>> Journal::AppendMulti(
    std::vector<StreamAppend> requests) {
  Waiter<Result<std::vector<AppendResult>>> waiter;
  AppendMulti(std::move(requests),
              [&waiter](Result<std::vector<AppendResult>> r) {
                waiter.Set(std::move(r));
              });
  return waiter.Wait();
}

namespace {

// The events a Scan* call visits, copied out.
template <typename ScanFn>
Result<std::vector<RecordedEvent>> Collect(ScanFn&& scan) {
  std::vector<RecordedEvent> out;
  Status s = scan([&](const EventView& e) {
    out.push_back(RecordedEvent::From(e));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace

Result<std::vector<RecordedEvent>> Journal::Read(std::string_view stream,
                                                 const ReadOptions& options) {
  return Collect(
      [&](const EventVisitor& visit) { return Scan(stream, options, visit); });
}

Result<std::vector<RecordedEvent>> Journal::ReadAll(uint64_t from_position,
                                                    size_t max_count) {
  return Collect([&](const EventVisitor& visit) {
    return ScanAll(from_position, max_count, visit);
  });
}

Result<std::vector<RecordedEvent>> Journal::ReadAllBackward(
    uint64_t from_position, size_t max_count) {
  return Collect([&](const EventVisitor& visit) {
    return ScanAllBackward(from_position, max_count, visit);
  });
}

Result<std::vector<RecordedEvent>> Journal::ReadTag(std::string_view tag,
                                                    uint64_t from_position,
                                                    size_t max_count) {
  return Collect([&](const EventVisitor& visit) {
    return ScanTag(tag, from_position, max_count, visit);
  });
}

Result<std::vector<RecordedEvent>> Journal::ReadType(std::string_view type,
                                                     uint64_t from_position,
                                                     size_t max_count) {
  return Collect([&](const EventVisitor& visit) {
    return ScanType(type, from_position, max_count, visit);
  });
}

}  // namespace memoir
