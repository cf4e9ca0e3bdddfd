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

// The two canonical layouts (record.h): v1 for events without ids or
// metadata, v2 for the others. Field offsets are from the table's start.
struct Layout {
  size_t table;        // the root table's offset (= the root offset)
  size_t table_bytes;  // the table's size; the type string follows it
  size_t prefix;       // bytes CanonicalPrefix compares: root offset to soffset
  bool v2;
  constexpr size_t type_at() const { return table + table_bytes; }
  // The smallest envelope: an empty type and payload.
  constexpr size_t min_size() const { return type_at() + 16; }
};
constexpr Layout kV1{28, 52, 32, false};
constexpr Layout kV2{36, 108, 40, true};

constexpr size_t kStreamIdField = 4;
constexpr size_t kSeqField = 12;
constexpr size_t kPositionField = 20;
constexpr size_t kTimestampField = 28;
constexpr size_t kTypeRefField = 36;
constexpr size_t kSchemaField = 40;
constexpr size_t kPayloadRefField = 44;
constexpr size_t kTagsRefField = 48;
constexpr size_t kMetadataRefField = 52;  // v2 only
constexpr size_t kIdField = 60;           // v2 only: three 16-byte structs
constexpr size_t kCausationField = 76;
constexpr size_t kCorrelationField = 92;

// The vtable slots that vary: tags (both layouts), metadata (v2).
constexpr size_t kVtableTagsSlot = 26;
constexpr size_t kVtableMetadataSlot = 34;

// Root offset, identifier, vtable and the table's offset back to it, with
// zero in the varying slots.
constexpr unsigned char kPrefixV1[32] = {
    28, 0, 0,  0, 'M', 'E', 'V', 'T', 20, 0, 52, 0, 4,  0, 12, 0,
    20, 0, 28, 0, 36,  0,   40,  0,   44, 0, 0,  0, 20, 0, 0,  0};
constexpr unsigned char kPrefixV2[40] = {
    36, 0, 0,  0, 'M', 'E', 'V', 'T', 28, 0, 108, 0, 4, 0,
    12, 0, 20, 0, 28,  0,   36,  0,   40, 0, 44,  0, 0, 0,
    60, 0, 76, 0, 92,  0,   0,   0,   28, 0, 0,   0};

inline uint64_t Get64(const char* p) { return GetLittle64(p); }
template <size_t N>
constexpr uint64_t PrefixWord(const unsigned char (&prefix)[N], size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t{prefix[at + i]} << (8 * i);
  return v;
}
// A slot's two bytes masked out of the word holding them.
constexpr uint64_t kSlotMask = ~(uint64_t{0xffff} << 16);

// Which canonical layout the envelope at `b` (at least 40 bytes) opens
// with, or null; *tags_field and *metadata_field get the varying slots.
inline const Layout* CanonicalPrefix(const char* b, uint16_t* tags_field,
                                     uint16_t* metadata_field) {
  const uint64_t w3 = Get64(b + 24);
  *tags_field = static_cast<uint16_t>(w3 >> 16);
  if (*tags_field != 0 && *tags_field != kTagsRefField) return nullptr;
  const uint64_t w0 = Get64(b);
  if (w0 == PrefixWord(kPrefixV1, 0)) {
    *metadata_field = 0;
    return ((Get64(b + 8) ^ PrefixWord(kPrefixV1, 8)) |
            (Get64(b + 16) ^ PrefixWord(kPrefixV1, 16)) |
            ((w3 & kSlotMask) ^ PrefixWord(kPrefixV1, 24))) == 0
               ? &kV1
               : nullptr;
  }
  if (w0 == PrefixWord(kPrefixV2, 0)) {
    const uint64_t w4 = Get64(b + 32);
    *metadata_field = static_cast<uint16_t>(w4 >> 16);
    if (*metadata_field != 0 && *metadata_field != kMetadataRefField) {
      return nullptr;
    }
    return ((Get64(b + 8) ^ PrefixWord(kPrefixV2, 8)) |
            (Get64(b + 16) ^ PrefixWord(kPrefixV2, 16)) |
            ((w3 & kSlotMask) ^ PrefixWord(kPrefixV2, 24)) |
            ((w4 & kSlotMask) ^ PrefixWord(kPrefixV2, 32))) == 0
               ? &kV2
               : nullptr;
  }
  return nullptr;
}

// The smallest envelope either layout allows, and the bytes CanonicalPrefix
// reads.
constexpr size_t kMinCanonical = 96;
static_assert(kV1.min_size() == kMinCanonical && kV2.prefix <= kMinCanonical);

constexpr size_t Align(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

bool HasExtras(const EventData& e) {
  return !e.id.empty() || !e.causation_id.empty() ||
         !e.correlation_id.empty() || !e.metadata.empty();
}

// Where the variable parts of an event's envelope go.
struct Plan {
  const Layout* layout;
  size_t payload_length_at;  // the payload vector's u32 length
  size_t tags_at;            // the tags vector, or 0
  size_t metadata_at;        // the metadata vector, or 0
  size_t size;               // the whole envelope
};

// The payload's length word: after the type string, placed so the payload
// bytes are 16-aligned. Shared by the encoder and the canonical check.
constexpr size_t PayloadLengthAt(const Layout& l, size_t type_length) {
  return Align(Align(l.type_at() + 4 + type_length + 1, 4) + 4, 16) - 4;
}

Plan PlanEnvelope(const EventData& e) {
  const Layout* l = HasExtras(e) ? &kV2 : &kV1;
  Plan plan{l, PayloadLengthAt(*l, e.type.size()), 0, 0, 0};
  size_t end = plan.payload_length_at + 4 + e.payload.size();
  if (!e.tags.empty()) {
    plan.tags_at = Align(end, 4);
    end = plan.tags_at + 4 + 4 * e.tags.size();
    for (const std::string& tag : e.tags)
      end = Align(end + 4 + tag.size() + 1, 4);
  }
  if (!e.metadata.empty()) {
    plan.metadata_at = Align(end, 4);
    end = plan.metadata_at + 4 + e.metadata.size();
  }
  plan.size = Align(end, 16);
  return plan;
}

void PutId(char* at, const Uuid& id) {
  PutLittle64(at, id.hi);
  PutLittle64(at + 8, id.lo);
}
Uuid GetId(const char* at) { return Uuid{Get64(at), Get64(at + 8)}; }

// Writes the envelope of `e` (stream id, seq, position and timestamp zero)
// into the plan.size bytes at `b`.
void WriteEnvelope(const EventData& e, const Plan& plan, char* b) {
  const Layout& l = *plan.layout;
  const size_t t = l.table;
  const size_t payload_at = plan.payload_length_at + 4;
  const size_t payload_end = payload_at + e.payload.size();
  // Zero everything but the payload bytes: header, padding, tags.
  std::memset(b, 0, payload_at);
  std::memset(b + payload_end, 0, plan.size - payload_end);
  if (l.v2) {
    std::memcpy(b, kPrefixV2, sizeof kPrefixV2);
    if (!e.metadata.empty()) {
      PutLittle16(b + kVtableMetadataSlot, kMetadataRefField);
    }
    PutId(b + t + kIdField, e.id);
    PutId(b + t + kCausationField, e.causation_id);
    PutId(b + t + kCorrelationField, e.correlation_id);
  } else {
    std::memcpy(b, kPrefixV1, sizeof kPrefixV1);
  }
  PutLittle16(b + kVtableTagsSlot, e.tags.empty() ? 0 : kTagsRefField);
  PutLittle32(b + t + kTypeRefField,
              static_cast<uint32_t>(l.type_at() - (t + kTypeRefField)));
  PutLittle32(b + t + kSchemaField, e.schema_version);
  PutLittle32(
      b + t + kPayloadRefField,
      static_cast<uint32_t>(plan.payload_length_at - (t + kPayloadRefField)));
  PutLittle32(b + l.type_at(), static_cast<uint32_t>(e.type.size()));
  std::memcpy(b + l.type_at() + 4, e.type.data(), e.type.size());
  PutLittle32(b + plan.payload_length_at,
              static_cast<uint32_t>(e.payload.size()));
  if (!e.payload.empty()) {
    std::memcpy(b + payload_at, e.payload.data(), e.payload.size());
  }
  if (!e.tags.empty()) {
    PutLittle32(b + t + kTagsRefField,
                static_cast<uint32_t>(plan.tags_at - (t + kTagsRefField)));
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
  if (!e.metadata.empty()) {
    PutLittle32(
        b + t + kMetadataRefField,
        static_cast<uint32_t>(plan.metadata_at - (t + kMetadataRefField)));
    PutLittle32(b + plan.metadata_at, static_cast<uint32_t>(e.metadata.size()));
    std::memcpy(b + plan.metadata_at + 4, e.metadata.data(), e.metadata.size());
  }
}

// The canonical check of an envelope of n >= kMinCanonical bytes at `b`
// whose prefix passed CanonicalPrefix, giving `l` and the varying slots:
// on success fills the fields of *out with views into `b` (tags included).
// Every comparison the FlatBuffers verifier would make is implied by these
// (see record.h); sizes are checked before each read.
bool ReadCanonicalAfterPrefix(const char* b, size_t n, const Layout& l,
                              uint16_t tags_field, uint16_t metadata_field,
                              DecodedEvent* out) {
  const size_t t = l.table;
  const size_t type_at = l.type_at();
  if (n % 16 != 0 || n < l.min_size() ||
      GetLittle32(b + t + kTypeRefField) != type_at - (t + kTypeRefField)) {
    return false;
  }
  const size_t type_length = GetLittle32(b + type_at);
  // The NUL after the type must lie inside the envelope.
  if (type_length >= n - type_at - 4 || b[type_at + 4 + type_length] != 0) {
    return false;
  }
  const size_t length_at = PayloadLengthAt(l, type_length);
  if (length_at + 4 > n || GetLittle32(b + t + kPayloadRefField) !=
                               length_at - (t + kPayloadRefField)) {
    return false;
  }
  const size_t payload_length = GetLittle32(b + length_at);
  if (payload_length > n - length_at - 4) return false;
  size_t end = length_at + 4 + payload_length;
  out->tag_list.clear();
  if (tags_field == 0) {
    if (GetLittle32(b + t + kTagsRefField) != 0) return false;
  } else {
    const size_t tags_at = Align(end, 4);
    if (tags_at + 4 > n ||
        GetLittle32(b + t + kTagsRefField) != tags_at - (t + kTagsRefField)) {
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
  out->metadata = {};
  if (l.v2) {
    if (metadata_field == 0) {
      if (GetLittle32(b + t + kMetadataRefField) != 0) return false;
    } else {
      const size_t metadata_at = Align(end, 4);
      if (metadata_at + 4 > n || GetLittle32(b + t + kMetadataRefField) !=
                                     metadata_at - (t + kMetadataRefField)) {
        return false;
      }
      const size_t length = GetLittle32(b + metadata_at);
      if (length > n - metadata_at - 4) return false;
      out->metadata = std::string_view(b + metadata_at + 4, length);
      end = metadata_at + 4 + length;
    }
    // The padding word after the metadata reference is zero.
    if (GetLittle32(b + t + kMetadataRefField + 4) != 0) return false;
    out->id = GetId(b + t + kIdField);
    out->causation_id = GetId(b + t + kCausationField);
    out->correlation_id = GetId(b + t + kCorrelationField);
  } else {
    out->id = out->causation_id = out->correlation_id = Uuid{};
  }
  if (Align(end, 16) != n) return false;
  out->tags = out->tag_list;
  out->stream_id = GetLittle64(b + t + kStreamIdField);
  out->seq = GetLittle64(b + t + kSeqField);
  out->position = GetLittle64(b + t + kPositionField);
  out->timestamp_ns =
      static_cast<int64_t>(GetLittle64(b + t + kTimestampField));
  out->type = std::string_view(b + type_at + 4, type_length);
  out->schema_version = GetLittle32(b + t + kSchemaField);
  out->payload = std::string_view(b + length_at + 4, payload_length);
  return true;
}

// The whole canonical check.
bool ReadCanonical(const char* b, size_t n, DecodedEvent* out) {
  uint16_t tags_field = 0;
  uint16_t metadata_field = 0;
  if (n < kMinCanonical) return false;
  const Layout* l = CanonicalPrefix(b, &tags_field, &metadata_field);
  return l != nullptr &&
         ReadCanonicalAfterPrefix(b, n, *l, tags_field, metadata_field, out);
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
  auto id = [](const fb::Id128* v) {
    return v == nullptr ? Uuid{} : Uuid{v->hi(), v->lo()};
  };
  out->id = id(env->id());
  out->causation_id = id(env->causation_id());
  out->correlation_id = id(env->correlation_id());
  out->metadata =
      env->metadata() == nullptr
          ? std::string_view()
          : std::string_view(
                reinterpret_cast<const char*>(env->metadata()->data()),
                env->metadata()->size());
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
  // The encoder wrote one of the two canonical layouts: its root offset
  // is where the table starts.
  char* t =
      record + kRecordHeaderBytes + GetLittle32(record + kRecordHeaderBytes);
  PutLittle64(t + kStreamIdField, stream_id);
  PutLittle64(t + kSeqField, seq);
  PutLittle64(t + kPositionField, position);
  PutLittle64(t + kTimestampField, static_cast<uint64_t>(timestamp_ns));
  SealRecord(record, size);
}

std::string_view EncodedEventType(const char* record) {
  const char* b = record + kRecordHeaderBytes;
  const Layout& l = GetLittle32(b) == kV2.table ? kV2 : kV1;
  return std::string_view(b + l.type_at() + 4, GetLittle32(b + l.type_at()));
}

Uuid EncodedEventId(const char* record) {
  const char* b = record + kRecordHeaderBytes;
  if (GetLittle32(b) != kV2.table) return Uuid{};
  return GetId(b + kV2.table + kIdField);
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
  uint16_t metadata_field = 0;
  const Layout* l = CanonicalPrefix(body, &tags_field, &metadata_field);
  if (l == nullptr) return false;
  const char* table = body + l->table;
  if (expect != nullptr &&
      ((GetLittle64(table + kStreamIdField) ^ expect->stream_id) |
       (GetLittle64(table + kSeqField) ^ expect->seq) |
       (GetLittle64(table + kPositionField) ^ expect->position)) != 0) {
    return false;
  }
  if (GetLittle64(data) != Checksum(body, n) ||
      !ReadCanonicalAfterPrefix(body, n, *l, tags_field, metadata_field, out)) {
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
  uint16_t metadata_field = 0;
  if (n < kMinCanonical) return false;
  const Layout* l = CanonicalPrefix(b, &tags_field, &metadata_field);
  if (l == nullptr) return false;
  out->stream_id = GetLittle64(b + l->table + kStreamIdField);
  out->seq = GetLittle64(b + l->table + kSeqField);
  out->position = GetLittle64(b + l->table + kPositionField);
  out->proven = false;
  return true;
}

bool IsCanonicalEnvelope(const char* body, size_t size) {
  DecodedEvent ignored;
  return ReadCanonical(body, size, &ignored);
}

}  // namespace memoir::internal
