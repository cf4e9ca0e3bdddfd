// The event record codec (journal/record.h): round trips and refusals.
#include "journal/record.h"

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>

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
  REQUIRE(d.tags.size() == 2);
  CHECK(d.tags[1] == "bb");
  CHECK(reinterpret_cast<uintptr_t>(d.payload.data()) % 16 == 0);
}

TEST_CASE("a record decodes from memory that is only 2-byte aligned") {
  EventRecord r = EventRecord::Encode({"T", "abc", 1, {}});
  r.Seal(1, 1, 1, 1);
  std::string shifted(r.size() + 2, '\0');
  std::memcpy(shifted.data() + 2, r.data(), r.size());
  AlignedScratch scratch;
  DecodedEvent d;
  REQUIRE(DecodeEventRecord(shifted.data() + 2, r.size(), &scratch, &d).ok());
  CHECK(d.payload == "abc");
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

}  // namespace memoir::internal
