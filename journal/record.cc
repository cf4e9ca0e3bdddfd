#include "journal/record.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <vector>

#include "journal/envelope_generated.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {
namespace {

// Offsets of the canonical layout (record.h).
constexpr size_t kRootTable = 28;
constexpr size_t kVtableTagsSlot = 26;
constexpr size_t kStreamIdAt = 32;
constexpr size_t kSeqAt = 40;
constexpr size_t kPositionAt = 48;
constexpr size_t kTimestampAt = 56;
constexpr size_t kTypeRefAt = 64;
constexpr size_t kSchemaAt = 68;
constexpr size_t kPayloadRefAt = 72;
constexpr size_t kTagsRefAt = 76;
constexpr size_t kTypeAt = 80;
constexpr uint16_t kTagsField = 48;
// The smallest canonical envelope: an empty type and payload.
constexpr size_t kMinCanonical = 96;

// Root offset, identifier and the vtable up to (not including) its tags slot.
constexpr unsigned char kPrefix[kVtableTagsSlot] = {
    28, 0,  0, 0,  'M', 'E', 'V', 'T', 20, 0,  52, 0,  4,
    0,  12, 0, 20, 0,   28,  0,   36,  0,  40, 0,  44, 0};
// The table's offset back to the vtable.
constexpr uint32_t kVtableDistance = kRootTable - 8;

inline uint64_t Get64(const char* p) { return GetLittle64(p); }
constexpr uint64_t PrefixWord(size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t{kPrefix[at + i]} << (8 * i);
  return v;
}
// The first 32 bytes of a canonical envelope as four words; the tags slot
// (bytes 26 and 27) is masked out of the last one.
constexpr uint64_t kWord0 = PrefixWord(0);
constexpr uint64_t kWord1 = PrefixWord(8);
constexpr uint64_t kWord2 = PrefixWord(16);
constexpr uint64_t kWord3 = uint64_t{kPrefix[24]} | uint64_t{kPrefix[25]} << 8 |
                            uint64_t{kVtableDistance} << 32;
constexpr uint64_t kWord3Mask = ~(uint64_t{0xffff} << 16);

// Whether the 32 bytes at `b` open a canonical envelope; *tags_field gets
// the vtable's tags slot.
inline bool CanonicalPrefix(const char* b, uint16_t* tags_field) {
  const uint64_t w3 = Get64(b + 24);
  *tags_field = static_cast<uint16_t>(w3 >> 16);
  return ((Get64(b) ^ kWord0) | (Get64(b + 8) ^ kWord1) |
          (Get64(b + 16) ^ kWord2) | ((w3 & kWord3Mask) ^ kWord3)) == 0 &&
         (*tags_field == 0 || *tags_field == kTagsField);
}

constexpr size_t Align(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

// Where the variable parts of an event's envelope go.
struct Plan {
  size_t payload_length_at;  // the payload vector's u32 length
  size_t tags_at;            // the tags vector, or 0
  size_t size;               // the whole envelope
};

// The payload's length word: after the type string, placed so the payload
// bytes are 16-aligned. Shared by the encoder and the canonical check.
constexpr size_t PayloadLengthAt(size_t type_length) {
  return Align(Align(kTypeAt + 4 + type_length + 1, 4) + 4, 16) - 4;
}

Plan PlanEnvelope(const EventData& e) {
  Plan plan{PayloadLengthAt(e.type.size()), 0, 0};
  size_t end = plan.payload_length_at + 4 + e.payload.size();
  if (!e.tags.empty()) {
    plan.tags_at = Align(end, 4);
    end = plan.tags_at + 4 + 4 * e.tags.size();
    for (const std::string& tag : e.tags)
      end = Align(end + 4 + tag.size() + 1, 4);
  }
  plan.size = Align(end, 16);
  return plan;
}

// Writes the envelope of `e` (stream id, seq, position and timestamp zero)
// into the plan.size bytes at `b`.
void WriteEnvelope(const EventData& e, const Plan& plan, char* b) {
  const size_t payload_at = plan.payload_length_at + 4;
  const size_t payload_end = payload_at + e.payload.size();
  // Zero everything but the payload bytes: header, padding, tags.
  std::memset(b, 0, payload_at);
  std::memset(b + payload_end, 0, plan.size - payload_end);
  std::memcpy(b, kPrefix, sizeof kPrefix);
  PutLittle16(b + kVtableTagsSlot, e.tags.empty() ? 0 : kTagsField);
  PutLittle32(b + kRootTable, kVtableDistance);
  PutLittle32(b + kTypeRefAt, static_cast<uint32_t>(kTypeAt - kTypeRefAt));
  PutLittle32(b + kSchemaAt, e.schema_version);
  PutLittle32(b + kPayloadRefAt,
              static_cast<uint32_t>(plan.payload_length_at - kPayloadRefAt));
  PutLittle32(b + kTypeAt, static_cast<uint32_t>(e.type.size()));
  std::memcpy(b + kTypeAt + 4, e.type.data(), e.type.size());
  PutLittle32(b + plan.payload_length_at,
              static_cast<uint32_t>(e.payload.size()));
  if (!e.payload.empty()) {
    std::memcpy(b + payload_at, e.payload.data(), e.payload.size());
  }
  if (e.tags.empty()) return;
  PutLittle32(b + kTagsRefAt, static_cast<uint32_t>(plan.tags_at - kTagsRefAt));
  PutLittle32(b + plan.tags_at, static_cast<uint32_t>(e.tags.size()));
  size_t at = plan.tags_at + 4 + 4 * e.tags.size();
  for (size_t i = 0; i < e.tags.size(); ++i) {
    const size_t slot = plan.tags_at + 4 + 4 * i;
    PutLittle32(b + slot, static_cast<uint32_t>(at - slot));
    PutLittle32(b + at, static_cast<uint32_t>(e.tags[i].size()));
    std::memcpy(b + at + 4, e.tags[i].data(), e.tags[i].size());
    at = Align(at + 4 + e.tags[i].size() + 1, 4);
  }
}

// The canonical check of an envelope of n >= kMinCanonical bytes at `b`
// whose first 32 bytes passed CanonicalPrefix, giving `tags_field`: on
// success fills the fields of *out with views into `b` (tags included).
// Every comparison the FlatBuffers verifier would make is implied by these
// (see record.h); sizes are checked before each read.
bool ReadCanonicalAfterPrefix(const char* b, size_t n, uint16_t tags_field,
                              DecodedEvent* out) {
  if (n % 16 != 0 || GetLittle32(b + kTypeRefAt) != kTypeAt - kTypeRefAt) {
    return false;
  }
  const size_t type_length = GetLittle32(b + kTypeAt);
  // The NUL after the type must lie inside the envelope.
  if (type_length >= n - kTypeAt - 4 || b[kTypeAt + 4 + type_length] != 0) {
    return false;
  }
  const size_t length_at = PayloadLengthAt(type_length);
  if (length_at + 4 > n ||
      GetLittle32(b + kPayloadRefAt) != length_at - kPayloadRefAt) {
    return false;
  }
  const size_t payload_length = GetLittle32(b + length_at);
  if (payload_length > n - length_at - 4) return false;
  size_t end = length_at + 4 + payload_length;
  out->tag_list.clear();
  if (tags_field == 0) {
    if (GetLittle32(b + kTagsRefAt) != 0) return false;
  } else {
    const size_t tags_at = Align(end, 4);
    if (tags_at + 4 > n ||
        GetLittle32(b + kTagsRefAt) != tags_at - kTagsRefAt) {
      return false;
    }
    const size_t count = GetLittle32(b + tags_at);
    if (count > (n - tags_at - 4) / 4) return false;
    end = tags_at + 4 + 4 * count;
    for (size_t i = 0; i < count; ++i) {
      const size_t slot = tags_at + 4 + 4 * i;
      if (end + 4 > n || GetLittle32(b + slot) != end - slot) return false;
      const size_t length = GetLittle32(b + end);
      if (length >= n - end - 4 || b[end + 4 + length] != 0) return false;
      out->tag_list.emplace_back(b + end + 4, length);
      end = Align(end + 4 + length + 1, 4);
    }
  }
  if (Align(end, 16) != n) return false;
  out->tags = out->tag_list;
  out->stream_id = GetLittle64(b + kStreamIdAt);
  out->seq = GetLittle64(b + kSeqAt);
  out->position = GetLittle64(b + kPositionAt);
  out->timestamp_ns = static_cast<int64_t>(GetLittle64(b + kTimestampAt));
  out->type = std::string_view(b + kTypeAt + 4, type_length);
  out->schema_version = GetLittle32(b + kSchemaAt);
  out->payload = std::string_view(b + length_at + 4, payload_length);
  return true;
}

// The whole canonical check.
bool ReadCanonical(const char* b, size_t n, DecodedEvent* out) {
  uint16_t tags_field = 0;
  if (n < kMinCanonical || !CanonicalPrefix(b, &tags_field)) return false;
  return ReadCanonicalAfterPrefix(b, n, tags_field, out);
}

// The payload sits at a 16-aligned offset of a canonical envelope, but LMDB
// aligns values to 2 bytes only: when it is not aligned in place, it is
// read from an aligned copy (the other fields need no alignment).
void AlignPayload(AlignedScratch* scratch, DecodedEvent* d) {
  if (reinterpret_cast<uintptr_t>(d->payload.data()) % 16 == 0) return;
  d->payload = std::string_view(
      scratch->Hold(d->payload.data(), d->payload.size()), d->payload.size());
}

// Any other layout: the FlatBuffers verifier on 16-byte-aligned bytes.
Status ReadVerified(const char* aligned, size_t n, DecodedEvent* out) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned), n,
                                 /*max_depth=*/16,
                                 /*max_tables=*/1024);
  if (!fb::VerifyEventEnvelopeBuffer(verifier)) {
    return Status::Corruption("event envelope fails the FlatBuffers verifier");
  }
  const fb::EventEnvelope* env = fb::GetEventEnvelope(aligned);
  if (env->type() == nullptr || env->payload() == nullptr) {
    return Status::Corruption("event envelope lacks its type or payload");
  }
  out->stream_id = env->stream_id();
  out->seq = env->seq();
  out->position = env->position();
  out->timestamp_ns = env->timestamp_ns();
  out->type = env->type()->string_view();
  out->schema_version = env->schema_version();
  out->payload =
      std::string_view(reinterpret_cast<const char*>(env->payload()->data()),
                       env->payload()->size());
  out->tag_list.clear();
  if (env->tags() != nullptr) {
    for (const flatbuffers::String* tag : *env->tags()) {
      out->tag_list.push_back(tag->string_view());
    }
  }
  out->tags = out->tag_list;
  return Status::OK();
}

}  // namespace

EventRecord EventRecord::Encode(const EventData& event) {
  const Plan plan = PlanEnvelope(event);
  EventRecord r;
  r.words_.resize((kRecordHeaderBytes + plan.size) / 8);
  WriteEnvelope(event, plan, reinterpret_cast<char*>(r.words_.data()) + 8);
  return r;
}

void EventRecord::Seal(uint64_t stream_id, uint64_t seq, uint64_t position,
                       int64_t timestamp_ns) {
  SealEventRecord(reinterpret_cast<char*>(words_.data()), size(), stream_id,
                  seq, position, timestamp_ns);
}

size_t EventBatch::WordsFor(std::span<const EventData> events) {
  size_t words = 0;
  for (const EventData& e : events) {
    words += 1 + (kRecordHeaderBytes + PlanEnvelope(e).size) / 8;
  }
  return words;
}

EventBatch::EventBatch(std::span<const EventData> events)
    : owned_(new uint64_t[WordsFor(events)]) {
  // (Every byte is written by Encode: no zeroing first.)
  words_ = owned_.get();
  Encode(events);
}

EventBatch::EventBatch(std::span<const EventData> events, uint64_t* words)
    : words_(words) {
  Encode(events);
}

void EventBatch::Encode(std::span<const EventData> events) {
  // Planning is a few additions: done again here rather than kept.
  char* p = reinterpret_cast<char*>(words_);
  for (const EventData& e : events) {
    const Plan plan = PlanEnvelope(e);
    const uint64_t record_size = kRecordHeaderBytes + plan.size;
    std::memcpy(p, &record_size, 8);
    PutLittle64(p + 8, 0);  // the checksum, set by the seal
    WriteEnvelope(e, plan, p + 8 + kRecordHeaderBytes);
    p += 8 + record_size;
    record_bytes_ += record_size;
  }
  words_count_ = static_cast<size_t>(p - reinterpret_cast<char*>(words_)) / 8;
  count_ = events.size();
}

void SealEventRecord(char* record, size_t size, uint64_t stream_id,
                     uint64_t seq, uint64_t position, int64_t timestamp_ns) {
  char* b = record + kRecordHeaderBytes;
  PutLittle64(b + kStreamIdAt, stream_id);
  PutLittle64(b + kSeqAt, seq);
  PutLittle64(b + kPositionAt, position);
  PutLittle64(b + kTimestampAt, static_cast<uint64_t>(timestamp_ns));
  SealRecord(record, size);
}

Status DecodeEventRecord(const char* data, size_t size, AlignedScratch* scratch,
                         DecodedEvent* out) {
  const char* body = nullptr;
  size_t n = 0;
  Status framed = CheckRecordFrame(data, size, "event", &body, &n);
  if (!framed.ok()) return framed;
  if (ReadCanonical(body, n, out)) {
    AlignPayload(scratch, out);
    return Status::OK();
  }
  return ReadVerified(scratch->Hold(body, n), n, out);
}

namespace {

// The identity a record is expected to claim.
struct Identity {
  uint64_t stream_id, seq, position;
};

// The canonical fast path; with `expect`, the record's (unchecked) claim is
// compared first, so no checksum is spent on another stream's record.
inline bool DecodeCanonical(const char* data, size_t size,
                            const Identity* expect, AlignedScratch* scratch,
                            DecodedEvent* out) {
  if (size < kRecordHeaderBytes + kMinCanonical || size > (size_t{1} << 31)) {
    return false;
  }
  const char* body = data + kRecordHeaderBytes;
  const size_t n = size - kRecordHeaderBytes;
  uint16_t tags_field = 0;
  if (!CanonicalPrefix(body, &tags_field)) return false;
  if (expect != nullptr &&
      ((GetLittle64(body + kStreamIdAt) ^ expect->stream_id) |
       (GetLittle64(body + kSeqAt) ^ expect->seq) |
       (GetLittle64(body + kPositionAt) ^ expect->position)) != 0) {
    return false;
  }
  if (GetLittle64(data) != Checksum(body, n) ||
      !ReadCanonicalAfterPrefix(body, n, tags_field, out)) {
    return false;
  }
  AlignPayload(scratch, out);
  return true;
}

}  // namespace

bool DecodeCanonicalEventRecord(const char* data, size_t size,
                                AlignedScratch* scratch, DecodedEvent* out) {
  return DecodeCanonical(data, size, nullptr, scratch, out);
}

bool DecodeEventRecordIfItIs(const char* data, size_t size, uint64_t stream_id,
                             uint64_t seq, uint64_t position,
                             AlignedScratch* scratch, DecodedEvent* out) {
  const Identity expect{stream_id, seq, position};
  return DecodeCanonical(data, size, &expect, scratch, out);
}

bool ClaimEventIdentity(const char* data, size_t size, EventClaim* out,
                        std::string* repaired) {
  if (size <= kRecordHeaderBytes) return false;
  const size_t n = size - kRecordHeaderBytes;
  const uint64_t stored = GetLittle64(data);
  const uint64_t actual = size <= kClaimRepairLimit
                              ? Checksum(data + kRecordHeaderBytes, n)
                              : stored;
  if (stored != actual) {
    // The record with one bit flipped back, checksum first; proven when it
    // then decodes (any envelope layout) in full.
    std::vector<char> copy(data, data + size);
    char* body = copy.data() + kRecordHeaderBytes;
    auto proves = [&] {
      AlignedScratch scratch;
      DecodedEvent d;
      if (!DecodeEventRecord(copy.data(), size, &scratch, &d).ok()) {
        return false;
      }
      out->stream_id = d.stream_id;
      out->seq = d.seq;
      out->position = d.position;
      out->proven = true;
      if (repaired != nullptr) repaired->assign(copy.data(), copy.size());
      return true;
    };
    // A flip in the stored checksum: the body is whole.
    if (std::has_single_bit(stored ^ actual)) {
      PutLittle64(copy.data(), actual);
      if (proves()) return true;
      PutLittle64(copy.data(), stored);
    }
    const size_t tried =
        size <= kClaimRepairAll ? n : kClaimRepairBytes - kRecordHeaderBytes;
    for (size_t byte = 0; byte < tried; ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        body[byte] = static_cast<char>(body[byte] ^ (1 << bit));
        if (Checksum(body, n) == stored && proves()) return true;
        body[byte] = static_cast<char>(body[byte] ^ (1 << bit));
      }
    }
  }
  const char* b = data + kRecordHeaderBytes;
  uint16_t tags_field = 0;
  if (n < kMinCanonical || !CanonicalPrefix(b, &tags_field)) return false;
  out->stream_id = GetLittle64(b + kStreamIdAt);
  out->seq = GetLittle64(b + kSeqAt);
  out->position = GetLittle64(b + kPositionAt);
  out->proven = false;
  return true;
}

bool IsCanonicalEnvelope(const char* body, size_t size) {
  DecodedEvent ignored;
  return ReadCanonical(body, size, &ignored);
}

}  // namespace memoir::internal
