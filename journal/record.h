// Event records: encoding (in the producer's thread, so the writer thread
// only patches a few fields) and checked decoding.
#ifndef MEMOIR_JOURNAL_RECORD_H_
#define MEMOIR_JOURNAL_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "memoir/journal.h"
#include "memoir/status.h"
#include "storage/record_frame.h"

namespace memoir::internal {

// A record being written: checksum ++ envelope, 8-byte aligned so its
// scalar fields can be patched in place.
class EventRecord {
 public:
  // Encodes `event` with stream id, seq, position and timestamp left zero.
  static EventRecord Encode(const EventData& event);

  // Fills in the fields only the writer knows and computes the checksum.
  void Seal(uint64_t stream_id, uint64_t seq, uint64_t position,
            int64_t timestamp_ns);

  const char* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }

 private:
  RecordBuffer buffer_;
};

// A decoded record; string views point into the record bytes (or into the
// scratch buffer they were copied to for alignment).
struct DecodedEvent {
  uint64_t stream_id = 0;
  uint64_t seq = 0;
  uint64_t position = 0;
  int64_t timestamp_ns = 0;
  std::string_view type;
  uint32_t schema_version = 0;
  std::string_view payload;
  std::vector<std::string_view> tags;
};

// Checks length, checksum and the FlatBuffers verifier, in that order, then
// decodes. On failure returns kCorruption with the reason; the caller adds
// where (stream, seq, position).
Status DecodeEventRecord(const char* data, size_t size, AlignedScratch* scratch,
                         DecodedEvent* out);

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_RECORD_H_
