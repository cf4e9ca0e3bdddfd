// Event records: encoding (in the producer's thread, so the writer thread
// only patches a few fields) and checked decoding.
//
// The writer encodes every envelope in one of two canonical FlatBuffers
// layouts, written directly rather than through a FlatBufferBuilder
// (offsets from the start of the envelope, after the record's checksum).
// Layout 1, for an event without id, causation, correlation or metadata:
//
//   0   u32 root offset = 28              4   file identifier "MEVT"
//   8   vtable: u16 20 (its size), u16 52 (table size), u16 field offsets
//       4 12 20 28 36 40 44 and 48 (tags) or 0 (no tags)
//   28  table: i32 20 (the vtable is at 28 - 20)
//   32  u64 stream_id   40 u64 seq   48 u64 position   56 i64 timestamp_ns
//   64  u32 offset of type (always 16: type is at 80)
//   68  u32 schema_version
//   72  u32 offset of payload   76 u32 offset of tags (0 when none)
//   80  type:    u32 length ++ bytes ++ NUL, zero-padded to 4
//       payload: zero padding ++ u32 length ++ bytes, the bytes 16-aligned
//       tags:    zero padding to 4 ++ u32 count ++ u32 offsets ++ strings
//                (u32 length ++ bytes ++ NUL, each zero-padded to 4)
//       zero padding to a multiple of 16
//
// Layout 2, for any other event: the same fields 8 bytes further on, then
// the new ones (all offsets from the table at 36, as in layout 1 from 28):
//
//   0   u32 root offset = 36              4   file identifier "MEVT"
//   8   vtable: u16 28, u16 108 (table size), u16 field offsets
//       4 12 20 28 36 40 44, 48 or 0 (tags), 60 (id), 76 (causation_id),
//       92 (correlation_id), 52 (metadata) or 0 (no metadata)
//   36  table: i32 28   40 stream_id ... 84 offset of tags (as layout 1)
//   88  u32 offset of metadata (0 when none)   92 u32 zero
//   96  id (u64 hi, u64 lo)   112 causation_id   128 correlation_id
//   144 type, payload and tags as in layout 1, then
//       metadata: zero padding to 4 ++ u32 length ++ bytes
//       zero padding to a multiple of 16
//
// It is an ordinary FlatBuffer of journal/envelope.fbs: any reader (and the
// FlatBuffers verifier) accepts it, and records written by earlier versions
// through the builder stay readable. A reader recognises either canonical
// layout with a few exact comparisons, which check everything the verifier
// would; any other layout goes through the FlatBuffers verifier.
#ifndef MEMOIR_JOURNAL_RECORD_H_
#define MEMOIR_JOURNAL_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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

  const char* data() const {
    return reinterpret_cast<const char*>(words_.data());
  }
  size_t size() const { return words_.size() * 8; }

 private:
  std::vector<uint64_t> words_;
};

// The records of one request's events, encoded back to back in a single
// block of memory: per event a u64 record size, then the record (padded to
// 8 bytes).
class EventBatch {
 public:
  EventBatch() = default;
  // Encodes `events` into memory of its own.
  explicit EventBatch(std::span<const EventData> events);
  // Encodes `events` into `words`, which must hold WordsFor(events) words
  // and outlive the batch.
  EventBatch(std::span<const EventData> events, uint64_t* words);
  EventBatch(EventBatch&&) = default;
  EventBatch& operator=(EventBatch&&) = default;

  static size_t WordsFor(std::span<const EventData> events);

  size_t count() const { return count_; }
  // Bytes of all records (without the size words).
  size_t record_bytes() const { return record_bytes_; }

  // Calls f(char* record, size_t size) for each record in order, stopping
  // at (and returning) the first non-zero result.
  template <typename F>
  int ForEach(F&& f) {
    char* p = reinterpret_cast<char*>(words_);
    char* end = p + words_count_ * 8;
    while (p < end) {
      uint64_t n;
      std::memcpy(&n, p, 8);
      int rc = f(p + 8, static_cast<size_t>(n));
      if (rc != 0) return rc;
      p += 8 + n;
    }
    return 0;
  }

 private:
  void Encode(std::span<const EventData> events);

  std::unique_ptr<uint64_t[]> owned_;
  uint64_t* words_ = nullptr;
  size_t words_count_ = 0;
  size_t count_ = 0;
  size_t record_bytes_ = 0;
};

// Writes the fields only the writer knows into an encoded record of `size`
// bytes at `record` (8-aligned) and computes its checksum.
void SealEventRecord(char* record, size_t size, uint64_t stream_id,
                     uint64_t seq, uint64_t position, int64_t timestamp_ns);

// The id of an event in a record the encoder wrote (not yet stored: no
// checks are made); none when it has no id.
Uuid EncodedEventId(const char* record);
// The type name in such a record (a view into it).
std::string_view EncodedEventType(const char* record);

// A decoded record. For a canonical envelope its string views point into
// the record bytes, except a non-empty payload that is not 16-byte aligned
// there, which points into the scratch buffer it was copied to; for any
// other envelope they all point into the scratch buffer. Views into the
// record are valid as long as its memory (for LMDB, until the transaction
// updates or ends). It is the EventView a read hands to its visitor, filled
// in place: copying the fields into a separate view right after the decoder
// wrote them cost a replay about a tenth of its time (16-byte loads of
// fields just stored 8 bytes at a time cannot be forwarded from the store
// buffer). The decoder fills every field but `stream`, which the reader
// sets; `tags` views tag_list, also in copies and after moves (a moved-from
// event is left without tags). After a failed decode the fields are
// unspecified.
struct DecodedEvent : EventView {
  DecodedEvent() = default;
  DecodedEvent(const DecodedEvent& other)
      : EventView(other), stream_id(other.stream_id), tag_list(other.tag_list) {
    tags = tag_list;
  }
  DecodedEvent& operator=(const DecodedEvent& other) {
    static_cast<EventView&>(*this) = other;
    stream_id = other.stream_id;
    tag_list = other.tag_list;
    tags = tag_list;
    return *this;
  }
  // (Moving a vector keeps its elements where they are: `tags` stays valid.)
  DecodedEvent(DecodedEvent&& other) noexcept
      : EventView(other),
        stream_id(other.stream_id),
        tag_list(std::move(other.tag_list)) {
    other.tags = {};
  }
  DecodedEvent& operator=(DecodedEvent&& other) noexcept {
    static_cast<EventView&>(*this) = other;
    stream_id = other.stream_id;
    tag_list = std::move(other.tag_list);
    other.tags = {};
    return *this;
  }

  uint64_t stream_id = 0;
  std::vector<std::string_view> tag_list;
};

// Checks length, checksum and the envelope's structure (the canonical
// layout, else the FlatBuffers verifier), in that order, then decodes. On
// failure returns kCorruption with the reason; the caller adds where
// (stream, seq, position).
Status DecodeEventRecord(const char* data, size_t size, AlignedScratch* scratch,
                         DecodedEvent* out);

// The fast path of DecodeEventRecord: true when the record passes length,
// checksum and the canonical check, with *out filled as DecodeEventRecord
// would. False says only "not that simple": DecodeEventRecord then gives
// the verdict (a non-canonical envelope may still be valid) and the reason.
bool DecodeCanonicalEventRecord(const char* data, size_t size,
                                AlignedScratch* scratch, DecodedEvent* out);

// DecodeCanonicalEventRecord for a record expected to hold `seq` of stream
// `stream_id` at log `position`: false, without computing the checksum,
// when the record's (unchecked) envelope claims anything else. True means
// the record passed every check and is that event.
bool DecodeEventRecordIfItIs(const char* data, size_t size, uint64_t stream_id,
                             uint64_t seq, uint64_t position,
                             AlignedScratch* scratch, DecodedEvent* out);

// What a record that failed its checks says about itself, so the damage
// can be reported against a stream and seq. First a repair is tried: when
// flipping one bit makes the checksum match and the record then decodes,
// that bit was the damage and the identity is proven (`proven`; a wrong
// repair would need a 64-bit checksum collision). Every bit is tried in
// records of up to
// kClaimRepairAll bytes; in larger ones (up to kClaimRepairLimit) only the
// first kClaimRepairBytes (checksum, envelope header, identity fields).
// Otherwise the identity is read as it stands from a header that still has
// the canonical layout: a claim, not a fact (the damage may be in it).
// False when there is nothing to read. Never use the record's contents on
// the strength of this: it only says whose record is damaged.
struct EventClaim {
  uint64_t stream_id = 0;
  uint64_t seq = 0;
  uint64_t position = 0;
  bool proven = false;
};
inline constexpr size_t kClaimRepairAll = size_t{4} << 10;
inline constexpr size_t kClaimRepairBytes = kRecordHeaderBytes + 64;
inline constexpr size_t kClaimRepairLimit = size_t{1} << 20;
// With `repaired`, a proven claim also gives the whole repaired record.
bool ClaimEventIdentity(const char* data, size_t size, EventClaim* out,
                        std::string* repaired = nullptr);

// For tests: whether the envelope body (after the checksum) of `size` bytes
// is in the canonical layout with every check the FlatBuffers verifier would
// make passing.
bool IsCanonicalEnvelope(const char* body, size_t size);

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_RECORD_H_
