// Fuzz target: what reading a stored event runs (journal/record.h): the
// record frame (length, checksum), the canonical-layout check or the
// FlatBuffers verifier, and the decode.
//
// Input: one stored event record (checksum ++ envelope), as the log table
// holds it. Each input is decoded twice: as it is (which a mutation almost
// always fails at the checksum) and with its checksum recomputed, so that
// mutations reach the envelope checks. Properties, for each:
//  - the answer does not depend on where the record lies in memory (LMDB
//    aligns values to 2 bytes, the decoder then copies what must be
//    aligned);
//  - the fast path (DecodeCanonicalEventRecord) never accepts what the full
//    decode rejects, and gives the same fields; the replay's fast path
//    (DecodeEventRecordIfItIs) accepts what it accepts, only under the
//    record's own stream id, seq and position, and never a record the full
//    decode rejects, whatever identity the record claims;
//  - a canonical envelope is one the FlatBuffers verifier accepts too,
//    with the same fields (record.h claims the canonical check implies
//    every check of the verifier);
//  - re-encoding the decoded event (EventRecord::Encode and Seal) gives a
//    canonical record that decodes to the same fields, of the same size
//    when the input was canonical (and had no empty tags or metadata
//    vector, and no layout 2 without an id or metadata, which the encoder
//    never writes);
//  - ClaimEventIdentity gives the same answer at any alignment, and on an
//    accepted record with one bit flipped (one input in 64 of up to 512
//    bytes: each try is a checksum per bit) it proves the record's stream
//    id, seq and position.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "journal/envelope_generated.h"
#include "journal/record.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {
namespace {

using fuzz::Placed;

bool SameEvent(const DecodedEvent& a, const DecodedEvent& b) {
  return a.stream_id == b.stream_id && a.seq == b.seq &&
         a.position == b.position && a.timestamp_ns == b.timestamp_ns &&
         a.type == b.type && a.schema_version == b.schema_version &&
         a.payload == b.payload && a.tag_list == b.tag_list && a.id == b.id &&
         a.causation_id == b.causation_id &&
         a.correlation_id == b.correlation_id && a.metadata == b.metadata &&
         a.tags.data() == a.tag_list.data() &&
         b.tags.data() == b.tag_list.data() && a.tags.size() == b.tags.size();
}

// The FlatBuffers verifier's view of a 16-byte-aligned envelope body.
bool VerifierAccepts(const char* body, size_t n, DecodedEvent* out) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(body), n,
                                 /*max_depth=*/16, /*max_tables=*/1024);
  if (!fb::VerifyEventEnvelopeBuffer(verifier)) return false;
  const fb::EventEnvelope* env = fb::GetEventEnvelope(body);
  if (env->type() == nullptr || env->payload() == nullptr) return false;
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
  return true;
}

// `same_layout`: the input is canonical as the encoder writes it, so the
// re-encoding has its size. (A canonical envelope may also carry an empty
// tags vector, which the encoder leaves out.)
void CheckReencoding(const DecodedEvent& d, size_t body_size,
                     bool same_layout) {
  EventData e;
  e.type = std::string(d.type);
  e.payload = std::string(d.payload);
  e.schema_version = d.schema_version;
  for (std::string_view t : d.tags) e.tags.emplace_back(t);
  e.id = d.id;
  e.causation_id = d.causation_id;
  e.correlation_id = d.correlation_id;
  e.metadata = std::string(d.metadata);
  EventRecord r = EventRecord::Encode(e);
  r.Seal(d.stream_id, d.seq, d.position, d.timestamp_ns);
  FUZZ_CHECK(IsCanonicalEnvelope(r.data() + kRecordHeaderBytes,
                                 r.size() - kRecordHeaderBytes));
  if (same_layout) FUZZ_CHECK(r.size() - kRecordHeaderBytes == body_size);
  AlignedScratch scratch;
  DecodedEvent again;
  FUZZ_CHECK(DecodeEventRecord(r.data(), r.size(), &scratch, &again).ok());
  FUZZ_CHECK(SameEvent(d, again));
}

// Repairs cost a checksum per bit: tried on one input in 64 of up to 512
// bytes, so the fuzzer keeps its pace.
bool Sampled(std::string_view record) {
  return record.size() <= 512 &&
         (Checksum(record.data(), record.size()) & 63) == 0;
}

// A single flipped bit in an accepted record is found again, proving whose
// the record is.
void CheckOneBitRepair(std::string_view record, const DecodedEvent& d) {
  if (!Sampled(record)) return;
  const size_t bit =
      Checksum(record.data(), record.size()) / 8 % (record.size() * 8);
  std::string damaged(record);
  damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
  Placed placed(damaged, 2);
  AlignedScratch scratch;
  DecodedEvent ignored;
  FUZZ_CHECK(
      !DecodeEventRecord(placed.data(), damaged.size(), &scratch, &ignored)
           .ok());
  EventClaim claim;
  FUZZ_CHECK(ClaimEventIdentity(placed.data(), damaged.size(), &claim));
  FUZZ_CHECK(claim.proven);
  FUZZ_CHECK(claim.stream_id == d.stream_id && claim.seq == d.seq &&
             claim.position == d.position);
}

void CheckRecord(std::string_view record) {
  // 2 bytes past a boundary, as LMDB may place a value; and with the body
  // 16-aligned, where the decoder reads in place.
  Placed odd(record, 2), even(record, 8);
  AlignedScratch s1, s2, s3;
  DecodedEvent d1, d2, fast;
  Status st1 = DecodeEventRecord(odd.data(), record.size(), &s1, &d1);
  Status st2 = DecodeEventRecord(even.data(), record.size(), &s2, &d2);
  FUZZ_CHECK(st1.ok() == st2.ok());
  FUZZ_CHECK(st1.ok() || st1.IsCorruption());
  const bool fast_ok =
      DecodeCanonicalEventRecord(odd.data(), record.size(), &s3, &fast);
  if (fast_ok) FUZZ_CHECK(st1.ok() && SameEvent(fast, d1));
  if (!st1.ok() && record.size() >= kRecordHeaderBytes + 64) {
    // Asked for exactly the identity a rejected record claims (4, 12 and
    // 20 bytes into the table of either layout), the replay's path still
    // rejects it.
    const char* b = odd.data() + kRecordHeaderBytes;
    const size_t t = GetLittle32(b) == 36 ? 36 : 28;
    AlignedScratch s4;
    DecodedEvent claimed;
    FUZZ_CHECK(!DecodeEventRecordIfItIs(
        odd.data(), record.size(), GetLittle64(b + t + 4),
        GetLittle64(b + t + 12), GetLittle64(b + t + 20), &s4, &claimed));
  }
  if (st1.ok()) {
    // The replay's path: accepts exactly what the fast path accepts, and
    // only under the identity the record proves.
    AlignedScratch s4;
    DecodedEvent expected;
    FUZZ_CHECK(DecodeEventRecordIfItIs(odd.data(), record.size(), d1.stream_id,
                                       d1.seq, d1.position, &s4,
                                       &expected) == fast_ok);
    if (fast_ok) FUZZ_CHECK(SameEvent(expected, d1));
    FUZZ_CHECK(!DecodeEventRecordIfItIs(odd.data(), record.size(), d1.stream_id,
                                        d1.seq + 1, d1.position, &s4,
                                        &expected));
    FUZZ_CHECK(!DecodeEventRecordIfItIs(odd.data(), record.size(),
                                        d1.stream_id ^ 1, d1.seq, d1.position,
                                        &s4, &expected));
    FUZZ_CHECK(!DecodeEventRecordIfItIs(odd.data(), record.size(), d1.stream_id,
                                        d1.seq, d1.position + 1, &s4,
                                        &expected));
  }
  EventClaim c1, c2;
  if (Sampled(record)) {
    const bool claimed1 = ClaimEventIdentity(odd.data(), record.size(), &c1);
    const bool claimed2 = ClaimEventIdentity(even.data(), record.size(), &c2);
    FUZZ_CHECK(claimed1 == claimed2);
    if (claimed1) {
      FUZZ_CHECK(c1.stream_id == c2.stream_id && c1.seq == c2.seq &&
                 c1.position == c2.position && c1.proven == c2.proven);
    }
  }
  if (!st1.ok()) return;
  FUZZ_CHECK(SameEvent(d1, d2));
  CheckOneBitRepair(record, d1);

  const char* body = even.data() + kRecordHeaderBytes;
  const size_t n = record.size() - kRecordHeaderBytes;
  const bool canonical = IsCanonicalEnvelope(body, n);
  if (canonical) {
    DecodedEvent verified;
    FUZZ_CHECK(VerifierAccepts(body, n, &verified));
    FUZZ_CHECK(SameEvent(verified, d1));
  }
  // The vtable's tags slot (bytes 26 and 27) and, in layout 2, its
  // metadata slot (bytes 34 and 35): 0 when there is no vector. The encoder
  // writes layout 2 exactly when an id or metadata is present.
  const bool has_tags_vector = canonical && (body[26] != 0 || body[27] != 0);
  const bool layout2 = canonical && GetLittle32(body) == 36;
  const bool has_metadata_vector = layout2 && (body[34] != 0 || body[35] != 0);
  const bool extras = !d1.id.empty() || !d1.causation_id.empty() ||
                      !d1.correlation_id.empty() || !d1.metadata.empty();
  CheckReencoding(d1, n,
                  canonical && has_tags_vector == !d1.tag_list.empty() &&
                      has_metadata_vector == !d1.metadata.empty() &&
                      layout2 == extras);
}

}  // namespace
}  // namespace memoir::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memoir::internal;
  std::string_view record(reinterpret_cast<const char*>(data), size);
  CheckRecord(record);
  if (size >= kRecordHeaderBytes) {
    std::string sealed(record);
    PutLittle64(sealed.data(), Checksum(sealed.data() + kRecordHeaderBytes,
                                        size - kRecordHeaderBytes));
    CheckRecord(sealed);
  }
  return 0;
}
