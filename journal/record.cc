#include "journal/record.h"

#include <fmt/format.h>

#include <cstring>

#include "envelope_generated.h"
#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {
namespace {

flatbuffers::FlatBufferBuilder& ThreadBuilder() {
  thread_local flatbuffers::FlatBufferBuilder builder(1024);
  return builder;
}

}  // namespace

EventRecord EventRecord::Encode(const EventData& event) {
  flatbuffers::FlatBufferBuilder& b = ThreadBuilder();
  b.Clear();
  // Scalars are written even when zero, so Seal can patch them in place.
  b.ForceDefaults(true);
  auto type = b.CreateString(event.type);
  b.ForceVectorAlignment(event.payload.size(), 1, 16);
  auto payload =
      b.CreateVector(reinterpret_cast<const uint8_t*>(event.payload.data()),
                     event.payload.size());
  flatbuffers::Offset<
      flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>>
      tags;
  if (!event.tags.empty()) tags = b.CreateVectorOfStrings(event.tags);
  fb::EventEnvelopeBuilder env(b);
  env.add_stream_id(0);
  env.add_seq(0);
  env.add_position(0);
  env.add_timestamp_ns(0);
  env.add_type(type);
  env.add_schema_version(event.schema_version);
  env.add_payload(payload);
  if (!event.tags.empty()) env.add_tags(tags);
  b.Finish(env.Finish(), fb::EventEnvelopeIdentifier());

  EventRecord r;
  r.buffer_ = RecordBuffer::Wrap(b.GetBufferPointer(), b.GetSize());
  return r;
}

void EventRecord::Seal(uint64_t stream_id, uint64_t seq, uint64_t position,
                       int64_t timestamp_ns) {
  auto* env = flatbuffers::GetMutableRoot<fb::EventEnvelope>(buffer_.body());
  env->mutate_stream_id(stream_id);
  env->mutate_seq(seq);
  env->mutate_position(position);
  env->mutate_timestamp_ns(timestamp_ns);
  buffer_.Seal();
}

Status DecodeEventRecord(const char* data, size_t size, AlignedScratch* scratch,
                         DecodedEvent* out) {
  const char* aligned = nullptr;
  size_t fb_size = 0;
  Status framed = OpenRecord(data, size, "event", scratch, &aligned, &fb_size);
  if (!framed.ok()) return framed;
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned),
                                 fb_size, /*max_depth=*/16,
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
  out->tags.clear();
  if (env->tags() != nullptr) {
    for (const flatbuffers::String* tag : *env->tags()) {
      out->tags.push_back(tag->string_view());
    }
  }
  return Status::OK();
}

}  // namespace memoir::internal
