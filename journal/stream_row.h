// Stream rows (journal/layout.h): per-stream metadata in the streams table.
#ifndef MEMOIR_JOURNAL_STREAM_ROW_H_
#define MEMOIR_JOURNAL_STREAM_ROW_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "memoir/status.h"

namespace memoir::internal {

struct StreamRow {
  uint64_t head = 0;
  uint64_t deleted_to = 0;
  uint64_t event_count = 0;
  int64_t created_ns = 0;
  int64_t last_write_ns = 0;
  bool tombstone = false;
  std::string name;

  std::string Encode() const;
  // kCorruption when the length or checksum does not hold.
  static Status Decode(std::string_view bytes, StreamRow* out);
};

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_STREAM_ROW_H_
