#include "journal/stream_row.h"

#include <fmt/format.h>

#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {

std::string StreamRow::Encode() const {
  std::string out(kStreamRowFixedBytes + name.size(), '\0');
  char* p = out.data();
  PutLittle64(p + 8, head);
  PutLittle64(p + 16, deleted_to);
  PutLittle64(p + 24, event_count);
  PutLittle64(p + 32, static_cast<uint64_t>(created_ns));
  PutLittle64(p + 40, static_cast<uint64_t>(last_write_ns));
  uint64_t flags_and_length = (tombstone ? kStreamRowTombstone : 0) |
                              (static_cast<uint64_t>(name.size()) << 32);
  PutLittle64(p + 48, flags_and_length);
  name.copy(p + kStreamRowFixedBytes, name.size());
  PutLittle64(p, Checksum(p + 8, out.size() - 8));
  return out;
}

Status StreamRow::Decode(std::string_view bytes, StreamRow* out) {
  if (bytes.size() < kStreamRowFixedBytes) {
    return Status::Corruption(
        fmt::format("stream row is {} bytes, shorter than its {}-byte header",
                    bytes.size(), kStreamRowFixedBytes));
  }
  const char* p = bytes.data();
  if (GetLittle64(p) != Checksum(p + 8, bytes.size() - 8)) {
    return Status::Corruption("stream row checksum mismatch");
  }
  uint64_t flags_and_length = GetLittle64(p + 48);
  uint64_t name_length = flags_and_length >> 32;
  if (kStreamRowFixedBytes + name_length != bytes.size()) {
    return Status::Corruption("stream row name length disagrees with its size");
  }
  out->head = GetLittle64(p + 8);
  out->deleted_to = GetLittle64(p + 16);
  out->event_count = GetLittle64(p + 24);
  out->created_ns = static_cast<int64_t>(GetLittle64(p + 32));
  out->last_write_ns = static_cast<int64_t>(GetLittle64(p + 40));
  out->tombstone = (flags_and_length & kStreamRowTombstone) != 0;
  out->name.assign(p + kStreamRowFixedBytes, name_length);
  return Status::OK();
}

}  // namespace memoir::internal
