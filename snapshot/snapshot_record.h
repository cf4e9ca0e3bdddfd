// Snapshot records: encoding (in the caller's thread, so the writer thread
// only patches a few fields and computes the checksum) and checked decoding.
#ifndef MEMOIR_SNAPSHOT_SNAPSHOT_RECORD_H_
#define MEMOIR_SNAPSHOT_SNAPSHOT_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "storage/record_frame.h"

namespace memoir::internal {

// A record being written: checksum ++ envelope, 8-byte aligned so its
// scalar fields can be patched in place.
class SnapshotRecord {
 public:
  // Encodes `data` with stream id, seq and timestamp left zero.
  // REQUIRES: data was validated (type and payload sizes).
  static SnapshotRecord Encode(const SnapshotData& data);

  // Fills in the fields only the writer knows and computes the checksum.
  void Seal(uint64_t stream_id, uint64_t seq, int64_t timestamp_ns);

  const char* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }

 private:
  RecordBuffer buffer_;
};

// A decoded record; views point into the record bytes or the scratch
// memory they were copied to for alignment.
struct DecodedSnapshot {
  uint64_t stream_id = 0;
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  std::string_view type;
  uint32_t schema_version = 0;
  std::string_view payload;
  std::string_view metadata;
};

// Checks length, checksum and the FlatBuffers verifier, in that order, then
// decodes and checks that the envelope names `stream_id` and `seq` (the
// record's key). On failure returns kCorruption with the reason; the caller
// adds where.
Status DecodeSnapshotRecord(const char* data, size_t size, uint64_t stream_id,
                            uint64_t seq, AlignedScratch* scratch,
                            DecodedSnapshot* out);

}  // namespace memoir::internal

#endif  // MEMOIR_SNAPSHOT_SNAPSHOT_RECORD_H_
