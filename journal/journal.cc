// The non-virtual parts of the public Journal API (memoir/journal.h).
#include "memoir/journal.h"

#include <fmt/format.h>

#include <future>
#include <memory>
#include <optional>

#include "storage/notification.h"

namespace memoir {

Status ValidateStreamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxStreamNameBytes) {
    return Status::InvalidArgument(fmt::format(
        "a stream name must be 1 to {} bytes of UTF-8, got {} bytes",
        kMaxStreamNameBytes, name.size()));
  }
  // Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  const auto* end = p + name.size();
  while (p < end) {
    unsigned c = *p;
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        return Status::InvalidArgument(fmt::format(
            "stream name contains control character 0x{:02x} at byte {}", c,
            p - reinterpret_cast<const unsigned char*>(name.data())));
      }
      ++p;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      len = 0;
      cp = 0;
    }
    bool ok = len != 0 && static_cast<size_t>(end - p) >= len;
    for (size_t i = 1; ok && i < len; ++i) {
      ok = (p[i] & 0xc0) == 0x80;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (ok) {
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (!ok) {
      return Status::InvalidArgument(
          fmt::format("stream name is not valid UTF-8 at byte {}",
                      p - reinterpret_cast<const unsigned char*>(name.data())));
    }
    p += len;
  }
  return Status::OK();
}

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

Result<std::vector<RecordedEvent>> Journal::Read(std::string_view stream,
                                                 const ReadOptions& options) {
  std::vector<RecordedEvent> out;
  Status s = Scan(stream, options, [&](const EventView& e) {
    out.push_back(RecordedEvent::From(e));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<RecordedEvent>> Journal::ReadAll(uint64_t from_position,
                                                    size_t max_count) {
  std::vector<RecordedEvent> out;
  Status s = ScanAll(from_position, max_count, [&](const EventView& e) {
    out.push_back(RecordedEvent::From(e));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<RecordedEvent>> Journal::ReadTag(std::string_view tag,
                                                    uint64_t from_position,
                                                    size_t max_count) {
  std::vector<RecordedEvent> out;
  Status s = ScanTag(tag, from_position, max_count, [&](const EventView& e) {
    out.push_back(RecordedEvent::From(e));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace memoir
