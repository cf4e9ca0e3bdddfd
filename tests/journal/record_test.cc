// The event record codec (journal/record.h): round trips and refusals.
#include "journal/record.h"

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "journal/envelope_generated.h"
#include "storage/bytes.h"

namespace memoir::internal {

TEST_CASE("a sealed record decodes to what was encoded") {
  EventData e{"Deposited", std::string("\x01\x00\x02", 3), 7, {"a", "bb"}};
  EventRecord r = EventRecord::Encode(e);
  r.Seal(42, 3, 99, 123456789);
  AlignedScratch scratch;
  DecodedEvent d;
  REQUIRE(DecodeEventRecord(r.data(), r.size(), &scratch, &d).ok());
  CHECK(d.stream_id == 42);
  CHECK(d.seq == 3);
  CHECK(d.position == 99);
  CHECK(d.timestamp_ns == 123456789);
  CHECK(d.type == "Deposited");
  CHECK(d.schema_version == 7);
  CHECK(d.payload == std::string("\x01\x00\x02", 3));
  REQUIRE(d.tag_list.size() == 2);
  CHECK(d.tag_list[1] == "bb");
  CHECK(reinterpret_cast<uintptr_t>(d.payload.data()) % 16 == 0);
}

TEST_CASE(
    "ids and metadata take layout 2, which the fast path, the replay's path "
    "and the FlatBuffers verifier all read with the same fields") {
  EventData plain{"T", "abc", 1, {"x"}};
  EventData e = plain;
  e.id = Uuid{0x0190f5b27c1e7a3dULL, 0x9b1f3c2d4e5f6a7bULL};
  e.causation_id = Uuid{1, 2};
  e.correlation_id = Uuid{3, 4};
  e.metadata = std::string("m\0eta", 5);
  EventRecord r1 = EventRecord::Encode(plain);
  EventRecord r2 = EventRecord::Encode(e);
  // Layout 1 is untouched for events without: layout 2 costs 64 bytes
  // more (its table), plus the metadata (which fits in padding here).
  CHECK(GetLittle32(r1.data() + kRecordHeaderBytes) == 28);
  CHECK(GetLittle32(r2.data() + kRecordHeaderBytes) == 36);
  CHECK(r2.size() == r1.size() + 64);
  CHECK(EncodedEventId(r2.data()) == e.id);
  CHECK(EncodedEventId(r1.data()).empty());
  r2.Seal(5, 6, 7, 8);
  const char* body = r2.data() + kRecordHeaderBytes;
  const size_t n = r2.size() - kRecordHeaderBytes;
  CHECK(IsCanonicalEnvelope(body, n));
  AlignedScratch scratch;
  DecodedEvent fast;
  REQUIRE(
      DecodeEventRecordIfItIs(r2.data(), r2.size(), 5, 6, 7, &scratch, &fast));
  CHECK_FALSE(
      DecodeEventRecordIfItIs(r2.data(), r2.size(), 5, 7, 7, &scratch, &fast));
  CHECK(fast.id == e.id);
  CHECK(fast.causation_id == e.causation_id);
  CHECK(fast.correlation_id == e.correlation_id);
  CHECK(fast.metadata == e.metadata);
  CHECK(fast.payload == "abc");
  REQUIRE(fast.tags.size() == 1);
  CHECK(fast.tags[0] == "x");
  std::vector<uint64_t> aligned((n + 7) / 8);
  std::memcpy(aligned.data(), body, n);
  flatbuffers::Verifier verifier(
      reinterpret_cast<const uint8_t*>(aligned.data()), n);
  REQUIRE(fb::VerifyEventEnvelopeBuffer(verifier));
  const fb::EventEnvelope* env = fb::GetEventEnvelope(aligned.data());
  CHECK(env->stream_id() == 5);
  CHECK(env->seq() == 6);
  CHECK(env->id()->hi() == e.id.hi);
  CHECK(env->correlation_id()->lo() == 4);
  CHECK(std::string_view(reinterpret_cast<const char*>(env->metadata()->data()),
                         env->metadata()->size()) == e.metadata);
  EventClaim claim;
  REQUIRE(ClaimEventIdentity(r2.data(), r2.size(), &claim));
  CHECK(claim.seq == 6);
  // One flipped bit in the id is found: the record is refused.
  std::string damaged(r2.data(), r2.size());
  damaged[kRecordHeaderBytes + 100] ^= 1;
  CHECK_FALSE(
      DecodeEventRecord(damaged.data(), damaged.size(), &scratch, &fast).ok());
}

TEST_CASE(
    "a record decodes from memory that is only 2-byte aligned, its payload "
    "16-byte aligned") {
  EventRecord r = EventRecord::Encode({"T", "abc", 1, {"x", "yz"}});
  r.Seal(1, 1, 1, 1);
  std::string shifted(r.size() + 2, '\0');
  std::memcpy(shifted.data() + 2, r.data(), r.size());
  AlignedScratch scratch;
  DecodedEvent d;
  REQUIRE(DecodeEventRecord(shifted.data() + 2, r.size(), &scratch, &d).ok());
  CHECK(d.payload == "abc");
  CHECK(reinterpret_cast<uintptr_t>(d.payload.data()) % 16 == 0);
  REQUIRE(d.tags.size() == 2);
  CHECK(d.tags[1] == "yz");
  DecodedEvent fast;
  REQUIRE(DecodeCanonicalEventRecord(shifted.data() + 2, r.size(), &scratch,
                                     &fast));
  CHECK(fast.payload == "abc");
  CHECK(reinterpret_cast<uintptr_t>(fast.payload.data()) % 16 == 0);
}

TEST_CASE(
    "the replay's decode accepts a record only under its own stream id, seq "
    "and position") {
  EventRecord r = EventRecord::Encode({"T", "payload", 2, {"t"}});
  r.Seal(7, 8, 9, 10);
  AlignedScratch scratch;
  DecodedEvent d;
  CHECK(DecodeEventRecordIfItIs(r.data(), r.size(), 7, 8, 9, &scratch, &d));
  CHECK(d.payload == "payload");
  CHECK(d.type == "T");
  CHECK(d.schema_version == 2);
  CHECK(d.timestamp_ns == 10);
  REQUIRE(d.tags.size() == 1);
  CHECK(d.tags[0] == "t");
  CHECK(!DecodeEventRecordIfItIs(r.data(), r.size(), 6, 8, 9, &scratch, &d));
  CHECK(!DecodeEventRecordIfItIs(r.data(), r.size(), 7, 9, 9, &scratch, &d));
  CHECK(!DecodeEventRecordIfItIs(r.data(), r.size(), 7, 8, 8, &scratch, &d));
  // Whose it is comes from unchecked bytes; a damaged record still fails.
  std::string damaged(r.data(), r.size());
  damaged.back() = static_cast<char>(damaged.back() ^ 1);
  CHECK(!DecodeEventRecordIfItIs(damaged.data(), damaged.size(), 7, 8, 9,
                                 &scratch, &d));
}

TEST_CASE("a copy or a move of a decoded event views its own tags") {
  EventRecord r = EventRecord::Encode({"T", "p", 1, {"a", "b"}});
  r.Seal(1, 1, 1, 1);
  AlignedScratch scratch;
  DecodedEvent d;
  REQUIRE(DecodeEventRecord(r.data(), r.size(), &scratch, &d).ok());
  DecodedEvent copy = d;
  DecodedEvent assigned;
  assigned = d;
  DecodedEvent source = d;
  DecodedEvent moved = std::move(source);
  CHECK(source.tags.empty());  // NOLINT(bugprone-use-after-move): the point
  DecodedEvent move_assigned;
  move_assigned = std::move(moved);
  CHECK(moved.tags.empty());  // NOLINT(bugprone-use-after-move): the point
  d.tag_list.clear();
  d.tag_list.shrink_to_fit();
  for (const DecodedEvent* e : {&copy, &assigned, &move_assigned}) {
    REQUIRE(e->tags.size() == 2);
    CHECK(e->tags.data() == e->tag_list.data());
    CHECK(e->tags[1] == "b");
  }
}

TEST_CASE("every single-bit flip of a record is detected") {
  EventRecord r = EventRecord::Encode({"Type", "some payload bytes", 1, {"t"}});
  r.Seal(5, 6, 7, 8);
  std::string bytes(r.data(), r.size());
  AlignedScratch scratch;
  DecodedEvent d;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string copy = bytes;
      copy[i] = static_cast<char>(copy[i] ^ (1 << bit));
      Status s = DecodeEventRecord(copy.data(), copy.size(), &scratch, &d);
      REQUIRE_MESSAGE(s.IsCorruption(), "byte ", i, " bit ", bit);
    }
  }
}

TEST_CASE("truncated and random records are corruption, never a crash") {
  EventRecord r = EventRecord::Encode({"Type", "payload", 1, {}});
  r.Seal(1, 2, 3, 4);
  AlignedScratch scratch;
  DecodedEvent d;
  for (size_t n = 0; n < r.size(); ++n) {
    CHECK(DecodeEventRecord(r.data(), n, &scratch, &d).IsCorruption());
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    CHECK(!DecodeEventRecord(junk.data(), junk.size(), &scratch, &d).ok());
  }
}

namespace {

// Events that exercise every part of the canonical layout.
std::vector<EventData> Samples() {
  return {
      {"T", "", 1, {}},
      {"Deposited", std::string("\x01\x00\x02", 3), 7, {"a", "bb"}},
      {std::string(255, 't'), std::string(1000, 'p'), 2, {}},
      {"Tagged", "payload", 3, {"x", std::string(255, 'y'), "zz", "www"}},
      {"Bench", std::string(128, 'x'), 1, {}},
  };
}

bool PassesFlatBuffersVerifier(const char* body, size_t size) {
  // The verifier reads scalars in place: give it 16-aligned memory.
  AlignedScratch scratch;
  const char* aligned = scratch.Hold(body, size);
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned),
                                 size, 16, 1024);
  return fb::VerifyEventEnvelopeBuffer(verifier);
}

// A record the way earlier versions wrote it: through a FlatBufferBuilder.
std::string BuilderRecord(const EventData& e, uint64_t stream_id, uint64_t seq,
                          uint64_t position, int64_t timestamp_ns) {
  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true);
  auto type = b.CreateString(e.type);
  b.ForceVectorAlignment(e.payload.size(), 1, 16);
  auto payload = b.CreateVector(
      reinterpret_cast<const uint8_t*>(e.payload.data()), e.payload.size());
  flatbuffers::Offset<
      flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>>
      tags;
  if (!e.tags.empty()) tags = b.CreateVectorOfStrings(e.tags);
  fb::EventEnvelopeBuilder env(b);
  env.add_stream_id(stream_id);
  env.add_seq(seq);
  env.add_position(position);
  env.add_timestamp_ns(timestamp_ns);
  env.add_type(type);
  env.add_schema_version(e.schema_version);
  env.add_payload(payload);
  if (!e.tags.empty()) env.add_tags(tags);
  b.Finish(env.Finish(), fb::EventEnvelopeIdentifier());
  RecordBuffer r = RecordBuffer::Wrap(b.GetBufferPointer(), b.GetSize());
  r.Seal();
  return std::string(r.data(), r.size());
}

}  // namespace

TEST_CASE("encoded records are canonical and pass the FlatBuffers verifier") {
  for (const EventData& e : Samples()) {
    CAPTURE(e.type.size());
    EventRecord r = EventRecord::Encode(e);
    r.Seal(11, 22, 33, 44);
    const char* body = r.data() + kRecordHeaderBytes;
    const size_t n = r.size() - kRecordHeaderBytes;
    CHECK(IsCanonicalEnvelope(body, n));
    CHECK(PassesFlatBuffersVerifier(body, n));
    // The generated accessors read the same fields.
    AlignedScratch scratch;
    const auto* env = fb::GetEventEnvelope(scratch.Hold(body, n));
    CHECK(env->stream_id() == 11);
    CHECK(env->seq() == 22);
    CHECK(env->position() == 33);
    CHECK(env->timestamp_ns() == 44);
    CHECK(env->type()->string_view() == e.type);
    CHECK(env->schema_version() == e.schema_version);
    CHECK(
        std::string_view(reinterpret_cast<const char*>(env->payload()->data()),
                         env->payload()->size()) == e.payload);
    CHECK((env->tags() == nullptr ? 0 : env->tags()->size()) == e.tags.size());
    DecodedEvent d;
    CHECK(
        DecodeEventRecordIfItIs(r.data(), r.size(), 11, 22, 33, &scratch, &d));
  }
}

TEST_CASE("a batch encodes exactly the records encoded one by one") {
  const std::vector<EventData> events = Samples();
  EventBatch batch(events);
  CHECK(batch.count() == events.size());
  size_t i = 0;
  size_t bytes = 0;
  CHECK(batch.ForEach([&](char* record, size_t size) {
    EventRecord one = EventRecord::Encode(events[i++]);
    CHECK(std::string(record, size) == std::string(one.data(), one.size()));
    bytes += size;
    return 0;
  }) == 0);
  CHECK(i == events.size());
  CHECK(bytes == batch.record_bytes());
}

TEST_CASE("records written through a FlatBufferBuilder still decode") {
  for (const EventData& e : Samples()) {
    std::string record = BuilderRecord(e, 5, 6, 7, 8);
    AlignedScratch scratch;
    DecodedEvent d;
    REQUIRE(DecodeEventRecord(record.data(), record.size(), &scratch, &d).ok());
    CHECK(d.stream_id == 5);
    CHECK(d.seq == 6);
    CHECK(d.position == 7);
    CHECK(d.timestamp_ns == 8);
    CHECK(d.type == e.type);
    CHECK(d.payload == e.payload);
    CHECK(d.tags.size() == e.tags.size());
    if (!e.payload.empty()) {
      CHECK(reinterpret_cast<uintptr_t>(d.payload.data()) % 16 == 0);
    }
  }
}

TEST_CASE("whatever the canonical check accepts, the verifier accepts too") {
  // Damage canonical envelopes at random (bit flips, bytes, truncation,
  // growth) and check the implication on every result; also count that
  // both outcomes occur, so the test exercises both sides.
  std::mt19937_64 rng(42);
  size_t canonical = 0, rejected = 0;
  for (const EventData& e : Samples()) {
    EventRecord r = EventRecord::Encode(e);
    r.Seal(1, 2, 3, 4);
    const std::string good(r.data() + kRecordHeaderBytes,
                           r.size() - kRecordHeaderBytes);
    for (int trial = 0; trial < 20000; ++trial) {
      std::string body = good;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits; ++k) {
        switch (rng() % 4) {
          case 0:  // a bit flip, mostly in the structure near the front
            body[rng() % std::min<size_t>(body.size(), 128)] ^=
                static_cast<char>(1 << (rng() % 8));
            break;
          case 1:  // a random byte anywhere
            body[rng() % body.size()] = static_cast<char>(rng());
            break;
          case 2:  // a small integer in a length or offset field
            PutLittle64(body.data() + 4 * (rng() % (body.size() / 4 - 2)),
                        rng() % 300);
            break;
          default:  // truncation or growth, kept a multiple of 16
            body.resize(
                std::max<size_t>(16, body.size() + 16 * (rng() % 3) - 16));
            break;
        }
      }
      if (IsCanonicalEnvelope(body.data(), body.size())) {
        ++canonical;
        REQUIRE(PassesFlatBuffersVerifier(body.data(), body.size()));
      } else {
        ++rejected;
      }
    }
  }
  CHECK(canonical > 1000);
  CHECK(rejected > 1000);
}

TEST_CASE(
    "the replay's decode leaves a valid non-canonical record to the full "
    "decode") {
  std::string record = BuilderRecord({"T", "abc", 1, {}}, 1, 2, 3, 4);
  AlignedScratch scratch;
  DecodedEvent d;
  CHECK(!DecodeEventRecordIfItIs(record.data(), record.size(), 1, 2, 3,
                                 &scratch, &d));
  CHECK(!DecodeEventRecordIfItIs(record.data(), 20, 1, 2, 3, &scratch, &d));
  REQUIRE(DecodeEventRecord(record.data(), record.size(), &scratch, &d).ok());
  CHECK(d.payload == "abc");
}

}  // namespace memoir::internal
