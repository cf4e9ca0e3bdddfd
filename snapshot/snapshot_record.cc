#include "snapshot/snapshot_record.h"

#include <fmt/format.h>

#include <cstring>

#include "snapshot/layout.h"
#include "snapshot/snapshot_generated.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {

SnapshotRecord SnapshotRecord::Encode(const SnapshotData& data) {
  // A local builder, not a thread-local one: snapshots can be large, and a
  // cached builder would keep the largest one's memory alive per thread.
  flatbuffers::FlatBufferBuilder b(data.payload.size() + data.type.size() +
                                   data.metadata.size() + 128);
  // Scalars are written even when zero, so Seal can patch them in place.
  b.ForceDefaults(true);
  auto type = b.CreateString(data.type);
  b.ForceVectorAlignment(data.payload.size(), 1, 16);
  auto payload =
      b.CreateVector(reinterpret_cast<const uint8_t*>(data.payload.data()),
                     data.payload.size());
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> metadata;
  if (!data.metadata.empty()) {
    metadata =
        b.CreateVector(reinterpret_cast<const uint8_t*>(data.metadata.data()),
                       data.metadata.size());
  }
  fb::SnapshotEnvelopeBuilder env(b);
  env.add_stream_id(0);
  env.add_seq(0);
  env.add_timestamp_ns(0);
  env.add_type(type);
  env.add_schema_version(data.schema_version);
  env.add_payload(payload);
  if (!data.metadata.empty()) env.add_metadata(metadata);
  b.Finish(env.Finish(), fb::SnapshotEnvelopeIdentifier());

  SnapshotRecord r;
  r.buffer_ = RecordBuffer::Wrap(b.GetBufferPointer(), b.GetSize());
  return r;
}

void SnapshotRecord::Seal(uint64_t stream_id, uint64_t seq,
                          int64_t timestamp_ns) {
  auto* env = flatbuffers::GetMutableRoot<fb::SnapshotEnvelope>(buffer_.body());
  env->mutate_stream_id(stream_id);
  env->mutate_seq(seq);
  env->mutate_timestamp_ns(timestamp_ns);
  buffer_.Seal();
}

Status DecodeSnapshotRecord(const char* data, size_t size, uint64_t stream_id,
                            uint64_t seq, AlignedScratch* scratch,
                            DecodedSnapshot* out) {
  const char* aligned = nullptr;
  size_t fb_size = 0;
  Status framed =
      OpenRecord(data, size, "snapshot", scratch, &aligned, &fb_size);
  if (!framed.ok()) return framed;
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned),
                                 fb_size, /*max_depth=*/16,
                                 /*max_tables=*/16);
  if (!fb::VerifySnapshotEnvelopeBuffer(verifier)) {
    return Status::Corruption(
        "snapshot envelope fails the FlatBuffers verifier");
  }
  const fb::SnapshotEnvelope* env = fb::GetSnapshotEnvelope(aligned);
  if (env->type() == nullptr || env->payload() == nullptr) {
    return Status::Corruption("snapshot envelope lacks its type or payload");
  }
  if (env->stream_id() != stream_id || env->seq() != seq) {
    return Status::Corruption(fmt::format(
        "snapshot envelope names stream id {} seq {} but is stored under "
        "stream id {} seq {}",
        env->stream_id(), env->seq(), stream_id, seq));
  }
  out->stream_id = env->stream_id();
  out->seq = env->seq();
  out->timestamp_ns = env->timestamp_ns();
  out->type = env->type()->string_view();
  out->schema_version = env->schema_version();
  out->payload =
      std::string_view(reinterpret_cast<const char*>(env->payload()->data()),
                       env->payload()->size());
  out->metadata =
      env->metadata() == nullptr
          ? std::string_view()
          : std::string_view(
                reinterpret_cast<const char*>(env->metadata()->data()),
                env->metadata()->size());
  return Status::OK();
}

}  // namespace memoir::internal
