#include "base/append_rules.h"

#include <fmt/format.h>

#include <unordered_set>

namespace memoir::internal {
namespace {

Status ValidateEvent(const EventData& e, std::string_view stream, size_t i) {
  auto where = [&] {
    return fmt::format("event {} of stream '{}'", i, stream);
  };
  if (e.type.empty() || e.type.size() > kMaxTypeNameBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: type name must be 1 to {} bytes, got {}", where(),
                    kMaxTypeNameBytes, e.type.size()));
  }
  if (e.payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: payload of {} bytes exceeds the limit of {}", where(),
                    e.payload.size(), kMaxPayloadBytes));
  }
  if (e.tags.size() > kMaxTagsPerEvent) {
    return Status::InvalidArgument(
        fmt::format("{}: {} tags, at most {} allowed", where(), e.tags.size(),
                    kMaxTagsPerEvent));
  }
  if (e.metadata.size() > kMaxMetadataBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: metadata of {} bytes exceeds the limit of {}", where(),
                    e.metadata.size(), kMaxMetadataBytes));
  }
  for (const std::string& tag : e.tags) {
    if (tag.empty() || tag.size() > kMaxTagBytes ||
        tag.find('\0') != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("{}: a tag must be 1 to {} bytes without NUL", where(),
                      kMaxTagBytes));
    }
  }
  return Status::OK();
}

}  // namespace

Status ValidateAppendRequest(const StreamAppend& r) {
  Status s = ValidateStreamName(r.stream);
  if (!s.ok()) return s;
  if (r.events.empty()) {
    return Status::InvalidArgument(
        fmt::format("append to stream '{}' has no events", r.stream));
  }
  for (size_t i = 0; i < r.events.size(); ++i) {
    s = ValidateEvent(r.events[i], r.stream, i);
    if (!s.ok()) return s;
  }
  // Event ids: all or none, each once (a repeat is recognised by the
  // whole sequence of ids).
  const bool with_ids = !r.events[0].id.empty();
  for (size_t i = 1; i < r.events.size(); ++i) {
    if (r.events[i].id.empty() == with_ids) {
      return Status::InvalidArgument(fmt::format(
          "append to stream '{}': event 0 {} an id but event {} {}; give "
          "every event of a request an id, or none",
          r.stream, with_ids ? "has" : "has no", i,
          with_ids ? "has none" : "has one"));
    }
  }
  if (with_ids && r.events.size() > 1) {
    std::unordered_set<Uuid> seen;
    for (size_t i = 0; i < r.events.size(); ++i) {
      if (!seen.insert(r.events[i].id).second) {
        return Status::InvalidArgument(fmt::format(
            "append to stream '{}': event {} repeats the id {} of an "
            "earlier event of the request; each event needs its own id",
            r.stream, i, r.events[i].id.ToString()));
      }
    }
  }
  return Status::OK();
}

Status ValidateSave(std::string_view stream, uint64_t seq,
                    const SnapshotData& data) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  if (seq == 0) {
    return Status::InvalidArgument(fmt::format(
        "snapshot of stream '{}' at seq 0: a snapshot holds the state after "
        "an event, so its seq must be at least 1",
        stream));
  }
  if (data.type.empty() || data.type.size() > kMaxTypeNameBytes) {
    return Status::InvalidArgument(
        fmt::format("snapshot of stream '{}' at seq {}: type name must be 1 "
                    "to {} bytes, got {}",
                    stream, seq, kMaxTypeNameBytes, data.type.size()));
  }
  if (data.metadata.size() > kMaxMetadataBytes) {
    return Status::InvalidArgument(fmt::format(
        "snapshot of stream '{}' at seq {}: metadata of {} bytes exceeds the "
        "limit of {}",
        stream, seq, data.metadata.size(), kMaxMetadataBytes));
  }
  if (data.payload.size() > kMaxSnapshotPayloadBytes) {
    return Status::InvalidArgument(fmt::format(
        "snapshot of stream '{}' at seq {}: payload of {} bytes exceeds the "
        "limit of {}",
        stream, seq, data.payload.size(), kMaxSnapshotPayloadBytes));
  }
  return Status::OK();
}

}  // namespace memoir::internal
