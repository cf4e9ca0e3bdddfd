// Fuzz target: what loading a stored snapshot runs (snapshot/
// snapshot_record.h): the record frame, the FlatBuffers verifier, the
// decode and the check that the envelope names the key it is stored under.
//
// Input: the snapshot's key (stream id u64 ++ seq u64, big-endian, as the
// snapshots table holds it) followed by its record (checksum ++ envelope).
// Each input is decoded as it is and with its checksum recomputed, so that
// mutations reach the verifier. Properties, for each:
//  - the answer does not depend on where the record lies in memory;
//  - an accepted record names the stream id and seq of its key, and is
//    refused under any other key;
//  - re-encoding the decoded snapshot (SnapshotRecord::Encode and Seal)
//    gives a record that decodes to the same fields.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "memoir/journal.h"
#include "snapshot/snapshot_record.h"
#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {
namespace {

using fuzz::Placed;

constexpr size_t kKeyBytes = 16;

bool SameSnapshot(const DecodedSnapshot& a, const DecodedSnapshot& b) {
  return a.stream_id == b.stream_id && a.seq == b.seq &&
         a.timestamp_ns == b.timestamp_ns && a.type == b.type &&
         a.schema_version == b.schema_version && a.payload == b.payload &&
         a.metadata == b.metadata;
}

void CheckRecord(uint64_t id, uint64_t seq, std::string_view record) {
  Placed odd(record, 2), even(record, 8);
  AlignedScratch s1, s2;
  DecodedSnapshot d1, d2;
  Status st1 =
      DecodeSnapshotRecord(odd.data(), record.size(), id, seq, &s1, &d1);
  Status st2 =
      DecodeSnapshotRecord(even.data(), record.size(), id, seq, &s2, &d2);
  FUZZ_CHECK(st1.ok() == st2.ok());
  FUZZ_CHECK(st1.ok() || st1.IsCorruption());
  if (!st1.ok()) return;
  FUZZ_CHECK(SameSnapshot(d1, d2));
  FUZZ_CHECK(d1.stream_id == id && d1.seq == seq);

  // Under another key the same bytes are refused.
  AlignedScratch s3;
  DecodedSnapshot other;
  FUZZ_CHECK(
      DecodeSnapshotRecord(odd.data(), record.size(), id, seq + 1, &s3, &other)
          .IsCorruption());
  FUZZ_CHECK(
      DecodeSnapshotRecord(odd.data(), record.size(), id ^ 1, seq, &s3, &other)
          .IsCorruption());

  // Encode's precondition: a type a Save would accept.
  if (d1.type.empty() || d1.type.size() > kMaxTypeNameBytes) return;
  SnapshotRecord r = SnapshotRecord::Encode(
      {std::string(d1.type), d1.schema_version, std::string(d1.payload),
       std::string(d1.metadata)});
  r.Seal(id, seq, d1.timestamp_ns);
  AlignedScratch s4;
  DecodedSnapshot again;
  FUZZ_CHECK(
      DecodeSnapshotRecord(r.data(), r.size(), id, seq, &s4, &again).ok());
  FUZZ_CHECK(SameSnapshot(d1, again));
}

}  // namespace
}  // namespace memoir::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memoir::internal;
  if (size < kKeyBytes) return 0;
  const char* key = reinterpret_cast<const char*>(data);
  const uint64_t id = GetBig64(key), seq = GetBig64(key + 8);
  std::string_view record(key + kKeyBytes, size - kKeyBytes);
  CheckRecord(id, seq, record);
  if (record.size() >= kRecordHeaderBytes) {
    std::string sealed(record);
    PutLittle64(sealed.data(), Checksum(sealed.data() + kRecordHeaderBytes,
                                        sealed.size() - kRecordHeaderBytes));
    CheckRecord(id, seq, sealed);
  }
  return 0;
}
